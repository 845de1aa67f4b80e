package event

import (
	"errors"
	"strings"
	"testing"

	"github.com/messageplane/mp/internal/wire"
)

const ts = 1706252400.5

func render(t *testing.T, payload string) string {
	t.Helper()
	v, err := wire.DecodeJSON([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := wire.EncodePayload(nil, v)
	d, err := NewDraft(p)
	if err != nil {
		t.Fatal(err)
	}
	ev := accept(d, 7, ts, "t")
	r := Renderer{Store: "messages", Light: true}
	js := string(r.AppendJSON(nil, &ev))
	i := strings.Index(js, `"index":`)
	return js[i+len(`"index":`) : len(js)-1]
}

// accept makes the stored event of a draft, as the store does.
func accept(d *Draft, seq uint64, ts float64, topic string) Event {
	return View(d.Fields(seq, ts), topic, d.AppendTo(nil))
}

func TestIndexExtraction(t *testing.T) {
	const nulls = `"kind":null,"type":null`
	cases := []struct{ payload, want string }{
		{`{}`, `{"plugin_id":null,"source":null,"priority":0,"kind":null,"type":null,"timestamp":1706252400.5,"id":null,"generation":null,"conversation_id":null}`},
		{`{"plugin_id":"p","source":"","priority":5,"kind":"k","type":"t","timestamp":12,"message_id":"m","generation":3.9,"metadata":{"conversation_id":"c"}}`,
			`{"plugin_id":"p","source":"","priority":5,"kind":"k","type":"t","timestamp":12.0,"id":"m","generation":3,"conversation_id":"c"}`},
		{`{"plugin_id":5,"source":false,"kind":"","type":"","message_type":"mt"}`, `{"plugin_id":null,"source":null,"priority":0,"kind":null,"type":"mt","timestamp":1706252400.5,"id":null,"generation":null,"conversation_id":null}`},
		{`{"type":5,"message_type":"mt"}`, `"type":"mt"`},
		{`{"id":"","task_id":"task","run_id":"run"}`, `"id":"task"`},
		{`{"message_id":"","event_id":5,"lifecycle_id":"l"}`, `"id":"l"`},
		{`{"metadata":{"conversation_id":""}}`, `"conversation_id":null}`},
		{`{"metadata":"x"}`, `"conversation_id":null}`},
		{`{"generation":true}`, `"generation":null`},
		{`{"generation":-2.5}`, `"generation":-2`},
		{`{"generation":1e30}`, `"generation":null`},
		{`{"generation":"3"}`, `"generation":null`},
		{`{"kind":"x"}`, `"kind":"x"`},
		{`{"kind":null}`, nulls},
	}
	for _, c := range cases {
		got := render(t, c.payload)
		if !strings.Contains(got, c.want) {
			t.Errorf("%s:\n got %s\nwant %s", c.payload, got, c.want)
		}
	}
}

func TestPriority(t *testing.T) {
	cases := map[string]int64{
		`7`: 7, `-3`: -3, `7.9`: 7, `-7.9`: -7, `" 7"`: 7, `"+7"`: 7, `"-7 "`: -7, `"7.5"`: 0, `"x"`: 0,
		`"+-7"`: 0, `""`: 0, `true`: 0, `null`: 0, `[1]`: 0, `{}`: 0, `1e30`: 0,
		`9223372036854775807`: 9223372036854775807, `9223372036854775808`: 0, `"99999999999999999999"`: 0, `"1_0"`: 0,
	}
	for in, want := range cases {
		v, err := wire.DecodeJSON([]byte(in))
		if err != nil {
			t.Fatal(in, err)
		}
		if got := Priority(v); got != want {
			t.Errorf("priority(%s) = %d, want %d", in, got, want)
		}
	}
}

func TestTimestamp(t *testing.T) {
	cases := []struct {
		payload string
		want    float64
		ok      bool
	}{
		{`{"timestamp":12.5}`, 12.5, true},
		{`{"timestamp":12}`, 12, true},
		{`{"timestamp":" 12.5 "}`, 12.5, true},
		{`{"timestamp":"-1e3"}`, -1000, true},
		{`{"timestamp":"+1.5E+2"}`, 150, true},
		{`{"timestamp":"1."}`, 1, true},
		{`{"timestamp":"5."}`, 5, true},
		{`{"timestamp":".5"}`, 0.5, true},
		{`{"timestamp":"-.5e1"}`, -5, true},
		{`{"timestamp":"5.E-2"}`, 0.05, true},
		{`{"timestamp":" 5.e1\t"}`, 50, true},
		{`{"timestamp":"."}`, 0, false},
		{`{"timestamp":"+"}`, 0, false},
		{`{"timestamp":".e5"}`, 0, false},
		{`{"timestamp":"5e"}`, 0, false},
		{`{"timestamp":"0x10"}`, 0, false},
		{`{"timestamp":"1_000"}`, 0, false},
		{`{"timestamp":"infinity"}`, 0, false},
		{`{"timestamp":"nan"}`, 0, false},
		{`{"timestamp":"inf","time":5}`, 0, false},
		{`{"timestamp":"1e999"}`, 0, false},
		{`{"timestamp":true,"time":5}`, 0, false},
		{`{"timestamp":"abc","time":5}`, 0, false},
		{`{"timestamp":null,"time":5}`, 5, true},
		{`{"time":"6"}`, 6, true},
		{`{"time":null}`, 0, false},
		{`{}`, 0, false},
	}
	for _, c := range cases {
		d, err := NewDraft([]byte(c.payload))
		if err != nil {
			t.Fatal(c.payload, err)
		}
		got := d.Fields(1, -1).Timestamp
		if ok := got != -1; ok != c.ok || (ok && got != c.want) {
			t.Errorf("%s: got %v,%v want %v,%v", c.payload, got, ok, c.want, c.ok)
		}
	}
	// Not set means the event ts.
	if got := render(t, `{"timestamp":"x"}`); !strings.Contains(got, `"timestamp":1706252400.5`) {
		t.Errorf("fallback: %s", got)
	}
}

func TestDraftRejectsNonObject(t *testing.T) {
	for _, p := range []string{`[1]`, `1`, `"x"`, `{`, ``} {
		if _, err := NewDraft([]byte(p)); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
}

func TestEventJSON(t *testing.T) {
	d, _ := NewDraft([]byte(`{"plugin_id":"p1","content":"Hello \"x\"","priority":5}`))
	ev := accept(d, 123, 1706252400.0, "plugin1.output")
	full := Renderer{Store: "messages"}
	light := Renderer{Store: "messages", Light: true}
	want := `{"seq":123,"ts":1706252400.0,"store":"messages","topic":"plugin1.output","index":{"plugin_id":"p1","source":null,"priority":5,"kind":null,"type":null,"timestamp":1706252400.0,"id":null,"generation":null,"conversation_id":null},"payload":{"plugin_id":"p1","content":"Hello \"x\"","priority":5}}`
	if got := string(full.AppendJSON(nil, &ev)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, err := wire.DecodeJSON(light.AppendJSON(nil, &ev)); err != nil {
		t.Error("light event is not JSON")
	}
}

func FuzzIndex(f *testing.F) {
	for _, s := range []string{`{"priority":" +7 ","timestamp":"1e5","generation":2.5,"metadata":{"conversation_id":"c"}}`,
		`{"plugin_id":"p\"1","source":"","kind":"k","type":"t","id":"\u00e9","generation":-3,"metadata":{"conversation_id":"c\\d"},"n":[1,2.5,18446744073709551616,{"x":null}]}`,
		`{"metadata":{"conversation_id":"a"},"metadata":{"x":1}}`, `{"kind":"a","kind":5}`, `{"id":"x","time":"nan"}`, `{"priority":[],"plugin_id":"\u0000"}`, `{"kind":"","type":"a\"b","id":"é"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := wire.DecodeJSON(b)
		if err != nil {
			return
		}
		p, err := wire.EncodePayload(nil, v)
		if err != nil {
			return
		}
		d, err := NewDraft(p)
		if err != nil {
			t.Fatalf("canonical payload refused: %v", err)
		}
		ev := accept(d, 1, 1, "t")
		r := Renderer{Store: "s"}
		out := r.AppendJSON(nil, &ev)
		js, err := wire.DecodeJSON(out)
		if err != nil {
			t.Fatalf("event JSON invalid: %s: %v", out, err)
		}
		// The msgpack rendering says the same (big integers become floats).
		mp, err := wire.DecodeMsgpack(r.AppendMsgpack(nil, &ev))
		if errors.Is(err, wire.ErrNonFinite) {
			return // an integer beyond float64's range: ±Inf in msgpack (docs/decisions.md)
		}
		if err != nil {
			t.Fatalf("event msgpack invalid: %v", err)
		}
		ja, _ := wire.AppendJSON(nil, bigToFloat(js))
		jm, _ := wire.AppendJSON(nil, mp)
		if string(ja) != string(jm) {
			t.Fatalf("renderings differ:\njson    %s\nmsgpack %s", ja, jm)
		}
		// Index strings read back as the payload's values.
		for _, key := range Keys {
			if key.str < 0 {
				continue
			}
			s, ok := ev.Str(key.str)
			v, _ := ev.IndexValue(key.Name)
			if ok != (v.Kind == wire.String) || (ok && (s != v.Str || !ev.StrEquals(key.str, s))) {
				t.Fatalf("string key %s: %q %v, index value %v", key.Name, s, ok, v)
			}
		}
		// indexValue's in-place strings decode as DecodeJSON does.
		_ = wire.ScanObject(p, func(_, raw []byte) {
			a, errA := indexValue(raw)
			b, errB := wire.DecodeJSON(raw)
			ja, _ := wire.AppendJSON(nil, a)
			jb, _ := wire.AppendJSON(nil, b)
			if (errA == nil) != (errB == nil) || string(ja) != string(jb) {
				t.Fatalf("indexValue(%s) = %s, %v; DecodeJSON: %s, %v", raw, ja, errA, jb, errB)
			}
		})
	})
}

// bigToFloat turns integers outside 64 bits into floats, as a msgpack
// rendering carries them.
func bigToFloat(v wire.Value) wire.Value {
	switch v.Kind {
	case wire.BigInt:
		f, _ := v.AsFloat()
		return wire.FloatValue(f)
	case wire.Array:
		for i := range v.Arr {
			v.Arr[i] = bigToFloat(v.Arr[i])
		}
	case wire.Object:
		for i := range v.Obj {
			v.Obj[i].Val = bigToFloat(v.Obj[i].Val)
		}
	}
	return v
}
