// Package handler implements the RPC protocol of docs/PROTOCOL.md: it decodes a
// request body (JSON or msgpack), validates it in the documented order,
// calls the store over gRPC, and encodes the reply in the request's encoding.
package handler

import (
	"context"
	"log/slog"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/status"

	"github.com/messageplane/mp/internal/lifecycle"
	"github.com/messageplane/mp/internal/limits"
	"github.com/messageplane/mp/internal/storelink"
	"github.com/messageplane/mp/internal/wire"
)

// DefaultStore is the store used when a request names none.
const DefaultStore = "messages"

// Config is the RPC edge's share of the limits.
type Config struct {
	Limits        limits.Config
	MaxLimit      int
	MaxReplyBytes int
	Mode          Mode
	// StoreTimeout bounds each store call; an unreachable store answers
	// UNAVAILABLE within it.
	StoreTimeout time.Duration
	// Workers bounds the store reads in progress (replays and large reads
	// cost the store CPU); further reads wait for a turn. Publishes share
	// group-committed writes and pings need no store, so neither waits.
	Workers int
}

// Handler answers requests.
type Handler struct {
	cfg       Config
	link      *storelink.Link
	publisher *coalescer
	readSlots chan struct{}
	log       *slog.Logger
	now       func() float64
}

// New returns a handler that reaches the store through link.
func New(cfg Config, link *storelink.Link, log *slog.Logger) *Handler {
	return &Handler{cfg: cfg, link: link, log: log, publisher: newCoalescer(link.Client(), cfg.StoreTimeout),
		readSlots: make(chan struct{}, max(1, cfg.Workers)),
		now:       func() float64 { return float64(time.Now().UnixNano()) / 1e9 }}
}

// Ops are the known ops, for metric labels.
var Ops = []string{"ping", "health", "bus.list_topics", "bus.publish", "bus.get_recent", "bus.get_since", "bus.query", "bus.replay"}

// Outcome of one request, for metrics: "ok" or the error code.
type Outcome = string

// request is one decoded request.
type request struct {
	enc   wire.Encoding
	reqID wire.Value // echoed: the string as sent, else null
	op    string
	args  *args
}

// protoError is an error reply.
type protoError struct {
	code    string
	msg     string
	details wire.Value // object or null
}

func errorf(code, msg string) *protoError { return &protoError{code: code, msg: msg} }

func errField(field string) *protoError {
	return &protoError{code: "BAD_ARGS", msg: "invalid args", details: obj("field", wire.StringValue(field))}
}

func errMax(code, msg string, max int) *protoError {
	return &protoError{code: code, msg: msg, details: obj("max", wire.IntValue(int64(max)))}
}

var (
	errUnavailable = errorf("UNAVAILABLE", "store unavailable")
	errInternal    = errorf("INTERNAL", "internal error")
)

// Handle answers one request body. op is the request's op (for metrics,
// "" when unknown) and outcome "ok" or the error code.
func (h *Handler) Handle(ctx context.Context, body []byte) (reply []byte, op string, outcome Outcome) {
	if !lifecycle.Contain(h.log, "answering an rpc request", func() { reply, op, outcome = h.handle(ctx, body) }) {
		return internalReply, op, "INTERNAL"
	}
	return reply, op, outcome
}

// internalReply answers a request the edge failed on in a way it could not
// encode (a bug): JSON, whatever the request's encoding.
var internalReply = []byte(`{"v":1,"req_id":null,"ok":false,"result":null,"error":{"code":"INTERNAL","message":"internal error","details":null}}`)

func (h *Handler) handle(ctx context.Context, body []byte) (reply []byte, op string, outcome Outcome) {
	req, perr := h.decode(body)
	var result wire.Value
	if perr == nil {
		op = req.op
		result, perr = h.dispatch(ctx, req)
	}
	enc, reqID := wire.JSON, wire.NullValue()
	if req != nil {
		enc, reqID = req.enc, req.reqID
	}
	env := []wire.Member{{Key: "v", Val: wire.IntValue(1)}, {Key: "req_id", Val: reqID}}
	if perr != nil {
		details := perr.details
		if details.Kind != wire.Object {
			details = wire.NullValue()
		}
		env = append(env,
			wire.Member{Key: "ok", Val: wire.BoolValue(false)},
			wire.Member{Key: "result", Val: wire.NullValue()},
			wire.Member{Key: "error", Val: obj("code", wire.StringValue(perr.code), "message", wire.StringValue(perr.msg), "details", details)})
		outcome = perr.code
	} else {
		env = append(env,
			wire.Member{Key: "ok", Val: wire.BoolValue(true)},
			wire.Member{Key: "result", Val: result},
			wire.Member{Key: "error", Val: wire.NullValue()})
		outcome = "ok"
	}
	whole := wire.ObjectValue(env)
	out, err := wire.Encode(make([]byte, 0, wire.SizeHint(whole)+64), whole, enc)
	if err != nil {
		// Only reachable through a bug (every value here is representable).
		h.log.Error("encode reply", "err", err, "op", op, "req_id", reqID.Str)
		out = internalReply
		outcome = "INTERNAL"
	}
	return out, op, outcome
}

