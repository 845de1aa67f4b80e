package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/messageplane/mp/client"
	"github.com/messageplane/mp/internal/buildinfo"
)

var pubVerb = &verb{
	name: "pub", args: "TOPIC [PAYLOAD]", minArgs: 1, maxArgs: 2,
	summary: "publish one message (bus.publish) and print the stored event",
	help: `PAYLOAD is JSON (an object, or any value: a non-object x is stored as
{"value": x}); without it, stdin is read. Key order is kept.

  mpctl pub plugin1.output '{"plugin_id": "plugin1", "content": "Hello", "priority": 5}'
  echo '{"content": "from a pipe"}' | mpctl pub --store events plugin1.output`,
	flags: func(fs *flag.FlagSet, o *opts) { rpcFlags(fs, o); storeFlag(fs, o) },
	run: func(e *env, args []string) error {
		var payload []byte
		if len(args) == 2 {
			payload = []byte(args[1])
		} else {
			var err error
			if payload, err = io.ReadAll(io.LimitReader(e.stdin, 64<<20)); err != nil {
				return fmt.Errorf("read stdin: %w", err)
			}
		}
		if !json.Valid(payload) {
			return usageError{fmt.Errorf("PAYLOAD is not JSON: %.80q (quote text as JSON: '\"hello\"')", payload)}
		}
		return e.withClient(func(ctx context.Context, c *client.Client) error {
			ev, err := c.Publish(ctx, e.store, args[0], json.RawMessage(payload))
			if err != nil {
				return err
			}
			if e.pretty {
				fmt.Fprintf(e.stdout, "published %s.%s seq %d\n", ev.Store, ev.Topic, ev.Seq)
				return nil
			}
			return e.printEvent(ev)
		})
	},
}

var recentVerb = &verb{
	name: "recent", args: "TOPIC", minArgs: 1, maxArgs: 1,
	summary: "a topic's newest events, oldest first (bus.get_recent; TOPIC * = every topic)",
	help:    `  mpctl recent --limit 20 plugin1.output`,
	flags:   readFlags,
	run: func(e *env, args []string) error {
		return e.withClient(func(ctx context.Context, c *client.Client) error {
			r, err := c.GetRecent(ctx, client.RecentArgs{Store: e.store, Topic: args[0], Limit: e.limit, Light: e.light})
			if err != nil {
				return err
			}
			return e.printItems(r, r.Items, r.Truncated)
		})
	},
}

var sinceVerb = &verb{
	name: "since", args: "SEQ [TOPIC]", minArgs: 1, maxArgs: 2,
	summary: "events after SEQ in seq order (bus.get_since; every topic unless TOPIC)",
	help: `Prints the store's head seq and epoch after the events (with -o json:
on stderr, or use --result).

  mpctl since 0                          # the store's first events
  mpctl since --store runs 1200 job.42`,
	flags: readFlags,
	run: func(e *env, args []string) error {
		after, err := strconv.ParseInt(args[0], 10, 64)
		if err != nil || after < 0 {
			return usageError{fmt.Errorf("SEQ %q: want an integer >= 0", args[0])}
		}
		a := client.SinceArgs{Store: e.store, AfterSeq: after, Limit: e.limit, Light: e.light}
		if len(args) == 2 {
			a.Topic = args[1]
		}
		return e.withClient(func(ctx context.Context, c *client.Client) error {
			r, err := c.GetSince(ctx, a)
			if err != nil {
				return err
			}
			if err := e.printItems(r, r.Items, r.Truncated); err != nil || e.result {
				return err
			}
			w := e.stdout
			if !e.pretty {
				w = e.stderr
			}
			fmt.Fprintf(w, "head_seq %d, epoch %s\n", r.HeadSeq, r.Epoch)
			return nil
		})
	},
}

