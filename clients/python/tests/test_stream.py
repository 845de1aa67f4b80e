"""Subscriber and Pusher against the real services, restarts included."""
from __future__ import annotations

import time
import uuid

import pytest

import messageplane as mp


def wait_for(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in %ss" % timeout)


def take(sub, n, timeout=10.0):
    out, deadline = [], time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        ev = sub.next(timeout=0.2)
        if ev is not None:
            out.append(ev)
    return out


def test_subscriber_catches_up_then_follows(cluster):
    t = "pysub.%s" % uuid.uuid4().hex[:8]
    with mp.Client(cluster.rpc) as c:
        first = c.publish(t + ".a", {"n": 1}, store="lifecycle")
        c.publish("other." + t, {"n": 0}, store="lifecycle")  # outside the prefix
        with mp.Subscriber("lifecycle." + t, client=c, pub_endpoint=cluster.pub, since=first["seq"] - 1) as sub:
            c.publish(t + ".b", {"n": 2}, store="lifecycle")
            got = take(sub, 2)
            for i in range(3, 30):
                c.publish(t + ".c", {"n": i}, store="lifecycle")
            got += take(sub, 27)
    assert [e["payload"]["n"] for e in got] == list(range(1, 30))
    seqs = [e["seq"] for e in got]
    assert seqs == sorted(seqs)


def test_subscriber_fills_a_pub_restart_and_reports_a_new_epoch(own_cluster):
    c = mp.Client(own_cluster.rpc)
    epochs = []
    sub = mp.Subscriber("events.", client=c, pub_endpoint=own_cluster.pub, idle_check=0.2,
                        on_epoch_change=epochs.append)
    n = 0

    def publish(k):
        nonlocal n
        for _ in range(k):
            n += 1
            wait_for(lambda: _try_publish(c, n))

    publish(3)
    got = take(sub, 3)
    own_cluster.kill("pub")
    publish(3)  # stored while no pub edge runs: only get_since can deliver them
    own_cluster.start("pub")
    publish(3)
    got += take(sub, 6)
    assert [e["payload"]["n"] for e in got] == list(range(1, 10)), "no gap across the pub restart"
    seqs = [e["seq"] for e in got]
    assert seqs == list(range(seqs[0], seqs[0] + 9))

    own_cluster.restart("store")  # in memory: a new epoch, seqs from 1
    publish(2)
    got = take(sub, 2)
    assert [e["payload"]["n"] for e in got] == [10, 11]
    assert got[0]["seq"] == 1
    assert len(epochs) == 1 and epochs[0].store == "events" and epochs[0].old != epochs[0].new
    sub.close()
    c.close()


def _try_publish(c, n):
    try:
        c.publish("sub.restart", {"n": n}, store="events")
        return True
    except (mp.Unavailable, mp.NoReply):
        return False


def test_pusher_batches_and_snapshots(cluster):
    t = "pypush.%s" % uuid.uuid4().hex[:8]
    with mp.Client(cluster.rpc) as c:
        for enc in ("json", "msgpack"):
            with mp.Pusher(cluster.ingest, encoding=enc, max_items=3) as p:
                for i in range(7):
                    p.delta(t + "." + enc, {"i": i, "s": "é"})
            items = wait_for(lambda: len(c.get_recent(t + "." + enc)) == 7 and c.get_recent(t + "." + enc))
            assert [e["payload"] for e in items] == [{"i": i, "s": "é"} for i in range(7)]

        # by time alone: no flush, no close
        p = mp.Pusher(cluster.ingest, max_delay=0.05)
        p.delta(t + ".late", {"late": True}, store="export")
        wait_for(lambda: c.get_recent(t + ".late", store="export"))

        p.snapshot(t + ".state", [{"k": "a"}, {"k": "b"}], store="memory")
        p.snapshot(t + ".state", [{"k": "c"}], store="memory", mode="append")
        p.flush()
        state = wait_for(lambda: (lambda r: len(r) == 3 and r)(c.get_recent(t + ".state", store="memory")))
        assert [e["payload"]["k"] for e in state] == ["a", "b", "c"]
        p.snapshot(t + ".state", [{"k": "z"}], store="memory")
        wait_for(lambda: [e["payload"]["k"] for e in c.get_recent(t + ".state", store="memory")] == ["z"])
        p.close()
        with pytest.raises(mp.Closed):
            p.delta(t, {})


def test_pusher_without_ingest_raises_not_sent():
    with pytest.raises(mp.NotSent) as e:
        with mp.Pusher("127.0.0.1:9", send_timeout=0.2) as p:
            p.delta("t", {})
            p.flush()
    assert "tcp://127.0.0.1:9" in str(e.value)
