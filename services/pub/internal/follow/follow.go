// Package follow follows one store's ordered event stream (the store's
// Watch) and hands the events, in seq order, to the publisher. A fresh
// follower starts at the store's head; when the stream breaks it resumes
// after the last seq it handed on, so it neither skips nor repeats; when the
// store's epoch changes (an in-memory store restarted) it follows the new
// epoch from seq 1.
package follow

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/messageplane/mp/internal/grpcx"
	"github.com/messageplane/mp/internal/protocol"
	mpv1 "github.com/messageplane/mp/proto/messageplane/v1"
	"github.com/messageplane/mp/services/pub/internal/publish"
)

// Observer counts what a follower sees.
type Observer interface {
	Connected(store string, up bool)
	Reconnect(store string)
	EpochReset(store string)
	Skipped(store string, n uint64)
	Position(store string, last, head uint64)
}

// Follower follows one store.
type Follower struct {
	Store string
	out   chan<- []publish.Event
	watch func(ctx context.Context, req *mpv1.WatchRequest) (grpc.ServerStreamingClient[mpv1.WatchResponse], error)
	obs   Observer
	log   *slog.Logger

	epoch   string
	last    uint64 // last seq handed on, in epoch
	started bool   // false: start at the head
}

// New returns a follower of store sending to out.
func New(store string, client mpv1.StoreClient, out chan<- []publish.Event, obs Observer, log *slog.Logger) *Follower {
	return &Follower{Store: store, out: out, obs: obs, log: log.With("store", store),
		watch: func(ctx context.Context, req *mpv1.WatchRequest) (grpc.ServerStreamingClient[mpv1.WatchResponse], error) {
			// Wait for the store instead of failing while it is down.
			return client.Watch(ctx, req, grpc.WaitForReady(true))
		}}
}

// Run follows until ctx ends.
func (f *Follower) Run(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		err := f.stream(ctx)
		f.obs.Connected(f.Store, false)
		if ctx.Err() != nil {
			return
		}
		f.obs.Reconnect(f.Store)
		if grpcx.Reason(err) == string(protocol.OutOfRange) || status.Code(err) == codes.OutOfRange {
			// The store is behind our position in the same epoch: start over
			// at its head rather than wait for seqs that will never come.
			f.log.Warn("store is behind the last published seq; restarting at its head", "last", f.last)
			f.started = false
		}
		f.log.Info("event stream broken, resuming", "after_seq", f.last, "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, time.Second)
		if err == nil || errors.Is(err, errHealthy) {
			backoff = 50 * time.Millisecond
		}
	}
}

var errHealthy = errors.New("stream ended after delivering events")

// stream runs one Watch call until it breaks.
func (f *Follower) stream(ctx context.Context) error {
	req := &mpv1.WatchRequest{Store: f.Store, AfterSeq: f.last, Epoch: f.epoch, FromHead: !f.started}
	stream, err := f.watch(ctx, req)
	if err != nil {
		return err
	}
	delivered := false
	for {
		resp, err := stream.Recv()
		if err != nil {
			if delivered {
				return errors.Join(errHealthy, err)
			}
			return err
		}
		if !delivered {
			f.obs.Connected(f.Store, true)
		}
		delivered = true
		if resp.EpochReset || (f.epoch != "" && resp.Epoch != f.epoch) {
			f.log.Info("store epoch changed; following the new epoch from seq 1", "old", f.epoch, "new", resp.Epoch, "last_published", f.last)
			f.obs.EpochReset(f.Store)
			f.last = 0
		}
		if !f.started {
			f.started = true
			if len(resp.Events) == 0 {
				f.last = resp.HeadSeq // a fresh start begins at the head
			}
		}
		f.epoch = resp.Epoch
		if resp.Skipped > 0 {
			f.obs.Skipped(f.Store, resp.Skipped)
		}
		if len(resp.Events) > 0 {
			batch := make([]publish.Event, len(resp.Events))
			for i, ev := range resp.Events {
				batch[i] = publish.Event{Topic: publish.Topic(f.Store, ev.Topic), JSON: ev.Event}
			}
			select {
			case f.out <- batch:
			case <-ctx.Done():
				return ctx.Err()
			}
			f.last = resp.Events[len(resp.Events)-1].Seq
		}
		f.obs.Position(f.Store, f.last, max(resp.HeadSeq, f.last))
	}
}
