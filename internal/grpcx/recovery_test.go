package grpcx

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRecovery(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	unary := recoverUnary(log)
	info := &grpc.UnaryServerInfo{FullMethod: "/messageplane.v1.Store/Write"}
	resp, err := unary(context.Background(), "req", info, func(context.Context, any) (any, error) { return "resp", nil })
	if resp != "resp" || err != nil {
		t.Fatalf("calm handler: %v %v", resp, err)
	}
	_, err = unary(context.Background(), "req", info, func(context.Context, any) (any, error) { panic("boom") })
	if status.Code(err) != codes.Internal {
		t.Fatalf("panicking unary handler: %v", err)
	}
	stream := recoverStream(log)
	sinfo := &grpc.StreamServerInfo{FullMethod: "/messageplane.v1.Store/Watch"}
	if err := stream(nil, nil, sinfo, func(any, grpc.ServerStream) error { panic("boom") }); status.Code(err) != codes.Internal {
		t.Fatalf("panicking stream handler: %v", err)
	}
	if err := stream(nil, nil, sinfo, func(any, grpc.ServerStream) error { return io.EOF }); err != io.EOF {
		t.Fatalf("calm stream handler: %v", err)
	}
}