var queryVerb = &verb{
	name: "query", args: "[TOPIC]", maxArgs: 1,
	summary: "events matching index fields, newest first (bus.query; every topic unless TOPIC)",
	help:    `  mpctl query --plugin-id plugin1 --priority-min 5 --since-ts 1764075000`,
	flags: func(fs *flag.FlagSet, o *opts) {
		readFlags(fs, o)
		fs.StringVar(&o.pluginID, "plugin-id", "", "index.plugin_id equals")
		fs.StringVar(&o.source, "source", "", "index.source equals")
		fs.StringVar(&o.kind, "kind", "", "index.kind equals")
		fs.StringVar(&o.typ, "type", "", "index.type equals")
		fs.Int64Var(&o.priorityMin, "priority-min", 0, "index.priority at least")
		fs.Float64Var(&o.sinceTS, "since-ts", 0, "index.timestamp at least (Unix seconds)")
		fs.Float64Var(&o.untilTS, "until-ts", 0, "index.timestamp at most (Unix seconds)")
	},
	run: func(e *env, args []string) error {
		a := client.QueryArgs{Store: e.store, PluginID: e.pluginID, Source: e.source, Kind: e.kind,
			Type: e.typ, Limit: e.limit, Light: e.light}
		if len(args) == 1 {
			a.Topic = args[0]
		}
		if e.setFlags["priority-min"] {
			a.PriorityMin = &e.priorityMin
		}
		if e.setFlags["since-ts"] {
			a.SinceTS = &e.sinceTS
		}
		if e.setFlags["until-ts"] {
			a.UntilTS = &e.untilTS
		}
		return e.withClient(func(ctx context.Context, c *client.Client) error {
			r, err := c.Query(ctx, a)
			if err != nil {
				return err
			}
			return e.printItems(r, r.Items, r.Truncated)
		})
	},
}

var replayVerb = &verb{
	name: "replay", args: "--plan FILE|-", maxArgs: 0,
	summary: "evaluate a replay plan (bus.replay); the plan is JSON in FILE, or stdin with -",
	help: `  echo '{"op": "filter", "params": {"content_re": "(?i)error"},
        "input": {"op": "topic", "params": {"topic": "plugin1.output"}}}' | mpctl replay --plan -`,
	flags: func(fs *flag.FlagSet, o *opts) {
		readFlags(fs, o)
		fs.StringVar(&o.plan, "plan", "", "file holding the plan as JSON; - reads stdin")
	},
	run: func(e *env, _ []string) error {
		var plan []byte
		var err error
		switch e.plan {
		case "":
			return usageError{errors.New("--plan is required")}
		case "-":
			plan, err = io.ReadAll(io.LimitReader(e.stdin, 16<<20))
		default:
			plan, err = os.ReadFile(e.plan)
		}
		if err != nil {
			return fmt.Errorf("read plan: %w", err)
		}
		if !json.Valid(plan) {
			return usageError{fmt.Errorf("the plan in %s is not JSON", e.plan)}
		}
		return e.withClient(func(ctx context.Context, c *client.Client) error {
			r, err := c.Replay(ctx, client.ReplayArgs{Store: e.store, Plan: json.RawMessage(plan), Limit: e.limit, Light: e.light})
			if err != nil {
				return err
			}
			return e.printItems(r, r.Items, r.Truncated)
		})
	},
}

var topicsVerb = &verb{
	name: "topics", args: "[STORE]", maxArgs: 1,
	summary: "a store's topics, last written first (bus.list_topics)",
	flags:   rpcFlags,
	run: func(e *env, args []string) error {
		store := ""
		if len(args) == 1 {
			store = args[0]
		}
		return e.withClient(func(ctx context.Context, c *client.Client) error {
			r, err := c.ListTopics(ctx, store)
			if err != nil {
				return err
			}
			if !e.pretty {
				return e.printJSON(r)
			}
			fmt.Fprintf(e.stdout, "store %s (epoch %s; stores: %s): %d topics\n", r.Store, r.Epoch,
				strings.Join(r.Stores, ", "), r.TopicCount)
			tw := tabwriter.NewWriter(e.stdout, 2, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "TOPIC\tRETAINED\tTOTAL\tLAST SEQ\tLAST WRITE")
			for _, t := range r.Info {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", t.Topic, t.Count, t.CountTotal, t.LastSeq, clock(t.LastTS))
			}
			return tw.Flush()
		})
	},
}

var pingVerb = &verb{
	name: "ping", maxArgs: 0,
	summary: "ask the RPC edge alone and print the round trip",
	flags:   rpcFlags,
	run: func(e *env, _ []string) error {
		return e.withClient(func(ctx context.Context, c *client.Client) error {
			rtt, err := c.Ping(ctx)
			if err != nil {
				return err
			}
			if e.pretty {
				fmt.Fprintf(e.stdout, "pong from %s in %s\n", e.rpc, rtt.Round(time.Microsecond))
				return nil
			}
			return e.printJSON(map[string]any{"ok": true, "endpoint": e.rpc, "rtt_ms": float64(rtt.Microseconds()) / 1000})
		})
	},
}

