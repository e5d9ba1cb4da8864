import sqlite3

from flask import Flask, jsonify, request

DB = "guestbook.db"
app = Flask(__name__)


def count() -> int:
    with sqlite3.connect(DB) as conn:
        return conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0]


@app.get("/health")
def health():
    return jsonify(status="ok", entries=count())


@app.post("/entries")
def sign():
    with sqlite3.connect(DB) as conn:
        conn.execute("INSERT INTO entries (name, message) VALUES (?, ?)",
                     (request.form.get("name", "anon"), request.form.get("message", "")))
    return jsonify(entries=count()), 201
