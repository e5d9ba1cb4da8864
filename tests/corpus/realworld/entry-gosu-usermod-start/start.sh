#!/bin/bash
PUID=${PUID:-1000}
PGID=${PGID:-1000}
groupmod -o -g "$PGID" stats
usermod -o -u "$PUID" stats
find /config \! \( -uid "$(id -u stats)" -gid "$(id -g stats)" \) -print0 | xargs -0r chown stats:stats
exec gosu stats "$@"
