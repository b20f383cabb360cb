"""A real HTTP server on 127.0.0.1 that plays an external portal: it records every request,
applies each idempotency key once, and answers as told (200, 400, 500, 429, hang, close)."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def key(self) -> str:
        return self.headers.get("Idempotency-Key", "")

    def json(self) -> Any:
        return json.loads(self.body)


class Portal:
    """Behaviours, consumed one per request (then `default`): "200", "400", "500", "429",
    "hang" (never answers until stopped), "close" (drops the connection before applying),
    "apply-close" (applies the change, then drops the connection: the answer is lost)."""

    def __init__(self, port: int = 0):
        self.requests: list[Received] = []
        self.applied: dict[str, Received] = {}
        self.script: deque[str] = deque()
        self.default = "200"
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/hoso"

    def answer(self, *behaviours: str) -> None:
        self.script.extend(behaviours)

    def applied_bodies(self) -> list[Any]:
        with self._lock:
            return [r.json() for r in self.applied.values()]

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def _next(self, received: Received) -> str:
        with self._lock:
            self.requests.append(received)
            return self.script.popleft() if self.script else self.default

    def _apply(self, received: Received) -> bool:
        with self._lock:
            if received.key in self.applied:
                return False
            self.applied[received.key] = received
            return True

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received = Received(self.path, dict(self.headers.items()), body)
                behaviour = portal._next(received)
                if behaviour == "hang":
                    portal._release.wait(10)
                    self.close_connection = True
                    return
                if behaviour in ("close", "apply-close"):
                    if behaviour == "apply-close":
                        portal._apply(received)
                    self.close_connection = True
                    return
                status = int(behaviour)
                if status == 200:
                    fresh = portal._apply(received)
                    reply: dict[str, Any] = {"ok": True, "duplicate": not fresh}
                else:
                    reply = {"ok": False, "error": f"portal says {status}"}
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # keep the test output clean

        return Handler
