"""Python client for Message Plane, a message bus for plugins on ZeroMQ.

- ``Client``: RPC calls (publish, get_recent, get_since, query, replay,
  list_topics, ping, health, call), JSON or msgpack, pipelined by req_id.
- ``Subscriber``: the PUB stream of a prefix, in seq order per store,
  gaps filled through get_since, epoch changes reported.
- ``Pusher``: batched deltas and snapshots to the INGEST endpoint.
- ``aio.AsyncClient``: Client for asyncio.

Endpoints default to $MP_RPC_ENDPOINT, $MP_PUB_ENDPOINT and
$MP_INGEST_ENDPOINT, else the ports of ``make run``. The wire contract is
docs/PROTOCOL.md in the Message Plane repository.
"""
from .client import Client, Event, Items, Pending, Since
from .endpoints import (DEFAULT_INGEST_ENDPOINT, DEFAULT_PUB_ENDPOINT, DEFAULT_RPC_ENDPOINT, endpoint,
                        ingest_endpoint, pub_endpoint, rpc_endpoint)
from .errors import (ERRORS, BadArgs, BadRequest, Closed, InternalError, InvalidStore, MessagePlaneError,
                     NoReply, NotSent, PayloadTooLarge, PlanRequired, ProtocolError, TooManyTopics,
                     TopicRequired, TopicTooLong, Unavailable, UnknownOp, UnsupportedPlan, UnsupportedVersion)
from .pusher import Pusher
from .subscriber import EpochChange, Gap, Subscriber

__version__ = "0.1.0"

__all__ = [
    "Client", "Event", "Items", "Pending", "Since", "Subscriber", "EpochChange", "Gap", "Pusher",
    "endpoint", "rpc_endpoint", "pub_endpoint", "ingest_endpoint",
    "DEFAULT_RPC_ENDPOINT", "DEFAULT_PUB_ENDPOINT", "DEFAULT_INGEST_ENDPOINT",
    "ERRORS", "MessagePlaneError", "ProtocolError", "NoReply", "NotSent", "Closed",
    "BadRequest", "UnsupportedVersion", "UnknownOp", "BadArgs", "InvalidStore", "TopicRequired",
    "TopicTooLong", "TooManyTopics", "PayloadTooLarge", "PlanRequired", "UnsupportedPlan",
    "Unavailable", "InternalError",
]
