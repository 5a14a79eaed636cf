"""A real HTTP server that speaks the OpenAI chat-completions protocol: an ``openai:`` endpoint
without a model, for measuring ``sppo-gym bench``'s endpoint path (benchmarks/bench_speed.py) and
testing its retries. Standard library only.

It runs ``http.server.ThreadingHTTPServer`` on 127.0.0.1 (a free port) in a thread and answers
``POST /v1/chat/completions`` with ``responder(prompt) -> str`` applied to the last user message.
``failures`` is a queue of HTTP statuses (or ``"slow"``: answer after ``slow_s`` seconds) served to
the next requests before normal answers resume — how tests exercise retries. Every request body
and its Authorization header are recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ChatServer:
    """``with ChatServer(responder) as srv: srv.base_url`` -> ``http://127.0.0.1:PORT/v1``."""

    def __init__(self, responder: Callable[[str], str], *, model: str = "test-model", latency_s: float = 0.0,
                 slow_s: float = 2.0):
        self.responder, self.model, self.latency_s, self.slow_s = responder, model, latency_s, slow_s
        self.failures: list[int | str] = []
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str | None] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def next_failure(self) -> int | str | None:
        with self.lock:
            return self.failures.pop(0) if self.failures else None


def _make_handler(server: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            with server.lock:
                server.requests.append(body)
                server.auth.append(self.headers.get("Authorization"))
                server.in_flight += 1
                server.max_in_flight = max(server.max_in_flight, server.in_flight)
            try:
                self._answer(body)
            finally:
                with server.lock:
                    server.in_flight -= 1

        def _answer(self, body: dict) -> None:
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            failure = server.next_failure()
            if failure == "slow":
                time.sleep(server.slow_s)
            elif failure is not None:
                headers = {"Retry-After": "0"} if failure == 429 else {}
                return self._send(int(failure), {"error": {"message": f"injected {failure}", "type": "test"}},
                                  headers)
            if body.get("model") != server.model:
                return self._send(404, {"error": {"message": f"model {body.get('model')!r} not found",
                                                  "type": "invalid_request_error", "code": "model_not_found"}})
            if server.latency_s:
                time.sleep(server.latency_s)
            prompt = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
            text = server.responder(prompt)
            self._send(200, {
                "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                "model": server.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": "stop", "logprobs": None}],
                "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": len(text.split()),
                          "total_tokens": len(prompt.split()) + len(text.split())},
            })
            return None

    return Handler
