"""Endpoints: the variables the services read, with the defaults of `make run`."""
from __future__ import annotations

import os

DEFAULT_RPC_ENDPOINT = "tcp://127.0.0.1:48913"
DEFAULT_PUB_ENDPOINT = "tcp://127.0.0.1:48914"
DEFAULT_INGEST_ENDPOINT = "tcp://127.0.0.1:48915"


def endpoint(s: str) -> str:
    """Turns ``host:port`` into ``tcp://host:port``; an address holding
    ``://`` is returned as is."""
    s = s.strip()
    return s if not s or "://" in s else "tcp://" + s


def _env(name: str, default: str) -> str:
    return endpoint(os.environ.get(name, "")) or default


def rpc_endpoint() -> str:
    """$MP_RPC_ENDPOINT, else tcp://127.0.0.1:48913."""
    return _env("MP_RPC_ENDPOINT", DEFAULT_RPC_ENDPOINT)


def pub_endpoint() -> str:
    """$MP_PUB_ENDPOINT, else tcp://127.0.0.1:48914."""
    return _env("MP_PUB_ENDPOINT", DEFAULT_PUB_ENDPOINT)


def ingest_endpoint() -> str:
    """$MP_INGEST_ENDPOINT, else tcp://127.0.0.1:48915."""
    return _env("MP_INGEST_ENDPOINT", DEFAULT_INGEST_ENDPOINT)
