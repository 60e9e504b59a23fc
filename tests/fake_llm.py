"""A stand-in OpenAI-compatible server, only for failures a real model can't be made to produce on demand:
an answer with a fabricated name, and a server that hangs."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class _FakeOpenAI(BaseHTTPRequestHandler):
    """A stand-in OpenAI-compatible server for failures a real model can't be made to produce on demand."""

    reply = ""
    delay = 0.0

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):  # noqa: N802
        try:
            self._answer()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the timeout test)

    def _answer(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        time.sleep(self.delay)
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for word in self.reply.split(" "):
                chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "fake",
                         "choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
        else:
            out = {"id": "x", "object": "chat.completion", "created": 0, "model": "fake",
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": self.reply},
                                "finish_reason": "stop"}]}
            data = json.dumps(out).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)


@pytest.fixture
def fake_server():
    servers = []

    def start(reply: str, delay: float = 0.0) -> str:
        handler = type("H", (_FakeOpenAI,), {"reply": reply, "delay": delay})
        srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}/v1"

    yield start
    for s in servers:
        s.shutdown()
