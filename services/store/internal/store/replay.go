package store

import (
	"context"
	"errors"

	"github.com/messageplane/mp/internal/protocol"
	"github.com/messageplane/mp/services/store/internal/event"
	"github.com/messageplane/mp/services/store/internal/replay"
)

// Replay parses and evaluates a replay plan. The topic reads happen under
// the read lock (copying event views); filtering, sorting and set ops run
// after it is released. Results keep their plan order; truncation keeps the
// first items.
func (s *Service) Replay(ctx context.Context, store string, planJSON []byte, o ReadOpts, maxLimit, topicNameMaxLen int) (Result, error) {
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
	plan, err := replay.Parse(planJSON, replay.Options{MaxLimit: maxLimit, TopicNameMaxLen: topicNameMaxLen})
	if err != nil {
		var pe *replay.Error
		if errors.As(err, &pe) {
			return Result{}, &Error{protocol.UnsupportedPlan, pe.Error()}
		}
		return Result{}, err
	}
	snaps := make([]*snapshot, len(plan.Leaves()))
	defer func() {
		for _, snap := range snaps {
			snap.release()
		}
	}()
	s.mu.RLock()
	for i, leaf := range plan.Leaves() {
		topic := leaf.Topic
		if topic == replay.AllTopics {
			topic = AllTopics
		}
		snaps[i] = getSnapshot()
		st.read(snaps[i], topic, leaf.Limit, leaf.Match != nil)
	}
	head := st.seq
	s.mu.RUnlock()
	for i, leaf := range plan.Leaves() {
		leaf.Events = make([]event.Event, snaps[i].len())
		for k := range leaf.Events {
			leaf.Events[k] = snaps[i].event(k)
		}
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	evs := plan.Eval(st.name, o.Limit, maxLimit)
	r := Result{HeadSeq: head, Epoch: s.epoch}
	r.Items, r.Count, r.Truncated = render(len(evs), func(i int) event.Event { return evs[i] }, st.name, o, false)
	return r, nil
}
