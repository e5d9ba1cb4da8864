#!/bin/sh
set -e
python manage.py migrate --noinput
exec uwsgi --http :9090 --module bookmarks.wsgi
