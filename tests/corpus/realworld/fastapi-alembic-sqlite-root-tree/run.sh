#!/bin/sh
set -e
cd /app
alembic upgrade head
exec uvicorn recipes.main:app --host 0.0.0.0 --port "$APP_PORT"
