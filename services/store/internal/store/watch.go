package store

import (
	"context"
	"slices"

	"github.com/messageplane/mp/services/store/internal/event"
)

// WatchBatchMax is the most events one Watch message carries.
const WatchBatchMax = 1024

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
	st, err := s.store(store)
	if err != nil {
		return err
	}
	reset := epoch != "" && epoch != s.epoch
	s.mu.RLock()
	switch {
	case reset:
		after = 0
	case fromHead:
		after = st.seq
	case after > st.seq:
		s.mu.RUnlock()
		return ErrAheadOfHead
	}
	s.mu.RUnlock()

	first := true
	var (
		evs  []*event.Event
		b    WatchBatch
		buf  []byte
		ends []int
	)
	for {
		s.mu.RLock()
		evs = evs[:0]
		for i := st.logAfter(after); i < len(st.log) && len(evs) < WatchBatchMax; i++ {
			if !st.log[i].Removed {
				evs = append(evs, st.log[i])
			}
		}
		head, wait := st.seq, st.notify
		s.mu.RUnlock()

		if len(evs) > 0 || first {
			b = WatchBatch{Epoch: s.epoch, Reset: reset && first, HeadSeq: head, Events: b.Events[:0]}
			buf = slices.Grow(buf[:0], renderedSize(evs, st.name, false, 0))
			ends = ends[:0]
			for _, ev := range evs {
				b.Skipped += ev.Seq - after - 1
				after = ev.Seq
				buf = ev.AppendJSON(buf, st.name, false)
				ends = append(ends, len(buf))
			}
			start := 0
			for i, ev := range evs {
				b.Events = append(b.Events, WatchEvent{Seq: ev.Seq, Topic: ev.Topic, JSON: buf[start:ends[i]:ends[i]]})
				start = ends[i]
			}
			if err := send(&b); err != nil {
				return err
			}
			first = false
			if len(evs) == WatchBatchMax {
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
