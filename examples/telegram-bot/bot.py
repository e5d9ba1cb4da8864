"""A small Telegram bot: /start, /help, /stats (message counts as a table), echo, and GET /health over HTTP.

    python -u bot.py               run: polls Telegram when TELEGRAM_BOT_TOKEN is set, else health endpoint only
    python bot.py --self-check     offline check of the bot's wiring (no network, no token), exit 0 when fine

The health endpoint (HEALTH_PORT, default 8080) answers 200 while the process serves; it reports whether
the bot is polling or offline, so a container healthcheck can test something real.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import telegram
from tabulate import tabulate
from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

__version__ = "2.3.1"
log = logging.getLogger("bot")

HELP = (
    "/start - say hello\n"
    "/help - this text\n"
    "/stats - messages seen since the bot started\n"
    "anything else is echoed back"
)


class Stats:
    """Messages seen since start, by chat type and by kind (updated only on the bot's event loop)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.started = time.time()

    def record(self, chat_type: str, kind: str) -> None:
        self.counts[(chat_type, kind)] += 1

    def table(self) -> str:
        rows = sorted((chat, kind, count) for (chat, kind), count in self.counts.items())
        if not rows:
            return "no messages yet"
        rows.append(("all", "all", sum(self.counts.values())))
        return tabulate(rows, headers=["chat", "kind", "messages"], tablefmt="github")


STATS = Stats()
STATE = {"mode": "starting"}


def _chat_type(update: Update) -> str:
    return update.effective_chat.type if update.effective_chat else "unknown"


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    STATS.record(_chat_type(update), "command")
    name = update.effective_user.first_name if update.effective_user else "there"
    await update.message.reply_text(f"Hello {name}! Send /help to see what I can do.")


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    STATS.record(_chat_type(update), "command")
    await update.message.reply_text(HELP)


async def stats_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    STATS.record(_chat_type(update), "command")
    await update.message.reply_text(f"<pre>{STATS.table()}</pre>", parse_mode="HTML")


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    STATS.record(_chat_type(update), "text")
    await update.message.reply_text(update.message.text)


def build_application(token: str) -> Application:
    """The bot with its handlers. Building it needs no network: Telegram is first called at initialize()."""
    application = Application.builder().token(token).build()
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(CommandHandler("stats", stats_command))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    return application


class _HealthHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path.split("?")[0] != "/health":
            self.send_error(404)
            return
        body = json.dumps({"status": "ok", "version": __version__, "mode": STATE["mode"],
                           "uptime_s": round(time.time() - STATS.started, 1)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # keep probes out of the logs
        pass


def start_health_server(port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), _HealthHandler)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server


def self_check() -> int:
    """Everything the bot needs, without Telegram: handlers, the stats table, the health endpoint."""
    problems = []
    application = build_application("123456:self-check-token-not-used")
    handlers = sum(len(group) for group in application.handlers.values())
    if handlers != 4:
        problems.append(f"expected 4 handlers, found {handlers}")
    sample = Stats()
    sample.record("private", "text")
    sample.record("group", "command")
    if "| chat" not in sample.table():
        problems.append("stats table did not render")
    server = start_health_server(0, host="127.0.0.1")
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/health"
        with urllib.request.urlopen(url, timeout=5) as response:
            status = response.status
    except OSError as err:
        status = f"error {err}"
    finally:
        server.shutdown()
    if status != 200:
        problems.append(f"/health answered {status}")
    if problems:
        print("self-check FAILED: " + "; ".join(problems))
        return 1
    import tabulate as tabulate_module

    print(f"self-check ok: python-telegram-bot {telegram.__version__}, tabulate {tabulate_module.__version__}, "
          f"{handlers} handlers, /health 200")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Telegram bot")
    parser.add_argument("--self-check", action="store_true", help="check the bot offline and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per poll otherwise
    if args.self_check:
        return self_check()

    port = int(os.environ.get("HEALTH_PORT", "8080"))
    start_health_server(port)
    log.info("health endpoint on :%d/health", port)
    token = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        STATE["mode"] = "offline"
        log.warning("TELEGRAM_BOT_TOKEN is not set: not polling, serving /health only")
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        stop.wait()
        return 0
    STATE["mode"] = "polling"
    # bootstrap_retries=-1: keep retrying while Telegram is unreachable instead of exiting.
    build_application(token).run_polling(bootstrap_retries=-1, allowed_updates=Update.ALL_TYPES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
