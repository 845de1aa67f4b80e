"""The RPC client: requests over a DEALER socket, matched to replies by
``req_id`` so that many can be in flight (docs/PROTOCOL.md, "RPC server")."""
from __future__ import annotations

import itertools
import os
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Set

import zmq

from . import _codec
from .endpoints import endpoint as _endpoint
from .endpoints import rpc_endpoint
from .errors import Closed, NoReply, error_from_reply

Event = Dict[str, Any]
"""An event: ``seq``, ``ts``, ``store``, ``topic``, ``index`` and (unless
light) ``payload``, as docs/PROTOCOL.md "Events" describes."""

_LINGER_MS = 500  # a closing socket never holds the process longer


class Items(List[Event]):
    """The events of a read: a list, plus what the reply said about it."""

    def __init__(self, result: Dict[str, Any]) -> None:
        super().__init__(result.get("items") or [])
        #: the reply's store
        self.store: str = result.get("store", "")
        #: True when MP_MAX_REPLY_BYTES cut the items
        self.truncated: bool = bool(result.get("truncated", False))
        #: the whole result object
        self.result: Dict[str, Any] = result


class Since(Items):
    """The events of ``get_since`` with the store's ``head_seq`` and ``epoch``."""

    def __init__(self, result: Dict[str, Any]) -> None:
        super().__init__(result)
        #: the store's highest seq so far: ask again while below it
        self.head_seq: int = int(result.get("head_seq", 0))
        #: the store's epoch; a change means it restarted and seqs start at 1
        self.epoch: str = result.get("epoch", "")


def _args(**kw: Any) -> Dict[str, Any]:
    """The arguments that were given (None means absent)."""
    return {k: v for k, v in kw.items() if v is not None}


class Ops:
    """The typed operations, shared by Client and AsyncClient: each one
    builds its arguments and hands them to ``_op``."""

    def _op(self, op: str, args: Optional[Dict[str, Any]], convert: Callable[[Any], Any]) -> Any:
        raise NotImplementedError

    def publish(self, topic: str, payload: Any, store: Optional[str] = None) -> Event:
        """Stores one event and returns it as stored (seq, ts, index).

        A payload that is not a dict is stored as ``{"value": payload}``.
        """
        return self._op("bus.publish", _args(store=store, topic=topic, payload=payload),
                        lambda r: r["event"])

    def get_recent(self, topic: str, limit: Optional[int] = None, light: bool = False,
                   store: Optional[str] = None) -> Items:
        """A topic's newest ``limit`` events (server default 200), oldest
        first; topic ``"*"`` reads every topic of the store."""
        return self._op("bus.get_recent", _args(store=store, topic=topic, limit=limit, light=light or None),
                        Items)

    def get_since(self, after_seq: int = 0, topic: Optional[str] = None, limit: Optional[int] = None,
                  light: bool = False, store: Optional[str] = None) -> Since:
        """The first ``limit`` events with seq > after_seq, ascending, of
        one topic or (topic None) every topic, with head_seq and epoch."""
        return self._op("bus.get_since", _args(store=store, topic=topic, after_seq=after_seq, limit=limit,
                                               light=light or None), Since)

    def query(self, topic: Optional[str] = None, *, plugin_id: Optional[str] = None,
              source: Optional[str] = None, kind: Optional[str] = None, type: Optional[str] = None,
              priority_min: Optional[int] = None, since_ts: Optional[float] = None,
              until_ts: Optional[float] = None, limit: Optional[int] = None, light: bool = False,
              store: Optional[str] = None) -> Items:
        """Events whose index matches every given field, newest first."""
        return self._op("bus.query", _args(store=store, topic=topic, plugin_id=plugin_id, source=source,
                                           kind=kind, type=type, priority_min=priority_min,
                                           since_ts=since_ts, until_ts=until_ts, limit=limit,
                                           light=light or None), Items)

    def replay(self, plan: Dict[str, Any], limit: Optional[int] = None, light: bool = False,
               store: Optional[str] = None) -> Items:
        """Evaluates a replay plan (docs/PROTOCOL.md, "bus.replay")."""
        return self._op("bus.replay", _args(store=store, plan=plan, limit=limit, light=light or None), Items)

    def list_topics(self, store: Optional[str] = None) -> Dict[str, Any]:
        """A store's topics (``topics``, last written first, and
        ``topics_info``), every store name (``stores``) and the ``epoch``."""
        return self._op("bus.list_topics", _args(store=store), lambda r: r)

    def health(self) -> Dict[str, Any]:
        """``{"ok", "ts", "store", "epoch"}``; ``ok`` is False and ``store``
        "unavailable" when the RPC edge cannot reach the store."""
        return self._op("health", None, lambda r: r)


