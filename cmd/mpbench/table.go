package main

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"text/tabwriter"

	"github.com/messageplane/mp/internal/zmqx"
)

type bench struct {
	reps  int
	scale float64
	only  *regexp.Regexp // runs only the variants it matches, nil for all
	mp    target
	raw   *target
	rows  []row
}

// row is one figure of the table.
type row struct {
	scenario, variant, metric string
	raw, mp                   float64
	hasRaw                    bool
	higher                    bool // higher is better (for the ratio column)
	check                     func(row) bool
	target                    string
}

func (b *bench) add(r row) { b.rows = append(b.rows, r) }

// skip reports whether a variant is left out by -only.
func (b *bench) skip(scenario, variant string) bool {
	return b.only != nil && !b.only.MatchString(scenario+" "+variant)
}

// n scales a message count.
func (b *bench) n(count int) int { return max(1, int(float64(count)*b.scale)) }

func (b *bench) targets() []target {
	if b.raw != nil {
		return []target{*b.raw, b.mp}
	}
	return []target{b.mp}
}

func (b *bench) checkMP() error {
	if _, err := rpcCall(b.mp.rpc, map[string]any{"op": "ping"}); err != nil {
		return fmt.Errorf("Message Plane RPC at %s: %w", b.mp.rpc, err)
	}
	return nil
}

func medianOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

var zeroTarget = func(r row) bool { return r.mp == 0 }

func ratioAtLeast(min float64) func(row) bool {
	return func(r row) bool { return r.raw > 0 && r.mp/r.raw >= min }
}

func opsTarget(clients, window int) func(row) bool {
	if clients == 8 && window == 64 {
		return ratioAtLeast(0.5)
	}
	return nil
}

func p50Target(clients, window int) func(row) bool {
	if clients == 1 && window == 1 {
		return func(r row) bool { return r.mp <= r.raw+80 }
	}
	return nil
}

func describe(r row) string {
	switch {
	case r.target != "":
		return r.target
	case r.check == nil:
		return ""
	case r.metric == "p50 µs":
		return "<= raw+80"
	case r.metric == "items lost" || r.metric == "events lost" || r.metric == "failed":
		return "0"
	case r.scenario == "rpc-publish":
		return ">= 0.5 raw"
	case r.scenario == "ingest":
		return ">= 0.4 raw"
	}
	return "yes"
}

func (b *bench) print(w io.Writer) {
	major, minor, patch := zmqx.Version()
	fmt.Fprintf(w, "Message Plane vs raw libzmq %d.%d.%d (same machine, same run)\n\n", major, minor, patch)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tvariant\tmetric\traw\tmp\tmp/raw\ttarget\tmet\t")
	for _, r := range b.rows {
		rawCol, ratio := "-", "-"
		if r.hasRaw {
			rawCol = fmt.Sprintf("%.0f", r.raw)
			if r.raw > 0 {
				ratio = fmt.Sprintf("%.2f", r.mp/r.raw)
			}
		}
		mpCol := fmt.Sprintf("%.0f", r.mp)
		if r.mp < 10 && r.mp != float64(int(r.mp)) {
			mpCol = fmt.Sprintf("%.2f", r.mp)
		}
		met := ""
		if r.check != nil {
			met = "yes"
			if !r.check(r) {
				met = "NO"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.scenario, r.variant, r.metric, rawCol, mpCol, ratio, describe(r), met)
	}
	tw.Flush()
}