// decode checks, in order: decoding, envelope fields, version. Envelope
// problems that cannot be answered in the request's terms answer in JSON.
func (h *Handler) decode(body []byte) (*request, *protoError) {
	// args.payload is only ever stored: it stays encoded until it becomes
	// payload JSON.
	v, enc, err := wire.DecodeKeeping(body, "payload", 2)
	if err != nil || v.Kind != wire.Object {
		return nil, errorf("BAD_REQUEST", "invalid rpc envelope")
	}
	req := &request{enc: enc, reqID: wire.NullValue()}
	env := &args{obj: v, mode: h.cfg.Mode, log: h.log}
	rid, hasRID := v.Get("req_id")
	if rid.Kind == wire.String {
		req.reqID = rid
		env.reqID = rid
	}
	if !hasRID || rid.Kind != wire.String || rid.Str == "" || utf8.RuneCountInString(rid.Str) > 64 {
		env.violate("req_id")
	}
	opv, ok := v.Get("op")
	if !ok || opv.Kind != wire.String {
		// Without an op there is nothing to fall back to, in any mode.
		return req, errField("op")
	}
	req.op = opv.Str
	env.op = opv.Str
	a, ok := v.Get("args")
	switch {
	case !ok || a.Kind == wire.Null:
		a = wire.ObjectValue(nil)
	case a.Kind != wire.Object:
		env.violate("args")
		a = wire.ObjectValue(nil)
	}
	if fp, ok := v.Get("from_plugin"); ok && fp.Kind != wire.Null {
		if fp.Kind != wire.String || utf8.RuneCountInString(fp.Str) > 128 {
			env.violate("from_plugin")
		}
	}
	if env.bad != "" {
		return req, errField(env.bad)
	}
	if ver, ok := v.Get("v"); ok && ver.Kind != wire.Null {
		if n, isInt := ver.AsInt(); !isInt || n != 1 {
			text, _ := wire.AppendJSON(nil, ver)
			if ver.Kind == wire.Unrepresentable {
				text = []byte("null")
			}
			return req, errorf("UNSUPPORTED_VERSION", "unsupported protocol version: "+string(text))
		}
	}
	req.args = &args{obj: a, mode: h.cfg.Mode, log: h.log, op: req.op, reqID: req.reqID}
	return req, nil
}

func (h *Handler) dispatch(ctx context.Context, req *request) (wire.Value, *protoError) {
	switch req.op {
	case "ping":
		return obj("ok", wire.BoolValue(true), "ts", wire.FloatValue(h.now())), nil
	case "health":
		return h.health(ctx)
	case "bus.publish":
		return h.publish(ctx, req.args)
	case "bus.list_topics", "bus.get_recent", "bus.get_since", "bus.query", "bus.replay":
	default:
		return wire.Value{}, errorf("UNKNOWN_OP", "unknown op: "+req.op)
	}
	// A read waits for a slot within its store timeout: the caller hears
	// UNAVAILABLE in the same time whether the store is slow or busy. This
	// one deadline bounds the wait and the store call.
	ctx, cancel := context.WithTimeout(ctx, h.cfg.StoreTimeout)
	defer cancel()
	select {
	case h.readSlots <- struct{}{}:
		defer func() { <-h.readSlots }()
	case <-ctx.Done():
		return wire.Value{}, errUnavailable
	}
	switch req.op {
	case "bus.list_topics":
		return h.listTopics(ctx, req.args)
	case "bus.get_recent":
		return h.getRecent(ctx, req.args)
	case "bus.get_since":
		return h.getSince(ctx, req.args)
	case "bus.query":
		return h.query(ctx, req.args)
	default:
		return h.replay(ctx, req.args)
	}
}

// obj builds an object from key, value pairs.
func obj(kv ...any) wire.Value {
	m := make([]wire.Member, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		m = append(m, wire.Member{Key: kv[i].(string), Val: kv[i+1].(wire.Value)})
	}
	return wire.ObjectValue(m)
}

func uintValue(u uint64) wire.Value {
	if u > 1<<63-1 {
		return wire.UintValue(u)
	}
	return wire.IntValue(int64(u))
}

func statusMessage(err error) string {
	if st, ok := status.FromError(err); ok {
		return st.Message()
	}
	return err.Error()
}
