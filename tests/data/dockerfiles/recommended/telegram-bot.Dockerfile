# Copied verbatim from audit 2025-11-09, TELEGRAM-BOT, recommendation (../shared/seeds/000_a80e646214b24dd8.txt, lines 457-483).
FROM python:3.12-slim AS builder
WORKDIR /build

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

FROM python:3.12-slim
WORKDIR /app

RUN groupadd -r botuser && useradd -r -g botuser botuser \
    && chown -R botuser:botuser /app

COPY --from=builder --chown=botuser:botuser /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

COPY --chown=botuser:botuser bot.py .

USER botuser

# Better healthcheck
HEALTHCHECK --interval=60s --timeout=10s --start-period=30s --retries=3 \
  CMD python -c "import telegram; import sys; sys.exit(0)" || exit 1

CMD ["python", "-u", "bot.py"]
