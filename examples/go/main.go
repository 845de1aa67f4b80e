// Command plugin is an example Message Plane plugin in Go: it publishes,
// follows its own topics with catch-up, and pushes a snapshot of its state.
//
// Against `make run`, from the repository root:
//
//	go run ./examples/go
//
// It reads MP_RPC_ENDPOINT, MP_PUB_ENDPOINT and MP_INGEST_ENDPOINT when set.
// A plugin of its own imports github.com/messageplane/mp/client, a module
// that needs only libzmq (cgo) and a msgpack library.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/messageplane/mp/client"
)

const plugin = "example-go"

func main() {
	if err := run(); err != nil {
		if errors.Is(err, client.ErrNoReply) {
			err = fmt.Errorf("%w: is mp-rpc running? (`make run` starts it)", err)
		}
		fmt.Fprintln(os.Stderr, "plugin:", err)
		os.Exit(1)
	}
	fmt.Println("done")
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(client.RPCEndpoint(), client.Options{})
	if err != nil {
		return err
	}
	defer c.Close()

	// 1. Publish: the reply is the stored event, with its seq.
	first, err := c.Publish(ctx, "messages", plugin+".output",
		map[string]any{"plugin_id": plugin, "content": "started", "priority": 1})
	if err != nil {
		return err
	}
	fmt.Printf("published %s seq %d\n", first.Topic, first.Seq)

	// 2. Subscribe from just before that event: the subscription catches
	// up on it through get_since, then follows the PUB stream live.
	since := first.Seq - 1
	sub, err := c.Subscribe(ctx, client.PubEndpoint(), client.SubscribeOptions{
		Prefix: "messages." + plugin + ".",
		Since:  &since,
		OnEpochChange: func(e client.EpochChange) {
			fmt.Printf("the %s store restarted: seqs start again at 1\n", e.Store)
		},
	})
	if err != nil {
		return err
	}
	defer sub.Close()
	for i := 1; i <= 3; i++ {
		content := fmt.Sprintf("step %d", i)
		if _, err := c.Publish(ctx, "messages", plugin+".output",
			map[string]any{"plugin_id": plugin, "content": content, "priority": 5}); err != nil {
			return err
		}
	}
	for i := 0; i < 4; i++ {
		ev, err := sub.Next(ctx)
		if err != nil {
			return fmt.Errorf("subscription (is mp-pub running?): %w", err)
		}
		var p struct {
			Content string `json:"content"`
		}
		if err := ev.DecodePayload(&p); err != nil {
			return err
		}
		fmt.Printf("received #%d %s: %s\n", ev.Seq, ev.Topic, p.Content)
	}

	// 3. Push a snapshot of the plugin's state: it replaces the topic.
	pusher, err := client.NewPusher(client.IngestEndpoint(), client.PusherOptions{})
	if err != nil {
		return err
	}
	state := []any{
		map[string]any{"key": "mode", "value": "ready"},
		map[string]any{"key": "steps", "value": 3},
	}
	if err := pusher.Snapshot("memory", plugin+".state", client.Replace, state); err != nil {
		pusher.Close()
		return err
	}
	if err := pusher.Close(); err != nil {
		return err
	}
	// Ingest does not answer: read it back to see it stored.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r, err := c.GetRecent(ctx, client.RecentArgs{Store: "memory", Topic: plugin + ".state"})
		if err != nil {
			return err
		}
		if len(r.Items) == len(state) {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("snapshot not stored in 5s: is mp-ingest running?")
		}
	}
	fmt.Printf("snapshot %s.state: %d items\n", plugin, len(state))
	return nil
}
