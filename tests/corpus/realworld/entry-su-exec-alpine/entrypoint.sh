#!/bin/sh
set -eu
for dir in "$CONFIG_PATH" "$DATA_PATH"; do
    mkdir -p "$dir"
    if [ "$(stat -c %U "$dir")" != "searcher" ] && [ "$(id -u)" -eq 0 ]; then
        chown -R searcher:searcher "$dir"
    fi
done
exec su-exec searcher:searcher python -m searcher.webapp
