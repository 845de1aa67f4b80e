package storelink

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	mpv1 "github.com/messageplane/mp/proto/messageplane/v1"
)

// InProcess returns a StoreClient that calls srv in this process: the same
// interface the edges use over gRPC, without serialization or a network hop
// (the all-in-one process). Requests are handed to srv as they are, so a
// caller must not change a request's bytes after the call; streams cross
// through channels, each message copied once because the store reuses its
// stream buffers.
func InProcess(srv mpv1.StoreServer) mpv1.StoreClient { return inproc{srv} }

type inproc struct{ srv mpv1.StoreServer }

func (c inproc) Info(ctx context.Context, in *mpv1.InfoRequest, _ ...grpc.CallOption) (*mpv1.InfoResponse, error) {
	return c.srv.Info(ctx, in)
}

func (c inproc) Write(ctx context.Context, in *mpv1.WriteRequest, _ ...grpc.CallOption) (*mpv1.WriteResponse, error) {
	return c.srv.Write(ctx, in)
}

func (c inproc) ListTopics(ctx context.Context, in *mpv1.ListTopicsRequest, _ ...grpc.CallOption) (*mpv1.ListTopicsResponse, error) {
	return c.srv.ListTopics(ctx, in)
}

func (c inproc) GetRecent(ctx context.Context, in *mpv1.GetRecentRequest, _ ...grpc.CallOption) (*mpv1.ReadResponse, error) {
	return c.srv.GetRecent(ctx, in)
}

func (c inproc) GetSince(ctx context.Context, in *mpv1.GetSinceRequest, _ ...grpc.CallOption) (*mpv1.ReadResponse, error) {
	return c.srv.GetSince(ctx, in)
}

func (c inproc) Query(ctx context.Context, in *mpv1.QueryRequest, _ ...grpc.CallOption) (*mpv1.ReadResponse, error) {
	return c.srv.Query(ctx, in)
}

func (c inproc) Replay(ctx context.Context, in *mpv1.ReplayRequest, _ ...grpc.CallOption) (*mpv1.ReadResponse, error) {
	return c.srv.Replay(ctx, in)
}

func (c inproc) Watch(ctx context.Context, in *mpv1.WatchRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[mpv1.WatchResponse], error) {
	p := newPipe[mpv1.WatchRequest, mpv1.WatchResponse](ctx)
	go p.serve(func() error { return c.srv.Watch(in, p.server()) })
	return p.client(), nil
}

func (c inproc) WriteStream(ctx context.Context, _ ...grpc.CallOption) (grpc.BidiStreamingClient[mpv1.WriteRequest, mpv1.WriteResponse], error) {
	p := newPipe[mpv1.WriteRequest, mpv1.WriteResponse](ctx)
	go p.serve(func() error { return c.srv.WriteStream(p.server()) })
	return p.client(), nil
}

// pipe is one in-process stream: requests flow client to server, responses
// server to client, each through a channel of one message (the store
// bounds each message; the channels bound how many wait).
type pipe[Req, Res any] struct {
	ctx    context.Context
	cancel context.CancelFunc
	reqs   chan *Req
	ress   chan *Res
	closed chan struct{} // the client will send nothing more
	done   chan struct{} // the server handler returned
	err    error         // its error, readable once done is closed
}

func newPipe[Req, Res any](ctx context.Context) *pipe[Req, Res] {
	ctx, cancel := context.WithCancel(ctx)
	return &pipe[Req, Res]{ctx: ctx, cancel: cancel, reqs: make(chan *Req, 1), ress: make(chan *Res, 1),
		closed: make(chan struct{}), done: make(chan struct{})}
}

func (p *pipe[Req, Res]) serve(handler func() error) {
	defer close(p.done)
	p.err = handler()
	if p.err == nil {
		p.err = io.EOF
	}
}

func (p *pipe[Req, Res]) server() *pipeServer[Req, Res] { return &pipeServer[Req, Res]{p} }
func (p *pipe[Req, Res]) client() *pipeClient[Req, Res] { return &pipeClient[Req, Res]{p} }

// pipeServer is the store's end.
type pipeServer[Req, Res any] struct{ p *pipe[Req, Res] }

func (s *pipeServer[Req, Res]) Context() context.Context { return s.p.ctx }

// Send copies m: the store reuses a stream message's memory once Send
// returns, as gRPC lets it (gRPC has marshaled it by then).
func (s *pipeServer[Req, Res]) Send(m *Res) error {
	c := any(proto.Clone(any(m).(proto.Message))).(*Res)
	select {
	case s.p.ress <- c:
		return nil
	case <-s.p.ctx.Done():
		return s.p.ctx.Err()
	}
}

func (s *pipeServer[Req, Res]) Recv() (*Req, error) {
	select {
	case m := <-s.p.reqs:
		return m, nil
	case <-s.p.closed:
		select { // what was sent before CloseSend still arrives
		case m := <-s.p.reqs:
			return m, nil
		default:
			return nil, io.EOF
		}
	case <-s.p.ctx.Done():
		return nil, s.p.ctx.Err()
	}
}

func (s *pipeServer[Req, Res]) SetHeader(metadata.MD) error  { return nil }
func (s *pipeServer[Req, Res]) SendHeader(metadata.MD) error { return nil }
func (s *pipeServer[Req, Res]) SetTrailer(metadata.MD)       {}
func (s *pipeServer[Req, Res]) SendMsg(m any) error          { return s.Send(m.(*Res)) }
func (s *pipeServer[Req, Res]) RecvMsg(m any) error          { return errUnsupported }

// pipeClient is the edge's end.
type pipeClient[Req, Res any] struct{ p *pipe[Req, Res] }

func (c *pipeClient[Req, Res]) Context() context.Context { return c.p.ctx }

func (c *pipeClient[Req, Res]) Send(m *Req) error {
	select {
	case c.p.reqs <- m:
		return nil
	case <-c.p.done:
		return io.EOF // as gRPC: the stream's status comes from Recv
	case <-c.p.ctx.Done():
		return io.EOF
	}
}

func (c *pipeClient[Req, Res]) Recv() (*Res, error) {
	select {
	case m := <-c.p.ress:
		return m, nil
	case <-c.p.done:
		select { // answers sent before the handler returned come first
		case m := <-c.p.ress:
			return m, nil
		default:
			c.p.cancel()
			return nil, c.p.err
		}
	case <-c.p.ctx.Done():
		return nil, c.p.ctx.Err()
	}
}

func (c *pipeClient[Req, Res]) CloseSend() error {
	select {
	case <-c.p.closed:
	default:
		close(c.p.closed)
	}
	return nil
}

func (c *pipeClient[Req, Res]) Header() (metadata.MD, error) { return nil, nil }
func (c *pipeClient[Req, Res]) Trailer() metadata.MD         { return nil }
func (c *pipeClient[Req, Res]) SendMsg(m any) error          { return c.Send(m.(*Req)) }
func (c *pipeClient[Req, Res]) RecvMsg(m any) error          { return errUnsupported }

var errUnsupported = errors.New("storelink: RecvMsg is not used in process")
