// Package logrec is the contract between the store's view and a log of
// record (the JetStream backend): what a log keeps of each event, and what
// the view asks of it.
package logrec

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
)

// ErrUnavailable wraps a log's failure to take or confirm a write in time
// (its servers unreachable, electing a leader, an acknowledgement lost):
// the write may or may not have been recorded, and retrying it is right.
// A producer's retry is recorded once (Record.Producer).
var ErrUnavailable = errors.New("the log of record is unavailable")

// Log is a log of record: every store's events, in seq order, kept outside
// this process, so that a restart loses nothing. The in-memory topics,
// rings and indexes (the view) are built from it at start and follow it;
// a write is appended to it first and answered once the view shows it.
// Without a Log the view is the only record (the memory backend).
type Log interface {
	// Epoch identifies the log's incarnation: it changes only when the
	// log is created anew (and seqs start again at 1).
	Epoch() string
	// Append records appends to store, in order, and returns their seqs.
	Append(ctx context.Context, store string, recs []Record) ([]uint64, error)
	// Replace records a replace of topic atomically: all of recs (at least
	// one) or none, earlier events of the topic gone with them.
	Replace(ctx context.Context, store, topic string, recs []Record) ([]uint64, error)
	// Remove removes a topic and all its events.
	Remove(ctx context.Context, store, topic string) error
	// Follow hands apply every record of store with seq > after, in seq
	// order and in runs, then each new one as it is recorded, until ctx
	// ends. caughtUp is called once the records recorded before the call
	// have been handed over, with the highest seq the log had assigned
	// then (its records may be gone since: evicted or removed).
	Follow(ctx context.Context, store string, after uint64, apply func([]Record), caughtUp func(head uint64)) error
}

// Record is one event as the log keeps it: what the view needs to show it
// exactly as it was shown before a restart.
type Record struct {
	Seq        uint64 // set by the log
	Topic      string
	TS         float64
	CountTotal uint64  // the topic's count_total with this event
	CreatedAt  float64 // the topic's created_at
	Payload    []byte
	// A replace is recorded as Parts records; Part counts from 1. The view
	// shows them all at once, when the last arrives. Appends have Parts 0.
	Part, Parts int
	// The write it came from, to de-duplicate a producer's retry across a
	// restart: its producer, batch number and position in the batch.
	Producer string
	Batch    uint64
	Item     int
}

// NewEpoch is a fresh epoch: 16 hex characters.
func NewEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
