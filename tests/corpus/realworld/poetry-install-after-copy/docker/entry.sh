#!/bin/bash
PUID=${PUID:-911}
PGID=${PGID:-911}
if [ "$(id -u)" = "0" ]; then
    groupmod -o -g "$PGID" kitchen && usermod -o -u "$PUID" kitchen
    chown -R $PUID:$PGID /app
    exec gosu $PUID "$0" "$@"
fi
. /opt/pysetup/.venv/bin/activate
exec python /app/kitchen/main.py
