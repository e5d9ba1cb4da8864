#!/bin/sh
set -e
python manage.py db upgrade
exec gunicorn "ctf:create_app()" --bind 0.0.0.0:8000
