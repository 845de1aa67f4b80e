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
// the server under test. Replies put req_id and ok first, so reading stops
// long before a large result. Raw echo replies (the requests themselves)
// carry no "ok" and count as ok.
func replyStatus(reply []byte) (reqID string, ok bool, err error) {
	ok = true
	if wire.DetectEncoding(reply) == wire.JSON {
		d := json.NewDecoder(bytes.NewReader(reply))
		if t, err := d.Token(); err != nil || t != json.Delim('{') {
			return "", false, fmt.Errorf("reply is not an object")
		}
		for seen := 0; err == nil && seen < 2 && d.More(); {
			var t json.Token
			if t, err = d.Token(); err != nil {
				break
			}
			switch t {
			case "req_id":
				err = d.Decode(&reqID)
				seen++
			case "ok":
				err = d.Decode(&ok)
				seen++
			default:
				var skip json.RawMessage
				err = d.Decode(&skip)
			}
		}
		return reqID, ok, err
	}
	d := msgpack.NewDecoder(bytes.NewReader(reply))
	n, err := d.DecodeMapLen()
	for seen := 0; err == nil && n > 0 && seen < 2; n-- {
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

// publishBodies are the requests of a publish run, encoded before it
// starts: client c's i-th publish of a ~250-byte payload.
func publishBodies(msgpackEnc bool, clients, per int) [][][]byte {
	bodies := make([][][]byte, clients)
	for c := range bodies {
		bodies[c] = make([][]byte, per)
		for i := range bodies[c] {
			bodies[c][i] = encodeBody(msgpackEnc, map[string]any{"v": 1, "req_id": strconv.Itoa(i), "op": "bus.publish",
				"args": map[string]any{"store": "messages", "topic": fmt.Sprintf("bench.rpc.%d", c), "payload": payload250(i)}})
		}
	}
	return bodies
}

// publishLoad is a publish run against t.
func publishLoad(t endpoints, window int, bodies [][][]byte) (rpcResult, error) {
	return rpcLoad(t.rpc, len(bodies), window, len(bodies[0]), func(c, i int) []byte { return bodies[c][i] })
}

func (b *bench) rpcPublish() error {
	failed := 0
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
			bodies := publishBodies(enc == "msgpack", clients, per)
			raw, mp, err := b.both(func(t endpoints) (rpcResult, error) { return publishLoad(t, window, bodies) })
			if err != nil {
				return err
			}
			if b.raw != nil && variant == "msgpack C=1 W=1" {
				b.rawEcho = &raw
			}
			b.addRaw("rpc-publish", variant, "ops/s", raw.ops, mp.ops)
			b.addRaw("rpc-publish", variant, "p50 µs", us(raw.p50), us(mp.p50))
			b.addRaw("rpc-publish", variant, "p99 µs", us(raw.p99), us(mp.p99))
			failed += mp.failed
		}
	}
	b.add("rpc-publish", "all", "failed requests", float64(failed))
	return nil
}

// echo returns the baseline's msgpack C=1 W=1 publish round trip of this
// run: rpc-publish's when it ran, else measured now the same way.
func (b *bench) echo() (rpcResult, error) {
	if b.rawEcho == nil {
		raw, err := publishLoad(*b.raw, 1, publishBodies(true, 1, b.n(5000)))
		if err != nil {
			return raw, fmt.Errorf("raw echo: %w", err)
		}
		b.rawEcho = &raw
	}
	return *b.rawEcho, nil
}

func us(d time.Duration) float64 { return float64(d.Microseconds()) }

// both runs a measurement against the baseline (if any) and Message Plane,
// b.reps times each, and returns the runs with the median ops.
func (b *bench) both(run func(endpoints) (rpcResult, error)) (raw, mp rpcResult, err error) {
	median := func(t endpoints) (rpcResult, error) {
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
