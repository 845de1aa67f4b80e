package store

import (
	"context"
	"errors"

	"github.com/messageplane/mp/services/store/internal/replay"
)

// Replay parses and evaluates a replay plan. The topic reads happen under
// the read lock (copying event views); filtering, sorting and set ops run
// after it is released. Results keep their plan order; truncation keeps the
// first items.
func (s *Service) Replay(ctx context.Context, store string, planJSON []byte, o ReadOpts, maxLimit, topicNameMaxLen int) (Result, error) {
	st, err := s.store(store)
	if err != nil {
		return Result{}, err
	}
	plan, err := replay.Parse(planJSON, replay.Options{MaxLimit: maxLimit, TopicNameMaxLen: topicNameMaxLen})
	if err != nil {
		var pe *replay.Error
		if errors.As(err, &pe) {
			return Result{}, &Error{"UNSUPPORTED_PLAN", pe.Error()}
		}
		return Result{}, err
	}
	s.mu.RLock()
	for _, leaf := range plan.Leaves() {
		topic := leaf.Topic
		if topic == replay.AllTopics {
			topic = AllTopics
		}
		leaf.Events = st.read(topic, leaf.Limit, leaf.Match != nil)
	}
	head := st.seq
	s.mu.RUnlock()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	evs := plan.Eval(st.name, o.Limit, maxLimit)
	return s.result(st, evs, o, false, head), nil
}
