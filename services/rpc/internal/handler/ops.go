package handler

import (
	"context"
	"errors"

	"github.com/messageplane/mp/internal/grpcx"
	"github.com/messageplane/mp/internal/lifecycle"
	"github.com/messageplane/mp/internal/protocol"
	"github.com/messageplane/mp/internal/storelink"
	"github.com/messageplane/mp/internal/wire"
	mpv1 "github.com/messageplane/mp/proto/messageplane/v1"
	"github.com/messageplane/mp/services/rpc/internal/publisher"
)

// defaultLimit is a read's limit when the request gives none.
const defaultLimit = 200

// replyOverhead is room kept for the reply envelope around the items when
// cutting a read to MP_MAX_REPLY_BYTES.
const replyOverhead = 4096

// call bounds a store call that runs outside the read slots (health); a
// read's deadline is set once by dispatch, covering its wait for a slot.
func (h *Handler) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, h.cfg.StoreTimeout)
}

// storeError maps a failed store call to the protocol error.
func (h *Handler) storeError(err error, op string) *protoError {
	switch code := protocol.Code(grpcx.Reason(err)); code {
	case protocol.InvalidStore:
		return errorf(code)
	case protocol.UnsupportedPlan:
		pe := errorf(code)
		pe.details = obj("reason", wire.StringValue(statusMessage(err)))
		return pe
	}
	if grpcx.Unavailable(err) {
		return errUnavailable
	}
	h.log.Error("store call failed", "op", op, "err", err)
	return errInternal
}

// checkStore answers INVALID_STORE for a store the store service does not
// have, and UNAVAILABLE while the store names are not known yet.
func (h *Handler) checkStore(name string) *protoError {
	ok, err := h.link.HasStore(name)
	switch {
	case errors.Is(err, storelink.ErrNoInfo):
		return errUnavailable
	case !ok:
		return errorf(protocol.InvalidStore)
	}
	return nil
}

// violation is the answer to a broken item rule.
func (h *Handler) violation(v *protocol.Violation) *protoError {
	switch {
	case v.Field != "":
		return errField(v.Field)
	case v == protocol.ViolTopicTooLong:
		return errMax(v.Code, h.cfg.Limits.TopicNameMaxLen)
	case v == protocol.ViolPayloadTooLarge:
		return errMax(v.Code, h.cfg.Limits.PayloadMaxBytes)
	}
	return errorf(v.Code)
}

// checkTopic applies the topic rules (an empty topic is TOPIC_REQUIRED).
func (h *Handler) checkTopic(topic string) *protoError {
	if v := h.cfg.Limits.Topic(topic); v != nil {
		return h.violation(v)
	}
	return nil
}

// checkRead checks a read's store and, unless it reads every topic (""),
// its topic.
func (h *Handler) checkRead(store, topic string) *protoError {
	if pe := h.checkStore(store); pe != nil {
		return pe
	}
	if topic == "" {
		return nil
	}
	return h.checkTopic(topic)
}

func (h *Handler) health(ctx context.Context, _ *args) (wire.Value, *protoError) {
	cctx, cancel := h.call(ctx)
	defer cancel()
	info, err := h.link.Client().Info(cctx, &mpv1.InfoRequest{})
	if err != nil {
		return obj("ok", wire.BoolValue(false), "ts", wire.FloatValue(h.now()), "store", wire.StringValue("unavailable")), nil
	}
	return obj("ok", wire.BoolValue(true), "ts", wire.FloatValue(h.now()), "store", wire.StringValue("ok"), "epoch", wire.StringValue(info.Epoch)), nil
}

