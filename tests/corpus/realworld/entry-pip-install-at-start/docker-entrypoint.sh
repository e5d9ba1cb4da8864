#!/bin/bash
set -e
if [ -n "$EXTRA_PACKAGES" ]; then
    echo "Installing extra packages: $EXTRA_PACKAGES"
    pip3 install --no-cache-dir $EXTRA_PACKAGES
fi
exec "$@"
