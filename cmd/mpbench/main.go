// Command mpbench measures a Message Plane deployment through its three
// public endpoints, side by side with a raw-libzmq baseline it starts itself
// (a ROUTER echo server and a PULL sink relaying every frame to a PUB
// socket): the ceiling of this machine for these socket patterns. It judges
// the figures against the targets of issue 13 (targets.go), per deployment
// mode; `mpbench report` combines the runs of several modes into one table.
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

const usage = `Usage:
  mpbench [flags]           measure a running Message Plane and the raw baseline
  mpbench report FILE...    combine the -json files of several runs into one table

Runs benchmark scenarios against a running Message Plane and a raw-libzmq
baseline started in-process, and prints each figure with its ratio to raw and
the target it is held to in its mode. The report prints, for every figure, raw
and each mode's median over its runs, the median of the per-run ratios, the
target and whether it holds, then how many targets hold per mode.

Flags:
`

func main() {
	if len(os.Args) > 1 && os.Args[1] == "report" {
		os.Exit(reportMain(os.Args[2:]))
	}
	var (
		rpc       = flag.String("rpc", "tcp://127.0.0.1:48913", "Message Plane RPC endpoint")
		pub       = flag.String("pub", "tcp://127.0.0.1:48914", "Message Plane PUB endpoint")
		ingest    = flag.String("ingest", "tcp://127.0.0.1:48915", "Message Plane INGEST endpoint")
		storeHTTP = flag.String("store-http", "127.0.0.1:48930", "admin address of the process holding the store (mp, or mp-store when split), for its RSS")
		mode      = flag.String("mode", "mp", "what is measured, and so which targets apply: mp (all-in-one), split (the four services), or KIND/NAME (e.g. mp/jetstream) held to KIND's targets")
		jsonOut   = flag.String("json", "", "also write this run's figures to `FILE` for mpbench report")
		scenarios = flag.String("scenarios", "rpc-publish,rpc-under-ingest,ingest,pub-fanout,reads,memory", "comma-separated scenarios")
		noRaw     = flag.Bool("no-raw", false, "skip the raw-libzmq baseline")
		reps      = flag.Int("reps", 3, "repetitions of each throughput figure within this run (the median is reported)")
		scale     = flag.Float64("scale", 1, "multiplies every message count (0.1 for a quick run)")
		version   = flag.Bool("version", false, "print the version and exit")
		only      = flag.String("only", "", "regexp over \"scenario variant\": runs only the variants it matches (e.g. 'msgpack C=8 W=64', for profiling)")
	)
	flag.Usage = func() {
		fmt.Fprint(os.Stderr, usage)
		flag.PrintDefaults()
	}
	flag.Parse()
	if *version {
		fmt.Println(buildinfo.String("mpbench"))
		return
	}
	if modeKind(*mode) != "mp" && modeKind(*mode) != "split" {
		fmt.Fprintf(os.Stderr, "mpbench: -mode %q: want mp, split or one of them/NAME\n", *mode)
		os.Exit(2)
	}
	mp := endpoints{name: *mode, rpc: *rpc, pub: *pub, ingest: *ingest, storeHTTP: *storeHTTP}
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
		case "rpc-under-ingest":
			err = b.rpcUnderIngest()
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
	r := b.run(*mode)
	if *jsonOut != "" {
		if err := writeRun(*jsonOut, r); err != nil {
			fmt.Fprintln(os.Stderr, "mpbench:", err)
			os.Exit(1)
		}
	}
	combine([]run{r}).print(os.Stdout)
	fmt.Printf("\n(%d repetitions, %.0fs in all)\n", b.reps, time.Since(start).Seconds())
}

// reportMain prints the combined table of the runs in files.
func reportMain(files []string) int {
	if len(files) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	var runs []run
	for _, f := range files {
		r, err := readRun(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mpbench report:", err)
			return 1
		}
		runs = append(runs, r)
	}
	combine(runs).print(os.Stdout)
	return 0
}