var healthVerb = &verb{
	name: "health", maxArgs: 0,
	summary: "ask the RPC edge and the store behind it; exit 1 when the store is unavailable",
	flags:   rpcFlags,
	run: func(e *env, _ []string) error {
		return e.withClient(func(ctx context.Context, c *client.Client) error {
			h, err := c.Health(ctx)
			if err != nil {
				return err
			}
			if e.pretty {
				fmt.Fprintf(e.stdout, "rpc %s ok, store %s, epoch %s\n", e.rpc, h.Store, h.Epoch)
			} else if err := e.printJSON(h); err != nil {
				return err
			}
			if !h.OK {
				return fmt.Errorf("mp-rpc at %s cannot reach the store — is mp-store running? (mp-rpc's MP_STORE_ADDR)", e.rpc)
			}
			return nil
		})
	},
}

var callVerb = &verb{
	name: "call", args: "[ENDPOINT] OP [ARGS]", minArgs: 1, maxArgs: 3,
	summary: "one RPC call with ARGS as a JSON object; prints {ok, result, error}",
	help: `ENDPOINT (first, when it holds "://" or ":") overrides --rpc.

  mpctl call ping
  mpctl call tcp://127.0.0.1:48913 bus.publish '{"topic": "plugin1.output", "payload": {"content": "Hello"}}'`,
	flags: rpcFlags,
	run: func(e *env, args []string) error {
		if len(args) >= 2 && strings.Contains(args[0], ":") {
			e.rpc, args = client.Endpoint(args[0]), args[1:]
		}
		if len(args) > 2 {
			return usageError{errors.New("wrong number of arguments")}
		}
		var a any
		if len(args) == 2 {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal([]byte(args[1]), &obj); err != nil {
				return usageError{fmt.Errorf("ARGS must be a JSON object: %v", err)}
			}
			a = json.RawMessage(args[1])
		}
		return e.withClient(func(ctx context.Context, c *client.Client) error {
			r, err := c.Call(ctx, args[0], a)
			if r == nil {
				return err
			}
			out, _ := json.Marshal(map[string]any{"ok": r.OK, "result": r.Result, "error": r.Error})
			fmt.Fprintln(e.stdout, string(out))
			if !r.OK {
				return err
			}
			return nil
		})
	},
}

var versionVerb = &verb{
	name: "version", maxArgs: 0,
	summary: "print mpctl's version (also -version)",
	run: func(e *env, _ []string) error {
		fmt.Fprintln(e.stdout, buildinfo.String("mpctl"))
		return nil
	},
}

// withClient dials the RPC endpoint and runs fn with a context that
// Ctrl-C cancels.
func (e *env) withClient(fn func(context.Context, *client.Client) error) error {
	c, err := client.Dial(e.rpc, client.Options{Encoding: e.encoding, Timeout: e.timeout})
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, stop := signalContext()
	defer stop()
	return fn(ctx, c)
}

// printItems prints a read's events, one per line, or the whole result.
func (e *env) printItems(result any, items []client.Event, truncated bool) error {
	if e.result {
		return e.printJSON(result)
	}
	for _, ev := range items {
		if err := e.printEvent(ev); err != nil {
			return err
		}
	}
	if truncated {
		fmt.Fprintln(e.stderr, "mpctl: the reply was truncated at the server's MP_MAX_REPLY_BYTES")
	}
	return nil
}

// printEvent prints one event: a line of seq, time, store.topic and
// payload on a terminal, else the event's JSON as the server sent it.
func (e *env) printEvent(ev client.Event) error {
	if !e.pretty {
		_, err := fmt.Fprintf(e.stdout, "%s\n", ev.Raw)
		return err
	}
	payload := string(ev.Payload)
	if payload == "" {
		payload = "(light)"
	}
	_, err := fmt.Fprintf(e.stdout, "#%-6d %s  %s.%s  %s\n", ev.Seq, clock(ev.TS), ev.Store, ev.Topic, payload)
	return err
}

func (e *env) printJSON(v any) error {
	out, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", out)
	return err
}

// clock formats Unix seconds as local time with milliseconds.
func clock(ts float64) string {
	if ts == 0 {
		return "-"
	}
	sec := int64(ts)
	return time.Unix(sec, int64((ts-float64(sec))*1e9)).Format("2006-01-02 15:04:05.000")
}
