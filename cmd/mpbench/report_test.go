package main

import (
	"bytes"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// fig is a row; a NaN raw means the row has no raw figure.
func fig(scenario, variant, metric string, raw, mp float64) result {
	r := result{Scenario: scenario, Variant: variant, Metric: metric, MP: mp}
	if !math.IsNaN(raw) {
		r.Raw = &raw
	}
	return r
}

var none = math.NaN()

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{5, 5, 1}, 5},
	} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median of nothing is not NaN")
	}
}

// Each row has at most one target per mode, or the table would judge it
// twice and print only one.
func TestTargetsAreUnambiguous(t *testing.T) {
	overlaps := func(a, b string) bool { return a == "" || b == "" || a == b }
	for i, a := range targets {
		for _, b := range targets[i+1:] {
			if overlaps(a.mode, b.mode) && a.scenario == b.scenario && a.metric == b.metric &&
				(a.variant == b.variant || a.variant == "*" || b.variant == "*") {
				t.Errorf("two targets for %s %s %s in mode %q/%q", a.scenario, a.variant, a.metric, a.mode, b.mode)
			}
		}
	}
}

func TestGoalFor(t *testing.T) {
	c1w1 := key{"rpc-publish", "msgpack C=1 W=1", "p50 µs"}
	for _, c := range []struct {
		mode string
		k    key
		want string // the target as printed, "" for none
	}{
		{"mp", c1w1, "<= raw+60"},
		{"mp/jetstream", c1w1, "<= raw+60"},
		{"split", c1w1, "<= 2.5x raw"},
		{"mp", key{"rpc-publish", "json C=1 W=1", "p50 µs"}, ""},
		{"mp", key{"rpc-publish", "msgpack C=8 W=1", "ops/s"}, ""},
		{"split", key{"rpc-publish", "msgpack C=8 W=1", "ops/s"}, ">= 0.6x raw"},
		{"mp", key{"ingest", "msgpack batch=1", "items lost"}, "0"},
		{"split", key{"ingest", "msgpack batch=1", "items lost"}, ""},
		{"mp", key{"reads", "msgpack get_recent 10000", "items returned"}, ">= 10000"},
		{"mp", key{"reads", "replay filter+sort+limit", "p50 msgpack/json"}, "<= 1"},
		{"split", key{"memory", "20000 events", "store RSS MB"}, "<= 400"},
		{"mp", key{"pub-fanout", "subscribers=4", "events lost"}, "0"},
		{"split", key{"rpc-under-ingest", "msgpack C=1 W=1", "p99 with/idle"}, "<= 5"},
	} {
		got := ""
		if g := goalFor(c.mode, c.k); g != nil {
			got = g.String()
		}
		if got != c.want {
			t.Errorf("%s %s: target %q, want %q", c.mode, c.k, got, c.want)
		}
	}
}