class Pending:
    """A request in flight; ``result()`` waits for its reply."""

    def __init__(self, client: "Client", req_id: str, op: str) -> None:
        self._client = client
        self.req_id = req_id
        self.op = op

    def result(self, timeout: Optional[float] = None) -> Any:
        """The reply's result; raises its ProtocolError, or NoReply after
        ``timeout`` seconds (default: the client's)."""
        return self._client._wait(self, timeout)


class Client(Ops):
    """A connection to the RPC endpoint.

    ``Client()`` connects to $MP_RPC_ENDPOINT (default
    tcp://127.0.0.1:48913); ``encoding`` is "json" or "msgpack" (the server
    answers in kind); ``timeout`` bounds each call in seconds. Calls from
    several threads are safe: one lock serialises the socket. ZMQ connects
    in the background, so a client made before the server starts works once
    it is up.
    """

    def __init__(self, endpoint: Optional[str] = None, *, encoding: str = "json", timeout: float = 5.0,
                 context: Optional[zmq.Context] = None) -> None:
        self.endpoint = _endpoint(endpoint) if endpoint else rpc_endpoint()
        self.encoding = _codec.check_encoding(encoding)
        self.timeout = timeout
        self._ctx = context or zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, _LINGER_MS)
        self._sock.connect(self.endpoint)
        self._lock = threading.Lock()
        self._waiting: Set[str] = set()
        self._replies: Dict[str, Dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._prefix = "py%d-%x-" % (os.getpid(), id(self) & 0xFFFFFF)
        self._closed = False

    def submit(self, op: str, args: Optional[Dict[str, Any]] = None) -> Pending:
        """Sends a request without waiting: pipelining. Replies may come
        back in any order; each Pending finds its own by req_id."""
        req_id = self._prefix + str(next(self._ids))
        body = _codec.encode({"v": 1, "req_id": req_id, "op": op, "args": args or {}}, self.encoding)
        with self._lock:
            if self._closed:
                raise Closed("client closed")
            self._waiting.add(req_id)
            self._sock.send(body)
        return Pending(self, req_id, op)

    def call(self, op: str, args: Optional[Dict[str, Any]] = None, *, timeout: Optional[float] = None) -> Any:
        """Sends one request and returns its result; raises the error
        reply's ProtocolError subclass, or NoReply."""
        return self.submit(op, args).result(timeout)

    def ping(self) -> float:
        """Asks the RPC edge alone; returns the round trip in seconds."""
        start = time.monotonic()
        self.call("ping")
        return time.monotonic() - start

    def _op(self, op: str, args: Optional[Dict[str, Any]], convert: Callable[[Any], Any]) -> Any:
        return convert(self.call(op, args))

    def _wait(self, pending: Pending, timeout: Optional[float]) -> Any:
        waited = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + waited
        while True:
            with self._lock:
                reply = self._replies.pop(pending.req_id, None)
                if reply is None and pending.req_id not in self._waiting:
                    raise Closed("client closed")
                left = deadline - time.monotonic()
                if reply is None and left > 0:
                    # Poll in short slices so other threads get the lock.
                    if self._sock.poll(min(left, 0.05) * 1000, zmq.POLLIN):
                        self._read_replies()
                        reply = self._replies.pop(pending.req_id, None)
                if reply is None and left <= 0:
                    self._waiting.discard(pending.req_id)
                    raise NoReply(self.endpoint, pending.op, waited)
            if reply is not None:
                if not reply.get("ok"):
                    raise error_from_reply(reply.get("error"), pending.req_id)
                return reply.get("result")

    def _read_replies(self) -> None:
        """Reads every waiting reply; keeps those someone waits for."""
        while True:
            try:
                frames = self._sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                reply = _codec.decode(frames[-1])
            except ValueError:
                continue  # not a reply anyone can wait for
            req_id = reply.get("req_id") if isinstance(reply, dict) else None
            if req_id in self._waiting:
                self._waiting.discard(req_id)
                self._replies[req_id] = reply

    def close(self) -> None:
        """Closes the socket; calls waiting in other threads raise Closed."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._waiting.clear()
                self._sock.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
