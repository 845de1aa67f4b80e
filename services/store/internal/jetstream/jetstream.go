// Package jetstream is the store's log of record on NATS JetStream: one
// stream per store, each topic one subject, each event one message whose
// stream sequence is the event's seq. The store builds its in-memory view
// from the streams at start and follows them (logrec.Log).
//
// JetStream does the hard parts: it orders, persists (and, with replicas,
// replicates) the events, evicts a topic's oldest past its limit
// (MaxMsgsPerSubject), replaces a topic atomically (an atomic batch whose
// first message rolls up the subject) and removes one (a purge). A
// message's headers carry what the view must show exactly as before a
// restart: the topic, the event's ts, the topic's count_total and
// created_at, and which write it came from.
package jetstream

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/messageplane/mp/services/store/internal/logrec"
)

// Config says where the log lives and how it keeps events.
type Config struct {
	// URL of an existing NATS system (comma-separated seeds); empty runs an
	// embedded server with no network listener in this process.
	URL string
	// DataDir is the embedded server's storage directory.
	DataDir string
	// Replicas of each stream (1 for an embedded server).
	Replicas int
	// Sync is how often the embedded server flushes to disk: "always" or a
	// duration. A process crash loses nothing acknowledged either way;
	// power loss can lose what was acknowledged since the last flush.
	Sync string
	// Stores are the store names; TopicMaxLen the events kept per topic.
	Stores      []string
	TopicMaxLen int
	// MaxPayload is the largest payload the edges accept (bytes).
	MaxPayload int
	Log        *slog.Logger
}

// Message headers; the NATS ones are JetStream's own. Mp-Event packs what
// the view needs of an event beside its payload, in one header (one to
// parse per message): "ts count created [part/parts] [producer batch item]"
// with "-" for an absent part and producer.
const (
	hdrTopic    = "Mp-Topic"
	hdrEvent    = "Mp-Event"
	hdrRollup   = "Nats-Rollup"
	hdrMsgID    = "Nats-Msg-Id"
	hdrBatchID  = "Nats-Batch-Id"
	hdrBatchSeq = "Nats-Batch-Sequence"
	hdrCommit   = "Nats-Batch-Commit"
)

// maxBatch is how many events one replace (one atomic batch) may carry:
// the embedded server is configured for it; an external one may allow
// fewer (1000 by default).
const maxBatch = 1 << 16

// Log is a JetStream log of record.
type Log struct {
	cfg     Config
	ns      *server.Server // the embedded server, or nil
	nc      *nats.Conn
	closed  chan struct{} // closed once nc is
	js      jetstream.JetStream
	epoch   string
	stream  map[string]jetstream.Stream
	batchID atomic.Uint64 // atomic batch ids
}

// Open connects (starting the embedded server when there is no URL) and
// makes sure every store's stream exists (streams).
func Open(ctx context.Context, cfg Config) (*Log, error) {
	if cfg.Replicas < 1 {
		cfg.Replicas = 1
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	l := &Log{cfg: cfg, stream: map[string]jetstream.Stream{}, closed: make(chan struct{})}
	var opts []nats.Option
	url := cfg.URL
	if url == "" {
		ns, err := embedded(cfg)
		if err != nil {
			return nil, err
		}
		l.ns, url = ns, ns.ClientURL()
		opts = append(opts, nats.InProcessServer(ns))
	}
	opts = append(opts, nats.Name("mp-store"), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.ClosedHandler(func(*nats.Conn) { close(l.closed) }))
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("nats %s: %w", url, err)
	}
	l.nc = nc
	if need := int64(cfg.MaxPayload) + 4096; nc.MaxPayload() < need {
		l.Close()
		return nil, fmt.Errorf("nats max_payload %d is below the largest event (%d bytes with headers): raise it", nc.MaxPayload(), need)
	}
	// An acknowledgement lost with a server that died would otherwise
	// keep its write (and every write after it: writes are ordered) waiting
	// for ever.
	if l.js, err = jetstream.New(nc, jetstream.WithPublishAsyncTimeout(ackTimeout)); err != nil {
		l.Close()
		return nil, err
	}
	if err := l.setUp(ctx); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// ackTimeout is how long an append waits for JetStream to confirm one
// record: a leader election after a server died takes a second or two.
const ackTimeout = 3 * time.Second

// unavailable marks what is not JetStream refusing a record (an API error,
// which a retry would meet again) as logrec.ErrUnavailable.
func unavailable(err error) error {
	var api *jetstream.APIError
	if err == nil || errors.As(err, &api) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", logrec.ErrUnavailable, err)
}

// attemptTimeout bounds one try at setting up the streams: a JetStream
// API request sent while a cluster has no meta leader (just formed, or
// electing one after a node died) is dropped, not answered, and a fresh
// key-value bucket may not serve reads on every node yet.
const attemptTimeout = 5 * time.Second

// setUp tries streams until it succeeds or ctx ends, so store replicas
// started beside a cluster that is still forming wait for it instead of
// failing (or hanging on one unanswered request). Every failed try is
// logged with its reason; the last one is returned.
func (l *Log) setUp(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := l.streams(actx)
		cancel()
		if err == nil {
			return nil
		}
		l.cfg.Log.Warn("JetStream not ready for the store's streams yet", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %d attempts: %w", attempt, err)
		case <-time.After(min(time.Duration(attempt)*250*time.Millisecond, 2*time.Second)):
		}
	}
}