func (h *Handler) listTopics(ctx context.Context, a *args) (wire.Value, *protoError) {
	store := a.store()
	if a.bad != "" {
		return wire.Value{}, errField(a.bad)
	}
	if pe := h.checkStore(store); pe != nil {
		return wire.Value{}, pe
	}
	resp, err := h.link.Client().ListTopics(ctx, &mpv1.ListTopicsRequest{Store: store})
	if err != nil {
		return wire.Value{}, h.storeError(err, "bus.list_topics")
	}
	topics := make([]wire.Value, len(resp.Topics))
	infos := make([]wire.Value, len(resp.Topics))
	for i, t := range resp.Topics {
		topics[i] = wire.StringValue(t.Topic)
		infos[i] = obj("topic", wire.StringValue(t.Topic), "count", uintValue(t.Count), "count_total", uintValue(t.CountTotal),
			"created_at", wire.FloatValue(t.CreatedAt), "last_ts", wire.FloatValue(t.LastTs), "last_seq", uintValue(t.LastSeq))
	}
	return obj("store", wire.StringValue(store), "epoch", wire.StringValue(resp.Epoch), "stores", wire.StringsValue(resp.Stores),
		"topics", wire.ArrayValue(topics), "topic_count", wire.IntValue(int64(len(topics))), "topics_info", wire.ArrayValue(infos)), nil
}

func (h *Handler) ping(_ context.Context, _ *args) (wire.Value, *protoError) {
	return obj("ok", wire.BoolValue(true), "ts", wire.FloatValue(h.now())), nil
}

// publish validates a publish and queues it for the store; it is answered
// once the store has stored or refused it.
func (h *Handler) publish(req *request, respond Respond) {
	item, perr := h.publishItem(req.args)
	if perr != nil {
		h.reply(req, wire.Value{}, perr, respond)
		return
	}
	h.publisher.Submit(item, func(r *mpv1.WriteResult, err error) {
		if err == nil && r.GetReject() == mpv1.Reject_REJECT_NONE {
			h.seen.note(h.epoch(), item.Store, r.Seq)
		}
		ok := lifecycle.Contain(h.log, "answering a publish", func() {
			res, perr := h.published(r, req.enc, err)
			h.reply(req, res, perr, respond)
		})
		if !ok {
			respond(internalError(), req.op, string(protocol.Internal))
		}
	})
}

func (h *Handler) publishItem(a *args) (*mpv1.Item, *protoError) {
	store := a.store()
	topic, _ := a.topic()
	pv, ok := a.obj.Get("payload")
	if !ok {
		return nil, errField("payload") // nothing to fall back to, in any mode
	}
	if a.bad != "" {
		return nil, errField(a.bad)
	}
	payload, err := wire.EncodePayload(nil, pv)
	if err != nil {
		return nil, errField("payload") // binary or ext: not representable in JSON
	}
	if pe := h.checkStore(store); pe != nil {
		return nil, pe
	}
	if pe := h.checkTopic(topic); pe != nil {
		return nil, pe
	}
	if h.cfg.Limits.ValidatePayloadBytes && len(payload) > h.cfg.Limits.PayloadMaxBytes {
		return nil, h.violation(protocol.ViolPayloadTooLarge)
	}
	return &mpv1.Item{Store: store, Topic: topic, Payload: payload, Encoding: encodingOf(a.enc)}, nil
}

// published turns the store's answer to a publish into its result.
// epoch is the store's epoch as the link last heard it.
func (h *Handler) epoch() string {
	if info := h.link.Info(); info != nil {
		return info.Epoch
	}
	return ""
}

// encodingOf is the store's name for a reply encoding.
func encodingOf(enc wire.Encoding) mpv1.Encoding {
	if enc == wire.Msgpack {
		return mpv1.Encoding_ENCODING_MSGPACK
	}
	return mpv1.Encoding_ENCODING_JSON
}

