#!/bin/bash
set -o errexit
usermod -o -u "${PUID:-$DEFAULT_PUID}" "$ARCHIVER_USER" > /dev/null 2>&1
groupmod -o -g "${PGID:-$DEFAULT_PGID}" "$ARCHIVER_USER" > /dev/null 2>&1
chown "${PUID:-$DEFAULT_PUID}:${PGID:-$DEFAULT_PGID}" "$DATA_DIR"
exec gosu "${PUID:-$DEFAULT_PUID}" "$@"
