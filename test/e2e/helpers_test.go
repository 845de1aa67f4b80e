// Package e2e drives the real service binaries through real ZMQ sockets.
package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/messageplane/mp/client"
	"github.com/messageplane/mp/internal/wire"
	"github.com/messageplane/mp/internal/zmqx"
	"github.com/messageplane/mp/test/testenv"
)

var encodings = []struct {
	name string
	enc  client.Encoding
}{{"json", client.JSON}, {"msgpack", client.Msgpack}}

func dial(t testing.TB, endpoint string, enc client.Encoding) *client.Client {
	t.Helper()
	c, err := client.Dial(endpoint, client.Options{Encoding: enc, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// call makes one call and returns the reply; protocol errors are in it.
func call(t testing.TB, c *client.Client, op string, args any) *client.Reply {
	t.Helper()
	r, err := c.Call(context.Background(), op, args)
	if err != nil {
		if _, ok := err.(*client.Error); !ok {
			t.Fatalf("%s: %v", op, err)
		}
	}
	return r
}

// mustOK makes a call that must succeed and decodes its result.
func mustOK(t testing.TB, c *client.Client, op string, args any) map[string]any {
	t.Helper()
	r := call(t, c, op, args)
	if !r.OK {
		t.Fatalf("%s %v: %s", op, args, r.Raw)
	}
	var m map[string]any
	if err := r.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// raw sends frames on a fresh socket of the given type and returns the
// reply frames (nil on timeout).
func raw(t testing.TB, endpoint string, typ zmqx.Type, frames ...[]byte) [][]byte {
	t.Helper()
	zctx, err := zmqx.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer zctx.Term()
	s, err := zmqx.NewSocket(zctx, typ, zmqx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Connect(endpoint); err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		flag := zmqx.SNDMORE
		if i == len(frames)-1 {
			flag = 0
		}
		if _, err := s.SendBytes(f, flag); err != nil {
			t.Fatal(err)
		}
	}
	p := zmqx.NewPoller()
	p.Add(s, zmqx.POLLIN)
	polled, err := p.Poll(5 * time.Second)
	if err != nil || len(polled) == 0 {
		return nil
	}
	out, err := s.RecvMessageBytes(0)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// asJSON decodes a JSON or msgpack reply body into a generic map.
func asJSON(t testing.TB, body []byte) map[string]any {
	t.Helper()
	v, _, err := wire.Decode(body)
	if err != nil {
		t.Fatalf("reply %q: %v", body, err)
	}
	js, _ := wire.AppendJSON(nil, v)
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// startRPC starts a store and an rpc edge.
func startRPC(t testing.TB, rpcEnv map[string]string) *testenv.Cluster {
	c := testenv.NewCluster(t, nil)
	c.StartStore(nil)
	c.StartRPC(rpcEnv)
	return c
}

// eventually polls cond every interval until it holds, failing the test
// with what after timeout.
func eventually(t testing.TB, timeout, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s (waited %v)", what, timeout)
		}
		time.Sleep(interval)
	}
}
