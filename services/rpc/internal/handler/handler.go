// Package handler implements the RPC protocol of docs/PROTOCOL.md: it decodes a
// request body (JSON or msgpack), validates it in the documented order,
// runs its op, and encodes the reply in the request's encoding.
//
// The socket owner calls Start for every request in the order it received
// them. What needs no store is answered at once; publishes go, in that
// order, to the publisher, which stores them in that order (group commit);
// reads run on worker goroutines. Every request is answered exactly once
// through its Respond, from whichever goroutine finished it.
package handler

import (
	"context"
	"log/slog"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/status"

	"github.com/messageplane/mp/internal/bufpool"
	"github.com/messageplane/mp/internal/lifecycle"
	"github.com/messageplane/mp/internal/limits"
	"github.com/messageplane/mp/internal/protocol"
	"github.com/messageplane/mp/internal/storelink"
	"github.com/messageplane/mp/internal/wire"
	"github.com/messageplane/mp/services/rpc/internal/publisher"
)

// Config is the RPC edge's share of the limits.
type Config struct {
	Limits        limits.Config
	MaxLimit      int
	MaxReplyBytes int
	Mode          Mode
	// StoreTimeout bounds each store call; an unreachable store answers
	// UNAVAILABLE within it (publishes: within it plus VerdictGrace).
	StoreTimeout time.Duration
	// Workers bounds the store reads in progress (replays and large reads
	// cost the store CPU); further reads wait for a turn. Publishes share
	// group-committed writes and pings need no store, so neither waits.
	Workers int
}

// VerdictGrace is how long past its deadline a publish waits for the
// store's answer before it is answered UNAVAILABLE without one. The store
// skips items whose deadline has passed, so by then an unanswered publish
// was not stored unless the store applied it within this much of its
// deadline and its answer was delayed by as much.
const VerdictGrace = 250 * time.Millisecond

// Handler answers requests.
type Handler struct {
	cfg       Config
	link      *storelink.Link
	publisher *publisher.Publisher
	readSlots chan struct{}
	workers   *workers
	seen      seen
	log       *slog.Logger
	now       func() float64
}

// New returns a handler that reaches the store through link.
func New(cfg Config, link *storelink.Link, log *slog.Logger) *Handler {
	pub := publisher.New(publisher.Config{
		InProcess: link.WritesInline(), Timeout: cfg.StoreTimeout, Grace: VerdictGrace,
		BatchItems: 1024, BatchBytes: 4 << 20, InFlight: 4,
	}, link.Client(), log)
	return &Handler{cfg: cfg, link: link, log: log, publisher: pub,
		readSlots: make(chan struct{}, max(1, cfg.Workers)),
		workers:   &workers{idle: make(chan func())},
		now:       func() float64 { return float64(time.Now().UnixNano()) / 1e9 }}
}

// Respond delivers one request's reply; op is its op (for metrics, "" when
// unknown) and outcome "ok" or the error code. The reply is a bufpool
// buffer the caller hands back once it has sent it.
type Respond = func(reply []byte, op string, outcome Outcome)

// Outcome of one request, for metrics: "ok" or the error code.
type Outcome = string

// opKind is how an op is run.
type opKind int

const (
	inline opKind = iota // answered at once, without the store
	write                // stored through the publisher, in receive order
	call                 // a store call on a worker, without a read slot
	read                 // a store read on a worker, within a read slot
)

type opSpec struct {
	kind opKind
	run  func(h *Handler, ctx context.Context, a *args) (wire.Value, *protoError)
}

// ops is the op table: the op list, dispatch and the read-slot policy all
// derive from it, so an op cannot be half added.
var ops = map[string]opSpec{
	"ping":            {inline, (*Handler).ping},
	"health":          {call, (*Handler).health},
	"bus.publish":     {write, nil},
	"bus.list_topics": {read, (*Handler).listTopics},
	"bus.get_recent":  {read, (*Handler).getRecent},
	"bus.get_since":   {read, (*Handler).getSince},
	"bus.query":       {read, (*Handler).query},
	"bus.replay":      {read, (*Handler).replay},
}

// Ops are the known ops, for metric labels.
var Ops = func() []string {
	out := make([]string, 0, len(ops))
	for op := range ops {
		out = append(out, op)
	}
	return out
}()

// request is one decoded request.
type request struct {
	enc   wire.Encoding
	reqID wire.Value // echoed: the string as sent, else null
	op    string
	args  *args
}

// protoError is an error reply.
type protoError struct {
	code    protocol.Code
	msg     string
	details wire.Value // object or null
}

// errorf is code with its documented message.
func errorf(code protocol.Code) *protoError { return &protoError{code: code, msg: code.Message()} }

// errWith is code with its message and ": " what.
func errWith(code protocol.Code, what string) *protoError {
	return &protoError{code: code, msg: code.Message() + ": " + what}
}

func errField(field string) *protoError {
	pe := errorf(protocol.BadArgs)
	pe.details = obj("field", wire.StringValue(field))
	return pe
}

func errMax(code protocol.Code, max int) *protoError {
	pe := errorf(code)
	pe.details = obj("max", wire.IntValue(int64(max)))
	return pe
}

var (
	errUnavailable = errorf(protocol.Unavailable)
	errInternal    = errorf(protocol.Internal)
)