// embedded starts a JetStream server in this process, with no listener.
func embedded(cfg Config) (*server.Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("MP_STORE_DATA_DIR is required for the embedded JetStream server")
	}
	o := &server.Options{
		ServerName: "mp-store", JetStream: true, StoreDir: cfg.DataDir, DontListen: true, NoSigs: true, NoLog: true,
		MaxPayload: int32(min(cfg.MaxPayload+64<<10, 64<<20)),
		// A replace is one atomic batch: as many events as a snapshot holds.
		JetStreamLimits: server.JSLimitOpts{MaxBatchSize: maxBatch, MaxBatchTimeout: 30 * time.Second},
	}
	switch cfg.Sync {
	case "", "default":
	case "always":
		o.SyncAlways = true
	default:
		d, err := time.ParseDuration(cfg.Sync)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("MP_JETSTREAM_SYNC %q is not \"always\" or a duration", cfg.Sync)
		}
		o.SyncInterval = d
	}
	ns, err := server.NewServer(o)
	if err != nil {
		return nil, fmt.Errorf("embedded nats-server: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded nats-server did not start within 30s")
	}
	return ns, nil
}

// streamName and subject name a store's stream and a topic's subject. A
// topic may hold any character but NUL, so it travels base64url-encoded
// as one subject token (and raw in a header).
func streamName(store string) string { return "MP_" + token(store) }

func subjects(store string) string { return "mp." + token(store) + ".>" }

func subject(store, topic string) string {
	return "mp." + token(store) + "." + base64.RawURLEncoding.EncodeToString([]byte(topic))
}

func token(s string) string {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return "x" + hex.EncodeToString([]byte(s))
		}
	}
	return s
}

// streams makes sure every store's stream exists with the settings
// above. The epoch is derived from when each stream was created, which
// JetStream keeps with the stream: every replica reading the same streams
// finds the same epoch without having to agree on one, it survives
// restarts, and it changes when any stream is created anew (that store's
// seqs start again at 1). Replicas creating the streams at once create the
// same ones: creating a stream that exists with the same settings is a
// no-op.
func (l *Log) streams(ctx context.Context) error {
	h := sha256.New()
	for _, name := range l.cfg.Stores {
		cfg := jetstream.StreamConfig{
			Name:               streamName(name),
			Subjects:           []string{subjects(name)},
			Storage:            jetstream.FileStorage,
			Replicas:           l.cfg.Replicas,
			Retention:          jetstream.LimitsPolicy,
			Discard:            jetstream.DiscardOld,
			MaxMsgsPerSubject:  int64(l.cfg.TopicMaxLen),
			AllowRollup:        true,
			AllowAtomicPublish: true,
			AllowDirect:        true,
			Duplicates:         time.Minute,
		}
		// Create first, update only a stream whose settings differ: an
		// update asked for while another replica's create of the same
		// stream is in flight goes unanswered on a cluster (which
		// CreateOrUpdateStream, update first, runs into when replicas
		// start together).
		s, err := l.js.CreateStream(ctx, cfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = l.js.UpdateStream(ctx, cfg)
		}
		if err != nil {
			return fmt.Errorf("stream of store %s: %w", name, err)
		}
		l.stream[name] = s
		fmt.Fprintf(h, "%s %s\n", cfg.Name, s.CachedInfo().Created.UTC().Format(time.RFC3339Nano))
	}
	l.epoch = hex.EncodeToString(h.Sum(nil)[:8])
	return nil
}