func (h *Handler) published(r *mpv1.WriteResult, enc wire.Encoding, err error) (wire.Value, *protoError) {
	if err != nil {
		if errors.Is(err, publisher.ErrUnavailable) {
			return wire.Value{}, errUnavailable
		}
		return wire.Value{}, h.storeError(err, "bus.publish")
	}
	switch r.Reject {
	case mpv1.Reject_REJECT_NONE:
		return obj("accepted", wire.BoolValue(true), "event", wire.RawIn(r.Event, enc)), nil
	case mpv1.Reject_REJECT_EXPIRED:
		return wire.Value{}, errUnavailable
	}
	if v := protocol.Rejected(r.Reject); v != nil && v != protocol.ViolBadPayload {
		return wire.Value{}, h.violation(v)
	}
	h.log.Error("store rejected a checked publish", "reject", r.Reject.String())
	return wire.Value{}, errInternal
}

// readTopic reads an optional topic for reads that default to every topic.
// It returns the echo value (as given, null when absent) and the topic to
// ask the store for ("" for every topic).
func (a *args) readTopic() (echo wire.Value, topic string) {
	t, ok := a.topic()
	if !ok {
		return wire.NullValue(), ""
	}
	if t == protocol.AllTopics {
		return wire.StringValue(t), ""
	}
	return wire.StringValue(t), t
}

func (h *Handler) readOpts(a *args, store string) *mpv1.ReadOptions {
	return &mpv1.ReadOptions{
		MinSeq:   h.seen.of(h.epoch(), store),
		Limit:    uint32(a.limit(defaultLimit, h.cfg.MaxLimit)),
		Light:    a.boolean("light"),
		MaxBytes: uint64(max(h.cfg.MaxReplyBytes-replyOverhead, 1)),
		Encoding: encodingOf(a.enc),
	}
}

// items is the result's items: the array the store rendered in the
// reply's encoding, spliced as it is.
func items(r *mpv1.ReadResponse, a *args) wire.Value {
	if len(r.Items) == 0 {
		return wire.ArrayValue(nil)
	}
	return wire.RawIn(a.splice(r.Items), a.enc)
}

// withTruncated adds "truncated": true when the read was cut.
func withTruncated(v wire.Value, r *mpv1.ReadResponse) wire.Value {
	if r.Truncated {
		v.Obj = append(v.Obj, wire.Member{Key: "truncated", Val: wire.BoolValue(true)})
	}
	return v
}

func (h *Handler) getRecent(ctx context.Context, a *args) (wire.Value, *protoError) {
	store := a.store()
	topic, _ := a.topic()
	ro := h.readOpts(a, store)
	if a.bad != "" {
		return wire.Value{}, errField(a.bad)
	}
	if pe := h.checkStore(store); pe != nil {
		return wire.Value{}, pe
	}
	if pe := h.checkTopic(topic); pe != nil {
		return wire.Value{}, pe
	}
	want := topic
	if topic == protocol.AllTopics {
		want = ""
	}
	r, err := h.link.Client().GetRecent(ctx, &mpv1.GetRecentRequest{Store: store, Topic: want, Read: ro})
	if err != nil {
		return wire.Value{}, h.storeError(err, "bus.get_recent")
	}
	return withTruncated(obj("store", wire.StringValue(store), "topic", wire.StringValue(topic), "items", items(r, a), "light", wire.BoolValue(ro.Light)), r), nil
}

func (h *Handler) getSince(ctx context.Context, a *args) (wire.Value, *protoError) {
	store := a.store()
	echo, topic := a.readTopic()
	after, hasAfter := a.integer("after_seq", 0)
	afterEcho := wire.IntValue(after)
	if hasAfter {
		afterEcho, _ = a.get("after_seq") // as sent: 2**64 saturates above, but echoes whole
	}
	ro := h.readOpts(a, store)
	// The caller has seen after_seq (on PUB, or from another replica):
	// the serving replica shows at least that much first.
	ro.MinSeq = max(ro.MinSeq, uint64(max(after, 0)))
	if a.bad != "" {
		return wire.Value{}, errField(a.bad)
	}
	if pe := h.checkRead(store, topic); pe != nil {
		return wire.Value{}, pe
	}
	r, err := h.link.Client().GetSince(ctx, &mpv1.GetSinceRequest{Store: store, Topic: topic, AfterSeq: uint64(after), Read: ro})
	if err != nil {
		return wire.Value{}, h.storeError(err, "bus.get_since")
	}
	return withTruncated(obj("store", wire.StringValue(store), "topic", echo, "after_seq", afterEcho, "items", items(r, a),
		"light", wire.BoolValue(ro.Light), "head_seq", uintValue(r.HeadSeq), "epoch", wire.StringValue(r.Epoch)), r), nil
}

