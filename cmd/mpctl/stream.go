package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/messageplane/mp/client"
)

// subVerb is sub and its alias tail.
func subVerb(name string) *verb {
	summary := "follow events whose store.topic starts with PREFIX, gap-free (everything without PREFIX)"
	if name == "tail" {
		summary = "the same as sub"
	}
	return &verb{
		name: name, args: "[PREFIX]", maxArgs: 1, summary: summary,
		help: `Events arrive in seq order per store. A seq gap on the PUB stream (a
restarted pub edge, a subscriber that fell behind) is filled through
bus.get_since before the next event; a store restart (new epoch) is
reported on stderr and followed from its seq 1. Ctrl-C stops.

  mpctl ` + name + ` messages.plugin1.            # one family of topics
  mpctl ` + name + ` --since 0 runs.             # the whole runs store, then live
  mpctl ` + name + ` -n 1 events.job.done         # wait for one event`,
		flags: func(fs *flag.FlagSet, o *opts) {
			rpcFlags(fs, o)
			fs.StringVar(&o.pub, "pub", client.PubEndpoint(), "PUB endpoint (env MP_PUB_ENDPOINT)")
			fs.Int64Var(&o.since, "since", -1, "first deliver the events after this seq in every matched store (default: start at the head)")
			fs.IntVar(&o.count, "n", 0, "exit after this many events (default: run until Ctrl-C)")
			fs.DurationVar(&o.idleCheck, "idle-check", time.Second, "when idle this long, ask the stores for missed events and epoch changes")
		},
		run: runSub,
	}
}

func runSub(e *env, args []string) error {
	opts := client.SubscribeOptions{
		IdleCheck: e.idleCheck,
		OnEpochChange: func(ch client.EpochChange) {
			fmt.Fprintf(e.stderr, "mpctl: store %s has a new epoch (%s -> %s): it restarted; following it from seq 1\n",
				ch.Store, ch.Old, ch.New)
		},
		OnGap: func(g client.Gap) {
			fmt.Fprintf(e.stderr, "mpctl: %s no longer stored (evicted or replaced); skipped\n", g)
		},
	}
	if len(args) == 1 {
		opts.Prefix = args[0]
	}
	if e.since >= 0 {
		opts.Since = &e.since
	}
	return e.withClient(func(ctx context.Context, c *client.Client) error {
		sub, err := c.Subscribe(ctx, e.pub, opts)
		if err != nil {
			return err
		}
		defer sub.Close()
		if e.pretty {
			fmt.Fprintf(e.stderr, "following %q on %s (Ctrl-C stops)\n", opts.Prefix, e.pub)
		}
		for n := 0; e.count <= 0 || n < e.count; {
			ev, err := sub.Next(ctx)
			switch {
			case ctx.Err() != nil:
				return nil // Ctrl-C
			case err != nil:
				// Reading what the stream missed failed (mp-rpc down?):
				// the subscription keeps its place and tries again.
				fmt.Fprintf(e.stderr, "mpctl: %s; retrying\n", explain(err))
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(time.Second):
				}
				continue
			}
			if err := e.printEvent(ev); err != nil {
				return err
			}
			n++
		}
		return nil
	})
}

var pushVerb = &verb{
	name: "push", args: "[TOPIC] < FILE", maxArgs: 1,
	summary: "push newline-delimited JSON from stdin to the INGEST endpoint, batched",
	help: `Without TOPIC each line is a delta item {"store": ..., "topic": ..., "payload": ...}
(store optional); with TOPIC each line is one payload for TOPIC in --store.
--snapshot sends all lines as one snapshot of TOPIC (--mode replace|append).
Ingest does not answer: invalid items are dropped by the server and counted
in mp_ingest_dropped_total on the ingest edge's /metrics.

  printf '%s\n' '{"n": 1}' '{"n": 2}' | mpctl push plugin1.output
  mpctl push --snapshot --store memory plugin1.state < state.ndjson`,
	flags: func(fs *flag.FlagSet, o *opts) {
		fs.StringVar(&o.ingest, "ingest", client.IngestEndpoint(), "INGEST endpoint (env MP_INGEST_ENDPOINT)")
		fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "how long a message may wait for a connected ingest edge")
		fs.BoolVar(&o.jsonEnc, "json", false, "send JSON (the default)")
		fs.BoolVar(&o.msgpack, "msgpack", false, "send msgpack")
		outputFlag(fs, o)
		storeFlag(fs, o)
		fs.BoolVar(&o.snapshot, "snapshot", false, "send the lines as one snapshot of TOPIC")
		fs.StringVar(&o.mode, "mode", "replace", "snapshot mode: replace or append")
		fs.IntVar(&o.batch, "batch", 500, "items per delta message")
	},
	run: runPush,
}

