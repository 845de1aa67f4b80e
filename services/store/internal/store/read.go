package store

import (
	"github.com/messageplane/mp/internal/grpcx"
	"github.com/messageplane/mp/services/store/internal/event"
)

// ReadOpts are the options every read takes. Limit is already clamped by
// the edge; MaxBytes bounds the summed size of the rendered events (0: none).
type ReadOpts struct {
	Limit    int
	Light    bool
	MaxBytes int
}

// Result is a read's answer: the events rendered as one JSON array.
type Result struct {
	Items     []byte // "[...]"
	Count     int
	Truncated bool
	HeadSeq   uint64
	Epoch     string
}

// AllTopics is the topic argument meaning every topic of a store.
const AllTopics = ""

// GetRecent returns the newest o.Limit events of a topic (or of the store),
// oldest first; truncation keeps the newest.
func (s *Service) GetRecent(store, topic string, o ReadOpts) (Result, error) {
	st, err := s.store(store)
	if err != nil {
		return Result{}, err
	}
	s.mu.RLock()
	evs := st.read(topic, o.Limit, false)
	head := st.seq
	s.mu.RUnlock()
	return s.result(st, evs, o, true, head), nil
}

// GetSince returns the first o.Limit events with seq > after, ascending;
// truncation keeps the lowest seqs.
func (s *Service) GetSince(store, topic string, after uint64, o ReadOpts) (Result, error) {
	st, err := s.store(store)
	if err != nil {
		return Result{}, err
	}
	s.mu.RLock()
	var evs []*event.Event
	if topic == AllTopics {
		for i := st.logAfter(after); i < len(st.log) && len(evs) < o.Limit; i++ {
			if !st.log[i].Removed {
				evs = append(evs, st.log[i])
			}
		}
	} else if t := st.topics[topic]; t != nil {
		from := t.ring.after(after)
		evs = t.ring.slice(from, min(t.ring.len(), from+o.Limit))
	}
	head := st.seq
	s.mu.RUnlock()
	return s.result(st, evs, o, false, head), nil
}

// Filter is bus.query's conditions; nil fields are not checked.
type Filter struct {
	PluginID, Source, Kind, Type *string
	PriorityMin                  *int64
	SinceTS, UntilTS             *float64
}

// Match reports whether ev satisfies every set condition.
func (f *Filter) Match(ev *event.Event) bool {
	if f.PluginID != nil && !ev.StrEquals(event.PluginID, *f.PluginID) {
		return false
	}
	if f.Source != nil && !ev.StrEquals(event.Source, *f.Source) {
		return false
	}
	if f.Kind != nil && !ev.StrEquals(event.Kind, *f.Kind) {
		return false
	}
	if f.Type != nil && !ev.StrEquals(event.Type, *f.Type) {
		return false
	}
	if f.PriorityMin != nil && ev.Priority < *f.PriorityMin {
		return false
	}
	if f.SinceTS != nil && ev.Timestamp < *f.SinceTS {
		return false
	}
	if f.UntilTS != nil && ev.Timestamp > *f.UntilTS {
		return false
	}
	return true
}

// Query returns matching events newest first, at most o.Limit; truncation
// keeps the first (newest) items.
func (s *Service) Query(store, topic string, f Filter, o ReadOpts) (Result, error) {
	st, err := s.store(store)
	if err != nil {
		return Result{}, err
	}
	var evs []*event.Event
	s.mu.RLock()
	if topic == AllTopics {
		for i := len(st.log) - 1; i >= 0 && len(evs) < o.Limit; i-- {
			if ev := st.log[i]; !ev.Removed && f.Match(ev) {
				evs = append(evs, ev)
			}
		}
	} else if t := st.topics[topic]; t != nil {
		for i := t.ring.len() - 1; i >= 0 && len(evs) < o.Limit; i-- {
			if ev := t.ring.at(i); f.Match(ev) {
				evs = append(evs, ev)
			}
		}
	}
	head := st.seq
	s.mu.RUnlock()
	return s.result(st, evs, o, false, head), nil
}

// result renders events outside the lock (events are immutable). With
// keepLast, truncation drops from the front instead of the back.
func (s *Service) result(st *Store, evs []*event.Event, o ReadOpts, keepLast bool, head uint64) Result {
	r := Result{HeadSeq: head, Epoch: s.epoch}
	r.Items, r.Count, r.Truncated = Render(evs, st.name, o.Light, o.MaxBytes, keepLast)
	return r
}

// Render renders events as one JSON array. When maxBytes > 0 and the
// array would exceed it, events are cut from the back, or from the front
// with keepLast.
func Render(evs []*event.Event, store string, light bool, maxBytes int, keepLast bool) ([]byte, int, bool) {
	size := renderedSize(evs, store, light, 0)
	if keepLast && maxBytes > 0 && size > maxBytes {
		return renderNewest(evs, store, light, maxBytes)
	}
	if maxBytes > 0 {
		size = min(size, maxBytes)
	}
	buf := append(grpcx.Buffer(size+2), '[') // back to the pool once gRPC has sent it
	var commas []int                         // position before each event but the first
	if keepLast {
		commas = make([]int, 0, len(evs))
	}
	truncated := false
	n := 0
	for _, ev := range evs {
		mark := len(buf)
		if n > 0 {
			buf = append(buf, ',')
			if keepLast {
				commas = append(commas, mark)
			}
		}
		buf = ev.AppendJSON(buf, store, light)
		if !keepLast && maxBytes > 0 && len(buf)+1 > maxBytes {
			buf = buf[:mark]
			truncated = true
			break
		}
		n++
	}
	if keepLast && maxBytes > 0 && len(buf)+1 > maxBytes {
		// The estimate was short: drop the oldest. The comma before the
		// first kept event becomes the array's opening bracket.
		k := 0
		for k < len(commas) && len(buf)-commas[k]+1 > maxBytes {
			k++
		}
		if k == len(commas) {
			return []byte("[]"), 0, true
		}
		buf = buf[commas[k]:]
		buf[0] = '['
		n -= k + 1
		truncated = true
	}
	return append(buf, ']'), n, truncated
}

// renderNewest renders the newest events that fit in maxBytes, newest
// first so rendering stops at the limit, then puts them back in order.
func renderNewest(evs []*event.Event, store string, light bool, maxBytes int) ([]byte, int, bool) {
	buf := make([]byte, 0, maxBytes+1024)
	ends := make([]int, 0, len(evs))
	truncated := false
	for i := len(evs) - 1; i >= 0; i-- {
		start := len(buf)
		buf = evs[i].AppendJSON(buf, store, light)
		if len(buf)+len(ends)+2 > maxBytes {
			buf = buf[:start]
			truncated = true
			break
		}
		ends = append(ends, len(buf))
	}
	out := make([]byte, 1, len(buf)+len(ends)+2)
	out[0] = '['
	for k := len(ends) - 1; k >= 0; k-- {
		start := 0
		if k > 0 {
			start = ends[k-1]
		}
		if k < len(ends)-1 {
			out = append(out, ',')
		}
		out = append(out, buf[start:ends[k]]...)
	}
	return append(out, ']'), len(ends), truncated
}

// renderedSize estimates the rendered size of events so the buffer is
// allocated once: the header and index take about 300 bytes.
func renderedSize(evs []*event.Event, store string, light bool, maxBytes int) int {
	n := 0
	for _, ev := range evs {
		n += 300 + len(store) + len(ev.Topic)
		if !light {
			n += len(ev.Payload())
		}
	}
	if maxBytes > 0 {
		n = min(n, maxBytes+1024)
	}
	return n
}
