// Command mpbench measures a Message Plane deployment through its three
// public endpoints, side by side with a raw-libzmq baseline it starts itself
// (a ROUTER echo server and a PULL sink relaying every frame to a PUB
// socket): the ceiling of this machine for these socket patterns.
//
// Every scenario is bounded in count and time and talks to loopback only.
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/messageplane/mp/internal/buildinfo"
)

// target is a set of public endpoints to measure.
type target struct {
	name               string
	rpc, pub, ingest   string
	raw                bool   // the baseline: echo replies, no store behind
	rpcHTTP, storeHTTP string // admin addresses, for metrics (Message Plane only)
}

func main() {
	var (
		rpc       = flag.String("rpc", "tcp://127.0.0.1:48913", "Message Plane RPC endpoint")
		pub       = flag.String("pub", "tcp://127.0.0.1:48914", "Message Plane PUB endpoint")
		ingest    = flag.String("ingest", "tcp://127.0.0.1:48915", "Message Plane INGEST endpoint")
		storeHTTP = flag.String("store-http", "127.0.0.1:48930", "store admin address (for RSS)")
		scenarios = flag.String("scenarios", "rpc-publish,ingest,pub-fanout,reads,memory", "comma-separated scenarios")
		noRaw     = flag.Bool("no-raw", false, "skip the raw-libzmq baseline")
		reps      = flag.Int("reps", 3, "repetitions of each throughput figure (the median is reported)")
		scale     = flag.Float64("scale", 1, "multiplies every message count (0.1 for a quick run)")
		version   = flag.Bool("version", false, "print the version and exit")
		only      = flag.String("only", "", "regexp over \"scenario variant\": runs only the rpc-publish, ingest, pub-fanout and reads variants it matches (e.g. 'msgpack C=8 W=64', for profiling)")
	)
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: mpbench [flags]\n\nRuns benchmark scenarios against a running Message Plane and a raw-libzmq\nbaseline started in-process, and prints each figure with its ratio to raw.\n\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *version {
		fmt.Println(buildinfo.String("mpbench"))
		return
	}
	mp := target{name: "mp", rpc: *rpc, pub: *pub, ingest: *ingest, storeHTTP: *storeHTTP}
	b := &bench{reps: max(1, *reps), scale: *scale, mp: mp}
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mpbench: -only:", err)
			os.Exit(2)
		}
		b.only = re
	}
	if !*noRaw {
		raw, stop, err := startRaw()
		if err != nil {
			fmt.Fprintln(os.Stderr, "mpbench: raw baseline:", err)
			os.Exit(1)
		}
		defer stop()
		b.raw = &raw
	}
	if err := b.checkMP(); err != nil {
		fmt.Fprintln(os.Stderr, "mpbench:", err)
		os.Exit(1)
	}
	start := time.Now()
	for _, s := range strings.Split(*scenarios, ",") {
		var err error
		switch strings.TrimSpace(s) {
		case "rpc-publish":
			err = b.rpcPublish()
		case "ingest":
			err = b.ingest()
		case "pub-fanout":
			err = b.pubFanout()
		case "reads":
			err = b.reads()
		case "memory":
			err = b.memory()
		case "":
		default:
			err = fmt.Errorf("unknown scenario %q", s)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "mpbench: %s: %v\n", s, err)
			os.Exit(1)
		}
	}
	b.print(os.Stdout)
	fmt.Printf("\n(%d repetitions, %.0fs in all)\n", b.reps, time.Since(start).Seconds())
}
