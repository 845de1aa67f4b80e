package store

import (
	"sort"
	"unsafe"

	"github.com/messageplane/mp/services/store/internal/event"
)

// record is one retained event: its fixed fields and where its bytes are.
// Records and bytes hold no pointers, so a store of millions of events is
// a few large arrays the garbage collector does not scan.
type record struct {
	event.Fields
	chunk uint32 // the topic's chunk number holding its bytes
	off   uint32 // offset of its bytes in that chunk
	size  uint32 // payload and extras
}

// recordSize is what a record costs beside its bytes, for accounting.
const recordSize = int(unsafe.Sizeof(record{}))

// Chunk sizes: a topic's bytes live in chunks that double from minChunk to
// maxChunk, so a topic of one small event holds one small chunk, and a
// large topic wastes at most one chunk's slack at each end.
const (
	minChunk = 512
	maxChunk = 32 << 10
)

// Topic is one topic's retained events, oldest first, and its counters.
// Its events are a ring of records growing by doubling up to the topic's
// limit; their bytes are appended to chunks in the same order, so evicting
// the oldest event frees whole chunks from the front.
type Topic struct {
	name string
	id   uint32 // unique within its store, never reused

	recs    []record // ring
	head, n int      // position of the oldest record; records held
	nextAbs uint64   // number the next record gets (the oldest is nextAbs-n)

	chunks     [][]byte // chunks[i] is chunk number firstChunk+i
	firstChunk uint32
	bytes      int // bytes of the retained events

	countTotal uint64
	createdAt  float64
	lastTS     float64
	lastSeq    uint64
}

func (t *Topic) len() int { return t.n }

// at returns the i-th oldest record.
func (t *Topic) at(i int) *record { return &t.recs[(t.head+i)%len(t.recs)] }

// data returns a record's bytes. Chunks are only ever appended to, and a
// chunk dropped from the topic stays alive while a reader holds its bytes,
// so the slice stays valid after the lock is released.
func (t *Topic) data(r *record) []byte {
	c := t.chunks[r.chunk-t.firstChunk]
	return c[r.off : r.off+r.size : r.off+r.size]
}

// view returns the i-th oldest event.
func (t *Topic) view(i int) event.Event {
	r := t.at(i)
	return event.View(r.Fields, t.name, t.data(r))
}

// push appends an event and, when the topic holds maxLen, evicts the
// oldest; it returns the evicted record (size 0 when none) and the new
// record's number.
func (t *Topic) push(f event.Fields, d *event.Draft, maxLen int) (evicted record, abs uint64) {
	size := d.Size()
	last := len(t.chunks) - 1
	if last < 0 || cap(t.chunks[last])-len(t.chunks[last]) < size {
		c := minChunk
		if last >= 0 {
			c = min(2*cap(t.chunks[last]), maxChunk)
		}
		t.chunks = append(t.chunks, make([]byte, 0, max(c, size)))
		last++
	}
	off := len(t.chunks[last])
	t.chunks[last] = d.AppendTo(t.chunks[last])
	r := record{Fields: f, chunk: t.firstChunk + uint32(last), off: uint32(off), size: uint32(size)}

	if t.n == len(t.recs) && t.n < maxLen {
		grown := make([]record, min(max(4, 2*len(t.recs)), maxLen))
		for i := 0; i < t.n; i++ {
			grown[i] = *t.at(i)
		}
		t.recs, t.head = grown, 0
	}
	if t.n == len(t.recs) { // full at maxLen: the newest replaces the oldest
		evicted = t.recs[t.head]
		t.recs[t.head] = r
		t.head = (t.head + 1) % len(t.recs)
		t.bytes -= int(evicted.size)
		t.dropChunks()
	} else {
		t.recs[(t.head+t.n)%len(t.recs)] = r
		t.n++
	}
	t.bytes += size
	abs = t.nextAbs
	t.nextAbs++
	return evicted, abs
}

// dropChunks releases the chunks before the oldest record's.
func (t *Topic) dropChunks() {
	oldest := t.at(0).chunk
	k := 0
	for t.firstChunk+uint32(k) < oldest {
		t.chunks[k] = nil
		k++
	}
	if k == 0 {
		return
	}
	t.chunks = t.chunks[k:]
	t.firstChunk += uint32(k)
	if cap(t.chunks) > 2*len(t.chunks)+8 {
		t.chunks = append([][]byte(nil), t.chunks...)
	}
}

// find returns the position of record number abs, if it is retained and
// holds seq.
func (t *Topic) find(abs, seq uint64) (int, bool) {
	oldest := t.nextAbs - uint64(t.n)
	if abs < oldest || abs >= t.nextAbs {
		return 0, false
	}
	i := int(abs - oldest)
	return i, t.at(i).Seq == seq
}

// after returns the position of the first record with seq > seq.
func (t *Topic) after(seq uint64) int {
	return sort.Search(t.n, func(i int) bool { return t.at(i).Seq > seq })
}

// views appends events [from, to) in order.
func (t *Topic) views(dst []event.Event, from, to int) []event.Event {
	for i := from; i < to; i++ {
		dst = append(dst, t.view(i))
	}
	return dst
}
