"""The HTTP server: `/cgi-bin/...` is WeCom's API, `/sandbox/...` the control API,
`/connect/...` and `/client/...` the pages of WeCom's client (OAuth2, a chat window)."""

import json
import logging
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from wecom_sandbox.client_pages import Page, handle_page
from wecom_sandbox.control import handle_control
from wecom_sandbox.sandbox import Sandbox
from wecom_sandbox.wecom_api import handle_api

logger = logging.getLogger("wecom_sandbox")

MAX_BODY_BYTES = 64 * 1024 * 1024


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Benchmarks open hundreds of connections at once; the stdlib default backlog is 5.
    request_queue_size = 512

    def __init__(
        self, address: tuple[str, int], sandbox: Sandbox, *, verbose: bool = False
    ) -> None:
        super().__init__(address, SandboxRequestHandler)
        self.sandbox = sandbox
        self.verbose = verbose


class SandboxRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer carries Content-Length
    # Headers and body are separate writes; with Nagle on, a keep-alive client waits for
    # the delayed ACK (~40 ms) on every call.
    disable_nagle_algorithm = True
    server: SandboxHTTPServer
    server_version = "wecom-sandbox"

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        sandbox = self.server.sandbox
        try:
            raw_body = self._read_body()
            if url.path.startswith(("/connect/", "/client/")):
                self._send_page(handle_page(sandbox, method, url.path, query, self.headers))
                return
            if url.path.startswith("/cgi-bin/"):
                status, payload = handle_api(
                    sandbox,
                    url.path[len("/cgi-bin/") :],
                    query,
                    self.headers,
                    raw_body,
                    self.client_address[0],
                )
            elif url.path.startswith("/sandbox/"):
                body = json.loads(raw_body) if raw_body.strip() else {}
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
                status, payload = handle_control(sandbox, method, url.path, query, body)
            else:
                status, payload = 404, {"error": f"nothing at {url.path}"}
        except ValueError as error:
            status, payload = 400, {"error": str(error)}
        except Exception as error:  # answer, log, keep serving
            logger.exception("error handling %s %s", method, self.path)
            status, payload = 500, {"error": f"{type(error).__name__}: {error}"}
        self._send_json(status, payload)

    def _send_page(self, page: Page) -> None:
        self.send_response(page.status)
        self.send_header("Content-Type", page.content_type)
        self.send_header("Content-Length", str(len(page.body)))
        for name, value in page.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(page.body)

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
