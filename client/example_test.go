package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"strings"
	"testing"
	"time"

	"github.com/messageplane/mp/client"
)

// A plugin publishes a message and reads its topic back.
func Example() {
	ctx := context.Background()
	c, err := client.Dial(client.RPCEndpoint(), client.Options{}) // $MP_RPC_ENDPOINT or tcp://127.0.0.1:48913
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	type message struct {
		PluginID string `json:"plugin_id"`
		Content  string `json:"content"`
		Priority int    `json:"priority"`
	}
	ev, err := c.Publish(ctx, "messages", "example.output", message{"example", "Hello", 5})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stored in", ev.Store, ev.Topic, "priority", ev.Index.Priority)

	recent, err := c.GetRecent(ctx, client.RecentArgs{Topic: "example.output", Limit: 10})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range recent.Items {
		var m message
		if err := e.DecodePayload(&m); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s says %q\n", m.PluginID, m.Content)
	}
	// Output:
	// stored in messages example.output priority 5
	// example says "Hello"
}

// A json.RawMessage payload keeps its key order, in JSON and in msgpack.
func ExampleClient_Publish() {
	c, err := client.Dial(client.RPCEndpoint(), client.Options{Encoding: client.Msgpack})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ev, err := c.Publish(context.Background(), "", "example.raw",
		json.RawMessage(`{"z":1,"a":{"y":2.5,"b":[true,null]},"type":"note"}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(ev.Payload), "type:", ev.Index.Type)
	// Output:
	// {"z":1,"a":{"y":2.5,"b":[true,null]},"type":"note"} type: note
}

// GetSince pages through a store in seq order; HeadSeq says when to stop.
func ExampleClient_GetSince() {
	ctx := context.Background()
	c, err := client.Dial(client.RPCEndpoint(), client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	first, _ := c.Publish(ctx, "runs", "example.since", map[string]any{"step": 1})
	for i := 2; i <= 5; i++ {
		c.Publish(ctx, "runs", "example.since", map[string]any{"step": i})
	}

	after := first.Seq - 1
	for {
		page, err := c.GetSince(ctx, client.SinceArgs{Store: "runs", Topic: "example.since", AfterSeq: after, Limit: 2})
		if err != nil {
			log.Fatal(err)
		}
		for _, e := range page.Items {
			fmt.Print(string(e.Payload), " ")
			after = e.Seq
		}
		if len(page.Items) == 0 || after >= page.HeadSeq {
			break
		}
	}
	fmt.Println()
	// Output:
	// {"step":1} {"step":2} {"step":3} {"step":4} {"step":5}
}

// Query filters on the index, newest first.
func ExampleClient_Query() {
	ctx := context.Background()
	c, err := client.Dial(client.RPCEndpoint(), client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	for i, p := range []int{1, 7, 9} {
		c.Publish(ctx, "events", "example.query", map[string]any{"plugin_id": "q", "priority": p, "n": i})
	}
	min := int64(5)
	res, err := c.Query(ctx, client.QueryArgs{Store: "events", Topic: "example.query", PluginID: "q", PriorityMin: &min})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range res.Items {
		fmt.Println(string(e.Payload))
	}
	// Output:
	// {"n":2,"plugin_id":"q","priority":9}
	// {"n":1,"plugin_id":"q","priority":7}
}

// Replay evaluates a plan: here the topic's events whose content matches a
// regex.
func ExampleClient_Replay() {
	ctx := context.Background()
	c, err := client.Dial(client.RPCEndpoint(), client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	for _, s := range []string{"all good", "ERROR: disk full", "error again"} {
		c.Publish(ctx, "", "example.replay", map[string]any{"content": s})
	}
	plan := json.RawMessage(`{"op": "filter", "params": {"content_re": "(?i)error"},
		"input": {"op": "topic", "params": {"topic": "example.replay"}}}`)
	res, err := c.Replay(ctx, client.ReplayArgs{Plan: plan})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range res.Items {
		fmt.Println(string(e.Payload))
	}
	// Output:
	// {"content":"ERROR: disk full"}
	// {"content":"error again"}
}

// ListTopics describes a store; Health checks the store behind the RPC edge.
func ExampleClient_ListTopics() {
	ctx := context.Background()
	c, err := client.Dial(client.RPCEndpoint(), client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.Publish(ctx, "export", "example.topics", map[string]any{"x": 1})
	c.Publish(ctx, "export", "example.topics", map[string]any{"x": 2})

	t, err := c.ListTopics(ctx, "export")
	if err != nil {
		log.Fatal(err)
	}
	for _, info := range t.Info {
		fmt.Println(info.Topic, info.Count)
	}
	h, err := c.Health(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("store:", h.Store, "same epoch:", h.Epoch == t.Epoch)
	// Output:
	// example.topics 2
	// store: ok same epoch: true
}

// Protocol errors match their code's sentinel and carry details.
func ExampleError() {
	c, err := client.Dial(client.RPCEndpoint(), client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	_, err = c.Publish(context.Background(), "", strings.Repeat("t", 200), map[string]any{})
	if errors.Is(err, client.ErrTopicTooLong) {
		var e *client.Error
		errors.As(err, &e)
		fmt.Println(e.Code, "max:", e.Detail("max"))
	}
	_, err = c.Publish(context.Background(), "nosuchstore", "t", map[string]any{})
	fmt.Println(errors.Is(err, client.ErrInvalidStore))
	// Output:
	// TOPIC_TOO_LONG max: 128
	// true
}

// A call to an endpoint where nothing answers fails with ErrNoReply, and
// its message names the endpoint.
func ExampleNoReplyError() {
	c, err := client.Dial("127.0.0.1:9", client.Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	_, err = c.Ping(context.Background())
	fmt.Println(errors.Is(err, client.ErrNoReply), strings.Contains(err.Error(), "tcp://127.0.0.1:9"))
	// Output:
	// true true
}

// A Subscription delivers a prefix's events in seq order: with Since it
// first catches up on what was stored before it started, then follows the
// PUB stream, filling any gap through bus.get_since.
func ExampleClient_Subscribe() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(client.RPCEndpoint(), client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// Stored before the subscription starts: delivered by catch-up.
	first, _ := c.Publish(ctx, "lifecycle", "example.sub.a", map[string]any{"n": 1})
	c.Publish(ctx, "lifecycle", "example.other", map[string]any{"n": 0}) // outside the prefix

	since := first.Seq - 1
	sub, err := c.Subscribe(ctx, client.PubEndpoint(), client.SubscribeOptions{
		Prefix: "lifecycle.example.sub.",
		Since:  &since,
		OnEpochChange: func(e client.EpochChange) {
			fmt.Println("store restarted: seqs start again at 1")
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	// Published while it runs: delivered live.
	c.Publish(ctx, "lifecycle", "example.sub.b", map[string]any{"n": 2})
	for i := 0; i < 2; i++ {
		ev, err := sub.Next(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ev.Topic, string(ev.Payload))
	}
	// Output:
	// example.sub.a {"n":1}
	// example.sub.b {"n":2}
}

// A Pusher batches deltas to the INGEST endpoint and sends snapshots; the
// server does not answer, so this example reads the topics back.
func ExamplePusher() {
	ctx := context.Background()
	p, err := client.NewPusher(client.IngestEndpoint(), client.PusherOptions{MaxItems: 100})
	if err != nil {
		log.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if err := p.Delta("messages", "example.push", map[string]any{"i": i}); err != nil {
			log.Fatal(err)
		}
	}
	state := []any{map[string]any{"key": "a"}, map[string]any{"key": "b"}}
	if err := p.Snapshot("memory", "example.state", client.Replace, state); err != nil {
		log.Fatal(err)
	}
	if err := p.Close(); err != nil { // sends what is buffered
		log.Fatal(err)
	}

	c, err := client.Dial(client.RPCEndpoint(), client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	waitFor(func() bool {
		r, err := c.GetRecent(ctx, client.RecentArgs{Store: "memory", Topic: "example.state"})
		return err == nil && len(r.Items) == 2
	})
	for _, q := range []client.RecentArgs{{Topic: "example.push"}, {Store: "memory", Topic: "example.state"}} {
		r, _ := c.GetRecent(ctx, q)
		var line []string
		for _, e := range r.Items {
			line = append(line, string(e.Payload))
		}
		fmt.Println(strings.Join(line, " "))
	}
	// Output:
	// {"i":1} {"i":2} {"i":3}
	// {"key":"a"} {"key":"b"}
}

// waitFor polls cond for up to 5s: ingest is asynchronous.
func waitFor(cond func() bool) {
	for deadline := time.Now().Add(5 * time.Second); !cond() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

// Close ends a Next that is waiting in another goroutine.
func TestSubscriptionCloseEndsNext(t *testing.T) {
	c, err := client.Dial(client.RPCEndpoint(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sub, err := c.Subscribe(context.Background(), client.PubEndpoint(), client.SubscribeOptions{Prefix: "runs.nothing."})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := sub.Next(context.Background())
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	sub.Close()
	select {
	case err := <-done:
		if !errors.Is(err, client.ErrClosed) {
			t.Errorf("Next after Close: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Next still waiting after Close")
	}
}
