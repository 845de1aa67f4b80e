package store

import "github.com/messageplane/mp/internal/protocol"

// The store's own vocabulary for writes and reads; the gRPC server maps the
// internal contract (proto/messageplane/v1) onto it.

// Encoding is how the store renders the events it returns.
type Encoding uint8

const (
	JSON Encoding = iota
	Msgpack
)

// Batch is one write: its ops are applied in order.
type Batch struct {
	// Producer and Number are the idempotency key: a batch repeating its
	// producer's previous number is answered from the first application.
	// An empty Producer means no de-duplication.
	Producer     string
	Number       uint64
	Ops          []Op
	ReturnEvents bool
}

// Op appends one event, or with Replace replaces a topic's events with one
// new event per payload (none: the topic is removed).
type Op struct {
	Store, Topic string
	Replace      bool
	Payloads     [][]byte
	Deadline     int64    // Unix ns, an append's: past it the item is skipped; 0: none
	Encoding     Encoding // of the returned event
}

// ItemResult answers one item (one per payload).
type ItemResult struct {
	Seq     uint64
	Event   []byte              // the stored event, with Batch.ReturnEvents
	Refused *protocol.Violation // the rule it broke; nil when stored or expired
	Expired bool                // skipped: its deadline had passed
}

// WriteResult answers a batch, one item result per payload, in order.
type WriteResult struct {
	Items     []ItemResult
	Epoch     string
	Duplicate bool // the batch had been applied before
}
