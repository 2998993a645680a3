"""A webhook receiver for tests, run as its own process: `python receiver.py PORT STATUSES LOG`.

It answers the n-th POST with the n-th status of STATUSES (comma-separated, e.g. "500,500,200"; the
last one repeats; a 3xx carries `Location: /elsewhere`) and appends each request it got, with its
headers and raw body, as a line of JSON to LOG."""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, STATUSES, LOG = int(sys.argv[1]), [int(s) for s in sys.argv[2].split(",")], sys.argv[3]
received = 0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        global received
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status = STATUSES[min(received, len(STATUSES) - 1)]
        received += 1
        with open(LOG, "a", encoding="utf-8") as log:
            record = {"path": self.path, "headers": dict(self.headers.items()), "body": body.decode(), "status": status}
            log.write(json.dumps(record) + "\n")
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
print(f"listening on {PORT}", flush=True)
server.serve_forever()
