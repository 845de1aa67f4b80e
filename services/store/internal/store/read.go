package store

import (
	"github.com/messageplane/mp/internal/bufpool"
	"github.com/messageplane/mp/internal/wire"
	mpv1 "github.com/messageplane/mp/proto/messageplane/v1"
	"github.com/messageplane/mp/services/store/internal/event"
)

// ReadOpts are the options every read takes. Limit is already clamped by
// the edge; MaxBytes bounds the summed size of the rendered events (0:
// none); Encoding is the reply's.
type ReadOpts struct {
	Limit    int
	Light    bool
	MaxBytes int
	Encoding mpv1.Encoding
}

// Result is a read's answer: the events rendered as one array.
type Result struct {
	Items     []byte // a JSON or msgpack array
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
	var evs []event.Event
	if topic == AllTopics {
		st.scan(st.logAfter(after), func(ev event.Event) bool {
			evs = append(evs, ev)
			return len(evs) < o.Limit
		})
	} else if t := st.topics[topic]; t != nil {
		from := t.after(after)
		evs = t.views(nil, from, min(t.len(), from+o.Limit))
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
	var evs []event.Event
	s.mu.RLock()
	if topic == AllTopics {
		st.scanBack(func(ev event.Event) bool {
			if f.Match(&ev) {
				evs = append(evs, ev)
			}
			return len(evs) < o.Limit
		})
	} else if t := st.topics[topic]; t != nil {
		for i := t.len() - 1; i >= 0 && len(evs) < o.Limit; i-- {
			if ev := t.view(i); f.Match(&ev) {
				evs = append(evs, ev)
			}
		}
	}
	head := st.seq
	s.mu.RUnlock()
	return s.result(st, evs, o, false, head), nil
}

// read returns a topic's (or with AllTopics, the store's) newest limit
// events, or all of them, ascending. Caller holds the lock.
func (st *Store) read(topic string, limit int, all bool) []event.Event {
	if topic == AllTopics {
		var evs []event.Event
		st.scanBack(func(ev event.Event) bool {
			evs = append(evs, ev)
			return all || len(evs) < limit
		})
		for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
			evs[i], evs[j] = evs[j], evs[i]
		}
		return evs
	}
	t := st.topics[topic]
	if t == nil {
		return nil
	}
	n := t.len()
	if all {
		return t.views(make([]event.Event, 0, n), 0, n)
	}
	from := max(0, n-limit)
	return t.views(make([]event.Event, 0, n-from), from, n)
}

// result renders events outside the lock (their bytes never change). With
// keepLast, truncation drops from the front instead of the back.
func (s *Service) result(st *Store, evs []event.Event, o ReadOpts, keepLast bool, head uint64) Result {
	r := Result{HeadSeq: head, Epoch: s.epoch}
	r.Items, r.Count, r.Truncated = Render(evs, st.name, o, keepLast)
	return r
}

// Render renders events as one array in o.Encoding. When o.MaxBytes > 0
// and the array would exceed it, events are cut from the back, or from the
// front with keepLast.
func Render(evs []event.Event, store string, o ReadOpts, keepLast bool) ([]byte, int, bool) {
	r := event.Renderer{Store: store, Light: o.Light}
	msgpack := o.Encoding == mpv1.Encoding_ENCODING_MSGPACK
	truncated := false
	if keepLast && o.MaxBytes > 0 {
		if k := firstThatFits(&r, evs, msgpack, o.MaxBytes); k > 0 {
			evs, truncated = evs[k:], true
		}
	}
	size := 0
	for i := range evs {
		size += r.JSONSize(&evs[i])
	}
	if o.MaxBytes > 0 {
		size = min(size, o.MaxBytes)
	}
	// A msgpack array's header says how many it holds: the elements are
	// rendered after room for the largest header, which is then written
	// right before them.
	const room = 5
	buf := bufpool.Get(size + room + 2) // back to the pool once sent on or copied
	if msgpack {
		buf = buf[:room]
	} else {
		buf = append(buf, '[')
	}
	n := 0
	for i := range evs {
		mark := len(buf)
		if !msgpack && n > 0 {
			buf = append(buf, ',')
		}
		if msgpack {
			buf = r.AppendMsgpack(buf, &evs[i])
		} else {
			buf = r.AppendJSON(buf, &evs[i])
		}
		if o.MaxBytes > 0 && len(buf)+1 > o.MaxBytes {
			buf = buf[:mark]
			truncated = true
			break
		}
		n++
	}
	if !msgpack {
		return append(buf, ']'), n, truncated
	}
	var h [room]byte
	head := wire.AppendMsgpackArray(h[:0], n)
	start := room - len(head)
	copy(buf[start:], head)
	return buf[start:], n, truncated
}

// firstThatFits returns the position of the oldest event such that it and
// every newer one fit in maxBytes, rendering newest first; it renders
// nothing when a quick estimate shows all of them fit.
func firstThatFits(r *event.Renderer, evs []event.Event, msgpack bool, maxBytes int) int {
	est := 0
	for i := range evs {
		est += r.JSONSize(&evs[i]) + 1
	}
	if msgpack {
		est *= 3
	}
	if est+2 <= maxBytes {
		return 0
	}
	var scratch []byte
	total := 1 // JSON: the brackets, and a comma between each two
	if msgpack {
		total = 5 // the array header at its largest
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if msgpack {
			scratch = r.AppendMsgpack(scratch[:0], &evs[i])
			total += len(scratch)
		} else {
			scratch = r.AppendJSON(scratch[:0], &evs[i])
			total += len(scratch) + 1
		}
		if total > maxBytes {
			return i + 1
		}
	}
	return 0
}
