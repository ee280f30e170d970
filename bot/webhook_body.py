"""The webhook's body, read only up to ``WEBHOOK_MAX_BYTES``: a bigger one is refused (413) unread.

Meta's updates are a few kilobytes, so anything near the cap is not Meta. The declared
``Content-Length`` is checked before a byte is read; a body without one (chunked) is read
in pieces and given up on as soon as it passes the cap, so memory never holds more than
the cap, whoever sends it and whether or not it is signed. The signature is checked after.
"""

from __future__ import annotations

from typing import IO, Any

from flask import Flask, Request

from runtime.config import ConfigError

DEFAULT_MAX_BYTES = 3 * 1024 * 1024
_PIECE = 64 * 1024


class TooLarge(Exception):
    """The body is over the cap (declared or read so far)."""


def max_bytes(config: Any) -> int:
    """``WEBHOOK_MAX_BYTES`` as a positive integer; a bad value stops the boot."""
    raw = config.get("WEBHOOK_MAX_BYTES")
    if raw in (None, ""):
        return DEFAULT_MAX_BYTES
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ConfigError(f"WEBHOOK_MAX_BYTES must be a number of bytes, not {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"WEBHOOK_MAX_BYTES must be positive, not {raw!r}")
    return value


def check_config(app: Flask) -> None:
    max_bytes(app.config)


def read(request: Request, limit: int) -> bytes:
    """The whole body, or ``TooLarge`` without reading past ``limit`` bytes."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise TooLarge
    return _read_capped(request.stream, limit)


def _read_capped(stream: IO[bytes], limit: int) -> bytes:
    pieces: list[bytes] = []
    size = 0
    while True:
        piece = stream.read(min(_PIECE, limit + 1 - size))
        if not piece:
            return b"".join(pieces)
        size += len(piece)
        if size > limit:
            raise TooLarge
        pieces.append(piece)