// Epoch identifies this incarnation of the streams.
func (l *Log) Epoch() string { return l.epoch }

// Close closes the connection and stops an embedded server.
func (l *Log) Close() {
	if l.nc != nil {
		// Drain lets acknowledgements in flight arrive; the embedded server
		// stops only after it, or its pipe closes under the connection.
		if l.nc.Drain() == nil {
			select {
			case <-l.closed:
			case <-time.After(5 * time.Second):
				l.nc.Close()
			}
		}
	}
	if l.ns != nil {
		l.ns.Shutdown()
		l.ns.WaitForShutdown()
	}
}

func (l *Log) message(st string, r *logrec.Record) *nats.Msg {
	m := nats.NewMsg(subject(st, r.Topic))
	m.Data = r.Payload
	m.Header.Set(hdrTopic, r.Topic)
	b := make([]byte, 0, 96)
	b = strconv.AppendFloat(b, r.TS, 'g', -1, 64)
	b = append(b, ' ')
	b = strconv.AppendUint(b, r.CountTotal, 10)
	b = append(b, ' ')
	b = strconv.AppendFloat(b, r.CreatedAt, 'g', -1, 64)
	if r.Parts > 0 {
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(r.Part), 10)
		b = append(b, '/')
		b = strconv.AppendInt(b, int64(r.Parts), 10)
	} else {
		b = append(b, " -"...)
	}
	if r.Producer != "" {
		b = append(b, ' ')
		b = append(b, url.QueryEscape(r.Producer)...)
		b = append(b, ' ')
		b = strconv.AppendUint(b, r.Batch, 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(r.Item), 10)
	}
	m.Header.Set(hdrEvent, string(b))
	return m
}

// Append records appends in order: every message is published before any
// acknowledgement is awaited, and one connection keeps them in that order.
// (An atomic batch would cost one acknowledgement instead of one per
// event, but the server makes each one durable before its commit: five to
// ten times slower, measured by BenchmarkAppend.)
func (l *Log) Append(ctx context.Context, st string, recs []logrec.Record) ([]uint64, error) {
	futures := make([]jetstream.PubAckFuture, len(recs))
	for i := range recs {
		m := l.message(st, &recs[i])
		if r := &recs[i]; r.Producer != "" {
			// A batch retried through another replica, whose view may
			// not show the first try yet: JetStream answers the retry
			// with the first try's seq instead of storing it again.
			m.Header.Set(hdrMsgID, url.QueryEscape(r.Producer)+" "+strconv.FormatUint(r.Batch, 10)+" "+strconv.Itoa(r.Item))
		}
		f, err := l.js.PublishMsgAsync(m, jetstream.WithExpectStream(streamName(st)))
		if err != nil {
			return nil, unavailable(err)
		}
		futures[i] = f
	}
	seqs := make([]uint64, len(recs))
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			seqs[i] = ack.Sequence
		case err := <-f.Err():
			return nil, unavailable(err)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return seqs, nil
}

// Replace records a topic's new events as one atomic batch whose first
// message rolls up the subject: the topic's earlier events are gone at the
// moment its new ones are there, and not before.
func (l *Log) Replace(ctx context.Context, st, topic string, recs []logrec.Record) ([]uint64, error) {
	if len(recs) > maxBatch {
		return nil, fmt.Errorf("a replace of %d events is more than one atomic batch holds (%d)", len(recs), maxBatch)
	}
	return l.batch(ctx, st, recs)
}

