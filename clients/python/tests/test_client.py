"""Client against the real services."""
from __future__ import annotations

import asyncio
import uuid

import pytest

import messageplane as mp
from messageplane.aio import AsyncClient


def topic(name: str) -> str:
    """A topic no other test uses: the cluster is shared."""
    return "%s.%s" % (name, uuid.uuid4().hex[:8])


@pytest.fixture(params=["json", "msgpack"])
def client(request, cluster):
    with mp.Client(cluster.rpc, encoding=request.param) as c:
        yield c


def test_publish_and_read_back(client):
    t = topic("py.pub")
    ev = client.publish(t, {"plugin_id": "py", "content": "Hello", "priority": 5, "z": 1, "a": 2})
    assert ev["store"] == "messages" and ev["topic"] == t and ev["seq"] > 0
    assert ev["index"]["plugin_id"] == "py" and ev["index"]["priority"] == 5
    assert isinstance(ev["ts"], float)
    items = client.get_recent(t)
    assert [e["seq"] for e in items] == [ev["seq"]]
    assert list(items[0]["payload"]) == ["plugin_id", "content", "priority", "z", "a"], "key order kept"
    assert items.truncated is False and items.store == "messages"
    assert client.get_recent(t, light=True)[0].get("payload") is None
    # a non-object payload is wrapped
    assert client.publish(t, [1, 2], store="events")["payload"] == {"value": [1, 2]}


def test_get_since_pages_to_the_head(client):
    t = topic("py.since")
    seqs = [client.publish(t, {"n": i}, store="runs")["seq"] for i in range(5)]
    got, after = [], seqs[0] - 1
    while True:
        page = client.get_since(after, topic=t, limit=2, store="runs")
        assert page.epoch and page.head_seq >= seqs[-1]
        got += [e["payload"]["n"] for e in page]
        if not page:
            break
        after = page[-1]["seq"]
    assert got == [0, 1, 2, 3, 4]


def test_query_replay_topics_health_ping(client):
    t = topic("py.query")
    for p in (1, 7, 9):
        client.publish(t, {"plugin_id": "q", "priority": p, "content": "error %d" % p if p > 5 else "fine"})
    assert [e["index"]["priority"] for e in client.query(t, plugin_id="q", priority_min=5)] == [9, 7]
    plan = {"op": "filter", "params": {"content_re": "(?i)error"}, "input": {"op": "topic", "params": {"topic": t}}}
    assert [e["payload"]["priority"] for e in client.replay(plan)] == [7, 9]
    topics = client.list_topics()
    assert t in topics["topics"] and "memory" in topics["stores"]
    h = client.health()
    assert h["ok"] and h["store"] == "ok" and h["epoch"] == topics["epoch"]
    assert 0 < client.ping() < 5
    assert client.call("ping")["ok"] is True


def test_errors_are_typed_and_carry_details(client):
    with pytest.raises(mp.TopicTooLong) as e:
        client.publish("t" * 200, {})
    assert e.value.code == "TOPIC_TOO_LONG" and e.value.details == {"max": 128}
    assert isinstance(e.value, mp.ProtocolError) and isinstance(e.value, mp.MessagePlaneError)
    with pytest.raises(mp.InvalidStore):
        client.get_recent("x", store="nosuchstore")
    with pytest.raises(mp.BadArgs) as e:
        client.call("bus.get_recent", {"topic": "x", "limit": "many"})
    assert e.value.details == {"field": "limit"}
    with pytest.raises(mp.UnknownOp):
        client.call("bus.nope")
    with pytest.raises(mp.TopicRequired):
        client.call("bus.publish", {"payload": {}})
    with pytest.raises(mp.PlanRequired):
        client.call("bus.replay", {})
    with pytest.raises(mp.UnsupportedPlan) as e:
        client.replay({"op": "nosuchop"})
    assert "reason" in (e.value.details or {})


def test_pipelining_matches_replies_and_keeps_publish_order(client):
    t = topic("py.pipe")
    pending = [client.submit("bus.publish", {"topic": t, "payload": {"n": i}}) for i in range(50)]
    # collected in reverse: replies that came first wait for their caller
    events = {p.req_id: p.result()["event"] for p in reversed(pending)}
    assert [events[p.req_id]["payload"]["n"] for p in pending] == list(range(50))
    seqs = [events[p.req_id]["seq"] for p in pending]
    assert seqs == sorted(seqs) and len(set(seqs)) == 50, "one connection's publishes keep their order"
    assert [e["payload"]["n"] for e in client.get_recent(t)] == list(range(50))


def test_no_reply_names_the_endpoint():
    with mp.Client("127.0.0.1:9", timeout=0.2) as c:
        with pytest.raises(mp.NoReply) as e:
            c.ping()
    assert isinstance(e.value, TimeoutError)
    assert "tcp://127.0.0.1:9" in str(e.value) and e.value.endpoint == "tcp://127.0.0.1:9"


def test_endpoints_come_from_the_environment(cluster, monkeypatch):
    monkeypatch.setenv("MP_RPC_ENDPOINT", cluster.rpc.replace("tcp://", ""))
    assert mp.rpc_endpoint() == cluster.rpc
    with mp.Client() as c:
        assert c.endpoint == cluster.rpc and c.health()["ok"]
    monkeypatch.delenv("MP_RPC_ENDPOINT")
    assert mp.rpc_endpoint() == mp.DEFAULT_RPC_ENDPOINT


def test_async_client_pipelines(cluster):
    t = topic("py.aio")

    async def main():
        async with AsyncClient(cluster.rpc, encoding="msgpack") as c:
            evs = await asyncio.gather(*(c.publish(t, {"n": i}) for i in range(20)))
            items = await c.get_recent(t)
            with pytest.raises(mp.TopicTooLong):
                await c.publish("t" * 200, {})
            assert await c.ping() > 0
            return evs, items

    evs, items = asyncio.run(main())
    assert sorted(e["seq"] for e in evs) == [e["seq"] for e in items]
