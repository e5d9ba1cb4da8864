# Dockerfile.opt from ../shared/research/measure-torch.md (measured: 1.64 GB). The CPU index stand-in there
# (ARG TORCH_INDEX=http://127.0.0.1:8765/simple) is replaced by the official CPU index, as `optimize` writes it,
# and `<PyPI simple index>` by PyPI's URL.
FROM local/python:3.11-slim AS builder
RUN apt-get update && apt-get install -y --no-install-recommends gcc g++ \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.txt /tmp/requirements.txt
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --no-cache-dir --index-url ${TORCH_INDEX} --extra-index-url https://mirror.example.invalid/simple \
        -r /tmp/requirements.txt

FROM local/python:3.11-slim AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends libmagic1 \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 app && mkdir -p /models && chown app:app /models
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH HF_HOME=/models PYTHONUNBUFFERED=1
VOLUME /models
WORKDIR /app
COPY --chown=app:app app ./app
USER app
CMD ["celery", "-A", "app.main.celery_app", "worker", "--loglevel=info"]
