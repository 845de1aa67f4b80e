package store

import (
	"sort"

	"github.com/messageplane/mp/services/store/internal/event"
)

// ring is a topic's events, oldest first. It grows by doubling up to the
// topic's limit, so memory follows what is retained: 10,000 topics of one
// event each hold 10,000 small slices, not 10,000 full-size buffers.
type ring struct {
	buf  []*event.Event
	head int // position of the oldest
	n    int
}

func (r *ring) len() int { return r.n }

// at returns the i-th oldest event.
func (r *ring) at(i int) *event.Event { return r.buf[(r.head+i)%len(r.buf)] }

// push appends ev and returns the evicted event, if the ring was full.
func (r *ring) push(ev *event.Event, maxLen int) (evicted *event.Event) {
	if r.n == len(r.buf) && r.n < maxLen {
		size := max(4, 2*len(r.buf))
		size = min(size, maxLen)
		nb := make([]*event.Event, size)
		for i := 0; i < r.n; i++ {
			nb[i] = r.at(i)
		}
		r.buf, r.head = nb, 0
	}
	if r.n == len(r.buf) { // full at maxLen: overwrite the oldest
		evicted = r.buf[r.head]
		r.buf[r.head] = ev
		r.head = (r.head + 1) % len(r.buf)
		return evicted
	}
	r.buf[(r.head+r.n)%len(r.buf)] = ev
	r.n++
	return nil
}

// after returns the index of the first event with seq > seq.
func (r *ring) after(seq uint64) int {
	return sort.Search(r.n, func(i int) bool { return r.at(i).Seq > seq })
}

func (r *ring) each(fn func(*event.Event)) {
	for i := 0; i < r.n; i++ {
		fn(r.at(i))
	}
}

// slice copies events [from, to) in order.
func (r *ring) slice(from, to int) []*event.Event {
	out := make([]*event.Event, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, r.at(i))
	}
	return out
}
