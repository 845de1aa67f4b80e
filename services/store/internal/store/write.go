package store

import (
	"context"
	"time"

	"github.com/messageplane/mp/internal/protocol"
	mpv1 "github.com/messageplane/mp/proto/messageplane/v1"
	"github.com/messageplane/mp/services/store/internal/event"
)

// maxProducers bounds the idempotency table; a producer forgotten here only
// loses de-duplication of a retry that comes after thousands of others.
const maxProducers = 4096

type dedupEntry struct {
	batch uint64
	resp  *mpv1.WriteResponse
}

// prepared is one write op with its payloads parsed outside the lock.
type prepared struct {
	store, topic string
	replace      bool
	deadline     int64          // Unix ns; 0: none (items only)
	encoding     mpv1.Encoding  // of the returned event (items only)
	drafts       []*event.Draft // nil entry: the payload is not a JSON object
}

// Write applies a batch of appends and replaces in order, atomically, and
// answers one result per item. A batch repeating the producer's previous
// (producer_id, batch) is answered from the first application. Work whose
// deadline has passed is refused before anything is applied; an item whose
// own deadline has passed is skipped (REJECT_EXPIRED). The returned events
// are rendered after the lock is released.
func (s *Service) Write(ctx context.Context, req *mpv1.WriteRequest) (*mpv1.WriteResponse, error) {
	ops := make([]prepared, len(req.GetOps()))
	items := 0
	for i, op := range req.GetOps() {
		switch x := op.GetOp().(type) {
		case *mpv1.WriteOp_Item:
			ops[i] = prepared{store: x.Item.GetStore(), topic: x.Item.GetTopic(), deadline: x.Item.GetDeadline(),
				encoding: x.Item.GetEncoding(), drafts: []*event.Draft{draft(x.Item.GetPayload())}}
			items++
		case *mpv1.WriteOp_Replace:
			p := prepared{store: x.Replace.GetStore(), topic: x.Replace.GetTopic(), replace: true}
			for _, pl := range x.Replace.GetPayloads() {
				p.drafts = append(p.drafts, draft(pl))
			}
			items += len(p.drafts)
			ops[i] = p
		default:
			return nil, &Error{protocol.BadArgs, "empty write op"}
		}
	}

	resp, stored, err := s.apply(ctx, req, ops, items)
	renderStored(stored)
	return resp, err
}

// renderStored renders the events a write returns into their results.
func renderStored(stored []storedEvent) {
	for _, st := range stored {
		r := event.Renderer{Store: st.store}
		if st.encoding == mpv1.Encoding_ENCODING_MSGPACK {
			st.result.Event = r.AppendMsgpack(make([]byte, 0, r.JSONSize(&st.ev)), &st.ev)
		} else {
			st.result.Event = r.AppendJSON(make([]byte, 0, r.JSONSize(&st.ev)), &st.ev)
		}
	}
}

// storedEvent is an event a write returns, rendered after the lock.
type storedEvent struct {
	result   *mpv1.WriteResult
	store    string
	ev       event.Event
	encoding mpv1.Encoding
}

func (s *Service) apply(ctx context.Context, req *mpv1.WriteRequest, ops []prepared, items int) (*mpv1.WriteResponse, []storedEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	producer := req.GetProducerId()
	if producer != "" {
		if d := s.dedup[producer]; d != nil && d.batch == req.GetBatch() {
			return &mpv1.WriteResponse{Results: d.resp.Results, Epoch: d.resp.Epoch, Duplicate: true}, nil, nil
		}
	}

	now := s.cfg.Now()
	wall := time.Now().UnixNano()
	resp := &mpv1.WriteResponse{Epoch: s.epoch, Results: make([]*mpv1.WriteResult, 0, items)}
	var stored []storedEvent
	touched := map[*Store]bool{}
	for i := range ops {
		op := &ops[i]
		if op.deadline != 0 && wall > op.deadline {
			// Its caller has stopped waiting and will hear UNAVAILABLE:
			// storing it anyway would make that answer a lie.
			resp.Results = append(resp.Results, &mpv1.WriteResult{Reject: mpv1.Reject_REJECT_EXPIRED})
			continue
		}
		first := len(resp.Results)
		var evs []event.Event
		resp.Results, evs = s.applyOp(op, now, resp.Results, touched)
		if req.GetReturnEvents() {
			k := 0
			for j := first; j < len(resp.Results); j++ {
				if resp.Results[j].Reject == mpv1.Reject_REJECT_NONE {
					stored = append(stored, storedEvent{result: resp.Results[j], store: op.store, ev: evs[k], encoding: op.encoding})
					k++
				}
			}
		}
	}
	for st := range touched {
		st.compact()
		st.wake()
	}

	if producer != "" {
		if _, known := s.dedup[producer]; !known && len(s.dedup) >= maxProducers {
			for k := range s.dedup { // evict an arbitrary producer
				delete(s.dedup, k)
				break
			}
		}
		// A retry may read this answer as soon as the lock is released:
		// it must be whole by then.
		renderStored(stored)
		stored = nil
		s.dedup[producer] = &dedupEntry{batch: req.GetBatch(), resp: resp}
	}
	return resp, stored, nil
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
func (s *Service) applyOp(op *prepared, now float64, out []*mpv1.WriteResult, touched map[*Store]bool) ([]*mpv1.WriteResult, []event.Event) {
	rejectAll := func(r mpv1.Reject) []*mpv1.WriteResult {
		for _, d := range op.drafts {
			if d == nil {
				out = append(out, &mpv1.WriteResult{Reject: mpv1.Reject_REJECT_BAD_PAYLOAD})
			} else {
				out = append(out, &mpv1.WriteResult{Reject: r})
			}
		}
		return out
	}
	st, ok := s.stores[op.store]
	if !ok {
		return rejectAll(mpv1.Reject_REJECT_INVALID_STORE), nil
	}
	// The name's length is the edges' rule (MP_TOPIC_NAME_MAX_LEN).
	if v := protocol.CheckTopic(op.topic, 0); v != nil {
		return rejectAll(protocol.Reject(v)), nil
	}
	t := st.topics[op.topic]
	valid := 0
	for _, d := range op.drafts {
		if d != nil {
			valid++
		}
	}
	if op.replace {
		if t == nil && valid > 0 && len(st.topics) >= s.cfg.TopicMax {
			return rejectAll(mpv1.Reject_REJECT_TOO_MANY_TOPICS), nil
		}
		if t != nil {
			st.dropTopic(t)
			t = nil
		}
		touched[st] = true
	} else if t == nil && valid > 0 && len(st.topics) >= s.cfg.TopicMax {
		return rejectAll(mpv1.Reject_REJECT_TOO_MANY_TOPICS), nil
	}
	evs := make([]event.Event, 0, valid)
	for _, d := range op.drafts {
		if d == nil {
			out = append(out, &mpv1.WriteResult{Reject: mpv1.Reject_REJECT_BAD_PAYLOAD})
			continue
		}
		if t == nil {
			t = st.newTopic(op.topic, now)
		}
		ev := st.add(t, d, now, s.cfg.TopicMaxLen)
		out = append(out, &mpv1.WriteResult{Seq: ev.Seq})
		evs = append(evs, ev)
		touched[st] = true
	}
	return out, evs
}
