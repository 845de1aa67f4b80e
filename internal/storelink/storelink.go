// Package storelink is an edge's connection to the store service: a gRPC
// client that reconnects by itself, the store names and epoch learned from
// Info (at start-up and again whenever the link comes back), and a
// readiness check that reflects the link.
package storelink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"

	"github.com/messageplane/mp/internal/grpcx"
	mpv1 "github.com/messageplane/mp/proto/messageplane/v1"
)

// ErrNoInfo means the store has not been reached yet, so the store names
// are unknown.
var ErrNoInfo = errors.New("store not reached yet")

// Link is an edge's connection to the store: over gRPC (Dial), or to a
// store in the same process (Local).
type Link struct {
	conn   *grpc.ClientConn // nil for a store in this process
	client mpv1.StoreClient
	inline bool // writes are answered as fast as a function call
	log    *slog.Logger

	mu   sync.RWMutex
	info *mpv1.InfoResponse
	stop context.CancelFunc
}

// Dial connects (lazily) to the store at addr and keeps its Info fresh
// until Close. An edge passes its gRPC client metrics (tests may pass none).
func Dial(addr string, maxMsg int, log *slog.Logger, metrics ...*grpcx.ClientMetrics) (*Link, error) {
	conn, err := grpcx.Dial(addr, maxMsg, metrics...)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", addr, err)
	}
	ctx, stop := context.WithCancel(context.Background())
	l := &Link{conn: conn, client: mpv1.NewStoreClient(conn), log: log, stop: stop}
	go l.follow(ctx)
	return l, nil
}

// Local links to a store in this process through client (InProcess): no
// connection to lose, so the link is ready once the store has answered Info.
// inline says the store answers a write as fast as a function call (its
// events live in memory only), so a writer may wait for it in line.
func Local(client mpv1.StoreClient, inline bool, log *slog.Logger) *Link {
	ctx, stop := context.WithCancel(context.Background())
	l := &Link{client: client, inline: inline, log: log, stop: stop}
	go func() {
		// A store that is still loading (replaying its log) refuses Info.
		for l.Refresh(ctx) != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return l
}

// Client is the store client.
func (l *Link) Client() mpv1.StoreClient { return l.client }

// WritesInline reports whether a write is answered as fast as a function
// call: a store in this process that keeps its events in memory only. A
// store with a log of record (or across the network) answers a write after
// a round trip, which a writer had better not wait for in line.
func (l *Link) WritesInline() bool { return l.inline }

// Close stops following the store and closes the connection.
func (l *Link) Close() error {
	l.stop()
	if l.conn == nil {
		return nil
	}
	return l.conn.Close()
}

// follow refreshes Info whenever the connection becomes ready, so store
// names and the epoch follow a restarted store.
func (l *Link) follow(ctx context.Context) {
	l.conn.Connect()
	for {
		state := l.conn.GetState()
		if state == connectivity.Ready || l.Info() == nil {
			if err := l.Refresh(ctx); err != nil && ctx.Err() == nil {
				l.log.Debug("store info", "err", err)
			}
		}
		if state == connectivity.Ready && l.Info() != nil {
			if !l.conn.WaitForStateChange(ctx, state) {
				return
			}
			continue
		}
		// Not ready yet: wait for a change, but retry Info at least every
		// second (the state can stay IDLE until a call is made).
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		l.conn.WaitForStateChange(wctx, state)
		cancel()
		if ctx.Err() != nil {
			return
		}
	}
}

// Refresh asks the store for its Info now.
func (l *Link) Refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	info, err := l.client.Info(ctx, &mpv1.InfoRequest{})
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.info
	l.info = info
	l.mu.Unlock()
	if old == nil || old.Epoch != info.Epoch {
		names := make([]string, len(info.Stores))
		for i, s := range info.Stores {
			names[i] = s.Name
		}
		l.log.Info("store link up", "epoch", info.Epoch, "stores", names)
	}
	return nil
}

// Info is the last Info seen, or nil.
func (l *Link) Info() *mpv1.InfoResponse {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.info
}

// Stores returns the store names (sorted), or ErrNoInfo.
func (l *Link) Stores() ([]string, error) {
	info := l.Info()
	if info == nil {
		return nil, ErrNoInfo
	}
	names := make([]string, len(info.Stores))
	for i, s := range info.Stores {
		names[i] = s.Name
	}
	return names, nil
}

// HasStore reports whether name is a configured store; the error is
// ErrNoInfo when the store names are not known yet.
func (l *Link) HasStore(name string) (bool, error) {
	info := l.Info()
	if info == nil {
		return false, ErrNoInfo
	}
	return slices.ContainsFunc(info.Stores, func(s *mpv1.StoreHead) bool { return s.Name == name }), nil
}

// Ready is a readiness check: the store answered Info and the link is up.
func (l *Link) Ready(ctx context.Context) error {
	if l.Info() == nil {
		return ErrNoInfo
	}
	if l.conn == nil {
		return nil
	}
	if st := l.conn.GetState(); st == connectivity.TransientFailure || st == connectivity.Shutdown {
		return fmt.Errorf("store link %s", st)
	}
	return nil
}
