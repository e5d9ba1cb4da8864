#!/bin/sh
set -e
chown -R drop:drop /srv/uploads
exec setpriv --reuid=drop --regid=drop --init-groups "$@"
