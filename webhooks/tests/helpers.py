"""A webhook receiver on loopback (a threaded http.server on port 0) that records every
request and answers with the statuses it is told, and small builders for the tests."""

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from webhooks.models import Endpoint
from webhooks.services import endpoint_create

ALL_EVENTS = [
    "customer.added",
    "customer.deleted",
    "customer.tagged",
    "customer.transferred",
    "broadcast.finished",
    "handover.finished",
]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def text(self) -> str:
        return self.body.decode()


class Receiver:
    """Answers the n-th request with `statuses[n]` (then `default`), after `delays[n]` (then
    `delay`) seconds, with `reply` as the body and `extra_headers`."""

    def __init__(
        self,
        statuses: list[int] | None = None,
        *,
        default: int = 200,
        delay: float = 0.0,
        delays: list[float] | None = None,
        reply: bytes = b'{"ok":true}',
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        self.statuses = list(statuses or [])
        self.default = default
        self.delay = delay
        self.delays = list(delays or [])
        self.reply = reply
        self.extra_headers = extra_headers or {}
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    n = len(receiver.requests)
                    status = (
                        receiver.statuses[n] if n < len(receiver.statuses) else receiver.default
                    )
                    delay = receiver.delays[n] if n < len(receiver.delays) else receiver.delay
                    receiver.requests.append(
                        Received(self.path, dict(self.headers.items()), body, status)
                    )
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for name, value in receiver.extra_headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(receiver.reply)))
                    self.end_headers()
                    self.wfile.write(receiver.reply)
                except OSError:
                    pass  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/scrm"


def signature_is_valid(received: Received, secret: str) -> bool:
    """The receiver's check, written from the documentation only: every `v1` in
    X-SCRM-Signature is HMAC-SHA256 of "<t>.<raw body>" with the secret."""
    parts = [p.split("=", 1) for p in received.headers["X-SCRM-Signature"].split(",")]
    t = next(value for key, value in parts if key == "t")
    expected = hmac.new(
        secret.encode(), f"{t}.{received.body.decode()}".encode(), hashlib.sha256
    ).hexdigest()
    return t == received.headers["X-SCRM-Timestamp"] and any(
        key == "v1" and hmac.compare_digest(value, expected) for key, value in parts
    )


def make_endpoint(url: str, events: list[str] | None = None, **kwargs: Any) -> tuple[Endpoint, str]:
    return endpoint_create(url=url, event_types=events or ALL_EVENTS, **kwargs)
