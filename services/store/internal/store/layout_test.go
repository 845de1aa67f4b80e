package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// TestEvictionFreesChunks: a topic's memory follows what it retains, not
// what it was ever sent.
func TestEvictionFreesChunks(t *testing.T) {
	s := newSvc(t, 100, 10)
	payload := fmt.Sprintf(`{"x":"%s"}`, strings.Repeat("y", 1000))
	for i := 0; i < 10000; i++ {
		write(t, s, item("messages", "a", payload))
	}
	tp := s.stores["messages"].topics["a"]
	held := 0
	for _, c := range tp.chunks {
		held += cap(c)
	}
	if held > 10*len(payload)+2*maxChunk {
		t.Fatalf("topic holds %d bytes of chunks for 10 events of %d bytes", held, len(payload))
	}
	h := s.Heads()[1]
	if h.Retained != 10 || h.RetainedBytes < 10*len(payload) || h.RetainedBytes > 10*(len(payload)+perEvent+64) {
		t.Fatalf("accounting: %+v", h)
	}
	r, _ := s.GetRecent(context.Background(), "messages", "a", ReadOpts{Limit: 100})
	if got := fmt.Sprint(seqs(t, r)); got != "[9991 9992 9993 9994 9995 9996 9997 9998 9999 10000]" {
		t.Fatalf("retained %s", got)
	}
}

// TestReplacedTopicLeavesNoTrace: the store's seq log never resolves an
// event of a replaced topic, even into the topic of the same name that
// replaced it.
func TestReplacedTopicLeavesNoTrace(t *testing.T) {
	s := newSvc(t, 100, 100)
	for i := 0; i < 5; i++ {
		write(t, s, item("messages", "a", `{"old":true}`))
	}
	write(t, s, item("messages", "b", `{}`))
	write(t, s, replace("messages", "a", `{"new":1}`, `{"new":2}`))
	r, _ := s.GetSince(context.Background(), "messages", AllTopics, 0, ReadOpts{Limit: 100})
	if got := fmt.Sprint(seqs(t, r)); got != "[6 7 8]" {
		t.Fatalf("after replace: %s", got)
	}
	q, _ := s.Query(context.Background(), "messages", AllTopics, Filter{}, ReadOpts{Limit: 100})
	if got := fmt.Sprint(seqs(t, q)); got != "[8 7 6]" {
		t.Fatalf("query after replace: %s", got)
	}
	all, _ := s.GetRecent(context.Background(), "messages", AllTopics, ReadOpts{Limit: 100})
	if got := fmt.Sprint(seqs(t, all)); got != "[6 7 8]" {
		t.Fatalf("get_recent * after replace: %s", got)
	}
}

// TestMsgpackReadsSayWhatJSONSays: every read renders the same events in
// msgpack as in JSON (checked with an independent msgpack decoder).
func TestMsgpackReadsSayWhatJSONSays(t *testing.T) {
	s := replayFixture(t)
	write(t, s, item("messages", "a", `{"big":18446744073709551616,"f":1.5,"s":"é\"\u0001","n":null,"l":[true,{}]}`))
	for _, light := range []bool{false, true} {
		reads := map[string]func(ReadOpts) (Result, error){
			"get_recent": func(o ReadOpts) (Result, error) { return s.GetRecent(context.Background(), "messages", "a", o) },
			"get_since":  func(o ReadOpts) (Result, error) { return s.GetSince(context.Background(), "messages", AllTopics, 2, o) },
			"query": func(o ReadOpts) (Result, error) {
				return s.Query(context.Background(), "messages", AllTopics, Filter{}, o)
			},
			"replay": func(o ReadOpts) (Result, error) {
				return s.Replay(context.Background(), "messages", []byte(`{"op":"topic","params":{"topic":"*"}}`), o, 100, 128)
			},
		}
		for name, read := range reads {
			js, err := read(ReadOpts{Limit: 100, Light: light})
			if err != nil {
				t.Fatal(err)
			}
			mp, err := read(ReadOpts{Limit: 100, Light: light, Encoding: Msgpack})
			if err != nil {
				t.Fatal(err)
			}
			var fromJSON, fromMsgpack []any
			if err := json.Unmarshal(js.Items, &fromJSON); err != nil {
				t.Fatal(err)
			}
			if err := msgpack.Unmarshal(mp.Items, &fromMsgpack); err != nil {
				t.Fatalf("%s: msgpack items: %v", name, err)
			}
			a, _ := json.Marshal(fromJSON)
			b, _ := json.Marshal(normalize(fromMsgpack))
			if string(a) != string(b) || js.Count != mp.Count {
				t.Fatalf("%s light=%v:\njson    %s\nmsgpack %s", name, light, a, b)
			}
		}
	}
}

// normalize turns the msgpack decoder's typed numbers and maps into what
// encoding/json makes of the same document.
func normalize(v any) any {
	switch x := v.(type) {
	case []any:
		for i := range x {
			x[i] = normalize(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normalize(x[k])
		}
	case int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32:
		var f float64
		fmt.Sscan(fmt.Sprint(x), &f)
		return f
	}
	return v
}

// TestWatchBatchesBoundedInBytes: a follower far behind gets batches of at
// most WatchBatchBytes past their first event.
func TestWatchBatchesBoundedInBytes(t *testing.T) {
	s := newSvc(t, 100, 100)
	big := fmt.Sprintf(`{"x":"%s"}`, strings.Repeat("y", 1<<20))
	for i := 0; i < 12; i++ {
		write(t, s, item("messages", "a", big))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := 0
	err := s.Watch(ctx, "messages", 0, "", false, func(b *WatchBatch) error {
		size := 0
		for _, e := range b.Events {
			size += len(e.JSON)
		}
		if len(b.Events) > 1 && size > WatchBatchBytes {
			t.Errorf("batch of %d events, %d bytes", len(b.Events), size)
		}
		seen += len(b.Events)
		if seen == 12 {
			cancel()
		}
		return nil
	})
	if seen != 12 || err != context.Canceled {
		t.Fatalf("watched %d of 12: %v", seen, err)
	}
}
