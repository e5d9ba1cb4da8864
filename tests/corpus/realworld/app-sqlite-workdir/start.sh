#!/bin/sh
# Create the schema (idempotent), then serve.
set -e
python init_db.py
exec gunicorn --bind 0.0.0.0:5000 --workers 2 app:app
