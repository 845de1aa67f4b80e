// Package store is the in-memory topic store: named stores, each with its
// own seq counter and topics, each topic a ring of its newest events (see
// Topic) and each store a log of its events in seq order. One RWMutex
// guards everything: a write batch (possibly spanning stores) applies
// atomically and in order; reads copy event views under the read lock and
// render them after releasing it, so they do not stall writers for long.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"
	"unsafe"

	"github.com/messageplane/mp/internal/protocol"
	"github.com/messageplane/mp/services/store/internal/event"
	"github.com/messageplane/mp/services/store/internal/logrec"
)

// Config is the store's authority over stores and retention.
type Config struct {
	Stores      []string
	TopicMax    int // topics per store
	TopicMaxLen int // events retained per topic
	// Now returns Unix seconds; tests replace it.
	Now func() float64
	// Log is the log of record; nil keeps the events in memory only.
	Log logrec.Log
	// Logger reports trouble following the log (nil: discarded).
	Logger *slog.Logger
}

// Error is a refusal with a docs/PROTOCOL.md error code.
type Error struct {
	Code protocol.Code
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

func refusal(c protocol.Code) *Error { return &Error{c, c.Message()} }

var (
	ErrInvalidStore = refusal(protocol.InvalidStore)
	ErrAheadOfHead  = refusal(protocol.OutOfRange)
)

// Service holds every store.
type Service struct {
	cfg    Config
	epoch  string
	names  []string // sorted
	mu     sync.RWMutex
	stores map[string]*Store
	dedup  map[string]*dedupEntry

	// With a log of record:
	log     logrec.Log
	ready   chan struct{}       // closed once the view has caught up with the log
	writeMu sync.Mutex          // one write at a time
	applied map[string]*applied // producers' last batches, as the log holds them
}

// Store is one named store.
type Store struct {
	name   string
	seq    uint64 // highest seq assigned
	topics map[string]*Topic
	byID   map[uint32]*Topic
	nextID uint32
	log    []logEntry    // every retained event in seq order, plus removed ones not yet compacted
	dead   int           // removed events still in log
	notify chan struct{} // closed and replaced whenever events are added

	retained      int    // events held by the store's topics
	retainedBytes int    // their memory: bytes, record and log entry
	evicted       uint64 // events pushed out by MP_TOPIC_MAXLEN
	resumes       uint64 // times following the log broke and started again

	pending map[string][]pendingPart // a replace's records until its last arrives (log of record)
}

// logEntry places one event in its store's seq order: its topic and its
// number there (the low 32 bits: a topic never holds 2**32 events, and the
// seq check in resolve catches an entry older than that).
type logEntry struct {
	seq   uint64
	topic uint32
	pos   uint32
}

// perEvent is what an event costs the store beside its bytes.
const perEvent = recordSize + int(unsafe.Sizeof(logEntry{}))

// New builds an empty service with a fresh epoch.
func New(cfg Config) (*Service, error) {
	if len(cfg.Stores) == 0 {
		return nil, errors.New("no stores configured")
	}
	if cfg.TopicMax < 1 || cfg.TopicMaxLen < 1 {
		return nil, errors.New("topic limits must be at least 1")
	}
	if cfg.Now == nil {
		cfg.Now = func() float64 { return float64(time.Now().UnixNano()) / 1e9 }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, stores: map[string]*Store{}, dedup: map[string]*dedupEntry{}, ready: make(chan struct{}),
		log: cfg.Log, applied: map[string]*applied{}}
	if s.log != nil {
		s.epoch = s.log.Epoch()
	} else {
		s.epoch = logrec.NewEpoch()
		close(s.ready) // the view is the whole record: nothing to load
	}
	for _, n := range cfg.Stores {
		if n == "" {
			return nil, errors.New("empty store name")
		}
		if _, dup := s.stores[n]; dup {
			return nil, fmt.Errorf("store %q listed twice", n)
		}
		s.stores[n] = &Store{name: n, topics: map[string]*Topic{}, byID: map[uint32]*Topic{}, notify: make(chan struct{})}
		s.names = append(s.names, n)
	}
	sort.Strings(s.names)
	return s, nil
}

// Epoch identifies this incarnation of the store: a new one at every start
// of the in-memory store, the log's with a log of record.
func (s *Service) Epoch() string { return s.epoch }

// Run keeps the view in step with the log of record until ctx ends (with
// no log it just waits).
func (s *Service) Run(ctx context.Context) {
	if s.log == nil {
		<-ctx.Done()
		return
	}
	s.follow(ctx, s.ready)
}

// Ready is closed once the view shows everything the log held at start.
func (s *Service) Ready() <-chan struct{} { return s.ready }

// Loaded reports nil once the view shows everything the log held at start.
func (s *Service) Loaded() error {
	select {
	case <-s.ready:
		return nil
	default:
		return ErrNotReady
	}
}

// Names are the store names, sorted.
func (s *Service) Names() []string { return s.names }

// Config returns the configuration in force.
func (s *Service) Config() Config { return s.cfg }

// Head is one store's position.
type Head struct {
	Name          string
	HeadSeq       uint64
	TopicCount    int
	Retained      int    // events retained
	RetainedBytes int    // their approximate memory
	Evicted       uint64 // events evicted by the per-topic limit since start
	LogResumes    uint64 // times following the log of record broke and resumed
}

// Heads returns every store's head seq and topic count, sorted by name.
func (s *Service) Heads() []Head {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Head, 0, len(s.names))
	for _, n := range s.names {
		st := s.stores[n]
		out = append(out, Head{Name: n, HeadSeq: st.seq, TopicCount: len(st.topics), Retained: st.retained, RetainedBytes: st.retainedBytes, Evicted: st.evicted, LogResumes: st.resumes})
	}
	return out
}

