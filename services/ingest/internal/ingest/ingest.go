// Package ingest runs the INGEST edge: one goroutine owns the PULL socket
// and reads messages; a batcher decodes them and coalesces their items into
// store writes; a writer sends each write to the store, retrying the same
// batch (same idempotency key) until the store has it. When the store is
// unreachable the stages fill up and the reader stops reading, so ZMQ's
// high-water mark pushes back on senders: nothing accepted is dropped.
package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/messageplane/mp/internal/grpcx"
	"github.com/messageplane/mp/internal/lifecycle"
	"github.com/messageplane/mp/internal/limits"
	"github.com/messageplane/mp/internal/protocol"
	"github.com/messageplane/mp/internal/zmqx"
	mpv1 "github.com/messageplane/mp/proto/messageplane/v1"
	"github.com/messageplane/mp/services/ingest/internal/decode"
)

// Config is the ingest edge's configuration.
type Config struct {
	Endpoint     string
	RcvHWM       int
	MaxMsgSize   int64 // a sender pushing a larger message is disconnected
	Limits       limits.Config
	BatchItems   int           // most items in one store write
	BatchBytes   int           // most payload bytes in one store write
	StoreTimeout time.Duration // deadline of one store write
	Grace        time.Duration // time to flush on shutdown
}

// batch is one store write being built.
type batch struct {
	ops   []*mpv1.WriteOp
	items int
	bytes int
}

// Run serves until ctx ends, then stops reading, drains what the socket
// already holds, flushes everything to the store (up to Grace) and returns.
func Run(ctx context.Context, cfg Config, store mpv1.StoreClient, stats *Stats, log *slog.Logger, ready func()) error {
	zctx, err := zmqx.NewContext()
	if err != nil {
		return err
	}
	defer zctx.Term()
	pull, err := zmqx.Bind(zctx, zmqx.PULL, cfg.Endpoint, zmqx.Options{RcvHWM: cfg.RcvHWM, MaxMsgSize: cfg.MaxMsgSize})
	if err != nil {
		return err
	}
	defer pull.Close()

	bodies := make(chan []byte, 256)
	batches := make(chan *batch) // unbuffered: a batch is handed over only when the writer is idle
	writerDone := make(chan struct{})
	// flushCtx bounds the writer's retries once draining has gone on too long.
	flushCtx, giveUp := context.WithCancel(context.Background())
	defer giveUp()
	go batchLoop(cfg, bodies, batches, stats, log)
	go func() {
		defer close(writerDone)
		writeLoop(flushCtx, cfg, store, batches, stats, log)
	}()

	log.Info("ingest bound", "endpoint", cfg.Endpoint, "rcvhwm", cfg.RcvHWM)
	ready()

	// read takes one message off the socket and counts it; ok is false when
	// the socket has nothing more right now.
	read := func() (body []byte, ok bool) {
		for {
			frames, err := pull.RecvMessageBytes(zmqx.DONTWAIT)
			if err != nil {
				return nil, false
			}
			stats.Messages.Add(1)
			if len(frames) == 1 {
				return frames[0], true
			}
			stats.ItemsReceived.Add(1)
			stats.Drop(protocol.DropDecodeError, 1) // multipart: not a message of ours
		}
	}
	var held []byte // read but not yet handed on when shutdown began
	poller := zmqx.NewPoller()
	poller.Add(pull, zmqx.POLLIN)
loop:
	for ctx.Err() == nil {
		polled, err := poller.Poll(100 * time.Millisecond)
		if err != nil {
			if zmqx.IsTerminated(err) {
				break
			}
			return fmt.Errorf("ingest poll: %w", err)
		}
		for i := 0; len(polled) > 0 && i < 1024; i++ {
			body, ok := read()
			if !ok {
				break
			}
			select {
			case bodies <- body: // blocks while the store is behind: backpressure
			case <-ctx.Done():
				held = body
				break loop
			}
		}
	}

	// Drain: what the socket already holds was accepted from senders; read
	// it (without waiting for more) and flush everything, within Grace.
	log.Info("ingest draining")
	timedOut := make(chan struct{})
	go func() {
		select {
		case <-time.After(cfg.Grace):
			close(timedOut)
			giveUp()
		case <-writerDone:
		}
	}()
	drained := 0
	for {
		body := held
		if body == nil {
			var ok bool
			if body, ok = read(); !ok {
				break
			}
		}
		held = nil
		select {
		case bodies <- body:
			drained++
			continue
		case <-timedOut:
		}
		break
	}
	close(bodies)
	<-writerDone
	if n := stats.Pending.Load(); n > 0 {
		log.Error("stopped with items not stored", "items", n)
	}
	log.Info("ingest flushed", "drained_messages", drained, "stored", stats.ItemsStored.Load())
	return nil
}

