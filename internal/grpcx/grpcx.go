// Package grpcx holds the gRPC settings every edge and the store share:
// reconnect backoff capped near one second (gRPC's default grows to 120 s),
// keepalives, message limits above the largest reply, and the mapping of
// docs/PROTOCOL.md error codes onto gRPC statuses.
package grpcx

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/health" // client-side health checking (healthCheckConfig)
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"

	"github.com/messageplane/mp/internal/lifecycle"
	mpv1 "github.com/messageplane/mp/proto/messageplane/v1"
)

// ErrorDomain tags ErrorInfo details that carry a docs/PROTOCOL.md error code.
const ErrorDomain = "messageplane"

// MessageLimit is the gRPC message size limit for a reply limit: the
// largest reply plus room for framing.
func MessageLimit(maxReplyBytes int) int {
	return maxReplyBytes + 4<<20
}

// Flow-control windows and socket buffers sized for multi-megabyte replies
// on a fast network: gRPC's 64 KiB defaults make a 5 MB read take dozens of
// window updates (round trips) before the BDP estimator catches up.
const (
	window  = 16 << 20
	sockBuf = 256 << 10
)

// Dial returns a client connection to the store with the shared settings.
// It connects lazily and reconnects by itself. addr is one address
// (host:port, a host name resolving to several addresses: every replica
// of the store), a comma-separated list of them, or any gRPC target
// (dns:///store:48920); calls are spread over every address that answers
// (round robin) and serves (gRPC health), and a stream stays on the
// replica it started on. A
// service passes its ClientMetrics (tests may pass none).
func Dial(addr string, maxMsg int, metrics ...*ClientMetrics) (*grpc.ClientConn, error) {
	target, opts := addr, []grpc.DialOption{
		// Health checking keeps calls off a replica that is still loading
		// its log or draining: its gRPC health says NOT_SERVING.
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"round_robin": {}}], "healthCheckConfig": {"serviceName": ""}}`),
	}
	if strings.Contains(addr, ",") {
		r := manual.NewBuilderWithScheme("mp-store")
		var state resolver.State
		for _, a := range strings.Split(addr, ",") {
			if a = strings.TrimSpace(a); a != "" {
				state.Addresses = append(state.Addresses, resolver.Address{Addr: a})
			}
		}
		r.InitialState(state)
		target, opts = "mp-store:///replicas", append(opts, grpc.WithResolvers(r))
	}
	opts = append(opts, []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  50 * time.Millisecond,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   time.Second,
			},
			MinConnectTimeout: 2 * time.Second,
		}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 20 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsg), grpc.MaxCallSendMsgSize(maxMsg), grpc.ForceCodecV2(mpv1.Codec{})),
		grpc.WithInitialWindowSize(window),
		grpc.WithInitialConnWindowSize(window),
		grpc.WithReadBufferSize(sockBuf),
		grpc.WithWriteBufferSize(sockBuf),
	}...)
	return grpc.NewClient(target, append(opts, clientMetricOptions(metrics)...)...)
}

// ServerOptions are the store's server options. The store passes its
// ServerMetrics (tests may pass none); their interceptors come first, so
// they see every call, including one that Recovery turned into Internal.
func ServerOptions(maxMsg int, metrics ...*ServerMetrics) []grpc.ServerOption {
	return append([]grpc.ServerOption{
		grpc.MaxRecvMsgSize(maxMsg),
		grpc.MaxSendMsgSize(maxMsg),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.InitialWindowSize(window),
		grpc.InitialConnWindowSize(window),
		grpc.ReadBufferSize(sockBuf),
		grpc.WriteBufferSize(sockBuf),
		grpc.ForceServerCodecV2(mpv1.Codec{}),
	}, serverMetricOptions(metrics)...)
}

// Error returns a status whose ErrorInfo reason is a docs/PROTOCOL.md error code.
func Error(c codes.Code, reason, msg string) error {
	st := status.New(c, msg)
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain}); err == nil {
		st = d
	}
	return st.Err()
}

// Reason returns the docs/PROTOCOL.md error code carried by err, or "".
func Reason(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return ""
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Domain == ErrorDomain {
			return info.Reason
		}
	}
	return ""
}

// Unavailable reports whether err means the store could not be reached or
// did not answer in time (as opposed to refusing the request).
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Aborted:
		return true
	}
	return false
}

// Recovery contains a panic in a server's handler: that call fails with
// codes.Internal (the edge answers INTERNAL) and the store goes on serving
// everyone else. Put it after interceptors that should see the failure.
func Recovery(log *slog.Logger) []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(recoverUnary(log)), grpc.ChainStreamInterceptor(recoverStream(log))}
}

func recoverUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
		if !lifecycle.Contain(log, info.FullMethod, func() { resp, err = h(ctx, req) }) {
			return nil, status.Error(codes.Internal, "internal error")
		}
		return resp, err
	}
}

func recoverStream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
		if !lifecycle.Contain(log, info.FullMethod, func() { err = h(srv, ss) }) {
			return status.Error(codes.Internal, "internal error")
		}
		return err
	}
}
