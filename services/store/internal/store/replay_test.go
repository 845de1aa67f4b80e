package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// replayFixture: seqs 1..8.
//
//	1 a {plugin_id p1, priority 1, timestamp 50, content "hello world", id "x"}
//	2 b {plugin_id p2, priority 9, timestamp 40, tags [red, blue]}
//	3 a {plugin_id p1, priority 5, timestamp 30, content "bye", nested {k: 1}}
//	4 b {plugin_id p2, priority "7", timestamp 20, id "x"}   (same id as 1)
//	5 a {plugin_id p3, priority 3, timestamp 60, kind "alert", content "HELLO"}
//	6 b {source "s", priority 2.0}                            (no timestamp: ts)
//	7 a {plugin_id 5, priority 4, timestamp 10, nested {k: 1.0}}
//	8 b {type "t", message_type "m", priority 8, timestamp 70, flag true}
func replayFixture(t testing.TB) *Service {
	s := newSvc(t, 100, 1000)
	for _, p := range []struct{ topic, payload string }{
		{"a", `{"plugin_id":"p1","priority":1,"timestamp":50,"content":"hello world","id":"x"}`},
		{"b", `{"plugin_id":"p2","priority":9,"timestamp":40,"tags":["red","blue"]}`},
		{"a", `{"plugin_id":"p1","priority":5,"timestamp":30,"content":"bye","nested":{"k":1}}`},
		{"b", `{"plugin_id":"p2","priority":"7","timestamp":20,"id":"x"}`},
		{"a", `{"plugin_id":"p3","priority":3,"timestamp":60,"kind":"alert","content":"HELLO"}`},
		{"b", `{"source":"s","priority":2.0}`},
		{"a", `{"plugin_id":5,"priority":4,"timestamp":10,"nested":{"k":1.0}}`},
		{"b", `{"type":"t","message_type":"m","priority":8,"timestamp":70,"flag":true}`},
	} {
		write(t, s, item("messages", p.topic, p.payload))
	}
	return s
}

func runReplay(t *testing.T, s *Service, plan string, limit int) (string, error) {
	t.Helper()
	r, err := s.Replay(context.Background(), "messages", []byte(plan), ReadOpts{Limit: limit}, 10000, 128)
	if err != nil {
		return "", err
	}
	return fmt.Sprint(seqs(t, r)), nil
}