// Start begins answering one request; respond is called exactly once,
// maybe before Start returns. Start and Flush are called by one goroutine
// (the socket owner), in the order requests arrived.
func (h *Handler) Start(body []byte, respond Respond) {
	var req *request
	ok := lifecycle.Contain(h.log, "answering an rpc request", func() {
		var perr *protoError
		req, perr = h.decode(body)
		if perr != nil {
			h.reply(req, wire.Value{}, perr, respond)
			return
		}
		spec, known := ops[req.op]
		switch {
		case !known:
			h.reply(req, wire.Value{}, errWith(protocol.UnknownOp, req.op), respond)
		case spec.kind == inline:
			res, perr := spec.run(h, context.Background(), req.args)
			h.reply(req, res, perr, respond)
		case spec.kind == write:
			h.publish(req, respond)
		default:
			h.workers.run(func() { h.runStoreOp(req, spec, respond) })
		}
	})
	if !ok {
		respond(internalError(), opOf(req), string(protocol.Internal))
	}
}

// Flush sends what Start queued for the store. For a store in this
// process it writes at once, answering those publishes before it returns.
func (h *Handler) Flush() { h.publisher.Flush() }

// Expire answers publishes that waited too long for the store and returns
// when to call it next (zero: nothing waits).
func (h *Handler) Expire(now time.Time) time.Time { return h.publisher.Expire(now) }

// Close stops the publisher; call it once nothing is in flight.
func (h *Handler) Close() {
	h.publisher.Close()
	h.workers.stop()
}

// Handle answers one request and waits for the reply (tests, tools).
func (h *Handler) Handle(body []byte) (reply []byte, op string, outcome Outcome) {
	type answer struct {
		reply       []byte
		op, outcome string
	}
	ch := make(chan answer, 1)
	h.Start(body, func(r []byte, op, outcome string) { ch <- answer{r, op, outcome} })
	h.Flush()
	for {
		select {
		case a := <-ch:
			return a.reply, a.op, a.outcome
		case <-time.After(10 * time.Millisecond):
			h.Expire(time.Now())
		}
	}
}

func opOf(req *request) string {
	if req == nil {
		return ""
	}
	return req.op
}

// runStoreOp runs a read or a store call on a worker goroutine. A read
// waits for a slot within its store timeout: the caller hears UNAVAILABLE
// in the same time whether the store is slow or busy. This one deadline
// bounds the wait and the store call.
func (h *Handler) runStoreOp(req *request, spec opSpec, respond Respond) {
	ok := lifecycle.Contain(h.log, "answering an rpc request", func() {
		ctx, cancel := context.WithTimeout(context.Background(), h.cfg.StoreTimeout)
		defer cancel()
		if spec.kind == read {
			select {
			case h.readSlots <- struct{}{}:
				defer func() { <-h.readSlots }()
			case <-ctx.Done():
				h.reply(req, wire.Value{}, errUnavailable, respond)
				return
			}
		}
		res, perr := spec.run(h, ctx, req.args)
		h.reply(req, res, perr, respond)
	})
	if !ok {
		respond(internalError(), req.op, string(protocol.Internal))
	}
}

// internalReply answers a request the edge failed on in a way it could not
// encode (a bug): JSON, whatever the request's encoding.
var internalReply = `{"v":1,"req_id":null,"ok":false,"result":null,"error":{"code":"` + string(protocol.Internal) +
	`","message":"` + protocol.Internal.Message() + `","details":null}}`

// internalError is internalReply in a buffer of its own, as every reply is.
func internalError() []byte { return append(bufpool.Get(len(internalReply)), internalReply...) }

// reply encodes a result or an error in the request's encoding (JSON when
// the request could not be decoded) and responds with it.
func (h *Handler) reply(req *request, result wire.Value, perr *protoError, respond Respond) {
	enc, reqID, op := wire.JSON, wire.NullValue(), ""
	if req != nil {
		enc, reqID, op = req.enc, req.reqID, req.op
	}
	var outcome Outcome
	env := []wire.Member{{Key: "v", Val: wire.IntValue(1)}, {Key: "req_id", Val: reqID}}
	if perr != nil {
		details := perr.details
		if details.Kind != wire.Object {
			details = wire.NullValue()
		}
		env = append(env,
			wire.Member{Key: "ok", Val: wire.BoolValue(false)},
			wire.Member{Key: "result", Val: wire.NullValue()},
			wire.Member{Key: "error", Val: obj("code", wire.StringValue(string(perr.code)), "message", wire.StringValue(perr.msg), "details", details)})
		outcome = string(perr.code)
	} else {
		env = append(env,
			wire.Member{Key: "ok", Val: wire.BoolValue(true)},
			wire.Member{Key: "result", Val: result},
			wire.Member{Key: "error", Val: wire.NullValue()})
		outcome = "ok"
	}
	whole := wire.ObjectValue(env)
	out, err := wire.Encode(bufpool.Get(wire.SizeHint(whole)+64), whole, enc)
	if err != nil {
		// Only reachable through a bug (every value here is representable).
		h.log.Error("encode reply", "err", err, "op", op, "req_id", reqID.Str)
		out = append(out[:0], internalReply...)
		outcome = string(protocol.Internal)
	}
	if req != nil && req.args != nil {
		for _, b := range req.args.spliced {
			bufpool.Put(b)
		}
		req.args.spliced = nil
	}
	respond(out, op, outcome)
}

// decode checks, in order: decoding, envelope fields, version. Envelope
// problems that cannot be answered in the request's terms answer in JSON.
func (h *Handler) decode(body []byte) (*request, *protoError) {
	// args.payload is only ever stored: it stays encoded until it becomes
	// payload JSON.
	v, enc, err := wire.DecodeKeeping(body, "payload", 2)
	if err != nil || v.Kind != wire.Object {
		return nil, errorf(protocol.BadRequest)
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
			return req, errWith(protocol.UnsupportedVersion, string(text))
		}
	}
	req.args = &args{obj: a, enc: enc, mode: h.cfg.Mode, log: h.log, op: req.op, reqID: req.reqID}
	return req, nil
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
