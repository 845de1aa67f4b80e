// Package server exposes the store over the internal gRPC contract
// (proto/messageplane/v1) and maps store refusals to statuses whose reason
// is the docs/PROTOCOL.md error code.
package server

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/messageplane/mp/internal/grpcx"
	"github.com/messageplane/mp/internal/protocol"
	mpv1 "github.com/messageplane/mp/proto/messageplane/v1"
	"github.com/messageplane/mp/services/store/internal/event"
	"github.com/messageplane/mp/services/store/internal/logrec"
	"github.com/messageplane/mp/services/store/internal/store"
)

// Server implements mpv1.StoreServer.
type Server struct {
	mpv1.UnimplementedStoreServer
	svc *store.Service
	// stopping ends Watch streams when the process drains, so a graceful
	// stop does not wait for streams that never end by themselves.
	stopping <-chan struct{}
}

// New returns a server for svc; closing stopping ends every Watch stream.
func New(svc *store.Service, stopping <-chan struct{}) *Server {
	return &Server{svc: svc, stopping: stopping}
}

// Register adds the server to a gRPC server.
func (s *Server) Register(g *grpc.Server) { mpv1.RegisterStoreServer(g, s) }

func (s *Server) Info(ctx context.Context, _ *mpv1.InfoRequest) (*mpv1.InfoResponse, error) {
	cfg := s.svc.Config()
	resp := &mpv1.InfoResponse{Epoch: s.svc.Epoch(), TopicMax: uint32(cfg.TopicMax), TopicMaxlen: uint32(cfg.TopicMaxLen)}
	for _, h := range s.svc.Heads() {
		resp.Stores = append(resp.Stores, &mpv1.StoreHead{Name: h.Name, HeadSeq: h.HeadSeq, TopicCount: uint32(h.TopicCount)})
	}
	return resp, nil
}

func (s *Server) Write(ctx context.Context, req *mpv1.WriteRequest) (*mpv1.WriteResponse, error) {
	b, err := batchOf(req)
	if err != nil {
		return nil, err
	}
	res, err := s.svc.Write(ctx, b)
	if err != nil {
		return nil, toStatus(err)
	}
	return writeResponse(res), nil
}

// batchOf maps a write request onto the store's batch.
func batchOf(req *mpv1.WriteRequest) (*store.Batch, error) {
	b := &store.Batch{Producer: req.GetProducerId(), Number: req.GetBatch(), ReturnEvents: req.GetReturnEvents(),
		Ops: make([]store.Op, len(req.GetOps()))}
	for i, op := range req.GetOps() {
		switch x := op.GetOp().(type) {
		case *mpv1.WriteOp_Item:
			it := x.Item
			b.Ops[i] = store.Op{Store: it.GetStore(), Topic: it.GetTopic(), Payloads: [][]byte{it.GetPayload()},
				Deadline: it.GetDeadline(), Encoding: encoding(it.GetEncoding())}
		case *mpv1.WriteOp_Replace:
			r := x.Replace
			b.Ops[i] = store.Op{Store: r.GetStore(), Topic: r.GetTopic(), Replace: true, Payloads: r.GetPayloads()}
		default:
			return nil, status.Error(codes.InvalidArgument, "empty write op")
		}
	}
	return b, nil
}

func encoding(e mpv1.Encoding) store.Encoding {
	if e == mpv1.Encoding_ENCODING_MSGPACK {
		return store.Msgpack
	}
	return store.JSON
}

// writeResponse maps the store's answer onto the internal contract.
func writeResponse(res *store.WriteResult) *mpv1.WriteResponse {
	resp := &mpv1.WriteResponse{Epoch: res.Epoch, Duplicate: res.Duplicate, Results: make([]*mpv1.WriteResult, len(res.Items))}
	results := make([]mpv1.WriteResult, len(res.Items))
	for i, it := range res.Items {
		r := &results[i]
		switch {
		case it.Expired:
			r.Reject = mpv1.Reject_REJECT_EXPIRED
		case it.Refused != nil:
			r.Reject = protocol.Reject(it.Refused)
		default:
			r.Seq, r.Event = it.Seq, it.Event
		}
		resp.Results[i] = r
	}
	return resp
}