func TestReplayOps(t *testing.T) {
	s := replayFixture(t)
	topicA := `{"op":"topic","params":{"topic":"a"}}`
	all := `{"op":"topic","params":{"topic":"*"}}`
	cases := []struct{ name, plan, want string }{
		{"topic", topicA, "[1 3 5 7]"},
		{"topic all", all, "[1 2 3 4 5 6 7 8]"},
		{"topic limit", `{"op":"topic","params":{"topic":"a","limit":2}}`, "[5 7]"},
		{"topic unknown", `{"op":"topic","params":{"topic":"zz"}}`, "[]"},
		{"filter exact", `{"op":"filter","params":{"plugin_id":"p1"},"input":` + all + `}`, "[1 3]"},
		{"filter payload fallback", `{"op":"filter","params":{"plugin_id":5},"input":` + all + `}`, "[7]"},
		{"filter priority", `{"op":"filter","params":{"priority_min":5},"input":` + all + `}`, "[2 3 4 8]"},
		{"filter ts", `{"op":"filter","params":{"since_ts":20,"until_ts":50},"input":` + all + `}`, "[1 2 3 4]"},
		{"filter regex", `{"op":"filter","params":{"content_re":"(?i)^hello"},"input":` + all + `}`, "[1 5]"},
		{"filter kind_re", `{"op":"filter","params":{"kind_re":"ale"},"input":` + all + `}`, "[5]"},
		{"filter type", `{"op":"filter","params":{"type":"t"},"input":` + all + `}`, "[8]"},
		{"limit", `{"op":"limit","params":{"n":2},"input":` + all + `}`, "[1 2]"},
		{"limit 0", `{"op":"limit","params":{"n":0},"input":` + all + `}`, "[]"},
		{"sort default timestamp", `{"op":"sort","input":` + topicA + `}`, "[7 3 1 5]"},
		{"sort reverse", `{"op":"sort","params":{"by":"timestamp","reverse":true},"input":` + topicA + `}`, "[5 1 3 7]"},
		{"sort by list", `{"op":"sort","params":{"by":["plugin_id","seq"]},"input":` + all + `}`, "[7 1 3 2 4 5 6 8]"},
		{"sort missing last", `{"op":"sort","params":{"by":"payload.content"},"input":` + all + `}`, "[5 3 1 2 4 6 7 8]"},
		{"sort reverse missing first", `{"op":"sort","params":{"by":"payload.content","reverse":true},"input":` + all + `}`, "[2 4 6 7 8 1 3 5]"},
		{"where_eq number", `{"op":"where_eq","params":{"field":"payload.nested.k","value":1},"input":` + all + `}`, "[3 7]"},
		{"where_eq bool not number", `{"op":"where_eq","params":{"field":"flag","value":1},"input":` + all + `}`, "[8]"[:0] + "[]"},
		{"where_eq bool", `{"op":"where_eq","params":{"field":"flag","value":true},"input":` + all + `}`, "[8]"},
		{"where_eq missing never", `{"op":"where_eq","params":{"field":"nothere","value":null},"input":` + all + `}`, "[]"},
		{"where_eq index key null is not missing", `{"op":"where_eq","params":{"field":"type","value":null},"input":` + all + `}`, "[1 2 3 4 5 6 7]"},
		{"where_eq kind null", `{"op":"where_eq","params":{"field":"kind","value":null},"input":` + all + `}`, "[1 2 3 4 6 7 8]"},
		{"where_in index null", `{"op":"where_in","params":{"field":"conversation_id","values":[null]},"input":` + all + `}`, "[1 2 3 4 5 6 7 8]"},
		{"filter exact index null", `{"op":"filter","params":{"source":"s"},"input":` + all + `}`, "[6]"},
		{"sort by index null ranks with missing", `{"op":"sort","params":{"by":["kind","seq"]},"input":` + all + `}`, "[5 1 2 3 4 6 7 8]"},
		{"where_eq index", `{"op":"where_eq","params":{"field":"index.priority","value":7},"input":` + all + `}`, "[4]"},
		{"where_eq topic", `{"op":"where_eq","params":{"field":"topic","value":"b"},"input":` + all + `}`, "[2 4 6 8]"},
		{"where_in", `{"op":"where_in","params":{"field":"plugin_id","values":["p2","p3"]},"input":` + all + `}`, "[2 4 5]"},
		{"where_contains string", `{"op":"where_contains","params":{"field":"content","value":"ll"},"input":` + all + `}`, "[1]"},
		{"where_contains list", `{"op":"where_contains","params":{"field":"tags","value":"blue"},"input":` + all + `}`, "[2]"},
		{"where_contains list whole", `{"op":"where_contains","params":{"field":"tags","value":"blu"},"input":` + all + `}`, "[]"},
		{"where_regex", `{"op":"where_regex","params":{"field":"plugin_id","pattern":"[23]"},"input":` + all + `}`, "[2 4 5]"},
		{"union dedup by id", `{"op":"union","inputs":[` + all + `]}`, "[1 2 3 5 6 7 8]"},
		{"union two", `{"op":"union","inputs":[{"op":"topic","params":{"topic":"b"}},{"op":"limit","params":{"n":1},"input":` + topicA + `}]}`, "[1 2 6 8]"},
		{"intersect", `{"op":"intersect","inputs":[` + topicA + `,{"op":"filter","params":{"priority_min":4},"input":` + all + `}]}`, "[1 3 7]"}, // 1 and 4 share id "x"
		{"intersect by id", `{"op":"intersect","inputs":[{"op":"topic","params":{"topic":"b"}},` + topicA + `]}`, "[1]"},
		{"diff", `{"op":"diff","inputs":[` + all + `,` + topicA + `]}`, "[2 6 8]"},
		{"sort then limit", `{"op":"limit","params":{"n":2},"input":{"op":"sort","params":{"by":"priority","reverse":true},"input":` + all + `}}`, "[2 8]"},
	}
	for _, c := range cases {
		got, err := runReplay(t, s, c.plan, 0)
		if err != nil || got != c.want {
			t.Errorf("%s: got %s (%v), want %s", c.name, got, err, c.want)
		}
	}
}

