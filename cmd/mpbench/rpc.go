package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/messageplane/mp/internal/wire"
	"github.com/messageplane/mp/internal/zmqx"
)

const pollInterval = 100 * time.Millisecond

// replyStatus reads a reply's req_id and ok without decoding the rest: the
// client shares the machine with the server, and decoding whole replies
// cost it four times what it costs to send the requests, CPU taken from
// the server under test. Raw echo replies (the requests themselves) carry
// no "ok" and count as ok.
func replyStatus(reply []byte) (reqID string, ok bool, err error) {
	ok = true
	if wire.DetectEncoding(reply) == wire.JSON {
		err = wire.ScanObject(reply, func(key, raw []byte) {
			switch string(key) {
			case "req_id":
				_ = json.Unmarshal(raw, &reqID)
			case "ok":
				ok = string(raw) != "false"
			}
		})
		return reqID, ok, err
	}
	d := msgpack.NewDecoder(bytes.NewReader(reply))
	n, err := d.DecodeMapLen()
	seen := 0
	for ; err == nil && n > 0 && seen < 2; n-- { // both found: the rest is not read
		var key string
		if key, err = d.DecodeString(); err != nil {
			break
		}
		switch key {
		case "req_id":
			reqID, err = d.DecodeString()
			seen++
		case "ok":
			ok, err = d.DecodeBool()
			seen++
		default:
			err = d.Skip()
		}
	}
	return reqID, ok, err
}

// payload250 is a plugin-like payload of about 250 bytes.
func payload250(i int) map[string]any {
	return map[string]any{
		"plugin_id": "bench-plugin", "priority": i % 10, "kind": "log", "type": "output",
		"message_id": fmt.Sprintf("m-%09d", i),
		"content":    strings.Repeat("x", 140),
	}
}

func encodeBody(msgpackEnc bool, v any) []byte {
	var b []byte
	if msgpackEnc {
		b, _ = msgpack.Marshal(v)
	} else {
		b, _ = json.Marshal(v)
	}
	return b
}

// rpcResult is one run of a request loop.
type rpcResult struct {
	ops      float64 // replies per second
	p50, p99 time.Duration
	failed   int // error replies or missing replies
	bytes    int // mean reply size
}

// rpcLoad runs `clients` DEALER sockets, each keeping `window` requests in
// flight, until each has had `per` replies; body(i) is request i (with
// req_id strconv(i)). Each client socket is owned by its own goroutine.
func rpcLoad(endpoint string, clients, window, per int, body func(client, i int) []byte) (rpcResult, error) {
	var wg sync.WaitGroup
	lats := make([][]time.Duration, clients)
	fails := make([]int, clients)
	sizes := make([]int, clients)
	errs := make(chan error, clients)
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			zctx, err := zmqx.NewContext()
			if err != nil {
				errs <- err
				return
			}
			defer zctx.Term()
			s, err := zmqx.NewSocket(zctx, zmqx.DEALER, zmqx.Options{SndHWM: 100000, RcvHWM: 100000})
			if err == nil {
				err = s.Connect(endpoint)
			}
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			sent := make([]time.Time, per)
			lat := make([]time.Duration, 0, per)
			next := 0
			send := func() {
				sent[next] = time.Now()
				_, _ = s.SendBytes(body(c, next), 0)
				next++
			}
			for next < min(window, per) {
				send()
			}
			poller := zmqx.NewPoller()
			poller.Add(s, zmqx.POLLIN)
			for len(lat) < per {
				polled, err := poller.Poll(10 * time.Second)
				if err != nil || len(polled) == 0 {
					fails[c] += per - len(lat)
					break
				}
				for {
					frames, err := s.RecvMessageBytes(zmqx.DONTWAIT)
					if err != nil {
						break
					}
					received := time.Now() // before decoding: the client's parsing is not the server's latency
					reply := frames[len(frames)-1]
					sizes[c] += len(reply)
					rid, ok, err := replyStatus(reply)
					i, perr := strconv.Atoi(rid)
					if err != nil || perr != nil || i < 0 || i >= per {
						fails[c]++
						lat = append(lat, 0)
						continue
					}
					if !ok {
						fails[c]++
					}
					lat = append(lat, received.Sub(sent[i]))
					if next < per {
						send()
					}
				}
			}
			lats[c] = lat
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		return rpcResult{}, err
	}
	var all []time.Duration
	r := rpcResult{}
	total := 0
	for c := range lats {
		all = append(all, lats[c]...)
		r.failed += fails[c]
		total += sizes[c]
	}
	if len(all) == 0 {
		return r, fmt.Errorf("no replies from %s", endpoint)
	}
	slices.Sort(all)
	r.ops = float64(len(all)) / elapsed.Seconds()
	r.p50 = all[len(all)/2]
	r.p99 = all[len(all)*99/100]
	r.bytes = total / len(all)
	return r, nil
}

