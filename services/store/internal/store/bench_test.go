package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/messageplane/mp/services/store/internal/event"
)

const benchPayload = `{"plugin_id":"plugin1","content":"Hello from the benchmark, a payload of roughly two hundred and fifty bytes to look like a real plugin message with some text in it.","priority":5,"kind":"log","type":"output","message_id":"m-000000001","metadata":{"conversation_id":"c1"}}`

func benchWrite(b *testing.B, batch int) {
	s := newSvc(b, 10000, 20000)
	ops := make([]Op, batch)
	for i := range ops {
		ops[i] = item("messages", fmt.Sprint("t", i%10), benchPayload)
	}
	req := &Batch{Ops: ops}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Write(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkWriteBatch1(b *testing.B)   { benchWrite(b, 1) }
func BenchmarkWriteBatch100(b *testing.B) { benchWrite(b, 100) }

func filled(b *testing.B, n int) *Service {
	s := newSvc(b, 10000, 20000)
	ops := make([]Op, 0, 100)
	for i := 0; i < n; i++ {
		p := fmt.Sprintf(`{"plugin_id":"plugin%d","content":"event %d with some text","priority":%d,"timestamp":%d}`, i%10, i, i%10, 1000000-i)
		ops = append(ops, item("messages", "bench", p))
		if len(ops) == 100 {
			write(b, s, ops...)
			ops = ops[:0]
		}
	}
	return s
}

func BenchmarkGetRecent100(b *testing.B) {
	s := filled(b, 10000)
	b.ReportAllocs()
	for b.Loop() {
		if r, _ := s.GetRecent(context.Background(), "messages", "bench", ReadOpts{Limit: 100}); r.Count != 100 {
			b.Fatal(r.Count)
		}
	}
}

func BenchmarkGetRecent10000(b *testing.B) {
	s := filled(b, 10000)
	b.ReportAllocs()
	for b.Loop() {
		if r, _ := s.GetRecent(context.Background(), "messages", "bench", ReadOpts{Limit: 10000}); r.Count != 10000 {
			b.Fatal(r.Count)
		}
	}
}

func BenchmarkQuery20000(b *testing.B) {
	s := filled(b, 20000)
	prio := int64(3)
	b.ReportAllocs()
	for b.Loop() {
		r, _ := s.Query(context.Background(), "messages", "bench", Filter{Equals: []Equal{{Key: event.StrKey("plugin_id"), Value: "plugin3"}}, PriorityMin: &prio}, ReadOpts{Limit: 10000})
		if r.Count != 2000 {
			b.Fatal(r.Count)
		}
	}
}

func BenchmarkReplayFilterSortLimit20000(b *testing.B) {
	s := filled(b, 20000)
	plan := []byte(`{"op":"limit","params":{"n":100},"input":{"op":"sort","params":{"by":"timestamp","reverse":true},"input":{"op":"filter","params":{"plugin_id":"plugin3","priority_min":3},"input":{"op":"topic","params":{"topic":"bench","limit":20000}}}}}`)
	b.ReportAllocs()
	for b.Loop() {
		r, err := s.Replay(context.Background(), "messages", plan, ReadOpts{}, 20000, 128)
		if err != nil || r.Count != 100 {
			b.Fatal(err, r.Count)
		}
	}
}

func BenchmarkWatch(b *testing.B) {
	s := filled(b, 20000)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		ctx, cancel := context.WithCancel(context.Background())
		_ = s.Watch(ctx, "messages", 0, "", false, func(wb *WatchBatch) error {
			n += len(wb.Events)
			if n == 20000 {
				cancel()
			}
			return nil
		})
	}
	b.ReportMetric(float64(b.N*20000)/b.Elapsed().Seconds(), "events/s")
}
