#!/bin/sh
mkdir -p config data logs audio_cache
[ -f config/options.ini ] || cp sample_config/example_options.ini config/options.ini
exec python3 run.py
