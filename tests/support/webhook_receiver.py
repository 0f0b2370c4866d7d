"""A real HTTP webhook receiver on loopback: answers 500 to its first `fail_first`
requests, 200 after, and keeps every request it got."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it, and what it answered."""

    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """What the running receiver got so far."""

    url: str
    fail_first: int
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            status = 500 if len(self.requests) < self.fail_first else 200
            self.requests.append(Received(headers, body, status))
            return status

    def accepted(self) -> list[Received]:
        """The requests answered 200."""
        with self.lock:
            return [r for r in self.requests if r.status == 200]


@contextmanager
def webhook_receiver(fail_first: int = 0) -> Iterator[Receiver]:
    """A receiver at `Receiver.url` for the block's length."""
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            status = receiver.answer({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hooks", fail_first)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)  # fmt: skip
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
