package main

import (
	"fmt"
	"regexp"

	"github.com/messageplane/mp/internal/zmqx"
)

// endpoints are a deployment's public endpoints.
type endpoints struct {
	name             string
	rpc, pub, ingest string
	raw              bool   // the baseline: echo replies, no store behind
	storeHTTP        string // admin address serving the store's RSS (Message Plane only)
}

type bench struct {
	reps  int
	scale float64
	only  *regexp.Regexp // runs only the variants it matches, nil for all
	mp    endpoints
	raw   *endpoints
	rows  []result
	// rawEcho is the baseline's msgpack C=1 W=1 publish round trip, the
	// yardstick of the reads; measured once per run.
	rawEcho *rpcResult
}

// add records a figure without a raw counterpart.
func (b *bench) add(scenario, variant, metric string, mp float64) {
	b.rows = append(b.rows, result{Scenario: scenario, Variant: variant, Metric: metric, MP: mp})
}

// addRaw records a figure beside raw's (left out when the baseline is off).
func (b *bench) addRaw(scenario, variant, metric string, raw, mp float64) {
	r := result{Scenario: scenario, Variant: variant, Metric: metric, MP: mp}
	if b.raw != nil {
		r.Raw = &raw
	}
	b.rows = append(b.rows, r)
}

// run is this run's figures.
func (b *bench) run(mode string) run {
	major, minor, patch := zmqx.Version()
	return run{Mode: mode, Scale: b.scale, Libzmq: fmt.Sprintf("%d.%d.%d", major, minor, patch), Rows: b.rows}
}

// skip reports whether a variant is left out by -only.
func (b *bench) skip(scenario, variant string) bool {
	return b.only != nil && !b.only.MatchString(scenario+" "+variant)
}

// n scales a message count.
func (b *bench) n(count int) int { return max(1, int(float64(count)*b.scale)) }

func (b *bench) deployments() []endpoints {
	if b.raw != nil {
		return []endpoints{*b.raw, b.mp}
	}
	return []endpoints{b.mp}
}

func (b *bench) checkMP() error {
	if _, err := rpcCall(b.mp.rpc, map[string]any{"op": "ping"}); err != nil {
		return fmt.Errorf("Message Plane RPC at %s: %w", b.mp.rpc, err)
	}
	return nil
}
