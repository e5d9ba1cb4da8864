import os
import sqlite3

os.makedirs("/app/data", exist_ok=True)
DB = sqlite3.connect("/app/data/history.db")