// batchLoop decodes messages and coalesces their writes. A batch goes to the
// writer as soon as the writer is idle, or when it is full; so batches are
// small when the store keeps up and large when it does not.
func batchLoop(cfg Config, bodies <-chan []byte, out chan<- *batch, stats *Stats, log *slog.Logger) {
	defer close(out)
	var cur *batch
	for {
		if cur != nil && (cur.items >= cfg.BatchItems || cur.bytes >= cfg.BatchBytes) {
			out <- cur
			cur = nil
		}
		var outCh chan<- *batch
		if cur != nil {
			outCh = out
		}
		select {
		case body, ok := <-bodies:
			if !ok {
				if cur != nil {
					out <- cur
				}
				return
			}
			var r decode.Result
			if !lifecycle.Contain(log, "decoding an ingest message", func() { r = decode.Decode(body, cfg.Limits) }) {
				r = decode.Undecodable()
			}
			stats.ItemsReceived.Add(uint64(r.Items))
			for reason, n := range r.Drops {
				stats.Drop(reason, n)
			}
			if len(r.Writes) == 0 {
				continue
			}
			if cur == nil {
				cur = &batch{}
			}
			cur.add(r.Writes)
			stats.Pending.Add(int64(r.Valid()))
		case outCh <- cur:
			cur = nil
		}
	}
}

func (b *batch) add(writes []decode.Write) {
	for _, w := range writes {
		if w.Replace {
			b.ops = append(b.ops, &mpv1.WriteOp{Op: &mpv1.WriteOp_Replace{Replace: &mpv1.Replace{Store: w.Store, Topic: w.Topic, Payloads: w.Payloads}}})
			b.items += len(w.Payloads)
			for _, p := range w.Payloads {
				b.bytes += len(p)
			}
			continue
		}
		for _, p := range w.Payloads {
			b.ops = append(b.ops, &mpv1.WriteOp{Op: &mpv1.WriteOp_Item{Item: &mpv1.Item{Store: w.Store, Topic: w.Topic, Payload: p}}})
			b.items++
			b.bytes += len(p)
		}
	}
}

// producerID names this process for the store's idempotency table.
func producerID() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("ingest-%s-%s", host, hex.EncodeToString(b[:]))
}

// writeLoop sends batches in order. A batch the store did not confirm is
// sent again with the same key until it is confirmed (the store applies it
// once), or until ctx ends at the end of a drain that ran out of time.
func writeLoop(ctx context.Context, cfg Config, store mpv1.StoreClient, in <-chan *batch, stats *Stats, log *slog.Logger) {
	producer := producerID()
	var seq uint64
	for b := range in {
		seq++
		req := &mpv1.WriteRequest{ProducerId: producer, Batch: seq, Ops: b.ops}
		backoff := 20 * time.Millisecond
		for attempt := 1; ; attempt++ {
			cctx, cancel := context.WithTimeout(ctx, cfg.StoreTimeout)
			start := time.Now()
			resp, err := store.Write(cctx, req)
			stats.WriteDone(time.Since(start), err)
			cancel()
			if err == nil {
				account(b, resp, stats)
				break
			}
			if ctx.Err() != nil {
				log.Error("gave up storing a batch at shutdown", "items", b.items, "err", err)
				stats.Pending.Add(-int64(b.items))
				stats.Drop(protocol.DropStoreError, b.items)
				break
			}
			retryable := grpcx.Unavailable(err) || status.Code(err) == codes.ResourceExhausted
			if !retryable && attempt >= 3 {
				log.Error("store refused a batch", "items", b.items, "err", err)
				stats.Pending.Add(-int64(b.items))
				stats.Drop(protocol.DropStoreError, b.items)
				break
			}
			stats.Retries.Add(1)
			if attempt == 1 || attempt%20 == 0 {
				log.Warn("store write failed, retrying", "attempt", attempt, "items", b.items, "err", err)
			}
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
			backoff = min(2*backoff, time.Second)
		}
	}
}

// account counts a confirmed batch's results.
func account(b *batch, resp *mpv1.WriteResponse, stats *Stats) {
	stats.Batches.Add(1)
	stats.Pending.Add(-int64(b.items))
	stored := 0
	for _, r := range resp.GetResults() {
		if r.Reject == mpv1.Reject_REJECT_NONE {
			stored++
			continue
		}
		reason := protocol.DropStoreError
		if v := protocol.Rejected(r.Reject); v != nil {
			reason = v.Reason
		}
		stats.Drop(reason, 1)
	}
	stats.ItemsStored.Add(uint64(stored))
}
