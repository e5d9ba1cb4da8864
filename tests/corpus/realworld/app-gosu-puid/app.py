"""A small library service: keeps its settings in $CONFIG_DIR and answers /health with who it runs as."""

import json
import os
import sys

from flask import Flask, jsonify

CONFIG_DIR = os.environ.get("CONFIG_DIR", "/config")
SETTINGS = os.path.join(CONFIG_DIR, "settings.json")

app = Flask(__name__)


def load_settings() -> dict:
    """First start writes the default settings into the config volume."""
    if not os.path.exists(SETTINGS):
        with open(SETTINGS, "w") as handle:
            json.dump({"library": "/media", "scan_interval": 3600}, handle)
    with open(SETTINGS) as handle:
        return json.load(handle)


@app.get("/health")
def health():
    return jsonify(status="ok", uid=os.getuid(), settings=load_settings())


def check() -> int:
    """Runs as the remapped user: it must match PUID and be able to write the settings."""
    settings = load_settings()
    expected = int(os.environ.get("PUID", "1000"))
    print(json.dumps({"uid": os.getuid(), "expected": expected, "settings": settings}))
    return 0 if os.getuid() == expected else 1


if __name__ == "__main__":
    if "--check" in sys.argv:
        sys.exit(check())
    load_settings()
    app.run(host="0.0.0.0", port=8080)
