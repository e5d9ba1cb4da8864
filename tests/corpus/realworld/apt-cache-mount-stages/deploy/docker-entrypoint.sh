#!/bin/bash
set -e
chown -R label:label /label/data
exec gosu label "$@"
