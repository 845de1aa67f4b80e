package store

import (
	"context"

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
// send fails. The first batch is sent at once, even when empty.
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
	for {
		s.mu.RLock()
		var evs []*event.Event
		for i := st.logAfter(after); i < len(st.log) && len(evs) < WatchBatchMax; i++ {
			if !st.log[i].Removed {
				evs = append(evs, st.log[i])
			}
		}
		head, wait := st.seq, st.notify
		s.mu.RUnlock()

		if len(evs) > 0 || first {
			b := &WatchBatch{Epoch: s.epoch, Reset: reset && first, HeadSeq: head, Events: make([]WatchEvent, len(evs))}
			buf := make([]byte, 0, renderedSize(evs, st.name, false, 0))
			ends := make([]int, len(evs))
			for i, ev := range evs {
				b.Skipped += ev.Seq - after - 1
				after = ev.Seq
				buf = ev.AppendJSON(buf, st.name, false)
				ends[i] = len(buf)
			}
			start := 0
			for i, ev := range evs {
				b.Events[i] = WatchEvent{Seq: ev.Seq, Topic: ev.Topic, JSON: buf[start:ends[i]:ends[i]]}
				start = ends[i]
			}
			if err := send(b); err != nil {
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
