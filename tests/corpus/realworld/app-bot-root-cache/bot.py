"""A quote bot: indexes quotes.txt into $XDG_CACHE_HOME/quotebot at start, answers /quote, serves /health.

Without TELEGRAM_BOT_TOKEN it never contacts Telegram: it builds its handlers and serves /health only.
"""

import http.server
import json
import os
import sys

from telegram.ext import Application, CommandHandler

CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "quotebot")


def build_index() -> dict:
    os.makedirs(CACHE, exist_ok=True)
    index: dict[str, list[int]] = {}
    with open("quotes.txt") as handle:
        quotes = [line.strip() for line in handle if line.strip()]
    for number, quote in enumerate(quotes):
        for word in quote.lower().strip(".").split():
            index.setdefault(word, []).append(number)
    with open(os.path.join(CACHE, "index.json"), "w") as handle:
        json.dump({"quotes": quotes, "index": index}, handle)
    return {"quotes": quotes, "index": index}


def find(data: dict, word: str) -> str:
    hits = data["index"].get(word.lower(), [])
    return data["quotes"][hits[0]] if hits else "no quote"


async def quote(update, context):
    await update.message.reply_text(find(DATA, " ".join(context.args) or "simple"))


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, *args):
        pass


DATA = build_index()

if __name__ == "__main__":
    token = os.environ.get("TELEGRAM_BOT_TOKEN")
    application = Application.builder().token(token or "0:offline").build()
    application.add_handler(CommandHandler("quote", quote))
    if "--self-check" in sys.argv:
        print(find(DATA, "readability"))
        sys.exit(0 if os.path.exists(os.path.join(CACHE, "index.json")) else 1)
    if token:
        application.run_polling()
    else:
        http.server.ThreadingHTTPServer(("0.0.0.0", 8081), Health).serve_forever()
