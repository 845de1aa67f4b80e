package store

import (
	"context"
	"slices"
	"time"

	"github.com/messageplane/mp/services/store/internal/event"
)

// catchUpWait bounds how long a read or a Watch waits for this replica's
// view to show what the caller has seen elsewhere.
const catchUpWait = 2 * time.Second

// A Watch message carries at most WatchBatchMax events and, past its first
// event, at most WatchBatchBytes of them: a follower that fell behind by
// gigabytes catches up in messages every link can carry (one event at the
// payload limit always fits).
const (
	WatchBatchMax   = 1024
	WatchBatchBytes = 4 << 20
)

// WatchBatch is one message of a Watch stream.
type WatchBatch struct {
	Epoch   string
	Reset   bool   // the requested epoch is gone; the stream starts at seq 1 of this one
	Skipped uint64 // seqs passed over because they are no longer retained
	HeadSeq uint64
	Events  []WatchEvent
}

// WatchEvent is one event of a Watch stream.
type WatchEvent struct {
	Seq   uint64
	Topic string
	JSON  []byte
}

// Watch streams a store's retained events in seq order after `after` (or
// from the current head), then new events as they arrive, until ctx ends or
// send fails. The first batch is sent at once, even when empty. A batch
// and its bytes are valid until send returns: their memory is reused for
// the next batch (a stream follows every write, and a fresh render buffer
// per batch was a third of the store's garbage under ingest).
func (s *Service) Watch(ctx context.Context, store string, after uint64, epoch string, fromHead bool, send func(*WatchBatch) error) error {
	if err := s.Loaded(); err != nil {
		return err
	}
	st, err := s.store(store)
	if err != nil {
		return err
	}
	reset := epoch != "" && epoch != s.epoch
	s.mu.RLock()
	head := st.seq
	s.mu.RUnlock()
	switch {
	case reset:
		after = 0
	case fromHead:
		after = head
	case after > head && s.log != nil:
		// Another replica of the store has shown more of the log than this
		// one yet: a follower moving here waits for this view to catch up
		// rather than skip what it has not shown.
		wctx, cancel := context.WithTimeout(ctx, catchUpWait)
		err := s.waitShown(wctx, st, after)
		cancel()
		if err != nil {
			return ErrAheadOfHead
		}
	case after > head:
		return ErrAheadOfHead
	}

	first := true
	var (
		evs  []event.Event
		b    WatchBatch
		buf  []byte
		ends []int
	)
	r := event.Renderer{Store: st.name}
	for {
		s.mu.RLock()
		evs = evs[:0]
		size := 0
		st.scan(st.logAfter(after), func(t *Topic, k int) bool {
			ev := t.view(k)
			n := r.JSONSize(&ev)
			if len(evs) > 0 && size+n > WatchBatchBytes {
				return false
			}
			evs = append(evs, ev)
			size += n
			return len(evs) < WatchBatchMax
		})
		full := len(evs) == WatchBatchMax || size >= WatchBatchBytes/2
		head, wait := st.seq, st.notify
		s.mu.RUnlock()

		if len(evs) > 0 || first {
			b = WatchBatch{Epoch: s.epoch, Reset: reset && first, HeadSeq: head, Events: b.Events[:0]}
			buf = slices.Grow(buf[:0], size)
			ends = ends[:0]
			for i := range evs {
				ev := &evs[i]
				b.Skipped += ev.Seq - after - 1
				after = ev.Seq
				buf = r.AppendJSON(buf, ev)
				ends = append(ends, len(buf))
			}
			start := 0
			for i := range evs {
				b.Events = append(b.Events, WatchEvent{Seq: evs[i].Seq, Topic: evs[i].Topic, JSON: buf[start:ends[i]:ends[i]]})
				start = ends[i]
			}
			if err := send(&b); err != nil {
				return err
			}
			first = false
			if full {
				continue
			}
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