// WriteStream applies each request of the stream in the order it arrives
// and answers it, in that order: the order an edge pipelines its batches
// in is the order they are stored in.
func (s *Server) WriteStream(stream grpc.BidiStreamingServer[mpv1.WriteRequest, mpv1.WriteResponse]) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		resp, err := s.Write(stream.Context(), req)
		if err != nil {
			return err
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

func (s *Server) ListTopics(ctx context.Context, req *mpv1.ListTopicsRequest) (*mpv1.ListTopicsResponse, error) {
	topics, err := s.svc.ListTopics(req.GetStore())
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &mpv1.ListTopicsResponse{Epoch: s.svc.Epoch(), Stores: s.svc.Names(), Topics: make([]*mpv1.TopicInfo, len(topics))}
	for i, t := range topics {
		resp.Topics[i] = &mpv1.TopicInfo{Topic: t.Topic, Count: uint64(t.Count), CountTotal: t.CountTotal, CreatedAt: t.CreatedAt, LastTs: t.LastTS, LastSeq: t.LastSeq}
	}
	return resp, nil
}

func readOpts(o *mpv1.ReadOptions) store.ReadOpts {
	return store.ReadOpts{Limit: int(o.GetLimit()), Light: o.GetLight(), MaxBytes: int(o.GetMaxBytes()), Encoding: encoding(o.GetEncoding()), MinSeq: o.GetMinSeq()}
}

func readResponse(r store.Result, err error) (*mpv1.ReadResponse, error) {
	if err != nil {
		return nil, toStatus(err)
	}
	return &mpv1.ReadResponse{Items: r.Items, Count: uint32(r.Count), Truncated: r.Truncated, HeadSeq: r.HeadSeq, Epoch: r.Epoch}, nil
}

func (s *Server) GetRecent(ctx context.Context, req *mpv1.GetRecentRequest) (*mpv1.ReadResponse, error) {
	return readResponse(s.svc.GetRecent(ctx, req.GetStore(), req.GetTopic(), readOpts(req.GetRead())))
}

func (s *Server) GetSince(ctx context.Context, req *mpv1.GetSinceRequest) (*mpv1.ReadResponse, error) {
	return readResponse(s.svc.GetSince(ctx, req.GetStore(), req.GetTopic(), req.GetAfterSeq(), readOpts(req.GetRead())))
}

func (s *Server) Query(ctx context.Context, req *mpv1.QueryRequest) (*mpv1.ReadResponse, error) {
	f := store.Filter{PriorityMin: req.PriorityMin, SinceTS: req.SinceTs, UntilTS: req.UntilTs}
	for name, value := range req.GetEquals() {
		k := event.StrKey(name)
		if k < 0 || !queryable[name] {
			return nil, status.Errorf(codes.InvalidArgument, "bus.query cannot filter on %q", name)
		}
		f.Equals = append(f.Equals, store.Equal{Key: k, Value: value})
	}
	return readResponse(s.svc.Query(ctx, req.GetStore(), req.GetTopic(), f, readOpts(req.GetRead())))
}

// queryable are the index keys bus.query filters on by exact match.
var queryable = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range protocol.IndexKeys {
		if k.Query {
			m[k.Name] = true
		}
	}
	return m
}()

func (s *Server) Replay(ctx context.Context, req *mpv1.ReplayRequest) (*mpv1.ReadResponse, error) {
	return readResponse(s.svc.Replay(ctx, req.GetStore(), req.GetPlan(), readOpts(req.GetRead()), int(req.GetMaxLimit()), int(req.GetTopicNameMaxLen())))
}

func (s *Server) Watch(req *mpv1.WatchRequest, stream grpc.ServerStreamingServer[mpv1.WatchResponse]) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	go func() {
		select {
		case <-s.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	// The response and its events are reused from batch to batch: Send
	// has marshaled them when it returns (this server installs no stats
	// handler or tracing, which could read them later).
	var resp mpv1.WatchResponse
	var events []mpv1.WatchEvent
	err := s.svc.Watch(ctx, req.GetStore(), req.GetAfterSeq(), req.GetEpoch(), req.GetFromHead(), func(b *store.WatchBatch) error {
		if cap(events) < len(b.Events) {
			events = make([]mpv1.WatchEvent, len(b.Events))
		}
		ptrs := resp.Events[:0]
		resp.Reset()
		resp.Epoch, resp.EpochReset, resp.Skipped, resp.HeadSeq, resp.Events = b.Epoch, b.Reset, b.Skipped, b.HeadSeq, ptrs
		for i, e := range b.Events {
			ev := &events[i]
			ev.Reset()
			ev.Seq, ev.Topic, ev.Event = e.Seq, e.Topic, e.JSON
			resp.Events = append(resp.Events, ev)
		}
		return stream.Send(&resp)
	})
	if errors.Is(err, context.Canceled) {
		select {
		case <-s.stopping:
			return status.Error(codes.Unavailable, "store is shutting down")
		default:
		}
	}
	return toStatus(err)
}

// toStatus maps store errors to gRPC statuses carrying the protocol code.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	var se *store.Error
	switch {
	case errors.As(err, &se):
		c := codes.InvalidArgument
		if se.Code == protocol.OutOfRange {
			c = codes.OutOfRange
		}
		return grpcx.Error(c, string(se.Code), se.Msg)
	case errors.Is(err, store.ErrNotReady), errors.Is(err, logrec.ErrUnavailable):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline passed before the store applied the request")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request cancelled")
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Internal, err.Error())
}