// maxLine bounds one input line: a payload is at most 1 MiB by default, a
// little JSON around it fits.
const maxLine = 16 << 20

func runPush(e *env, args []string) error {
	topic := ""
	if len(args) == 1 {
		topic = args[0]
	}
	if e.snapshot && topic == "" {
		return usageError{errors.New("--snapshot needs TOPIC")}
	}
	if e.mode != string(client.Replace) && e.mode != string(client.Append) {
		return usageError{fmt.Errorf("--mode %q: want replace or append", e.mode)}
	}
	p, err := client.NewPusher(e.ingest, client.PusherOptions{Encoding: e.encoding, MaxItems: e.batch, SendTimeout: e.timeout})
	if err != nil {
		return err
	}
	if f, ok := e.stdin.(*os.File); ok && isTerminal(f) {
		fmt.Fprintln(e.stderr, "reading newline-delimited JSON from the terminal (Ctrl-D ends)")
	}
	var snapshot []any
	sc := bufio.NewScanner(e.stdin)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	lines, items := 0, 0
	for sc.Scan() {
		lines++
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if !json.Valid(line) {
			p.Close()
			return fmt.Errorf("line %d is not JSON: %.80q", lines, line)
		}
		raw := json.RawMessage(append([]byte(nil), line...))
		switch {
		case e.snapshot:
			snapshot = append(snapshot, raw)
		case topic != "":
			err = p.Delta(e.store, topic, raw)
		default:
			var it struct {
				Store   *string         `json:"store"`
				Topic   *string         `json:"topic"`
				Payload json.RawMessage `json:"payload"`
			}
			if json.Unmarshal(line, &it) != nil || it.Topic == nil || it.Payload == nil {
				p.Close()
				return fmt.Errorf(`line %d: want {"topic": ..., "payload": ...} (or give TOPIC and send payloads)`, lines)
			}
			store := e.store
			if it.Store != nil {
				store = *it.Store
			}
			err = p.Delta(store, *it.Topic, it.Payload)
		}
		if err != nil {
			p.Close()
			return err
		}
		items++
	}
	if err := sc.Err(); err != nil {
		p.Close()
		return fmt.Errorf("read stdin after line %d: %w", lines, err)
	}
	if e.snapshot {
		if err := p.Snapshot(e.store, topic, client.SnapshotMode(e.mode), snapshot); err != nil {
			p.Close()
			return err
		}
	}
	if err := p.Close(); err != nil {
		return err
	}
	if e.pretty {
		what := "delta items"
		if e.snapshot {
			what = "snapshot items (" + e.mode + ")"
		}
		fmt.Fprintf(e.stdout, "pushed %d %s to %s\n", items, what, e.ingest)
		return nil
	}
	return e.printJSON(map[string]any{"pushed": items, "snapshot": e.snapshot, "endpoint": e.ingest})
}

var checkVerb = &verb{
	name: "check", args: "URL", minArgs: 1, maxArgs: 1,
	summary: "exit 0 when URL (e.g. http://127.0.0.1:48930/readyz) answers 200: the images' health check",
	run: func(e *env, args []string) error {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get(args[0])
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s %s", args[0], resp.Status)
		}
		return nil
	},
}

// signalContext is cancelled by Ctrl-C or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
