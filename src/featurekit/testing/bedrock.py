"""A local fake of Bedrock Converse and ConverseStream: a stdlib HTTP server on 127.0.0.1 that boto3 talks to.

Replies are scripted (first in, first out; `always` sets the reply used once the script runs out) and every request
is recorded with its decoded JSON body, so tests check exactly what featurekit sent over the wire.

ConverseStream answers in the AWS event-stream binary framing, encoded here (botocore only ships a decoder):

    prelude:  total length (uint32) | headers length (uint32) | CRC32 of those 8 bytes
    headers:  name length (uint8) | name | type 7 = string | value length (uint16) | value     (repeated)
    payload:  the event's JSON
    trailer:  CRC32 of everything before it
"""

from __future__ import annotations

import binascii
import contextlib
import json
import struct
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote


@dataclass(frozen=True)
class Recorded:
    """One request the fake received."""

    operation: str  # "converse" or "converse-stream"
    model_id: str
    body: Mapping[str, Any]
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"{}"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0


def text_reply(
    text: str,
    *,
    stop_reason: str = "end_turn",
    usage: Mapping[str, int] | None = None,
    metrics: Mapping[str, Any] | None = None,
    omit_usage: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> Reply:
    body: dict[str, Any] = {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": stop_reason,
    }
    if not omit_usage:
        body["usage"] = dict(usage or {"inputTokens": 120, "outputTokens": 40, "totalTokens": 160})
        body["metrics"] = dict(metrics or {"latencyMs": 321})
    body.update(extra or {})
    return json_reply(body)


def tool_use_reply(
    name: str, tool_input: Mapping[str, Any], *, tool_use_id: str = "tooluse-1", text: str = ""
) -> Reply:
    content: list[dict[str, Any]] = [{"text": text}] if text else []
    content.append({"toolUse": {"toolUseId": tool_use_id, "name": name, "input": dict(tool_input)}})
    return json_reply(
        {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": "tool_use",
            "usage": {"inputTokens": 200, "outputTokens": 30, "totalTokens": 230},
            "metrics": {"latencyMs": 100},
        }
    )


def json_reply(body: Mapping[str, Any], status: int = 200) -> Reply:
    return Reply(status, json.dumps(body).encode(), {"Content-Type": "application/json"})


def error_reply(error_type: str, message: str, status: int = 400) -> Reply:
    """An API error the way Bedrock sends it: status, `x-amzn-ErrorType` header and a JSON body."""
    return Reply(
        status,
        json.dumps({"message": message}).encode(),
        {"Content-Type": "application/json", "x-amzn-ErrorType": f"{error_type}:http://internal.amazon.com/"},
    )


def slow_reply(seconds: float) -> Reply:
    return Reply(200, text_reply("too late").body, {"Content-Type": "application/json"}, delay=seconds)


# -- event stream ----------------------------------------------------------------------------------------------


def encode_frame(headers: Mapping[str, str], payload: bytes) -> bytes:
    encoded = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        encoded += struct.pack(">B", len(raw_name)) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    message = prelude + struct.pack(">I", binascii.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", binascii.crc32(message))


def event(event_type: str, payload: Mapping[str, Any]) -> bytes:
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_frame(headers, json.dumps(payload).encode())


def exception_event(exception_type: str, message: str) -> bytes:
    headers = {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}
    return encode_frame(headers, json.dumps({"message": message}).encode())


def stream_reply(
    chunks: Sequence[str],
    *,
    stop_reason: str = "end_turn",
    usage: Mapping[str, int] | None = None,
    omit_metadata: bool = False,
    fail_with: tuple[str, str] | None = None,
) -> Reply:
    frames = [event("messageStart", {"role": "assistant"})]
    for chunk in chunks:
        frames.append(event("contentBlockDelta", {"delta": {"text": chunk}, "contentBlockIndex": 0}))
    if fail_with is not None:
        frames.append(exception_event(*fail_with))
    else:
        frames.append(event("contentBlockStop", {"contentBlockIndex": 0}))
        frames.append(event("messageStop", {"stopReason": stop_reason}))
        if not omit_metadata:
            frames.append(
                event(
                    "metadata",
                    {
                        "usage": dict(usage or {"inputTokens": 120, "outputTokens": 40, "totalTokens": 160}),
                        "metrics": {"latencyMs": 222},
                    },
                )
            )
    return Reply(200, b"".join(frames), {"Content-Type": "application/vnd.amazon.eventstream"})


# -- the server ------------------------------------------------------------------------------------------------


class ConverseFake:
    """Start with `start()` (or as a context manager); point boto3 at `url`."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._script: deque[Reply] = deque()
        self._always: Reply | None = None
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # scripting
    def reply(self, *replies: Reply) -> ConverseFake:
        with self._lock:
            self._script.extend(replies)
        return self

    def always(self, reply: Reply) -> ConverseFake:
        with self._lock:
            self._always = reply
        return self

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self._always = None
            self.requests.clear()

    def _next(self) -> Reply:
        with self._lock:
            if self._script:
                return self._script.popleft()
            if self._always is not None:
                return self._always
        return error_reply("InternalServerException", "the Converse fake has no scripted reply left", 500)

    # lifecycle
    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> ConverseFake:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # 44 ms → ~1 ms per call (Nagle + delayed ACK)
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = self.path.split("/")
                # /model/<url-encoded id>/converse | /model/<id>/converse-stream
                model_id = unquote(parts[2]) if len(parts) > 3 else ""
                operation = parts[-1]
                body = json.loads(raw) if raw else {}
                with fake._lock:
                    fake.requests.append(Recorded(operation, model_id, body, dict(self.headers)))
                reply = fake._next()
                if reply.delay:
                    threading.Event().wait(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.send_header("x-amzn-RequestId", f"fake-{len(fake.requests)}")
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
                    self.wfile.write(reply.body)

            def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits for the loop to notice, 0.5 s per test by default.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True, name="converse-fake"
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ConverseFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # reading what was sent
    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    def bodies(self) -> list[Mapping[str, Any]]:
        return [r.body for r in self.requests]
