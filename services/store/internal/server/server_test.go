package server

import (
	"context"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/messageplane/mp/internal/grpcx"
	mpv1 "github.com/messageplane/mp/proto/messageplane/v1"
	"github.com/messageplane/mp/services/store/internal/store"
)

// start serves a fresh store on a loopback port and returns a client.
func start(t *testing.T) (mpv1.StoreClient, chan struct{}) {
	t.Helper()
	svc, err := store.New(store.Config{Stores: []string{"messages", "events"}, TopicMax: 10, TopicMaxLen: 100})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpcx.ServerOptions(grpcx.MessageLimit(1 << 20))...)
	stopping := make(chan struct{})
	New(svc, stopping).Register(gs)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpcx.Dial(lis.Addr().String(), grpcx.MessageLimit(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return mpv1.NewStoreClient(conn), stopping
}

func TestServerRoundTrip(t *testing.T) {
	c, stopping := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	info, err := c.Info(ctx, &mpv1.InfoRequest{})
	if err != nil || len(info.Stores) != 2 || info.Stores[0].Name != "events" || info.TopicMax != 10 || info.Epoch == "" {
		t.Fatalf("info %v %v", info, err)
	}
	watch, err := c.Watch(ctx, &mpv1.WatchRequest{Store: "messages", FromHead: true})
	if err != nil {
		t.Fatal(err)
	}
	if first, err := watch.Recv(); err != nil || first.Epoch != info.Epoch {
		t.Fatalf("watch header %v %v", first, err)
	}
	w, err := c.Write(ctx, &mpv1.WriteRequest{ReturnEvents: true, Ops: []*mpv1.WriteOp{
		{Op: &mpv1.WriteOp_Item{Item: &mpv1.Item{Store: "messages", Topic: "a", Payload: []byte(`{"x":1}`)}}},
	}})
	if err != nil || w.Results[0].Seq != 1 {
		t.Fatalf("write %v %v", w, err)
	}
	got, err := watch.Recv()
	if err != nil || len(got.Events) != 1 || string(got.Events[0].Event) != string(w.Results[0].Event) {
		t.Fatalf("watched %v %v", got, err)
	}
	r, err := c.GetSince(ctx, &mpv1.GetSinceRequest{Store: "messages", Read: &mpv1.ReadOptions{Limit: 10}})
	if err != nil || r.Count != 1 || r.HeadSeq != 1 || r.Epoch != info.Epoch {
		t.Fatalf("get_since %v %v", r, err)
	}

	_, err = c.GetRecent(ctx, &mpv1.GetRecentRequest{Store: "nope", Topic: "a", Read: &mpv1.ReadOptions{Limit: 1}})
	if grpcx.Reason(err) != "INVALID_STORE" || status.Code(err) != codes.InvalidArgument {
		t.Errorf("invalid store: %v", err)
	}
	_, err = c.Replay(ctx, &mpv1.ReplayRequest{Store: "messages", Plan: []byte(`{"op":"bogus"}`), MaxLimit: 10})
	if grpcx.Reason(err) != "UNSUPPORTED_PLAN" {
		t.Errorf("bad plan: %v", err)
	}

	// Draining ends watch streams with UNAVAILABLE so edges reconnect.
	close(stopping)
	if _, err := watch.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("watch after stop: %v", err)
	}
}

// TestWriteStreamOrder: batches pipelined on one stream are applied and
// answered in the order they were sent.
func TestWriteStreamOrder(t *testing.T) {
	c, _ := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, err := c.WriteStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := 0; i < n; i++ {
		req := &mpv1.WriteRequest{ReturnEvents: i%2 == 0, Ops: []*mpv1.WriteOp{
			{Op: &mpv1.WriteOp_Item{Item: &mpv1.Item{Store: "messages", Topic: "t", Payload: []byte(`{"i":` + strconv.Itoa(i) + `}`)}}},
		}}
		if err := ws.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	if err := ws.CloseSend(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		resp, err := ws.Recv()
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if got := resp.Results[0].Seq; got != uint64(i+1) {
			t.Fatalf("answer %d has seq %d", i, got)
		}
	}
	if _, err := ws.Recv(); err != io.EOF {
		t.Fatalf("stream end: %v", err)
	}
}