func TestVerdicts(t *testing.T) {
	c1w1 := key{"rpc-publish", "msgpack C=1 W=1", "p50 µs"}
	b100 := key{"ingest", "msgpack batch=100", "items/s"}
	lost := key{"ingest", "msgpack batch=100", "items lost"}
	gr := key{"reads", "msgpack get_recent 100", "p50 µs"}
	mj := key{"reads", "get_recent 100", "p50 msgpack/json"}
	one := func(mode string, rows ...result) []run { return []run{{Mode: mode, Rows: rows}} }
	for _, c := range []struct {
		name string
		runs []run
		mode string
		k    key
		want string // "yes", "NO", "?" (not measurable) or "" (no target)
	}{
		{"within raw+60", one("mp", fig("rpc-publish", "msgpack C=1 W=1", "p50 µs", 180, 240)), "mp", c1w1, "yes"},
		{"beyond raw+60", one("mp", fig("rpc-publish", "msgpack C=1 W=1", "p50 µs", 180, 241)), "mp", c1w1, "NO"},
		{"split's ratio", one("split", fig("rpc-publish", "msgpack C=1 W=1", "p50 µs", 180, 440)), "split", c1w1, "yes"},
		{"no raw to compare", one("mp", fig("rpc-publish", "msgpack C=1 W=1", "p50 µs", none, 100)), "mp", c1w1, "?"},
		{"no target", one("mp", fig("rpc-publish", "json C=1 W=1", "p50 µs", 180, 900)), "mp", key{"rpc-publish", "json C=1 W=1", "p50 µs"}, ""},
		{"nothing lost", one("mp", fig("ingest", "msgpack batch=100", "items lost", none, 0)), "mp", lost, "yes"},
		{"lost", one("mp", fig("ingest", "msgpack batch=100", "items lost", none, 3)), "mp", lost, "NO"},
		{"read within 2x the echo", one("mp", fig("reads", "msgpack get_recent 100", "p50 µs", 200, 400)), "mp", gr, "yes"},
		{"read beyond 2x, within split's 4x", one("split", fig("reads", "msgpack get_recent 100", "p50 µs", 200, 700)), "split", gr, "yes"},
		{"msgpack slower than JSON", one("mp", fig("reads", "get_recent 100", "p50 msgpack/json", none, 1.05)), "mp", mj, "NO"},
		// The median of the per-run ratios (.45 .55 .47) misses 0.5 where
		// the ratio of the medians (110/200) would pass.
		{"ratio per run, then median", []run{
			{Mode: "mp", Rows: []result{fig("ingest", "msgpack batch=100", "items/s", 100, 45)}},
			{Mode: "mp", Rows: []result{fig("ingest", "msgpack batch=100", "items/s", 200, 110)}},
			{Mode: "mp", Rows: []result{fig("ingest", "msgpack batch=100", "items/s", 300, 140)}},
		}, "mp", b100, "NO"},
		// One bad run of three does not miss a target.
		{"median of runs", []run{
			{Mode: "mp", Rows: []result{fig("rpc-publish", "msgpack C=1 W=1", "p50 µs", 180, 230)}},
			{Mode: "mp", Rows: []result{fig("rpc-publish", "msgpack C=1 W=1", "p50 µs", 180, 900)}},
			{Mode: "mp", Rows: []result{fig("rpc-publish", "msgpack C=1 W=1", "p50 µs", 180, 235)}},
		}, "mp", c1w1, "yes"},
		// Another mode's runs do not count.
		{"modes apart", []run{
			{Mode: "mp", Rows: []result{fig("rpc-publish", "msgpack C=1 W=1", "p50 µs", 180, 230)}},
			{Mode: "split", Rows: []result{fig("rpc-publish", "msgpack C=1 W=1", "p50 µs", 180, 900)}},
		}, "mp", c1w1, "yes"},
	} {
		rep := combine(c.runs)
		var l *line
		for _, x := range rep.lines {
			if x.key == c.k {
				l = x
			}
		}
		if l == nil {
			t.Fatalf("%s: no line %s", c.name, c.k)
		}
		v := rep.verdict(l, c.mode)
		got := ""
		switch {
		case v.goal == nil:
		case !v.measured:
			got = "?"
		case v.met:
			got = "yes"
		default:
			got = "NO"
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// A run's rows may come in two files (bench.sh measures memory apart);
// write, read back and combine them with another mode's.
func TestReportOfFiles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]run{
		"1-mp.json": {Mode: "mp", Scale: 1, Libzmq: "4.3.5", Rows: []result{
			fig("rpc-publish", "msgpack C=1 W=1", "p50 µs", 180, 200),
			fig("rpc-publish", "msgpack C=8 W=64", "ops/s", 100000, 50000),
			fig("rpc-publish", "all", "failed requests", none, 2),
		}},
		"1-mp-memory.json": {Mode: "mp", Scale: 1, Rows: []result{fig("memory", "1000000 events", "store RSS MB", none, 380)}},
		"1-split.json": {Mode: "split", Scale: 1, Rows: []result{
			fig("rpc-publish", "msgpack C=1 W=1", "p50 µs", 200, 600),
			fig("rpc-publish", "msgpack C=8 W=64", "ops/s", 100000, 40000),
		}},
	}
	var runs []run
	for _, name := range []string{"1-mp.json", "1-mp-memory.json", "1-split.json"} {
		path := filepath.Join(dir, name)
		if err := writeRun(path, files[name]); err != nil {
			t.Fatal(err)
		}
		r, err := readRun(path)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	rep := combine(runs)
	mp, split := rep.tally("mp"), rep.tally("split")
	if mp.held != 2 || mp.judged != 3 || mp.failed != 2 || len(mp.missed) != 1 || mp.missed[0] != "rpc-publish msgpack C=8 W=64 ops/s" {
		t.Errorf("mp tally %+v", mp)
	}
	if split.held != 1 || split.judged != 2 || split.failed != 0 {
		t.Errorf("split tally %+v", split)
	}
	var out bytes.Buffer
	rep.print(&out)
	for _, want := range []string{
		"raw libzmq 4.3.5",
		"mp 1, split 1",
		"mp: 2 of 3 targets hold; missed: rpc-publish msgpack C=8 W=64 ops/s; 2 requests FAILED",
		"split: 1 of 2 targets hold; missed: rpc-publish msgpack C=1 W=1 p50 µs",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	// The raw column is the median over every mode's runs: 180 and 200.
	if !strings.Contains(out.String(), " 190 ") {
		t.Errorf("raw C=1 W=1 p50 is not the median of both modes' runs:\n%s", out.String())
	}
	if _, err := readRun(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("reading a missing file did not fail")
	}
}
