"""An asyncio client: the same operations as Client, awaited.

    async with AsyncClient() as c:
        ev = await c.publish("plugin1.output", {"content": "Hello"})
        items = await c.get_recent("plugin1.output")
"""
from __future__ import annotations

import asyncio
import itertools
import os
import time
from typing import Any, Callable, Dict, Optional

import zmq
import zmq.asyncio

from . import _codec
from .client import Ops
from .endpoints import endpoint as _endpoint
from .endpoints import rpc_endpoint
from .errors import Closed, NoReply, error_from_reply


class AsyncClient(Ops):
    """A connection to the RPC endpoint for asyncio code. Every operation
    of Client (``publish``, ``get_recent``, ``get_since``, ``query``,
    ``replay``, ``list_topics``, ``health``, ``ping``, ``call``) is a
    coroutine here; concurrent calls are pipelined over one socket."""

    def __init__(self, endpoint: Optional[str] = None, *, encoding: str = "json", timeout: float = 5.0,
                 context: Optional[zmq.asyncio.Context] = None) -> None:
        self.endpoint = _endpoint(endpoint) if endpoint else rpc_endpoint()
        self.encoding = _codec.check_encoding(encoding)
        self.timeout = timeout
        self._sock = (context or zmq.asyncio.Context.instance()).socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 500)
        self._sock.connect(self.endpoint)
        self._futures: Dict[str, "asyncio.Future[Dict[str, Any]]"] = {}
        self._ids = itertools.count(1)
        self._prefix = "pya%d-%x-" % (os.getpid(), id(self) & 0xFFFFFF)
        self._reader: Optional["asyncio.Task[None]"] = None

    async def call(self, op: str, args: Optional[Dict[str, Any]] = None, *,
                   timeout: Optional[float] = None) -> Any:
        """Sends one request and returns its result; raises the error
        reply's ProtocolError subclass, or NoReply."""
        if self._sock.closed:
            raise Closed("client closed")
        if self._reader is None:
            self._reader = asyncio.ensure_future(self._read())
        req_id = self._prefix + str(next(self._ids))
        fut: "asyncio.Future[Dict[str, Any]]" = asyncio.get_running_loop().create_future()
        self._futures[req_id] = fut
        waited = self.timeout if timeout is None else timeout
        try:
            await self._sock.send(_codec.encode({"v": 1, "req_id": req_id, "op": op, "args": args or {}},
                                                self.encoding))
            reply = await asyncio.wait_for(fut, waited)
        except asyncio.TimeoutError:
            raise NoReply(self.endpoint, op, waited) from None
        finally:
            self._futures.pop(req_id, None)
        if not reply.get("ok"):
            raise error_from_reply(reply.get("error"), req_id)
        return reply.get("result")

    async def ping(self) -> float:
        """Asks the RPC edge alone; returns the round trip in seconds."""
        start = time.monotonic()
        await self.call("ping")
        return time.monotonic() - start

    async def _op(self, op: str, args: Optional[Dict[str, Any]], convert: Callable[[Any], Any]) -> Any:
        return convert(await self.call(op, args))

    async def _read(self) -> None:
        while True:
            frames = await self._sock.recv_multipart()
            try:
                reply = _codec.decode(frames[-1])
            except ValueError:
                continue
            fut = self._futures.get(reply.get("req_id")) if isinstance(reply, dict) else None
            if fut is not None and not fut.done():
                fut.set_result(reply)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, zmq.ZMQError):
                pass
        self._sock.close()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