func TestReplayUpstreamShape(t *testing.T) {
	s := replayFixture(t)
	pairs := []struct{ name, seed, upstream string }{
		{"get nested params, newest first with a filter field",
			`{"op":"sort","params":{"by":"seq","reverse":true},"input":{"op":"filter","params":{"plugin_id":"p1"},"input":{"op":"topic","params":{"topic":"a"}}}}`,
			`{"kind":"get","params":{"params":{"topic":"a","plugin_id":"p1"}}}`},
		{"get without filter fields stays ascending",
			`{"op":"topic","params":{"topic":"a"}}`,
			`{"kind":"get","params":{"params":{"topic":"a"}}}`},
		{"the SDK's get(plugin_id) then limit(n) keeps the newest n",
			`{"op":"limit","params":{"n":2},"input":{"op":"sort","params":{"by":"seq","reverse":true},"input":{"op":"filter","params":{"plugin_id":"p2"},"input":{"op":"topic","params":{"topic":"*"}}}}}`,
			`{"kind":"unary","op":"limit","params":{"n":2},"child":{"kind":"get","params":{"params":{"topic":"*","plugin_id":"p2"}}}}`},
		{"get flat params with limit",
			`{"op":"topic","params":{"topic":"b","limit":2}}`,
			`{"kind":"get","params":{"topic":"b","max_count":2}}`},
		{"unary sort",
			`{"op":"sort","params":{"by":"priority"},"input":{"op":"topic","params":{"topic":"*"}}}`,
			`{"kind":"unary","op":"sort","params":{"by":"priority"},"child":{"kind":"get","params":{"topic":"*"}}}`},
		{"binary merge",
			`{"op":"union","inputs":[{"op":"topic","params":{"topic":"a"}},{"op":"topic","params":{"topic":"b"}}]}`,
			`{"kind":"binary","op":"merge","left":{"kind":"get","params":{"topic":"a"}},"right":{"kind":"get","params":{"topic":"b"}}}`},
		{"binary difference",
			`{"op":"diff","inputs":[{"op":"topic","params":{"topic":"*"}},{"op":"topic","params":{"topic":"a"}}]}`,
			`{"kind":"binary","op":"difference","left":{"kind":"get","params":{"topic":"*"}},"right":{"kind":"get","params":{"topic":"a"}}}`},
		{"binary intersection",
			`{"op":"intersect","inputs":[{"op":"topic","params":{"topic":"*"}},{"op":"topic","params":{"topic":"a"}}]}`,
			`{"kind":"binary","op":"intersection","left":{"kind":"get","params":{"topic":"*"}},"right":{"kind":"get","params":{"topic":"a"}}}`},
		{"unary where_regex",
			`{"op":"where_regex","params":{"field":"content","pattern":"o"},"input":{"op":"topic","params":{"topic":"a"}}}`,
			`{"kind":"unary","op":"where_regex","params":{"field":"content","pattern":"o"},"child":{"kind":"get","params":{"topic":"a"}}}`},
	}
	for _, p := range pairs {
		a, err1 := runReplay(t, s, p.seed, 0)
		b, err2 := runReplay(t, s, p.upstream, 0)
		if err1 != nil || err2 != nil || a != b || a == "[]" {
			t.Errorf("%s: seed %s (%v) upstream %s (%v)", p.name, a, err1, b, err2)
		}
	}
	// get filters first, then keeps the newest limit matches
	got, _ := runReplay(t, s, `{"kind":"get","params":{"topic":"*","plugin_id":"p1","limit":1}}`, 0)
	if got != "[3]" {
		t.Errorf("get newest match = %s", got)
	}
	// default topic is the literal "all"
	write(t, s, item("messages", "all", `{}`))
	got, _ = runReplay(t, s, `{"kind":"get","params":{}}`, 0)
	if got != "[9]" {
		t.Errorf("get default topic = %s", got)
	}
}

func TestReplayLimitArg(t *testing.T) {
	s := replayFixture(t)
	got, _ := runReplay(t, s, `{"op":"topic","params":{"topic":"*"}}`, 3)
	if got != "[1 2 3]" {
		t.Errorf("limit arg = %s", got)
	}
	r, _ := s.Replay(context.Background(), "messages", []byte(`{"op":"topic","params":{"topic":"*","limit":100}}`), ReadOpts{}, 5, 128)
	if fmt.Sprint(seqs(t, r)) != "[4 5 6 7 8]" {
		t.Errorf("topic node clamp = %v", seqs(t, r))
	}
}

