# Copied verbatim from audit 2025-12-04, paperflow-worker, Option A (../shared/seeds/001_ae952595b2aa3c4f.txt, lines 101-148).
# Build stage
FROM python:3.11-slim as builder

WORKDIR /app

# Install build dependencies
RUN apt-get update && apt-get install -y --no-install-recommends \
    gcc g++ libmagic1 && \
    rm -rf /var/lib/apt/lists/*

# Install Python dependencies with CPU PyTorch
COPY requirements.txt .
RUN pip install --no-cache-dir --upgrade pip && \
    pip install --no-cache-dir \
    torch==2.6.0 --index-url https://download.pytorch.org/whl/cpu && \
    pip install --no-cache-dir -r requirements.txt

# Runtime stage
FROM python:3.11-slim

WORKDIR /app

# Install only runtime dependencies
RUN apt-get update && apt-get install -y --no-install-recommends \
    libmagic1 curl && \
    rm -rf /var/lib/apt/lists/*

# Create user
RUN groupadd -r paperflow && useradd -r -g paperflow paperflow && \
    mkdir -p /app /dropbox/paperflow/data /opt/paperflow/data /cache/huggingface && \
    chown -R paperflow:paperflow /app /dropbox /opt/paperflow /cache

# Copy Python packages from builder
COPY --from=builder /usr/local/lib/python3.11/site-packages /usr/local/lib/python3.11/site-packages
COPY --from=builder /usr/local/bin /usr/local/bin

# Copy application
COPY --chown=paperflow:paperflow app/ ./

USER paperflow
ENV HF_HOME=/cache/huggingface
ENV TRANSFORMERS_CACHE=/cache/huggingface

HEALTHCHECK --interval=30s --timeout=10s --start-period=40s --retries=3 \
    CMD curl -f http://localhost:8000/health || exit 1

EXPOSE 8000
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
