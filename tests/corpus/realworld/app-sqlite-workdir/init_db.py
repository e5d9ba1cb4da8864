"""Creates guestbook.db next to the app (the working directory) and its table."""

import sqlite3

DB = "guestbook.db"

if __name__ == "__main__":
    with sqlite3.connect(DB) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS entries (id INTEGER PRIMARY KEY, name TEXT, message TEXT)")
    print(f"schema ready in {DB}")
