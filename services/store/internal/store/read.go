package store

import (
	"context"

	"github.com/messageplane/mp/internal/bufpool"
	"github.com/messageplane/mp/internal/wire"
	"github.com/messageplane/mp/services/store/internal/event"
)

// ReadOpts are the options every read takes. Limit is already clamped by
// the edge; MaxBytes bounds the summed size of the rendered events (0:
// none); Encoding is the reply's.
type ReadOpts struct {
	Limit    int
	Light    bool
	MaxBytes int
	Encoding Encoding
	// MinSeq is a seq the caller has seen: the read waits until the view
	// shows it (another replica may have shown it first).
	MinSeq uint64
}

// Result is a read's answer: the events rendered as one array.
type Result struct {
	Items     []byte // a JSON or msgpack array
	Count     int
	Truncated bool
	HeadSeq   uint64
	Epoch     string
}

// caughtUp waits, within catchUpWait and ctx, until the view shows seq of
// st; a read asks it for the seq its caller has seen.
func (s *Service) caughtUp(ctx context.Context, st *Store, seq uint64) error {
	if seq == 0 || s.log == nil {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, catchUpWait)
	defer cancel()
	if err := s.waitShown(wctx, st, seq); err != nil {
		return ErrNotReady
	}
	return nil
}

// AllTopics is the topic argument meaning every topic of a store.
const AllTopics = ""

// GetRecent returns the newest o.Limit events of a topic (or of the store),
// oldest first; truncation keeps the newest.
func (s *Service) GetRecent(ctx context.Context, store, topic string, o ReadOpts) (Result, error) {
	if err := s.Loaded(); err != nil {
		return Result{}, err
	}
	st, err := s.store(store)
	if err != nil {
		return Result{}, err
	}
	if err := s.caughtUp(ctx, st, o.MinSeq); err != nil {
		return Result{}, err
	}
	snap := getSnapshot()
	defer snap.release()
	s.mu.RLock()
	st.read(snap, topic, o.Limit, false)
	head := st.seq
	s.mu.RUnlock()
	return s.result(st, snap, o, true, head), nil
}

// GetSince returns the first o.Limit events with seq > after, ascending;
// truncation keeps the lowest seqs.
func (s *Service) GetSince(ctx context.Context, store, topic string, after uint64, o ReadOpts) (Result, error) {
	if err := s.Loaded(); err != nil {
		return Result{}, err
	}
	st, err := s.store(store)
	if err != nil {
		return Result{}, err
	}
	if err := s.caughtUp(ctx, st, o.MinSeq); err != nil {
		return Result{}, err
	}
	snap := getSnapshot()
	defer snap.release()
	s.mu.RLock()
	if topic == AllTopics {
		st.scan(st.logAfter(after), func(t *Topic, k int) bool {
			snap.add(t, k)
			return snap.len() < o.Limit
		})
	} else if t := st.topics[topic]; t != nil {
		from := t.after(after)
		for k := from; k < min(t.len(), from+o.Limit); k++ {
			snap.add(t, k)
		}
	}
	head := st.seq
	s.mu.RUnlock()
	return s.result(st, snap, o, false, head), nil
}

// Filter is bus.query's conditions; unset ones are not checked.
type Filter struct {
	Equals           []Equal // string index keys that must hold a value
	PriorityMin      *int64
	SinceTS, UntilTS *float64
}

// Equal is one exact-match condition on a string index key.
type Equal struct {
	Key   int // event.StrKey
	Value string
}

// Match reports whether ev satisfies every set condition.
func (f *Filter) Match(ev *event.Event) bool {
	for _, eq := range f.Equals {
		if !ev.StrEquals(eq.Key, eq.Value) {
			return false
		}
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
func (s *Service) Query(ctx context.Context, store, topic string, f Filter, o ReadOpts) (Result, error) {
	if err := s.Loaded(); err != nil {
		return Result{}, err
	}
	st, err := s.store(store)
	if err != nil {
		return Result{}, err
	}
	if err := s.caughtUp(ctx, st, o.MinSeq); err != nil {
		return Result{}, err
	}
	snap := getSnapshot()
	defer snap.release()
	match := func(t *Topic, k int) bool {
		if ev := t.view(k); f.Match(&ev) {
			snap.add(t, k)
		}
		return snap.len() < o.Limit
	}
	s.mu.RLock()
	if topic == AllTopics {
		st.scanBack(match)
	} else if t := st.topics[topic]; t != nil {
		for k := t.len() - 1; k >= 0 && match(t, k); k-- {
		}
	}
	head := st.seq
	s.mu.RUnlock()
	return s.result(st, snap, o, false, head), nil
}

// read copies a topic's (or with AllTopics, the store's) newest limit
// events, or all of them, ascending. Caller holds the lock.
func (st *Store) read(snap *snapshot, topic string, limit int, all bool) {
	if topic == AllTopics {
		st.scanBack(func(t *Topic, k int) bool {
			snap.add(t, k)
			return all || snap.len() < limit
		})
		snap.reverse()
		return
	}
	t := st.topics[topic]
	if t == nil {
		return
	}
	n := t.len()
	from := 0
	if !all {
		from = max(0, n-limit)
	}
	for k := from; k < n; k++ {
		snap.add(t, k)
	}
}

// result renders events outside the lock (their bytes never change). With
// keepLast, truncation drops from the front instead of the back.
func (s *Service) result(st *Store, snap *snapshot, o ReadOpts, keepLast bool, head uint64) Result {
	r := Result{HeadSeq: head, Epoch: s.epoch}
	r.Items, r.Count, r.Truncated = render(snap.len(), snap.event, st.name, o, keepLast)
	return r
}

// render renders count events (the i-th from ev(i)) as one array in
// o.Encoding. When o.MaxBytes > 0 and the array would exceed it, events are
// cut from the back, or from the front with keepLast.
func render(count int, ev func(int) event.Event, store string, o ReadOpts, keepLast bool) ([]byte, int, bool) {
	r := event.Renderer{Store: store, Light: o.Light}
	msgpack := o.Encoding == Msgpack
	truncated := false
	first := 0
	if keepLast && o.MaxBytes > 0 {
		if first = firstThatFits(&r, count, ev, msgpack, o.MaxBytes); first > 0 {
			truncated = true
		}
	}
	size := 0
	for i := first; i < count; i++ {
		e := ev(i)
		size += r.JSONSize(&e)
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
	for i := first; i < count; i++ {
		e := ev(i)
		mark := len(buf)
		if !msgpack && n > 0 {
			buf = append(buf, ',')
		}
		if msgpack {
			buf = r.AppendMsgpack(buf, &e)
		} else {
			buf = r.AppendJSON(buf, &e)
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
// nothing when an estimate from above shows all of them fit.
func firstThatFits(r *event.Renderer, count int, ev func(int) event.Event, msgpack bool, maxBytes int) int {
	est := 0
	for i := 0; i < count; i++ {
		e := ev(i)
		est += r.JSONSize(&e) + 1
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
	for i := count - 1; i >= 0; i-- {
		e := ev(i)
		if msgpack {
			scratch = r.AppendMsgpack(scratch[:0], &e)
			total += len(scratch)
		} else {
			scratch = r.AppendJSON(scratch[:0], &e)
			total += len(scratch) + 1
		}
		if total > maxBytes {
			return i + 1
		}
	}
	return 0
}
