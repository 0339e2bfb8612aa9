"""The gateway: /health calls the backend at BACKEND_URL (its service name, not 127.0.0.1, which in
a container is the container itself) and answers with the backend's version and its own."""

import json
import os
import signal
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "1"
BACKEND_URL = os.environ.get("BACKEND_URL", "http://compose-backend:7000")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/health":
            self.send_error(404)
            return
        try:
            with urllib.request.urlopen(f"{BACKEND_URL}/health", timeout=5) as answer:
                backend = json.load(answer)
            status, body = 200, {"version": backend["version"], "gateway": VERSION, "uid": os.getuid(),
                                 "backend": backend}
        except OSError as err:
            status, body = 502, {"error": f"backend at {BACKEND_URL}: {err}", "gateway": VERSION}
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


def serve() -> None:
    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler)
    server.daemon_threads = False  # a stop waits for the requests in flight
    # docker stop sends SIGTERM: finish what is in flight, then exit.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    serve()
