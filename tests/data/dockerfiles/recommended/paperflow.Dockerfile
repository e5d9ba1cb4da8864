# Copied verbatim from audit 2025-11-09, PAPERFLOW, recommendation 1 (../shared/seeds/000_a80e646214b24dd8.txt, lines 270-313).
# Stage 1: Builder
FROM python:3.12-slim AS builder
WORKDIR /build

# Install build deps
RUN apt-get update && apt-get install -y --no-install-recommends \
    build-essential \
    libmagic-dev \
    && rm -rf /var/lib/apt/lists/*

# Create venv
RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

# Install deps
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

# Stage 2: Runtime
FROM python:3.12-slim
WORKDIR /app

# Install only runtime deps
RUN apt-get update && apt-get install -y --no-install-recommends \
    libmagic1 \
    curl \
    && rm -rf /var/lib/apt/lists/*

# Create non-root user
RUN groupadd -r paperflow && useradd -r -g paperflow paperflow \
    && mkdir -p /app /opt/paperflow/data /dropbox/paperflow/data \
    && chown -R paperflow:paperflow /app /opt/paperflow /dropbox/paperflow

# Copy venv
COPY --from=builder --chown=paperflow:paperflow /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

# Copy app
COPY --chown=paperflow:paperflow . .

USER paperflow

EXPOSE 8000
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
