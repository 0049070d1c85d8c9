"""Length-prefixed frames: how the grader, the zygote and each graded child talk over pipes.

A frame is one line ``b"<header bytes> <payload bytes>\\n"``, then a JSON header, then a binary
payload (an ``.npz`` archive or nothing). Readers refuse frames over their size limits, so a
submission that writes garbage to a grader pipe cannot make the grader allocate without bound.
"""

from __future__ import annotations

import json
import os

MAX_HEADER = 1 << 20


class ProtocolError(Exception):
    """A peer sent something that is not a well-formed frame within the limits."""


def encode_frame(header: dict, payload: bytes = b"") -> bytes:
    body = json.dumps(header, separators=(",", ":")).encode()
    return b"%d %d\n" % (len(body), len(payload)) + body + payload


def write_frame(fd: int, header: dict, payload: bytes = b"") -> None:
    """Write one whole frame to a file descriptor (retrying short writes)."""
    view = memoryview(encode_frame(header, payload))
    while view:
        written = os.write(fd, view)
        view = view[written:]


class FrameReader:
    """Incremental parser: ``feed`` bytes as they arrive, collect whole frames from ``frames``."""

    def __init__(self, max_payload: int):
        self.max_payload = max_payload
        self.buffer = bytearray()
        self.frames: list[tuple[dict, bytes]] = []

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while True:
            newline = self.buffer.find(b"\n", 0, 64)
            if newline < 0:
                if len(self.buffer) >= 64:
                    raise ProtocolError("frame prefix too long")
                return
            try:
                header_size, payload_size = (int(part) for part in self.buffer[:newline].split())
            except ValueError:
                raise ProtocolError("malformed frame prefix") from None
            if not (0 <= header_size <= MAX_HEADER and 0 <= payload_size <= self.max_payload):
                raise ProtocolError(f"frame too large ({header_size} + {payload_size} bytes)")
            end = newline + 1 + header_size + payload_size
            if len(self.buffer) < end:
                return
            try:
                header = json.loads(bytes(self.buffer[newline + 1 : newline + 1 + header_size]))
            except ValueError:
                raise ProtocolError("frame header is not JSON") from None
            if not isinstance(header, dict):
                raise ProtocolError("frame header is not a JSON object")
            self.frames.append((header, bytes(self.buffer[newline + 1 + header_size : end])))
            del self.buffer[:end]


def read_frame(fd: int, max_payload: int) -> tuple[dict, bytes]:
    """Blocking read of exactly one frame; never reads past its end."""
    prefix = bytearray()
    while not prefix.endswith(b"\n"):
        byte = os.read(fd, 1)
        if not byte:
            raise EOFError("pipe closed")
        prefix += byte
        if len(prefix) > 64:
            raise ProtocolError("frame prefix too long")
    reader = FrameReader(max_payload)
    reader.feed(bytes(prefix))
    header_size, payload_size = (int(part) for part in prefix.split())
    remaining = header_size + payload_size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("pipe closed inside a frame")
        reader.feed(chunk)
        remaining -= len(chunk)
    return reader.frames[0]
