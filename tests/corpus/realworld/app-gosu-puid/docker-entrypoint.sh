#!/bin/sh
# Remap the service user to the host's ids, give it the config volume, then run the app as that user.
set -e
PUID="${PUID:-1000}"
PGID="${PGID:-1000}"
groupmod -o -g "$PGID" media
usermod -o -u "$PUID" media
chown -R media:media "$CONFIG_DIR"
exec gosu media "$@"