func (b *bench) rpcPublish() error {
	for _, enc := range []string{"msgpack", "json"} {
		for _, cw := range [][2]int{{1, 1}, {1, 64}, {8, 1}, {8, 64}} {
			clients, window := cw[0], cw[1]
			variant := fmt.Sprintf("%s C=%d W=%d", enc, clients, window)
			if b.skip("rpc-publish", variant) {
				continue
			}
			per := b.n(20000 / clients)
			if window == 1 {
				per = b.n(5000 / clients)
			}
			bodies := make([][][]byte, clients)
			for c := range bodies {
				bodies[c] = make([][]byte, per)
				for i := range bodies[c] {
					bodies[c][i] = encodeBody(enc == "msgpack", map[string]any{"v": 1, "req_id": strconv.Itoa(i), "op": "bus.publish",
						"args": map[string]any{"store": "messages", "topic": fmt.Sprintf("bench.rpc.%d", c), "payload": payload250(i)}})
				}
			}
			run := func(t target) (rpcResult, error) {
				return rpcLoad(t.rpc, clients, window, per, func(c, i int) []byte { return bodies[c][i] })
			}
			raw, mp, err := b.both(run)
			if err != nil {
				return err
			}
			b.add(row{scenario: "rpc-publish", variant: variant, metric: "ops/s", raw: raw.ops, mp: mp.ops, hasRaw: b.raw != nil, higher: true,
				check: opsTarget(clients, window)})
			b.add(row{scenario: "rpc-publish", variant: variant, metric: "p50 µs", raw: us(raw.p50), mp: us(mp.p50), hasRaw: b.raw != nil,
				check: p50Target(clients, window)})
			b.add(row{scenario: "rpc-publish", variant: variant, metric: "p99 µs", raw: us(raw.p99), mp: us(mp.p99), hasRaw: b.raw != nil})
			if mp.failed > 0 {
				b.add(row{scenario: "rpc-publish", variant: variant, metric: "failed", mp: float64(mp.failed), check: zeroTarget})
			}
		}
	}
	return nil
}

func us(d time.Duration) float64 { return float64(d.Microseconds()) }

// both runs a measurement against the baseline (if any) and Message Plane,
// b.reps times each, and returns the runs with the median ops.
func (b *bench) both(run func(target) (rpcResult, error)) (raw, mp rpcResult, err error) {
	median := func(t target) (rpcResult, error) {
		var rs []rpcResult
		for range b.reps {
			r, err := run(t)
			if err != nil {
				return r, fmt.Errorf("%s: %w", t.name, err)
			}
			rs = append(rs, r)
		}
		slices.SortFunc(rs, func(a, b rpcResult) int {
			if a.ops < b.ops {
				return -1
			}
			return 1
		})
		return rs[len(rs)/2], nil
	}
	if b.raw != nil {
		if raw, err = median(*b.raw); err != nil {
			return
		}
	}
	mp, err = median(b.mp)
	return
}
