"""A deliberately SQL-injectable web app for the lab's WebAttack scenario (sqlmap).

Runs inside the victim namespace on 127.0.0.1:8080 behind nginx (/item). The `id` query
parameter is pasted into the SQL text on purpose: that is the vulnerability sqlmap finds.
Never run it outside the lab. Usage: python3 vulnapp.py
"""
import sqlite3
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DB = sqlite3.connect(":memory:", check_same_thread=False)
DB.executescript("""
CREATE TABLE items(id INTEGER, name TEXT, price REAL);
INSERT INTO items VALUES (1, 'lamp', 12.5), (2, 'desk', 80.0), (3, 'chair', 35.0);
CREATE TABLE accounts(user TEXT, secret TEXT);
INSERT INTO accounts VALUES ('admin', 'lab-only-secret');
""")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        item_id = query.get("id", ["1"])[0]
        try:
            rows = DB.execute("SELECT name, price FROM items WHERE id = " + item_id).fetchall()
            body, code = "<br>".join(f"{n} {p}" for n, p in rows) or "no such item", 200
        except sqlite3.Error as err:
            body, code = f"database error: {err}", 500
        page = f"<html><body>{body}</body></html>".encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args):
        pass  # nginx logs the requests


ThreadingHTTPServer(("127.0.0.1", 8080), Handler).serve_forever()
