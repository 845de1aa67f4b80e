package store

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

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
	drafts       []*event.Draft // nil entry: the payload is not a JSON object
}

// Write applies a batch of appends and replaces in order, atomically, and
// answers one result per item. A batch repeating the producer's previous
// (producer_id, batch) is answered from the first application. Work whose
// deadline has passed is refused before anything is applied.
func (s *Service) Write(ctx context.Context, req *mpv1.WriteRequest) (*mpv1.WriteResponse, error) {
	ops := make([]prepared, len(req.GetOps()))
	items := 0
	for i, op := range req.GetOps() {
		switch x := op.GetOp().(type) {
		case *mpv1.WriteOp_Item:
			ops[i] = prepared{store: x.Item.GetStore(), topic: x.Item.GetTopic(), deadline: x.Item.GetDeadline(), drafts: []*event.Draft{draft(x.Item.GetPayload())}}
			items++
		case *mpv1.WriteOp_Replace:
			p := prepared{store: x.Replace.GetStore(), topic: x.Replace.GetTopic(), replace: true}
			for _, pl := range x.Replace.GetPayloads() {
				p.drafts = append(p.drafts, draft(pl))
			}
			items += len(p.drafts)
			ops[i] = p
		default:
			return nil, &Error{"BAD_ARGS", "empty write op"}
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	producer := req.GetProducerId()
	if producer != "" {
		if d := s.dedup[producer]; d != nil && d.batch == req.GetBatch() {
			return &mpv1.WriteResponse{Results: d.resp.Results, Epoch: d.resp.Epoch, Duplicate: true}, nil
		}
	}

	now := s.cfg.Now()
	wall := time.Now().UnixNano()
	resp := &mpv1.WriteResponse{Epoch: s.epoch, Results: make([]*mpv1.WriteResult, 0, items)}
	touched := map[*Store]bool{}
	for i := range ops {
		if d := ops[i].deadline; d != 0 && wall > d {
			// Its caller has stopped waiting and will hear UNAVAILABLE:
			// storing it anyway would make that answer a lie.
			resp.Results = append(resp.Results, &mpv1.WriteResult{Reject: mpv1.Reject_REJECT_EXPIRED})
			continue
		}
		resp.Results = s.apply(&ops[i], now, req.GetReturnEvents(), resp.Results, touched)
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
		s.dedup[producer] = &dedupEntry{batch: req.GetBatch(), resp: resp}
	}
	return resp, nil
}

func draft(payload []byte) *event.Draft {
	d, err := event.NewDraft(payload)
	if err != nil {
		return nil
	}
	return d
}

// apply runs one op under the write lock and appends its results.
func (s *Service) apply(op *prepared, now float64, withEvents bool, out []*mpv1.WriteResult, touched map[*Store]bool) []*mpv1.WriteResult {
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
		return rejectAll(mpv1.Reject_REJECT_INVALID_STORE)
	}
	if r := CheckTopic(op.topic); r != mpv1.Reject_REJECT_NONE {
		return rejectAll(r)
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
			return rejectAll(mpv1.Reject_REJECT_TOO_MANY_TOPICS)
		}
		if t != nil {
			st.dropTopic(t)
			t = nil
		}
		touched[st] = true
	} else if t == nil && valid > 0 && len(st.topics) >= s.cfg.TopicMax {
		return rejectAll(mpv1.Reject_REJECT_TOO_MANY_TOPICS)
	}
	for _, d := range op.drafts {
		if d == nil {
			out = append(out, &mpv1.WriteResult{Reject: mpv1.Reject_REJECT_BAD_PAYLOAD})
			continue
		}
		if t == nil {
			t = st.newTopic(op.topic, now)
		}
		ev := st.add(t, d, now, s.cfg.TopicMaxLen)
		r := &mpv1.WriteResult{Seq: ev.Seq}
		if withEvents {
			r.Event = ev.AppendJSON(nil, st.name, false)
		}
		out = append(out, r)
		touched[st] = true
	}
	return out
}

// CheckTopic applies the store's own topic rules (the name length limit is
// the edges'): non-empty, valid UTF-8, no NUL.
func CheckTopic(topic string) mpv1.Reject {
	switch {
	case topic == "":
		return mpv1.Reject_REJECT_TOPIC_REQUIRED
	case strings.IndexByte(topic, 0) >= 0 || !utf8.ValidString(topic):
		return mpv1.Reject_REJECT_TOPIC_INVALID
	}
	return mpv1.Reject_REJECT_NONE
}
