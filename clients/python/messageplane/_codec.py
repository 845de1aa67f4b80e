"""Body encoding: one frame of JSON or msgpack (docs/PROTOCOL.md, "Encoding")."""
from __future__ import annotations

import json
from typing import Any

import msgpack

ENCODINGS = ("json", "msgpack")


def check_encoding(encoding: str) -> str:
    if encoding not in ENCODINGS:
        raise ValueError("encoding must be 'json' or 'msgpack', not %r" % (encoding,))
    return encoding


def encode(obj: Any, encoding: str) -> bytes:
    """Encodes obj as compact UTF-8 JSON or as msgpack (str as str, bytes
    as bin: the server refuses bin in payloads)."""
    if encoding == "msgpack":
        return msgpack.packb(obj, use_bin_type=True)
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def decode(body: bytes) -> Any:
    """Decodes a body by the server's rule: JSON when its first
    non-whitespace byte is '{', msgpack otherwise."""
    if body.lstrip()[:1] == b"{":
        return json.loads(body)
    return msgpack.unpackb(body, raw=False)
