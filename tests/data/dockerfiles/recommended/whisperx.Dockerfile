# Copied verbatim from audit 2025-11-09, WHISPERX, recommendation 1 (../shared/seeds/000_a80e646214b24dd8.txt, lines 166-208).
# Stage 1: Builder
FROM python:3.12-slim AS builder
WORKDIR /build

RUN apt-get update && apt-get install -y --no-install-recommends \
    build-essential \
    git \
    && rm -rf /var/lib/apt/lists/*

# Create venv
RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

# Install dependencies
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

# Stage 2: Runtime
FROM python:3.12-slim
WORKDIR /app

# Install only ffmpeg (runtime dep)
RUN apt-get update && apt-get install -y --no-install-recommends \
    ffmpeg \
    curl \
    && rm -rf /var/lib/apt/lists/*

# Create non-root user
RUN groupadd -r whisperx && useradd -r -g whisperx whisperx \
    && mkdir -p /app /tmp/uploads /models \
    && chown -R whisperx:whisperx /app /tmp/uploads /models

# Copy venv
COPY --from=builder --chown=whisperx:whisperx /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

# Copy app
COPY --chown=whisperx:whisperx server.py worker.py ./

USER whisperx

EXPOSE 8002
CMD ["uvicorn", "server:app", "--host", "0.0.0.0", "--port", "8002"]
