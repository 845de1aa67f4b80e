package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/messageplane/mp/internal/protocol"
	"github.com/messageplane/mp/services/store/internal/event"
	"github.com/messageplane/mp/services/store/internal/logrec"
)

// applied is what the view knows of a producer's last batch from the log.
type applied struct {
	batch uint64
	items map[int]uint64 // item position -> seq
}

// follow keeps the view in step with the log, one goroutine per store; ready
// is closed once every store has caught up with what was recorded at start.
func (s *Service) follow(ctx context.Context, ready chan<- struct{}) {
	caught := make(chan struct{}, len(s.names))
	for _, name := range s.names {
		st := s.stores[name]
		go func() {
			for ctx.Err() == nil {
				err := s.log.Follow(ctx, name, s.headOf(st), func(recs []logrec.Record) { s.applyRecords(st, recs) },
					func(head uint64) { s.showHead(st, head); caught <- struct{}{} })
				if ctx.Err() == nil {
					s.mu.Lock()
					st.resumes++
					s.mu.Unlock()
					s.cfg.Logger.Warn("following the log failed; resuming", "store", name, "err", err)
					select {
					case <-time.After(200 * time.Millisecond):
					case <-ctx.Done():
					}
				}
			}
		}()
	}
	for range s.names {
		select {
		case <-caught:
		case <-ctx.Done():
			return
		}
	}
	close(ready)
	for { // later catch-ups after a resume need no one to hear them
		select {
		case <-caught:
		case <-ctx.Done():
			return
		}
	}
}

// showHead raises the store's head to the log's: the newest events may be
// gone (removed), but their seqs stay taken.
func (s *Service) showHead(st *Store, head uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if head > st.seq {
		st.seq = head
		st.wake()
	}
}

func (s *Service) headOf(st *Store) uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return st.seq
}

// applyRecords shows records in the view, in order. A replace's records wait
// until its last one has arrived and then replace the topic at once.
func (s *Service) applyRecords(st *Store, recs []logrec.Record) {
	// Records the view shows already (a write's own, shown by the write)
	// cost nothing more.
	head := s.headOf(st)
	for len(recs) > 0 && recs[0].Seq <= head {
		recs = recs[1:]
	}
	if len(recs) == 0 {
		return
	}
	drafts := make([]*event.Draft, len(recs))
	for i := range recs {
		drafts[i] = draft(recs[i].Payload)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.showRecords(st, recs, drafts)
}

// applyOwn shows a write's own records as soon as the log has taken them,
// with the drafts the write made, as far as they follow on from what the
// view shows without a gap (the follower skips them when they arrive). The
// rest, after records of another writer this view has not seen yet (or
// records the log already held: a retry), the follower shows in order.
func (s *Service) applyOwn(st *Store, recs []logrec.Record, drafts []*event.Draft) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for n < len(recs) && recs[n].Seq == st.seq+1+uint64(n) {
		n++
	}
	if n > 0 {
		s.showRecords(st, recs[:n], drafts[:n])
	}
}

// showRecords is applyRecords with the lock held and the drafts made.
func (s *Service) showRecords(st *Store, recs []logrec.Record, drafts []*event.Draft) {
	for i := range recs {
		r := &recs[i]
		if r.Seq <= st.seq {
			continue // already shown (a resumed follow repeats)
		}
		if drafts[i] == nil {
			// Not an event of ours: skip its seq rather than stop the view.
			s.cfg.Logger.Error("a record of the log is not a JSON object; skipped", "store", st.name, "seq", r.Seq)
			st.seq = r.Seq
			continue
		}
		if r.Parts > 0 {
			p := st.pending[r.Topic]
			if r.Part == 1 {
				p = nil
			}
			p = append(p, pendingPart{rec: *r, draft: drafts[i]})
			if r.Part < r.Parts {
				if st.pending == nil {
					st.pending = map[string][]pendingPart{}
				}
				st.pending[r.Topic] = p
				continue
			}
			delete(st.pending, r.Topic)
			if t := st.topics[r.Topic]; t != nil {
				st.dropTopic(t)
			}
			t := st.newTopic(r.Topic, r.CreatedAt)
			for _, part := range p {
				st.add(t, part.draft, part.rec.Seq, part.rec.TS, s.cfg.TopicMaxLen)
				s.noteProducer(&part.rec)
			}
			continue
		}
		t := st.topics[r.Topic]
		if t == nil {
			// The first event of a topic this view shows carries its
			// count_total (its earlier events may be evicted); the view
			// counts from there, so every replica counts alike even when
			// writers on several replicas append to the topic at once.
			t = st.newTopic(r.Topic, r.CreatedAt)
			t.countTotal = r.CountTotal - min(r.CountTotal, 1)
		}
		st.add(t, drafts[i], r.Seq, r.TS, s.cfg.TopicMaxLen)
		s.noteProducer(r)
	}
	st.compact()
	st.wake()
}

