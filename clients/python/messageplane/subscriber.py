"""A gap-free subscription: the PUB stream, with what it missed read back
through ``bus.get_since`` (docs/PROTOCOL.md, "PUB server")."""
from __future__ import annotations

import json
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, Iterator, List, NamedTuple, Optional, Tuple

import zmq

from .client import Client, Event
from .endpoints import endpoint as _endpoint
from .endpoints import pub_endpoint as _default_pub_endpoint
from .errors import Closed


class EpochChange(NamedTuple):
    """A store whose epoch changed: it restarted and its seqs start again at 1."""

    store: str
    old: str
    new: str


class Gap(NamedTuple):
    """Seqs ``first``..``last`` of ``store`` that the store no longer holds
    (evicted by MP_TOPIC_MAXLEN, or replaced by a snapshot): not delivered."""

    store: str
    first: int
    last: int


class _Position:
    """How far one store's stream has been delivered."""

    def __init__(self, name: str, epoch: str, last: int) -> None:
        self.name = name
        self.epoch = epoch
        self.last = last
        # After a catch-up, PUB copies of events already delivered
        # (seq <= dup_until) are expected and dropped without asking the
        # server; a seq at or below `last` outside it may mean a new epoch.
        self.dup_until = 0
        self.pending = False  # catch up to the head before the next event


class Subscriber:
    """Yields the events whose ``"store.topic"`` starts with ``prefix``, in
    seq order per store, without gaps.

    A seq jump on the PUB stream (a slow-joiner miss, a subscriber that fell
    behind the PUB high-water mark, a restarted pub edge) is filled through
    ``get_since`` before the next event. When a store's epoch changes (the
    in-memory store restarted), ``on_epoch_change(EpochChange)`` is called
    and the new epoch is delivered from seq 1. ``on_gap(Gap)`` reports seqs
    the store no longer holds.

    ``since`` first delivers the events after that seq in every matched
    store; None starts at each store's head. After ``idle_check`` seconds
    without an event it asks the stores for missed events and epoch changes.
    Events of other topics of a matched store are received and filtered
    here (seqs are per store, so only the whole store's stream shows a gap).

    Use it from one thread. ``client`` (for the catch-up reads) defaults to
    a new Client on $MP_RPC_ENDPOINT, closed with the subscriber.
    """

    def __init__(self, prefix: str = "", *, client: Optional[Client] = None, pub_endpoint: Optional[str] = None,
                 since: Optional[int] = None, on_epoch_change: Optional[Callable[[EpochChange], None]] = None,
                 on_gap: Optional[Callable[[Gap], None]] = None, idle_check: float = 1.0,
                 catch_up_limit: int = 1000, rcvhwm: int = 100000,
                 context: Optional[zmq.Context] = None) -> None:
        self.prefix = prefix
        self.endpoint = _endpoint(pub_endpoint) if pub_endpoint else _default_pub_endpoint()
        self._own_client = client is None
        self.client = client or Client()
        self.on_epoch_change = on_epoch_change
        self.on_gap = on_gap
        self.idle_check = idle_check
        self.catch_up_limit = catch_up_limit
        self._ready: Deque[Event] = deque()
        self._stores: Dict[str, _Position] = {}
        stores: List[str] = self.client.list_topics()["stores"]
        matched = [s for s in stores if (s + ".").startswith(prefix) or prefix.startswith(s + ".")]
        if not matched:
            raise ValueError("prefix %r matches no store of %s" % (prefix, stores))
        self._sock = (context or zmq.Context.instance()).socket(zmq.SUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.RCVHWM, rcvhwm)
        for s in matched:
            self._sock.setsockopt(zmq.SUBSCRIBE, (s + ".").encode())
        self._sock.connect(self.endpoint)
        # Subscribed first, positioned second: an event published in
        # between is either at or below the head (dropped) or after it.
        for s in matched:
            head = self.client.get_since(0, limit=1, light=True, store=s)
            p = _Position(s, head.epoch, head.head_seq)
            p.dup_until = head.head_seq
            if since is not None:
                p.last, p.dup_until, p.pending = since, 0, True
            self._stores[s] = p
        self._last_recv = time.monotonic()
        self._closed = False

    def __iter__(self) -> Iterator[Event]:
        while True:
            ev = self.next()
            if ev is not None:
                yield ev

    def next(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event, or None when ``timeout`` seconds pass without
        one (None: wait as long as it takes)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._closed:
                raise Closed("subscriber closed")
            for p in self._stores.values():
                if p.pending:
                    self._catch_up(p, None)
                    p.pending = False
            if self._ready:
                return self._ready.popleft()
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return None
            wait = 3600.0 if deadline is None else deadline - now
            if self.idle_check > 0:
                wait = min(wait, max(0.0, self._last_recv + self.idle_check - now))
            if self._sock.poll(wait * 1000, zmq.POLLIN):
                self._last_recv = time.monotonic()
                self._receive()
            elif self.idle_check > 0 and time.monotonic() >= self._last_recv + self.idle_check:
                self._last_recv = time.monotonic()
                for p in self._stores.values():
                    p.pending = True

    def _receive(self) -> None:
        while True:
            try:
                frames = self._sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) != 2:
                continue
            try:
                ev = json.loads(frames[1])
                self._place(ev, int(ev["seq"]), ev["store"])
            except (ValueError, KeyError, TypeError):
                continue  # the PUB edge sends nothing else

    def _place(self, ev: Event, seq: int, store: str) -> None:
        p = self._stores.get(store)
        if p is None:  # a store that appeared later: follow it from here
            p = self._stores[store] = _Position(store, "", seq - 1)
            p.pending = True
        if seq <= p.dup_until:
            return
        p.dup_until = 0  # the stream has passed the last catch-up
        if seq > p.last + 1:
            self._catch_up(p, seq - 1)
        elif seq <= p.last:  # a new epoch, or a stray copy
            self._catch_up(p, None)
        if seq == p.last + 1:
            p.last = seq
            self._deliver(ev)

    def _catch_up(self, p: _Position, target: Optional[int]) -> None:
        """Reads p's events after p.last up to target (None: the head)."""
        while True:
            r = self.client.get_since(p.last, limit=self.catch_up_limit, store=p.name)
            if r.epoch != p.epoch:
                old, p.epoch, p.last, p.dup_until, target = p.epoch, r.epoch, 0, 0, None
                if old and self.on_epoch_change:
                    self.on_epoch_change(EpochChange(p.name, old, r.epoch))
                continue
            for ev in r:
                if ev["seq"] > p.last:
                    self._skip(p, ev["seq"] - 1)
                    p.last = ev["seq"]
                    self._deliver(ev)
            end = r.head_seq if target is None else min(target, r.head_seq)
            if p.last >= end or not r:
                self._skip(p, end)
                p.dup_until = p.last
                return

    def _skip(self, p: _Position, seq: int) -> None:
        if seq > p.last:
            if self.on_gap:
                self.on_gap(Gap(p.name, p.last + 1, seq))
            p.last = seq

    def _deliver(self, ev: Event) -> None:
        if ("%s.%s" % (ev["store"], ev["topic"])).startswith(self.prefix):
            self._ready.append(ev)

    def position(self, store: str) -> Tuple[str, int]:
        """(epoch, last seq delivered or skipped) of a store: save it to
        resume later with ``since``."""
        p = self._stores.get(store)
        return (p.epoch, p.last) if p else ("", 0)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._sock.close()
            if self._own_client:
                self.client.close()

    def __enter__(self) -> "Subscriber":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
