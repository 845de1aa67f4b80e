package zmqx

import (
	"sync/atomic"
	"testing"
	"time"
)

type conns struct{ open, accepted atomic.Int64 }

func (c *conns) Accepted()     { c.open.Add(1); c.accepted.Add(1) }
func (c *conns) Disconnected() { c.open.Add(-1) }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Real SUB sockets connecting to and leaving a PUB socket over TCP are seen
// by the monitor as accepted and disconnected.
func TestMonitorCountsPeers(t *testing.T) {
	c, err := NewContext()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := Bind(c, PUB, "tcp://127.0.0.1:*", Options{})
	if err != nil {
		t.Fatal(err)
	}
	endpoint, err := pub.GetLastEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	var obs conns
	stop, err := Monitor(c, pub, &obs)
	if err != nil {
		t.Fatal(err)
	}
	var subs []*Socket
	for range 2 {
		sub, err := NewSocket(c, SUB, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := sub.Connect(endpoint); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
	}
	waitFor(t, "2 connections", func() bool { return obs.open.Load() == 2 })
	subs[0].Close()
	waitFor(t, "1 connection after one subscriber left", func() bool { return obs.open.Load() == 1 })
	subs[1].Close()
	waitFor(t, "no connection", func() bool { return obs.open.Load() == 0 })
	if n := obs.accepted.Load(); n != 2 {
		t.Errorf("accepted %d, want 2", n)
	}
	stop()
	pub.Close()
	if err := c.Term(); err != nil {
		t.Fatal(err)
	}
}
