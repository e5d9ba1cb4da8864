#!/usr/bin/env bash
set -e
mkdir -p data/favicons
python manage.py migrate --noinput
python manage.py create_initial_superuser
exec uwsgi --http :9090 --module linkkeeper.wsgi --enable-threads