// batch publishes a replace as one atomic batch, the first message rolling
// the subject up: every message but the last without a reply, the last
// with the commit, whose acknowledgement carries the last seq (an atomic
// batch is stored as one run of seqs).
func (l *Log) batch(ctx context.Context, st string, recs []logrec.Record) ([]uint64, error) {
	id := fmt.Sprintf("%x-%d", time.Now().UnixNano(), l.batchID.Add(1))
	var ack *jetstream.PubAck
	for i := range recs {
		m := l.message(st, &recs[i])
		if len(recs) > 1 {
			m.Header.Set(hdrBatchID, id)
			m.Header.Set(hdrBatchSeq, strconv.Itoa(i+1))
		}
		if i == 0 {
			m.Header.Set(hdrRollup, jetstream.MsgRollupSubject)
		}
		if i < len(recs)-1 {
			if err := l.nc.PublishMsg(m); err != nil {
				return nil, unavailable(err)
			}
			continue
		}
		if len(recs) > 1 {
			m.Header.Set(hdrCommit, "1")
		}
		var err error
		if ack, err = l.js.PublishMsg(ctx, m, jetstream.WithExpectStream(streamName(st))); err != nil {
			return nil, unavailable(err)
		}
	}
	seqs := make([]uint64, len(recs))
	for i := range seqs {
		seqs[i] = ack.Sequence - uint64(len(recs)-1-i)
	}
	return seqs, nil
}

// Remove purges a topic's subject.
func (l *Log) Remove(ctx context.Context, st, topic string) error {
	return unavailable(l.stream[st].Purge(ctx, jetstream.WithPurgeSubject(subject(st, topic))))
}

// Follow hands the view the store's records from after on, in runs of what
// has arrived, through an ordered consumer (which recreates itself across
// reconnects without gaps).
func (l *Log) Follow(ctx context.Context, st string, after uint64, apply func([]logrec.Record), caughtUp func(head uint64)) error {
	s := l.stream[st]
	info, err := s.Info(ctx)
	if err != nil {
		return err
	}
	head := info.State.LastSeq
	if head <= after {
		caughtUp(head)
		caughtUp = nil
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: after + 1,
	})
	if err != nil {
		return err
	}
	// A consumer whose server died (or whose stream changed leader) goes
	// quiet rather than failing: heartbeats every second find that out in
	// two, and the ordered consumer starts again after the last record it
	// delivered. (The default, half the 30 s pull expiry, left a replica's
	// view, and every write waiting for it, stuck for half a minute.)
	it, err := c.Messages(jetstream.PullMaxMessages(4096), jetstream.PullExpiry(10*time.Second), jetstream.PullHeartbeat(time.Second))
	if err != nil {
		return err
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	run := make([]logrec.Record, 0, 256)
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		r, pending, err := record(msg)
		if err != nil {
			l.cfg.Log.Error("a message of the log cannot be read; skipped", "store", st, "err", err)
			continue
		}
		run = append(run, r)
		// Hand over runs: what is already here, up to a few hundred.
		if pending > 0 && len(run) < cap(run) {
			continue
		}
		apply(run)
		run = run[:0]
		if caughtUp != nil && (pending == 0 || r.Seq >= head) {
			caughtUp(head)
			caughtUp = nil
		}
	}
}

// record reads a message back into the record it was written from, and
// says how many more the consumer has waiting.
func record(msg jetstream.Msg) (logrec.Record, uint64, error) {
	md, err := msg.Metadata()
	if err != nil {
		return logrec.Record{}, 0, err
	}
	h := msg.Headers()
	r := logrec.Record{Seq: md.Sequence.Stream, Topic: h.Get(hdrTopic), Payload: msg.Data()}
	f := strings.Fields(h.Get(hdrEvent))
	if len(f) != 4 && len(f) != 7 {
		return r, md.NumPending, fmt.Errorf("seq %d: %s header %q", r.Seq, hdrEvent, h.Get(hdrEvent))
	}
	var errs [6]error
	r.TS, errs[0] = strconv.ParseFloat(f[0], 64)
	r.CountTotal, errs[1] = strconv.ParseUint(f[1], 10, 64)
	r.CreatedAt, errs[2] = strconv.ParseFloat(f[2], 64)
	if f[3] != "-" {
		k, n, _ := strings.Cut(f[3], "/")
		r.Part, errs[3] = strconv.Atoi(k)
		r.Parts, errs[4] = strconv.Atoi(n)
	}
	if len(f) == 7 {
		r.Producer, errs[5] = url.QueryUnescape(f[4])
		var err error
		if r.Batch, err = strconv.ParseUint(f[5], 10, 64); err != nil {
			errs[5] = err
		}
		if r.Item, err = strconv.Atoi(f[6]); err != nil {
			errs[5] = err
		}
	}
	if r.Topic == "" {
		errs[5] = fmt.Errorf("seq %d has no %s header", r.Seq, hdrTopic)
	}
	return r, md.NumPending, errors.Join(errs[:]...)
}
