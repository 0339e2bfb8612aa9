"""The backend: answers /health with its version, the user it runs as, and digests of its secrets
(the mounted file and the TOKEN variable), never the secrets themselves."""

import hashlib
import json
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "1"
SECRET_FILE = os.environ.get("SECRET_FILE", "/run/secrets/api-key")


def digest(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


def secret_file() -> bytes | None:
    try:
        with open(SECRET_FILE, "rb") as handle:
            return handle.read()
    except OSError:
        return None


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/health":
            self.send_error(404)
            return
        token = os.environ.get("TOKEN")
        body = json.dumps({"version": VERSION, "uid": os.getuid(), "secret_file_sha256": digest(secret_file()),
                           "token_sha256": digest(token.encode() if token is not None else None)},
                          separators=(",", ":")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

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
