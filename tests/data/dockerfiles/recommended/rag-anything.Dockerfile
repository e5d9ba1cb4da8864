# Copied verbatim from audit 2025-11-09, RAG-ANYTHING, recommendation 1 (../shared/seeds/000_a80e646214b24dd8.txt, lines 64-117).
# Stage 1: Builder avec LibreOffice pour conversions
FROM python:3.12-slim AS converter
WORKDIR /converter
RUN apt-get update && apt-get install -y --no-install-recommends \
    libreoffice \
    && rm -rf /var/lib/apt/lists/*
# Script de conversion standalone

# Stage 2: Build dependencies
FROM python:3.12-slim AS builder
WORKDIR /build

# Install only build deps
RUN apt-get update && apt-get install -y --no-install-recommends \
    git \
    build-essential \
    && rm -rf /var/lib/apt/lists/*

# Create venv and install deps
RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

COPY requirements.txt setup.py pyproject.toml MANIFEST.in ./
COPY raganything/ ./raganything/

# Install only core dependencies (not [all])
RUN pip install --no-cache-dir -e .

# Stage 3: Runtime
FROM python:3.12-slim
WORKDIR /app

# Install only runtime deps
RUN apt-get update && apt-get install -y --no-install-recommends \
    curl \
    && rm -rf /var/lib/apt/lists/*

# Create non-root user
RUN groupadd -r appuser && useradd -r -g appuser appuser \
    && mkdir -p /app /app/storage \
    && chown -R appuser:appuser /app

# Copy venv from builder
COPY --from=builder --chown=appuser:appuser /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

# Copy app
COPY --chown=appuser:appuser api_server.py .
COPY --chown=appuser:appuser raganything/ ./raganything/

USER appuser

EXPOSE 9510
CMD ["python", "api_server.py"]
