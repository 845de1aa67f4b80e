"""Bulk data to the INGEST endpoint: batched deltas and snapshots over a
PUSH socket, fire-and-forget (docs/PROTOCOL.md, "INGEST server")."""
from __future__ import annotations

import threading
import time
from typing import Any, Dict, List, Optional

import msgpack
import zmq

from . import _codec
from .endpoints import endpoint as _endpoint
from .endpoints import ingest_endpoint
from .errors import Closed, MessagePlaneError, NotSent


class Pusher:
    """Sends deltas (batched) and snapshots to $MP_INGEST_ENDPOINT (default
    tcp://127.0.0.1:48915) or ``endpoint``.

    A delta batch leaves when it holds ``max_items`` items or ``max_bytes``
    encoded bytes, about ``max_delay`` seconds after its first item (a
    background thread sees to that), on ``flush()`` and on ``close()``.
    Messages leave in the order they were made: a snapshot first sends the
    deltas buffered before it. The server does not answer: invalid items
    are dropped there and counted in ``mp_ingest_dropped_total``. A message
    that finds no connected ingest edge within ``send_timeout`` seconds
    raises NotSent (from the background thread: on the next call). Safe
    for use from several threads.
    """

    def __init__(self, endpoint: Optional[str] = None, *, encoding: str = "json", max_items: int = 500,
                 max_bytes: int = 1 << 20, max_delay: float = 0.05, send_timeout: float = 5.0,
                 sndhwm: int = 1000, context: Optional[zmq.Context] = None) -> None:
        self.endpoint = _endpoint(endpoint) if endpoint else ingest_endpoint()
        self.encoding = _codec.check_encoding(encoding)
        self.max_items, self.max_bytes, self.max_delay = max_items, max_bytes, max_delay
        self.send_timeout = send_timeout
        self._sock = (context or zmq.Context.instance()).socket(zmq.PUSH)
        # IMMEDIATE: no queueing for a connection that is not up, so a
        # missing ingest edge shows as NotSent instead of silent loss.
        self._sock.setsockopt(zmq.IMMEDIATE, 1)
        self._sock.setsockopt(zmq.SNDTIMEO, int(send_timeout * 1000))
        self._sock.setsockopt(zmq.SNDHWM, sndhwm)
        self._sock.setsockopt(zmq.LINGER, int(send_timeout * 1000))
        self._sock.connect(self.endpoint)
        self._lock = threading.Lock()
        self._items: List[bytes] = []
        self._size = 0
        self._first = 0.0
        self._error: Optional[MessagePlaneError] = None
        self._closed = False
        self._wake = threading.Event()
        self._timer = threading.Thread(target=self._flush_late, name="messageplane-pusher", daemon=True)
        self._timer.start()

    def delta(self, topic: str, payload: Any, store: Optional[str] = None) -> None:
        """Buffers one item; a payload that is not a dict is stored as
        ``{"value": payload}``."""
        item: Dict[str, Any] = {"topic": topic, "payload": payload}
        if store is not None:
            item["store"] = store
        enc = _codec.encode(item, self.encoding)
        with self._lock:
            self._check()
            if self._items and self._size + len(enc) > self.max_bytes:
                self._send(self._take())
            if not self._items:
                self._first = time.monotonic()
            self._items.append(enc)
            self._size += len(enc)
            if len(self._items) >= self.max_items or self._size >= self.max_bytes:
                self._send(self._take())

    def snapshot(self, topic: Optional[str], items: List[Any], store: Optional[str] = None,
                 mode: str = "replace") -> None:
        """Sends ``items`` (each the payload of one event) as one snapshot:
        ``mode`` "replace" atomically replaces the topic's events (no items
        removes the topic), "append" appends them. ``topic`` None is the
        server's default, ``snapshot.all``."""
        if mode not in ("replace", "append"):
            raise ValueError("mode must be 'replace' or 'append', not %r" % (mode,))
        msg: Dict[str, Any] = {"kind": "snapshot", "mode": mode, "items": list(items)}
        if store is not None:
            msg["store"] = store
        if topic is not None:
            msg["topic"] = topic
        body = _codec.encode(msg, self.encoding)
        with self._lock:
            self._check()
            self._send(self._take())
            self._send(body)

    def flush(self) -> None:
        """Sends the buffered deltas now."""
        with self._lock:
            self._check()
            self._send(self._take())

    def _check(self) -> None:
        if self._closed:
            raise Closed("pusher closed")
        err, self._error = self._error, None
        if err is not None:
            raise err

    def _take(self) -> Optional[bytes]:
        """The buffered items as one delta message (None when empty)."""
        if not self._items:
            return None
        items, self._items, self._size = self._items, [], 0
        if self.encoding == "msgpack":
            pk = msgpack.Packer(use_bin_type=True)
            head = pk.pack_map_header(2) + pk.pack("kind") + pk.pack("delta") + pk.pack("items")
            return head + pk.pack_array_header(len(items)) + b"".join(items)
        return b'{"kind":"delta","items":[' + b",".join(items) + b"]}"

    def _send(self, body: Optional[bytes]) -> None:
        if body is None:
            return
        try:
            self._sock.send(body)
        except zmq.Again:
            raise NotSent(self.endpoint, self.send_timeout) from None

    def _flush_late(self) -> None:
        while not self._wake.wait(self.max_delay / 2):
            with self._lock:
                if self._closed:
                    return
                if self._items and time.monotonic() - self._first >= self.max_delay:
                    try:
                        self._send(self._take())
                    except MessagePlaneError as e:
                        self._error = e

    def close(self) -> None:
        """Sends what is buffered and closes; queued messages get up to
        ``send_timeout`` seconds to leave."""
        with self._lock:
            if self._closed:
                return
            try:
                err, self._error = self._error, None
                self._send(self._take())
                if err is not None:
                    raise err
            finally:
                self._closed = True
                self._wake.set()
                self._sock.close()

    def __enter__(self) -> "Pusher":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
