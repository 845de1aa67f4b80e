package jetstream

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/messageplane/mp/services/store/internal/logrec"
)

// BenchmarkAppend is the log alone: batches of 1000 events of ~250 bytes
// appended to an embedded server's file store (the ceiling of the
// jetstream backend's write throughput on this machine).
func BenchmarkAppend(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			l, err := Open(ctx, Config{DataDir: b.TempDir(), Stores: []string{"s"}, TopicMaxLen: 20000, MaxPayload: 1 << 20})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			payload := []byte(`{"plugin_id":"bench-plugin","priority":5,"kind":"log","type":"output","message_id":"m-000000001","content":"` + string(make([]byte, 0)) + `xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)
			recs := make([]logrec.Record, n)
			for i := range recs {
				recs[i] = logrec.Record{Topic: fmt.Sprint("t", i%100), TS: 1.5, CountTotal: uint64(i), CreatedAt: 1.5, Payload: payload,
					Producer: "ingest-x", Batch: 1, Item: i}
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := l.Append(ctx, "s", recs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
