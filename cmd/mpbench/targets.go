package main

import (
	"fmt"
	"strings"
)

// measure is what a target compares with its bound, computed per run.
type measure int

const (
	value   measure = iota // Message Plane's figure itself
	ratio                  // Message Plane's figure / raw's
	overRaw                // Message Plane's figure - raw's
)

// goal is one target of issue 13: for the rows it names, in the mode it
// names, the median over the runs of the measure must stay within bound.
type goal struct {
	mode                      string // "mp", "split", or "" for both
	scenario, variant, metric string // variant "*" matches every variant
	by                        measure
	atMost                    bool // <= bound, else >= bound
	bound                     float64
}

// targets are issue 13's, keyed by row and mode, in one place. Figures are
// msgpack unless the variant says otherwise (the encoding plugins use).
// The raw side of a reads row is the raw echo's msgpack C=1 W=1 figure of
// the same run, so "2x raw" there means twice that round trip.
var targets = []goal{
	// all-in-one
	{"mp", "rpc-publish", "msgpack C=1 W=1", "p50 µs", overRaw, true, 60},
	{"mp", "rpc-publish", "msgpack C=8 W=64", "ops/s", ratio, false, 0.6},
	{"mp", "ingest", "msgpack batch=100", "items/s", ratio, false, 0.5},
	{"mp", "ingest", "msgpack batch=100", "items lost", value, true, 0},
	{"mp", "ingest", "msgpack batch=1", "items/s", ratio, false, 0.6},
	{"mp", "ingest", "msgpack batch=1", "items lost", value, true, 0},
	{"mp", "reads", "msgpack get_recent 100", "p50 µs", ratio, true, 2},
	{"mp", "reads", "msgpack query plugin_id+priority_min", "p50 µs", ratio, true, 5},
	{"mp", "reads", "msgpack replay filter+sort+limit", "p50 µs", ratio, true, 5},
	{"mp", "reads", "msgpack get_recent 10000", "p50 µs", ratio, true, 40},
	{"mp", "reads", "msgpack get_recent 10000", "items returned", value, false, readEvents},
	{"mp", "reads", "*", "p50 msgpack/json", value, true, 1},
	// split
	{"split", "rpc-publish", "msgpack C=1 W=1", "p50 µs", ratio, true, 2.5},
	{"split", "rpc-publish", "msgpack C=8 W=1", "ops/s", ratio, false, 0.6},
	{"split", "rpc-publish", "msgpack C=8 W=64", "ops/s", ratio, false, 0.35},
	{"split", "ingest", "msgpack batch=100", "items/s", ratio, false, 0.35},
	{"split", "reads", "msgpack get_recent 100", "p50 µs", ratio, true, 4},
	// both
	{"", "rpc-under-ingest", "*", "p99 with/idle", value, true, 5},
	{"", "memory", "*", "store RSS MB", value, true, 400},
	{"", "pub-fanout", "*", "events lost", value, true, 0},
}

// key names a row of the table.
type key struct{ scenario, variant, metric string }

func (k key) String() string { return k.scenario + " " + k.variant + " " + k.metric }

// modeKind is the targets a mode label is held to: "mp/jetstream" is an
// all-in-one with another store and is held to mp's.
func modeKind(mode string) string {
	kind, _, _ := strings.Cut(mode, "/")
	return kind
}

// goalFor returns the target of a row in a mode, nil when it has none.
func goalFor(mode string, k key) *goal {
	kind := modeKind(mode)
	for i, g := range targets {
		if (g.mode == "" || g.mode == kind) && g.scenario == k.scenario && g.metric == k.metric && (g.variant == "*" || g.variant == k.variant) {
			return &targets[i]
		}
	}
	return nil
}

// of computes the measure of one run's row; false when it cannot (a ratio
// without a raw figure).
func (g *goal) of(r result) (float64, bool) {
	switch g.by {
	case ratio:
		if r.Raw == nil || *r.Raw == 0 {
			return 0, false
		}
		return r.MP / *r.Raw, true
	case overRaw:
		if r.Raw == nil {
			return 0, false
		}
		return r.MP - *r.Raw, true
	}
	return r.MP, true
}

// holds reports whether a measure meets the target.
func (g *goal) holds(m float64) bool {
	if g.atMost {
		return m <= g.bound
	}
	return m >= g.bound
}

func (g *goal) String() string {
	op := ">="
	if g.atMost {
		op = "<="
	}
	switch {
	case g.by == ratio:
		return fmt.Sprintf("%s %gx raw", op, g.bound)
	case g.by == overRaw:
		return fmt.Sprintf("%s raw%+g", op, g.bound)
	case g.atMost && g.bound == 0:
		return "0"
	}
	return fmt.Sprintf("%s %g", op, g.bound)
}