func TestReplayRejects(t *testing.T) {
	s := replayFixture(t)
	deep := `{"op":"topic","params":{"topic":"a"}}`
	for i := 0; i < 16; i++ {
		deep = `{"op":"limit","params":{"n":1},"input":` + deep + `}`
	}
	var many []string
	for i := 0; i < 300; i++ {
		many = append(many, `{"op":"topic","params":{"topic":"a"}}`)
	}
	wide := `{"op":"union","inputs":[` + strings.Join(many, ",") + `]}`
	bad := []string{
		`{}`, `[]`, `{"op":"nope","input":{"op":"topic","params":{"topic":"a"}}}`,
		`{"op":"filter","params":{}}`,
		`{"op":"union"}`, `{"op":"union","inputs":[]}`,
		`{"op":"topic","params":{}}`, `{"op":"topic","params":{"topic":5}}`, `{"op":"topic","params":{"topic":"a\u0000"}}`,
		`{"op":"topic","params":{"topic":"` + strings.Repeat("x", 129) + `"}}`,
		`{"op":"topic","params":{"topic":"a","limit":-1}}`, `{"op":"topic","params":{"topic":"a","limit":"5"}}`,
		`{"op":"limit","input":{"op":"topic","params":{"topic":"a"}}}`,
		`{"op":"limit","params":{"n":1.5},"input":{"op":"topic","params":{"topic":"a"}}}`,
		`{"op":"sort","params":{"reverse":"yes"},"input":{"op":"topic","params":{"topic":"a"}}}`,
		`{"op":"filter","params":{"content_re":"("},"input":{"op":"topic","params":{"topic":"a"}}}`,
		`{"op":"filter","params":{"content_re":"` + strings.Repeat("a", 129) + `"},"input":{"op":"topic","params":{"topic":"a"}}}`,
		`{"op":"filter","params":{"priority_min":"5"},"input":{"op":"topic","params":{"topic":"a"}}}`,
		`{"op":"where_regex","params":{"field":"x","pattern":"(?P<"},"input":{"op":"topic","params":{"topic":"a"}}}`,
		`{"kind":"unary","op":"bogus","child":{"kind":"get"}}`, `{"kind":"binary","op":"merge","left":{"kind":"get"}}`,
		`{"kind":"what"}`, `{"op":"filter","params":5,"input":{"op":"topic","params":{"topic":"a"}}}`,
		deep, wide,
	}
	for _, p := range bad {
		_, err := runReplay(t, s, p, 0)
		if e, ok := err.(*Error); !ok || e.Code != "UNSUPPORTED_PLAN" {
			t.Errorf("%.80s: got %v", p, err)
		}
	}
	// 16 levels is the limit, inclusive
	ok := `{"op":"topic","params":{"topic":"a"}}`
	for i := 0; i < 15; i++ {
		ok = `{"op":"limit","params":{"n":1},"input":` + ok + `}`
	}
	if _, err := runReplay(t, s, ok, 0); err != nil {
		t.Errorf("16 levels refused: %v", err)
	}
}

func TestReplayHostileRegexIsFast(t *testing.T) {
	s := newSvc(t, 10, 1000)
	long := strings.Repeat("a", 1000) + "!" + strings.Repeat("a", 4000)
	for i := 0; i < 200; i++ {
		write(t, s, item("messages", "a", `{"content":"`+long+`"}`))
	}
	start := time.Now()
	got, err := runReplay(t, s, `{"op":"filter","params":{"content_re":"^(a+)+$"},"input":{"op":"topic","params":{"topic":"a"}}}`, 0)
	if err != nil || got != "[]" {
		t.Fatalf("got %s %v", got, err)
	}
	// RE2 is linear; a backtracking engine would not finish at all.
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("hostile regex took %v", d)
	}
}

// TestReplayIndexNullFallsBackToPayload: a bare index key whose index value
// is null reads the payload's top-level value when the payload has the key
// (even a null or an empty string the index ignored), else the index's null.
func TestReplayIndexNullFallsBackToPayload(t *testing.T) {
	s := newSvc(t, 100, 100)
	write(t, s,
		item("messages", "a", `{"type":""}`),           // 1: index type null, payload ""
		item("messages", "a", `{"type":null}`),         // 2: payload null
		item("messages", "a", `{}`),                    // 3: no key
		item("messages", "a", `{"type":"t"}`),          // 4
		item("messages", "a", `{"message_type":"m"}`),  // 5: index type "m"
		item("messages", "a", `{"type":5,"kind":[1]}`), // 6: non-string: index null, payload 5
	)
	all := `{"op":"topic","params":{"topic":"*"}}`
	for plan, want := range map[string]string{
		`{"op":"where_eq","params":{"field":"type","value":null},"input":` + all + `}`:    "[2 3]",
		`{"op":"where_eq","params":{"field":"type","value":""},"input":` + all + `}`:      "[1]",
		`{"op":"where_eq","params":{"field":"type","value":5},"input":` + all + `}`:       "[6]",
		`{"op":"where_eq","params":{"field":"type","value":"m"},"input":` + all + `}`:     "[5]",
		`{"op":"where_contains","params":{"field":"kind","value":1},"input":` + all + `}`: "[6]",
	} {
		if got, err := runReplay(t, s, plan, 0); err != nil || got != want {
			t.Errorf("%s: %s (%v), want %s", plan, got, err, want)
		}
	}
}
