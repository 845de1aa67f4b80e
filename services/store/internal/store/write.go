package store

import (
	"context"
	"time"

	"github.com/messageplane/mp/internal/protocol"
	"github.com/messageplane/mp/services/store/internal/event"
)

// maxProducers bounds the idempotency table; a producer forgotten here only
// loses de-duplication of a retry that comes after thousands of others.
const maxProducers = 4096

type dedupEntry struct {
	number uint64
	result *WriteResult
}

// prepared is one write op with its payloads parsed outside the lock.
type prepared struct {
	*Op
	drafts []*event.Draft // nil entry: the payload is not a JSON object
}

// Write applies a batch of appends and replaces in order, atomically, and
// answers one result per item. A batch repeating the producer's previous
// number is answered from the first application. Work whose context has
// ended is refused before anything is applied; an item whose own deadline
// has passed is skipped. The returned events are rendered after the lock is
// released.
func (s *Service) Write(ctx context.Context, b *Batch) (*WriteResult, error) {
	ops := make([]prepared, len(b.Ops))
	items := 0
	for i := range b.Ops {
		op := &b.Ops[i]
		if !op.Replace && len(op.Payloads) != 1 {
			return nil, &Error{protocol.BadArgs, "an append carries one payload"}
		}
		ops[i] = prepared{Op: op, drafts: make([]*event.Draft, len(op.Payloads))}
		for k, p := range op.Payloads {
			ops[i].drafts[k] = draft(p)
		}
		items += len(op.Payloads)
	}
	if s.log != nil {
		return s.writeLogged(ctx, b, ops)
	}
	res, stored, err := s.apply(ctx, b, ops, items)
	renderStored(stored)
	return res, err
}

// storedEvent is an event a write returns, rendered after the lock.
type storedEvent struct {
	result   *ItemResult
	store    string
	ev       event.Event
	encoding Encoding
}

// renderStored renders the events a write returns into their results.
func renderStored(stored []storedEvent) {
	for _, st := range stored {
		r := event.Renderer{Store: st.store}
		if st.encoding == Msgpack {
			st.result.Event = r.AppendMsgpack(make([]byte, 0, r.JSONSize(&st.ev)), &st.ev)
		} else {
			st.result.Event = r.AppendJSON(make([]byte, 0, r.JSONSize(&st.ev)), &st.ev)
		}
	}
}

func (s *Service) apply(ctx context.Context, b *Batch, ops []prepared, items int) (*WriteResult, []storedEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if b.Producer != "" {
		if d := s.dedup[b.Producer]; d != nil && d.number == b.Number {
			return &WriteResult{Items: d.result.Items, Epoch: d.result.Epoch, Duplicate: true}, nil, nil
		}
	}

	now := s.cfg.Now()
	wall := time.Now().UnixNano()
	res := &WriteResult{Epoch: s.epoch, Items: make([]ItemResult, 0, items)}
	type returned struct {
		item  int
		store string
		ev    event.Event
		enc   Encoding
	}
	var ret []returned
	touched := map[*Store]bool{}
	for i := range ops {
		op := &ops[i]
		if op.Deadline != 0 && wall > op.Deadline {
			// Its caller has stopped waiting and will hear UNAVAILABLE:
			// storing it anyway would make that answer a lie.
			res.Items = append(res.Items, ItemResult{Expired: true})
			continue
		}
		first := len(res.Items)
		var evs []event.Event
		res.Items, evs = s.applyOp(op, now, res.Items, touched)
		if b.ReturnEvents {
			k := 0
			for j := first; j < len(res.Items); j++ {
				if res.Items[j].Refused == nil {
					ret = append(ret, returned{j, op.Store, evs[k], op.Encoding})
					k++
				}
			}
		}
	}
	for st := range touched {
		st.compact()
		st.wake()
	}
	// Results are final now that Items no longer grows.
	stored := make([]storedEvent, len(ret))
	for i, r := range ret {
		stored[i] = storedEvent{result: &res.Items[r.item], store: r.store, ev: r.ev, encoding: r.enc}
	}

	if b.Producer != "" {
		if _, known := s.dedup[b.Producer]; !known && len(s.dedup) >= maxProducers {
			for k := range s.dedup { // evict an arbitrary producer
				delete(s.dedup, k)
				break
			}
		}
		// A retry may read this answer as soon as the lock is released:
		// it must be whole by then.
		renderStored(stored)
		stored = nil
		s.dedup[b.Producer] = &dedupEntry{number: b.Number, result: res}
	}
	return res, stored, nil
}

func draft(payload []byte) *event.Draft {
	d, err := event.NewDraft(payload)
	if err != nil {
		return nil
	}
	return d
}

// applyOp runs one op under the write lock, appends its results and
// returns the events it stored.
func (s *Service) applyOp(op *prepared, now float64, out []ItemResult, touched map[*Store]bool) ([]ItemResult, []event.Event) {
	rejectAll := func(v *protocol.Violation) []ItemResult {
		for _, d := range op.drafts {
			if d == nil {
				out = append(out, ItemResult{Refused: protocol.ViolBadPayload})
			} else {
				out = append(out, ItemResult{Refused: v})
			}
		}
		return out
	}
	st, ok := s.stores[op.Store]
	if !ok {
		return rejectAll(protocol.ViolInvalidStore), nil
	}
	// The name's length is the edges' rule (MP_TOPIC_NAME_MAX_LEN).
	if v := protocol.CheckTopic(op.Topic, 0); v != nil {
		return rejectAll(v), nil
	}
	t := st.topics[op.Topic]
	valid := 0
	for _, d := range op.drafts {
		if d != nil {
			valid++
		}
	}
	if op.Replace {
		if t == nil && valid > 0 && len(st.topics) >= s.cfg.TopicMax {
			return rejectAll(protocol.ViolTooManyTopics), nil
		}
		if t != nil {
			st.dropTopic(t)
			t = nil
		}
		touched[st] = true
	} else if t == nil && valid > 0 && len(st.topics) >= s.cfg.TopicMax {
		return rejectAll(protocol.ViolTooManyTopics), nil
	}
	evs := make([]event.Event, 0, valid)
	for _, d := range op.drafts {
		if d == nil {
			out = append(out, ItemResult{Refused: protocol.ViolBadPayload})
			continue
		}
		if t == nil {
			t = st.newTopic(op.Topic, now)
		}
		ev := st.add(t, d, st.seq+1, now, s.cfg.TopicMaxLen)
		out = append(out, ItemResult{Seq: ev.Seq})
		evs = append(evs, ev)
		touched[st] = true
	}
	return out, evs
}
