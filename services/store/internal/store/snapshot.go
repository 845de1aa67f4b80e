package store

import (
	"sync"

	"github.com/messageplane/mp/services/store/internal/event"
)

// snapshot is what a read copies under the lock to render after it: the
// records, which hold no pointers (so a read of ten thousand events gives
// the garbage collector nothing to scan and no write barriers), and per
// record where its bytes and topic name are, in small side tables. A
// record's bytes never change, so they need no copy.
type snapshot struct {
	recs   []record
	refs   []snapRef
	chunks [][]byte
	topics []string

	lastChunk *byte // the chunk and topic added last, so runs of records
	lastTopic *Topic
}

type snapRef struct{ chunk, topic uint32 }

var snapshots = sync.Pool{New: func() any { return new(snapshot) }}

func getSnapshot() *snapshot { return snapshots.Get().(*snapshot) }

// release hands the snapshot back for another read; its events must no
// longer be used.
func (s *snapshot) release() {
	s.recs, s.refs = s.recs[:0], s.refs[:0]
	clear(s.chunks)
	clear(s.topics)
	s.chunks, s.topics = s.chunks[:0], s.topics[:0]
	s.lastChunk, s.lastTopic = nil, nil
	snapshots.Put(s)
}

// add copies the i-th oldest record of t (caller holds the lock).
func (s *snapshot) add(t *Topic, i int) {
	r := t.at(i)
	c := t.chunks[r.chunk-t.firstChunk]
	if len(s.chunks) == 0 || &c[:1][0] != s.lastChunk {
		s.chunks = append(s.chunks, c)
		s.lastChunk = &c[:1][0]
	}
	if t != s.lastTopic {
		s.topics = append(s.topics, t.name)
		s.lastTopic = t
	}
	s.recs = append(s.recs, *r)
	s.refs = append(s.refs, snapRef{chunk: uint32(len(s.chunks) - 1), topic: uint32(len(s.topics) - 1)})
}

func (s *snapshot) len() int { return len(s.recs) }

// event returns the i-th event copied.
func (s *snapshot) event(i int) event.Event {
	r, ref := &s.recs[i], s.refs[i]
	c := s.chunks[ref.chunk]
	return event.View(r.Fields, s.topics[ref.topic], c[r.off:r.off+r.size:r.off+r.size])
}

// reverse puts the events in the opposite order.
func (s *snapshot) reverse() {
	for i, j := 0, len(s.recs)-1; i < j; i, j = i+1, j-1 {
		s.recs[i], s.recs[j] = s.recs[j], s.recs[i]
		s.refs[i], s.refs[j] = s.refs[j], s.refs[i]
	}
}
