#!/bin/sh
set -e
until psql $DATABASE_URL -c '\q'; do sleep 1; done
if [ "$1" = 'uwsgi' ]; then
    python manage.py migrate --noinput
fi
exec "$@"
