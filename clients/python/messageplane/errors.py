"""Exceptions: one class per protocol error code (docs/PROTOCOL.md,
"Error codes and messages"), plus the client's own failures."""
from __future__ import annotations

from typing import Any, Dict, Optional, Type


class MessagePlaneError(Exception):
    """Base class of every exception this package raises."""


class ProtocolError(MessagePlaneError):
    """An error reply from the server.

    ``code`` is the protocol's code, ``message`` its message and ``details``
    the reply's ``error.details`` (a dict, or None): ``{"max": 128}`` for
    TOPIC_TOO_LONG and PAYLOAD_TOO_LARGE, ``{"field": "topic"}`` for
    BAD_ARGS, ``{"reason": "..."}`` (human-readable, never parse it) for
    UNSUPPORTED_PLAN.
    """

    code = ""

    def __init__(self, message: str, details: Optional[Dict[str, Any]] = None,
                 code: Optional[str] = None, req_id: Optional[str] = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.details = details
        self.req_id = req_id

    def __str__(self) -> str:
        s = "%s: %s" % (self.code, self.message)
        return s + (" %s" % (self.details,) if self.details else "")


class BadRequest(ProtocolError):
    code = "BAD_REQUEST"


class UnsupportedVersion(ProtocolError):
    code = "UNSUPPORTED_VERSION"


class UnknownOp(ProtocolError):
    code = "UNKNOWN_OP"


class BadArgs(ProtocolError):
    code = "BAD_ARGS"


class InvalidStore(ProtocolError):
    code = "INVALID_STORE"


class TopicRequired(ProtocolError):
    code = "TOPIC_REQUIRED"


class TopicTooLong(ProtocolError):
    code = "TOPIC_TOO_LONG"


class TooManyTopics(ProtocolError):
    code = "TOO_MANY_TOPICS"


class PayloadTooLarge(ProtocolError):
    code = "PAYLOAD_TOO_LARGE"


class PlanRequired(ProtocolError):
    code = "PLAN_REQUIRED"


class UnsupportedPlan(ProtocolError):
    code = "UNSUPPORTED_PLAN"


class Unavailable(ProtocolError):
    """The store did not answer in time; nothing was stored (a retried
    publish can be de-duplicated by ``index.id``)."""

    code = "UNAVAILABLE"


class InternalError(ProtocolError):
    code = "INTERNAL"


#: Exception class by protocol error code.
ERRORS: Dict[str, Type[ProtocolError]] = {
    cls.code: cls
    for cls in (BadRequest, UnsupportedVersion, UnknownOp, BadArgs, InvalidStore,
                TopicRequired, TopicTooLong, TooManyTopics, PayloadTooLarge,
                PlanRequired, UnsupportedPlan, Unavailable, InternalError)
}


def error_from_reply(error: Any, req_id: Optional[str] = None) -> ProtocolError:
    """The exception for a reply's ``error`` object."""
    if not isinstance(error, dict):
        return ProtocolError("malformed error reply: %r" % (error,), code="", req_id=req_id)
    code = str(error.get("code", ""))
    cls = ERRORS.get(code, ProtocolError)
    details = error.get("details")
    return cls(str(error.get("message", "")), details if isinstance(details, dict) else None,
               code=code, req_id=req_id)


class NoReply(MessagePlaneError, TimeoutError):
    """No reply in time: the RPC edge is not running, not reachable at
    ``endpoint``, or too slow."""

    def __init__(self, endpoint: str, op: str, waited: float) -> None:
        super().__init__("%s: no reply from %s in %.3gs" % (op, endpoint, waited))
        self.endpoint = endpoint
        self.op = op
        self.waited = waited


class NotSent(MessagePlaneError):
    """A pusher's message found no connected ingest edge in time."""

    def __init__(self, endpoint: str, waited: float) -> None:
        super().__init__("push to %s: no ingest edge took the message in %.3gs" % (endpoint, waited))
        self.endpoint = endpoint
        self.waited = waited


class Closed(MessagePlaneError):
    """The client, subscriber or pusher was closed."""
