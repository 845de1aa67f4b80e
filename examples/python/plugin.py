#!/usr/bin/env python3
"""An example Message Plane plugin in Python: it publishes, follows its own
topics with catch-up, and pushes a snapshot of its state.

Against `make run` (from the repository root, nothing to install beyond
Debian's python3-zmq and python3-msgpack):

    python3 examples/python/plugin.py

It reads MP_RPC_ENDPOINT, MP_PUB_ENDPOINT and MP_INGEST_ENDPOINT when set.
"""
import os
import sys
import time

# Run from a checkout without installing the package.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))

import messageplane as mp  # noqa: E402

PLUGIN = "example-py"


def main() -> int:
    with mp.Client() as client:
        # 1. Publish: the reply is the stored event, with its seq.
        first = client.publish(PLUGIN + ".output", {"plugin_id": PLUGIN, "content": "started", "priority": 1})
        print("published %s seq %d" % (first["topic"], first["seq"]))

        # 2. Subscribe from just before that event: the subscriber catches
        # up on it through get_since, then follows the PUB stream live.
        def epoch_changed(change: mp.EpochChange) -> None:
            print("the %s store restarted: seqs start again at 1" % change.store)

        with mp.Subscriber("messages." + PLUGIN + ".", client=client, since=first["seq"] - 1,
                           on_epoch_change=epoch_changed) as sub:
            for i in range(1, 4):
                client.publish(PLUGIN + ".output", {"plugin_id": PLUGIN, "content": "step %d" % i, "priority": 5})
            for _ in range(4):
                ev = sub.next(timeout=10)
                if ev is None:
                    print("no event in 10s: is mp-pub running?", file=sys.stderr)
                    return 1
                print("received #%d %s: %s" % (ev["seq"], ev["topic"], ev["payload"]["content"]))

        # 3. Push a snapshot of the plugin's state: it replaces the topic.
        state = [{"key": "mode", "value": "ready"}, {"key": "steps", "value": 3}]
        with mp.Pusher() as pusher:
            pusher.snapshot(PLUGIN + ".state", state, store="memory")
        # Ingest does not answer: read it back to see it stored.
        deadline = time.monotonic() + 5
        while len(client.get_recent(PLUGIN + ".state", store="memory")) != len(state):
            if time.monotonic() > deadline:
                print("snapshot not stored in 5s: is mp-ingest running?", file=sys.stderr)
                return 1
            time.sleep(0.02)
        print("snapshot %s: %d items" % (PLUGIN + ".state", len(state)))
    print("done")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except mp.NoReply as e:
        print("%s: is mp-rpc running? (`make run` starts it)" % e, file=sys.stderr)
        sys.exit(1)
