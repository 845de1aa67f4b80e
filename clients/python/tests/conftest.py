"""Starts the real services for the tests: mp-store, mp-rpc, mp-pub and
mp-ingest from $MP_BIN_DIR (the Makefile passes bin/ after `make build`),
else built with `go build` from this repository, on free loopback ports."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Dict, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "clients" / "python"))

SERVICES = ("store", "rpc", "pub", "ingest")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def bin_dir() -> Iterator[Path]:
    given = os.environ.get("MP_BIN_DIR")
    if given:
        yield Path(given)
        return
    tmp = Path(tempfile.mkdtemp(prefix="mp-py-bin-"))
    for name in SERVICES:
        subprocess.run(["go", "build", "-o", str(tmp / ("mp-" + name)), "./services/" + name],
                       cwd=ROOT, check=True)
    yield tmp
    shutil.rmtree(tmp, ignore_errors=True)


class Cluster:
    """The four services wired to each other; each can be killed and
    started again on the same ports."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        store = "127.0.0.1:%d" % _port()
        self.rpc = "tcp://127.0.0.1:%d" % _port()
        self.pub = "tcp://127.0.0.1:%d" % _port()
        self.ingest = "tcp://127.0.0.1:%d" % _port()
        self.env = dict(os.environ, MP_STORE_LISTEN=store, MP_STORE_ADDR=store, MP_RPC_ENDPOINT=self.rpc,
                        MP_PUB_ENDPOINT=self.pub, MP_INGEST_ENDPOINT=self.ingest, MP_LOG_LEVEL="warn")
        self.admin: Dict[str, str] = {name: "127.0.0.1:%d" % _port() for name in SERVICES}
        self.procs: Dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> None:
        env = dict(self.env, MP_HTTP_ADDR=self.admin[name])
        self.procs[name] = subprocess.Popen([str(self.bin_dir / ("mp-" + name))], env=env)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen("http://%s/readyz" % self.admin[name], timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError("mp-%s not ready in 10s" % name)

    def kill(self, name: str) -> None:
        p = self.procs.pop(name, None)
        if p is not None:
            p.kill()
            p.wait()

    def restart(self, name: str) -> None:
        self.kill(name)
        self.start(name)

    def stop(self) -> None:
        for name in reversed(SERVICES):
            self.kill(name)


def _cluster(bin_dir: Path) -> Iterator[Cluster]:
    c = Cluster(bin_dir)
    try:
        for name in SERVICES:
            c.start(name)
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="session")
def cluster(bin_dir: Path) -> Iterator[Cluster]:
    """One cluster shared by the tests that do not restart services."""
    yield from _cluster(bin_dir)


@pytest.fixture
def own_cluster(bin_dir: Path) -> Iterator[Cluster]:
    """A cluster of the test's own, for tests that restart services."""
    yield from _cluster(bin_dir)
