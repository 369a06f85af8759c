"""A real webhook receiver on 127.0.0.1 for tests and benchmarks: it checks both signatures
against the raw body and records what arrived. Its answers are scripted per request."""

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    raw_body: bytes
    headers: dict[str, str]
    merge_signature_ok: bool
    standard_signature_ok: bool
    at: float

    @property
    def json(self) -> dict:
        return json.loads(self.raw_body)

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    # Special behaviours: "huge" streams `huge_bytes` of body; "hang" sends headers and a few
    # bytes, then never finishes; "delay" sleeps `delay` seconds before answering.
    mode: str = ""
    huge_bytes: int = 50 * 1024 * 1024
    delay: float = 0.0


class Receiver:
    def __init__(self, *, signature_key: str | None = None, port: int = 0, verify: bool = True):
        self.signature_key = signature_key
        self.verify = verify
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.script: list[Answer] = []
        self.default = Answer()
        self.answer_fn: Callable[[Received], Answer] | None = None
        self.port = port
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self._stop_hanging = threading.Event()

    # lifecycle

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without this, Nagle's algorithm and the
            # client's delayed ACK add ~40 ms to every keep-alive answer.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                item = receiver._record(raw, {k.lower(): v for k, v in self.headers.items()})
                answer = receiver._answer(item)
                if answer.delay:
                    time.sleep(answer.delay)
                if answer.mode == "huge":
                    self.send_response(answer.status)
                    self.send_header("Content-Length", str(answer.huge_bytes))
                    self.end_headers()
                    chunk = b"x" * 65536
                    sent = 0
                    try:
                        while sent < answer.huge_bytes:
                            self.wfile.write(chunk)
                            sent += len(chunk)
                    except OSError:
                        pass
                    return
                if answer.mode == "hang":
                    self.send_response(answer.status)
                    self.send_header("Content-Length", "1000000")
                    self.end_headers()
                    try:
                        self.wfile.write(b"partial")
                        self.wfile.flush()
                        while not receiver._stop_hanging.wait(0.2):
                            # A byte now and then: a read timeout alone never fires.
                            self.wfile.write(b".")
                            self.wfile.flush()
                    except OSError:
                        pass
                    self.close_connection = True
                    return
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        server.allow_reuse_address = True
        self.server = server
        self.port = server.server_address[1]
        self.thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop_hanging.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def restart(self) -> None:
        """Come back on the same port after `stop()`."""
        self._stop_hanging.clear()
        deadline = time.monotonic() + 10
        while True:
            try:
                self.start()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/relink"

    # behaviour

    def _answer(self, item: Received) -> Answer:
        if self.answer_fn is not None:
            return self.answer_fn(item)
        with self.lock:
            if self.script:
                return self.script.pop(0)
        return self.default

    def _record(self, raw: bytes, headers: dict[str, str]) -> Received:
        merge_ok = standard_ok = False
        if self.verify and self.signature_key:
            expected = base64.urlsafe_b64encode(
                hmac.new(self.signature_key.encode(), raw, hashlib.sha256).digest()
            ).decode()
            merge_ok = hmac.compare_digest(expected, headers.get("x-merge-webhook-signature", ""))
            try:
                Webhook(self.signature_key).verify(raw, headers, json_parse=False)
                standard_ok = True
            except WebhookVerificationError:
                standard_ok = False
        item = Received(raw, headers, merge_ok, standard_ok, time.monotonic())
        with self.lock:
            self.received.append(item)
        return item

    # reading

    def ids(self) -> list[str]:
        with self.lock:
            return [r.webhook_id for r in self.received]

    def unique_ids(self) -> set[str]:
        return set(self.ids())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