func (s *Service) store(name string) (*Store, error) {
	st, ok := s.stores[name] // the map is never written after New
	if !ok {
		return nil, ErrInvalidStore
	}
	return st, nil
}

// TopicInfo describes one topic for list_topics.
type TopicInfo struct {
	Topic      string
	Count      int
	CountTotal uint64
	CreatedAt  float64
	LastTS     float64
	LastSeq    uint64
}

// ListTopics returns a store's topics, last written first.
func (s *Service) ListTopics(store string) ([]TopicInfo, error) {
	st, err := s.store(store)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	out := make([]TopicInfo, 0, len(st.topics))
	for _, t := range st.topics {
		out = append(out, TopicInfo{Topic: t.name, Count: t.len(), CountTotal: t.countTotal, CreatedAt: t.createdAt, LastTS: t.lastTS, LastSeq: t.lastSeq})
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b TopicInfo) int {
		if a.LastSeq != b.LastSeq {
			if a.LastSeq > b.LastSeq {
				return -1
			}
			return 1
		}
		if a.Topic < b.Topic {
			return -1
		}
		return 1
	})
	return out, nil
}

// newTopic creates a topic; the caller checks the topic limit.
func (st *Store) newTopic(name string, now float64) *Topic {
	st.nextID++
	t := &Topic{name: name, id: st.nextID, createdAt: now}
	st.topics[name] = t
	st.byID[t.id] = t
	return t
}

// add stores one accepted event with its seq (above every seq the store
// holds), evicting the topic's oldest when full, and returns a view of it.
func (st *Store) add(t *Topic, d *event.Draft, seq uint64, ts float64, maxLen int) event.Event {
	st.seq = seq
	evicted, abs := t.push(d.Fields(seq, ts), d, maxLen)
	if evicted.size > 0 {
		st.dead++
		st.retained--
		st.retainedBytes -= int(evicted.size) + perEvent
		st.evicted++
	}
	st.log = append(st.log, logEntry{seq: seq, topic: t.id, pos: uint32(abs)})
	st.retained++
	st.retainedBytes += d.Size() + perEvent
	t.countTotal++
	t.lastTS = ts
	t.lastSeq = seq
	return t.view(t.len() - 1)
}

// find returns the event with seq, if the store still holds it.
func (st *Store) find(seq uint64) (event.Event, bool) {
	i := st.logAfter(seq - 1)
	if i < len(st.log) && st.log[i].seq == seq {
		if t, k, ok := st.resolve(st.log[i]); ok {
			return t.view(k), true
		}
	}
	return event.Event{}, false
}

// dropTopic removes a topic and all its events.
func (st *Store) dropTopic(t *Topic) {
	st.dead += t.len()
	st.retained -= t.len()
	st.retainedBytes -= t.bytes + t.len()*perEvent
	delete(st.topics, t.name)
	delete(st.byID, t.id)
}

// resolve finds the topic and position of a log entry's event, if it is
// still retained.
func (st *Store) resolve(e logEntry) (*Topic, int, bool) {
	t := st.byID[e.topic]
	if t == nil {
		return nil, 0, false
	}
	abs := t.nextAbs - uint64(uint32(t.nextAbs)-e.pos)
	i, ok := t.find(abs, e.seq)
	return t, i, ok
}

// compact drops removed events from the seq log once they are the majority,
// which keeps the log within twice the retained events at O(1) amortized.
func (st *Store) compact() {
	if st.dead < 1024 || st.dead*2 < len(st.log) {
		return
	}
	kept := st.log[:0]
	for _, e := range st.log {
		if _, _, ok := st.resolve(e); ok {
			kept = append(kept, e)
		}
	}
	st.log = kept
	st.dead = 0
	if cap(st.log) > 4*len(st.log)+1024 {
		st.log = append([]logEntry(nil), st.log...)
	}
}

// wake tells watchers that events were added.
func (st *Store) wake() {
	close(st.notify)
	st.notify = make(chan struct{})
}

// logAfter returns the position in the log of the first event with seq > after.
func (st *Store) logAfter(after uint64) int {
	return sort.Search(len(st.log), func(i int) bool { return st.log[i].seq > after })
}

// scan calls fn with the topic and position of each retained event from
// log position i on, in seq order, until fn returns false.
func (st *Store) scan(i int, fn func(t *Topic, k int) bool) {
	for ; i < len(st.log); i++ {
		if t, k, ok := st.resolve(st.log[i]); ok && !fn(t, k) {
			return
		}
	}
}

// scanBack is scan from the newest event backwards.
func (st *Store) scanBack(fn func(t *Topic, k int) bool) {
	for i := len(st.log) - 1; i >= 0; i-- {
		if t, k, ok := st.resolve(st.log[i]); ok && !fn(t, k) {
			return
		}
	}
}