type pendingPart struct {
	rec   logrec.Record
	draft *event.Draft
}

// noteProducer remembers which items of a producer's last batch the log
// holds (caller holds the lock).
func (s *Service) noteProducer(r *logrec.Record) {
	if r.Producer == "" {
		return
	}
	a := s.applied[r.Producer]
	if a == nil || a.batch != r.Batch {
		if a == nil && len(s.applied) >= maxProducers {
			for k := range s.applied { // forget an arbitrary producer
				delete(s.applied, k)
				break
			}
		}
		a = &applied{batch: r.Batch, items: map[int]uint64{}}
		s.applied[r.Producer] = a
	}
	a.items[r.Item] = r.Seq
}

// ErrNotReady is a write or read before the view has caught up with the
// log of record (the store is loading).
var ErrNotReady = errors.New("the store is still loading its log")

// writeLogged is Write with a log of record: the batch is validated
// against the view (and what its own earlier ops did), recorded in the
// log, and answered once the view shows it. Writes are one at a time, so
// every write plans against a view that shows all earlier ones, and the
// counters it records are exact.
func (s *Service) writeLogged(ctx context.Context, b *Batch, ops []prepared) (*WriteResult, error) {
	if err := s.Loaded(); err != nil {
		return nil, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := &WriteResult{Epoch: s.epoch}
	steps := s.planBatch(b, ops, res)

	heads := map[*Store]uint64{}
	for i := 0; i < len(steps); i++ {
		st := steps[i]
		var seqs []uint64
		var err error
		switch st.act {
		case actAppend:
			// Consecutive appends to one store are recorded as one run.
			for i+1 < len(steps) && steps[i+1].act == actAppend && steps[i+1].store == st.store {
				i++
				st.recs, st.items, st.drafts = append(st.recs, steps[i].recs...), append(st.items, steps[i].items...), append(st.drafts, steps[i].drafts...)
			}
			seqs, err = s.log.Append(ctx, st.store.name, st.recs)
		case actReplace:
			seqs, err = s.log.Replace(ctx, st.store.name, st.topic, st.recs)
		case actRemove:
			// The view shows every earlier step first, then the removal.
			if err = s.waitShown(ctx, st.store, heads[st.store]); err == nil {
				if err = s.log.Remove(ctx, st.store.name, st.topic); err == nil {
					s.removeTopic(st.store, st.topic)
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("store %s: %w", st.store.name, err)
		}
		for k, seq := range seqs {
			res.Items[st.items[k]].Seq = seq
			st.recs[k].Seq = seq
		}
		s.applyOwn(st.store, st.recs, st.drafts)
		if len(seqs) > 0 {
			heads[st.store] = max(heads[st.store], seqs[len(seqs)-1])
		}
	}
	for st, seq := range heads {
		if err := s.waitShown(ctx, st, seq); err != nil {
			return nil, err
		}
	}
	if b.ReturnEvents {
		s.renderReturned(b, res)
	}
	return res, nil
}

// renderReturned renders the stored events of a write into its results.
func (s *Service) renderReturned(b *Batch, res *WriteResult) {
	var evs []storedEvent
	s.mu.RLock()
	item := 0
	for i := range b.Ops {
		op := &b.Ops[i]
		st := s.stores[op.Store]
		for range op.Payloads {
			r := &res.Items[item]
			item++
			if st == nil || r.Refused != nil || r.Expired || r.Seq == 0 {
				continue
			}
			if ev, ok := st.find(r.Seq); ok {
				evs = append(evs, storedEvent{result: r, store: st.name, ev: ev, encoding: op.Encoding})
			}
		}
	}
	s.mu.RUnlock()
	renderStored(evs)
}

// What a planned step asks of the log.
type action int

const (
	actAppend  action = iota // append its records
	actReplace               // replace the topic with its records
	actRemove                // remove the topic (a replace with no valid item)
)

// step is one thing a write records, and the item results it answers.
type step struct {
	act    action
	store  *Store
	topic  string
	recs   []logrec.Record
	drafts []*event.Draft // each record's, made by the write
	items  []int          // the result of each record
}

// topicPlan is what a write's earlier ops did to a topic.
type topicPlan struct {
	exists    bool
	count     uint64
	createdAt float64
}

// planBatch validates every op against the view and what the batch's own
// earlier ops do, fills in the refusals (and the seqs of items a retried
// batch had recorded before a restart), and returns the steps to record.
func (s *Service) planBatch(b *Batch, ops []prepared, res *WriteResult) []step {
	s.mu.RLock()
	defer s.mu.RUnlock()
	done := s.applied[b.Producer]
	if b.Producer == "" || done == nil || done.batch != b.Number {
		done = nil
	}
	now := s.cfg.Now() // the events of one write share their ts
	wall := time.Now().UnixNano()
	topics := map[*Store]map[string]*topicPlan{}
	count := map[*Store]int{}
	planOf := func(st *Store, topic string) *topicPlan {
		m := topics[st]
		if m == nil {
			m = map[string]*topicPlan{}
			topics[st] = m
			count[st] = len(st.topics)
		}
		p := m[topic]
		if p == nil {
			p = &topicPlan{}
			if t := st.topics[topic]; t != nil {
				p.exists, p.count, p.createdAt = true, t.countTotal, t.createdAt
			}
			m[topic] = p
		}
		return p
	}
	var steps []step
	recorded := 0
	item := 0
	for i := range ops {
		op := &ops[i]
		first := item
		item += len(op.Payloads)
		refuseAll := func(v *protocol.Violation) {
			for _, d := range op.drafts {
				if d == nil {
					res.Items = append(res.Items, ItemResult{Refused: protocol.ViolBadPayload})
				} else {
					res.Items = append(res.Items, ItemResult{Refused: v})
				}
			}
		}
		if !op.Replace && op.Deadline != 0 && wall > op.Deadline {
			res.Items = append(res.Items, ItemResult{Expired: true})
			continue
		}
		st, ok := s.stores[op.Store]
		if !ok {
			refuseAll(protocol.ViolInvalidStore)
			continue
		}
		if v := protocol.CheckTopic(op.Topic, 0); v != nil {
			refuseAll(v)
			continue
		}
		valid := 0
		for _, d := range op.drafts {
			if d != nil {
				valid++
			}
		}
		p := planOf(st, op.Topic)
		if !p.exists && valid > 0 && count[st] >= s.cfg.TopicMax {
			refuseAll(protocol.ViolTooManyTopics)
			continue
		}
		existed := p.exists
		if op.Replace {
			if p.exists {
				count[st]--
			}
			p.exists, p.count, p.createdAt = false, 0, now
		}
		stp := step{act: actAppend, store: st, topic: op.Topic}
		for k, d := range op.drafts {
			if d == nil {
				res.Items = append(res.Items, ItemResult{Refused: protocol.ViolBadPayload})
				continue
			}
			if seq, ok := done.seq(first + k); ok {
				res.Items = append(res.Items, ItemResult{Seq: seq}) // recorded before a restart
				continue
			}
			if !p.exists {
				p.exists, p.createdAt = true, now
				count[st]++
			}
			p.count++
			stp.items = append(stp.items, len(res.Items))
			stp.drafts = append(stp.drafts, d)
			res.Items = append(res.Items, ItemResult{})
			stp.recs = append(stp.recs, logrec.Record{Topic: op.Topic, TS: now, CountTotal: p.count, CreatedAt: p.createdAt,
				Payload: op.Payloads[k], Producer: b.Producer, Batch: b.Number, Item: first + k})
		}
		recorded += len(stp.recs)
		switch {
		case !op.Replace && len(stp.recs) > 0:
			steps = append(steps, stp)
		case !op.Replace:
		case valid == 0:
			if existed {
				steps = append(steps, step{act: actRemove, store: st, topic: op.Topic})
			}
		case len(stp.recs) == valid:
			for j := range stp.recs {
				stp.recs[j].Part, stp.recs[j].Parts = j+1, len(stp.recs)
			}
			stp.act = actReplace
			steps = append(steps, stp)
		}
		// Otherwise the log holds this replace already: it is atomic, so
		// part of it recorded means all of it.
	}
	res.Duplicate = done != nil && recorded == 0
	return steps
}

// seq is the seq the log gave item of the producer's last batch, if any.
func (a *applied) seq(item int) (uint64, bool) {
	if a == nil {
		return 0, false
	}
	seq, ok := a.items[item]
	return seq, ok
}

// removeTopic shows a recorded removal in the view.
func (s *Service) removeTopic(st *Store, topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := st.topics[topic]; t != nil {
		st.dropTopic(t)
		st.compact()
		st.wake()
	}
}

// waitShown waits until the view shows store st up to seq.
func (s *Service) waitShown(ctx context.Context, st *Store, seq uint64) error {
	for {
		s.mu.RLock()
		shown, wait := st.seq, st.notify
		s.mu.RUnlock()
		if shown >= seq {
			return nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
