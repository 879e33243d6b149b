"""A real OpenAI-compatible ``POST /v1/chat/completions`` endpoint on 127.0.0.1.

It plays scripted answers from a queue that each test fills, and records every request
body it receives. With nothing scripted it answers HTTP 500.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Scripted:
    content: str | None = None
    finish_reason: str = "stop"
    status: int = 200
    delay: float = 0.0
    raw_body: bytes | None = None


class ChatServer:
    def __init__(self, *, port: int = 0) -> None:
        """``port`` 0 picks a free one; a stopped server's port may be given to a new
        one (an endpoint that goes away and comes back)."""
        self.requests: list[dict[str, Any]] = []
        self._script: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._http = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.02,), daemon=True)

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/v1"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._http.shutdown()
        self._http.server_close()

    def reply(self, content: str | None, *, finish_reason: str = "stop", delay: float = 0) -> None:
        self._push(Scripted(content=content, finish_reason=finish_reason, delay=delay))

    def reply_json(self, answer: Any) -> None:
        self.reply(json.dumps(answer, ensure_ascii=False))

    def reply_raw(self, body: bytes) -> None:
        """Answer HTTP 200 with this body as is (not necessarily a chat completion)."""
        self._push(Scripted(raw_body=body))

    def fail(self, status: int) -> None:
        self._push(Scripted(status=status))

    def _push(self, scripted: Scripted) -> None:
        with self._lock:
            self._script.append(scripted)

    def _next(self, body: dict[str, Any]) -> Scripted:
        with self._lock:
            self.requests.append(body)
            return self._script.popleft() if self._script else Scripted(status=500)

    def _answer(self, body: dict[str, Any]) -> tuple[int, bytes]:
        scripted = self._next(body)
        if scripted.delay:
            self._stopping.wait(scripted.delay)
        if scripted.raw_body is not None:
            return 200, scripted.raw_body
        if scripted.status != 200:
            error = {"error": {"message": "scripted failure", "type": "server"}}
            return scripted.status, json.dumps(error).encode()
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": scripted.content},
            "finish_reason": scripted.finish_reason,
        }
        completion = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", ""),
            "choices": [choice],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        return 200, json.dumps(completion).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                body["_path"] = self.path
                status, payload = server._answer(body)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