func (h *Handler) query(ctx context.Context, a *args) (wire.Value, *protoError) {
	store := a.store()
	echo, topic := a.readTopic()
	req := &mpv1.QueryRequest{Store: store, Topic: topic}
	for _, k := range protocol.IndexKeys {
		if !k.Query {
			continue
		}
		if s, ok := a.str(k.Name); ok {
			if req.Equals == nil {
				req.Equals = map[string]string{}
			}
			req.Equals[k.Name] = s
		}
	}
	if p, ok := a.integer("priority_min", -1<<63); ok {
		req.PriorityMin = &p
	}
	if f, ok := a.number("since_ts"); ok {
		req.SinceTs = &f
	}
	if f, ok := a.number("until_ts"); ok {
		req.UntilTs = &f
	}
	req.Read = h.readOpts(a, store)
	if a.bad != "" {
		return wire.Value{}, errField(a.bad)
	}
	if pe := h.checkRead(store, topic); pe != nil {
		return wire.Value{}, pe
	}
	r, err := h.link.Client().Query(ctx, req)
	if err != nil {
		return wire.Value{}, h.storeError(err, "bus.query")
	}
	return withTruncated(obj("store", wire.StringValue(store), "topic", echo, "items", items(r, a), "light", wire.BoolValue(req.Read.Light)), r), nil
}

func (h *Handler) replay(ctx context.Context, a *args) (wire.Value, *protoError) {
	store := a.store()
	name := "plan"
	if _, ok := a.get("plan"); !ok {
		if _, ok := a.get("trace"); ok {
			name = "trace"
		}
	}
	plan, hasPlan := a.get(name)
	if hasPlan && plan.Kind != wire.Object {
		a.violate(name)
		hasPlan = false
	}
	light := a.boolean("light")
	var limit int64
	if n, ok := a.integer("limit", 1); ok {
		limit = min(n, int64(h.cfg.MaxLimit))
	}
	if a.bad != "" {
		return wire.Value{}, errField(a.bad)
	}
	if pe := h.checkStore(store); pe != nil {
		return wire.Value{}, pe
	}
	if !hasPlan {
		return wire.Value{}, errorf(protocol.PlanRequired)
	}
	planJSON, err := wire.AppendJSON(nil, plan)
	if err != nil {
		pe := errorf(protocol.UnsupportedPlan)
		pe.details = obj("reason", wire.StringValue("plan holds values JSON cannot carry"))
		return wire.Value{}, pe
	}
	r, err := h.link.Client().Replay(ctx, &mpv1.ReplayRequest{
		Store: store, Plan: planJSON,
		Read: &mpv1.ReadOptions{Limit: uint32(limit), Light: light, MaxBytes: uint64(max(h.cfg.MaxReplyBytes-replyOverhead, 1)),
			Encoding: encodingOf(a.enc), MinSeq: h.seen.of(h.epoch(), store)},
		MaxLimit: uint32(h.cfg.MaxLimit), TopicNameMaxLen: uint32(h.cfg.Limits.TopicNameMaxLen),
	})
	if err != nil {
		return wire.Value{}, h.storeError(err, "bus.replay")
	}
	return withTruncated(obj("store", wire.StringValue(store), "items", items(r, a), "light", wire.BoolValue(light)), r), nil
}
