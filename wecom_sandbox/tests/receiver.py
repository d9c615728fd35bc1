"""A tiny stand-in for the platform's callback endpoint, run inside the test process."""

import contextlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import xmltodict
from wechatpy.enterprise.crypto import WeChatCrypto


@dataclass
class ReceivedRequest:
    method: str
    path: str
    query: dict
    body: bytes
    headers: dict
    at: float


@dataclass
class Behaviour:
    status: int = 200
    delay: float = 0.0
    # The first N requests get `first_status` / `first_delay` instead.
    first_n: int = 0
    first_status: int = 500
    first_delay: float = 0.0
    # Echo for URL verification: decrypt echostr with this crypto (None = echo garbage).
    crypto: WeChatCrypto | None = None


@dataclass
class CallbackReceiver:
    server: ThreadingHTTPServer
    behaviour: Behaviour = field(default_factory=Behaviour)
    requests: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/wecom/callback/"

    def posts(self) -> list:
        with self.lock:
            return [r for r in self.requests if r.method == "POST"]

    def wait_for_posts(self, count: int, timeout: float = 10.0) -> list:
        deadline = time.monotonic() + timeout
        while len(self.posts()) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.posts())}/{count} posts")
            time.sleep(0.02)
        return self.posts()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_receiver() -> CallbackReceiver:
    holder: dict = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            pass

        def _record(self, method: str) -> tuple[ReceivedRequest, int]:
            receiver: CallbackReceiver = holder["receiver"]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            request = ReceivedRequest(
                method, url.path, dict(parse_qsl(url.query)), body, dict(self.headers), time.time()
            )
            with receiver.lock:
                receiver.requests.append(request)
                index = len(receiver.requests)
            return request, index

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            receiver: CallbackReceiver = holder["receiver"]
            behaviour = receiver.behaviour
            _, index = self._record("POST")
            if index <= behaviour.first_n:
                time.sleep(behaviour.first_delay)
                status = behaviour.first_status
            else:
                time.sleep(behaviour.delay)
                status = behaviour.status
            with contextlib.suppress(OSError):  # the sandbox may have given up waiting
                self._answer(status, b"")

        def do_GET(self):
            receiver: CallbackReceiver = holder["receiver"]
            request, _ = self._record("GET")
            crypto = receiver.behaviour.crypto
            query = request.query
            if crypto is None:
                self._answer(200, b"not-the-echo")
                return
            plaintext = crypto.check_signature(
                query["msg_signature"], query["timestamp"], query["nonce"], query["echostr"]
            )
            self._answer(200, plaintext.encode() if isinstance(plaintext, str) else plaintext)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = CallbackReceiver(server)
    holder["receiver"] = receiver
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return receiver


def decrypt(post: ReceivedRequest, token: str, aes_key: str, corp_id: str) -> dict:
    """What the platform does: verify the signature, decrypt, parse the event XML."""
    crypto = WeChatCrypto(token, aes_key, corp_id)
    plaintext = crypto.decrypt_message(
        post.body, post.query["msg_signature"], post.query["timestamp"], post.query["nonce"]
    )
    return xmltodict.parse(plaintext)["xml"]
