package wire

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

func TestCanonicalJSON(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{`{"b":1,"a":2}`, `{"b":1,"a":2}`},
		{` { "a" : [ 1 , 2 ] } `, `{"a":[1,2]}`},
		{`{"s":"caf\u00e9 \/ <>&"}`, `{"s":"café / <>&"}`},
		{`{"s":"\u0001\b\f\n\r\t\"\\"}`, `{"s":"\u0001\b\f\n\r\t\"\\"}`},
		{`{"s":"\ud83d\ude00"}`, `{"s":"😀"}`},
		{`{"s":"\ud800x"}`, "{\"s\":\"\ufffdx\"}"},
		{`{"f":1.0,"g":1e5,"h":1.5e16,"i":0.00001,"j":-0.0,"k":123.456}`, `{"f":1.0,"g":100000.0,"h":1.5e+16,"i":1e-05,"j":-0.0,"k":123.456}`},
		{`{"big":123456789012345678901234567890,"u":18446744073709551615,"neg":-9223372036854775808}`, `{"big":123456789012345678901234567890,"u":18446744073709551615,"neg":-9223372036854775808}`},
		{`{"a":1,"a":2,"b":3}`, `{"a":2,"b":3}`},
		{`{"e":{},"l":[],"n":null,"t":true,"f":false}`, `{"e":{},"l":[],"n":null,"t":true,"f":false}`},
		{`{"u":"\u2028"}`, "{\"u\":\"\u2028\"}"},
	}
	for _, c := range cases {
		v, err := DecodeJSON([]byte(c.in))
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		got, err := AppendJSON(nil, v)
		if err != nil || string(got) != c.want {
			t.Errorf("%s: got %s (%v), want %s", c.in, got, err, c.want)
		}
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	cases := map[string]error{
		`{"a":NaN}`:            ErrSyntax,
		`{"a":Infinity}`:       ErrSyntax,
		`{"a":1e999}`:          ErrNonFinite,
		"{\"a\":\"\xff\"}":     ErrUTF8,
		`{"a":1,}`:             ErrSyntax,
		`{"a":01}`:             ErrSyntax,
		`{"a":1} x`:            ErrSyntax,
		`{"a":"x`:              ErrSyntax,
		"{\"a\":\"\x01\"}":     ErrSyntax,
		`{"a":tru}`:            ErrSyntax,
		`{"a":"\x"}`:           ErrSyntax,
		`{"a":"\u12"}`:         ErrSyntax,
		`{"a":-}`:              ErrSyntax,
		`{"a":1.}`:             ErrSyntax,
		`{"a":1e}`:             ErrSyntax,
		``:                     ErrSyntax,
		`{`:                    ErrSyntax,
		`[`:                    ErrSyntax,
		string(deep('[', 600)): ErrDepth,
	}
	for in, want := range cases {
		if _, err := DecodeJSON([]byte(in)); !errors.Is(err, want) {
			t.Errorf("%q: got %v, want %v", in, err, want)
		}
	}
}

func deep(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}

func TestMsgpackRoundTrip(t *testing.T) {
	in := map[string]any{"a": int64(1), "b": "x", "c": 1.0, "d": []any{true, nil}, "e": map[string]any{"k": uint64(math.MaxUint64)}}
	b, err := msgpack.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	v, err := DecodeMsgpack(b)
	if err != nil {
		t.Fatal(err)
	}
	if x, _ := v.Get("c"); x.Kind != Float || x.Float != 1 {
		t.Errorf("c = %+v", x)
	}
	if x, _ := v.Get("e"); x.Obj[0].Val.Kind != Uint {
		t.Errorf("e = %+v", x)
	}
	out, err := AppendMsgpack(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := msgpack.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back["c"] != 1.0 || back["b"] != "x" {
		t.Errorf("round trip: %v", back)
	}
}

func TestMsgpackUnrepresentable(t *testing.T) {
	bin, _ := msgpack.Marshal(map[string]any{"p": []byte{1, 2}})
	v, err := DecodeMsgpack(bin)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := v.Get("p")
	if p.Kind != Unrepresentable {
		t.Fatalf("bin decoded as %v", p.Kind)
	}
	if _, err := AppendJSON(nil, v); !errors.Is(err, ErrUnrepresented) {
		t.Errorf("encode: %v", err)
	}
	intKey, _ := msgpack.Marshal(map[int]int{1: 2})
	if v, err := DecodeMsgpack(intKey); err != nil || v.Kind != Unrepresentable {
		t.Errorf("int key: %v %v", v.Kind, err)
	}
	nan, _ := msgpack.Marshal(map[string]any{"x": math.NaN()})
	if _, err := DecodeMsgpack(nan); !errors.Is(err, ErrNonFinite) {
		t.Errorf("nan: %v", err)
	}
	badUTF8, _ := msgpack.Marshal(map[string]any{"x": "\xff"})
	if _, err := DecodeMsgpack(badUTF8); !errors.Is(err, ErrUTF8) {
		t.Errorf("utf8: %v", err)
	}
	// A map32 header claiming 2^32-1 entries with no data must fail fast.
	if _, err := DecodeMsgpack([]byte{0xdf, 0xff, 0xff, 0xff, 0xff}); err == nil {
		t.Error("hostile map length accepted")
	}
	if _, err := DecodeMsgpack([]byte{0x81, 0xa1, 'a'}); err == nil {
		t.Error("truncated map accepted")
	}
	trailing, _ := msgpack.Marshal(map[string]any{"a": 1})
	if _, err := DecodeMsgpack(append(trailing, 0x01)); err == nil {
		t.Error("trailing bytes accepted")
	}
}

func TestDetectEncoding(t *testing.T) {
	if DetectEncoding([]byte(" \n{")) != JSON || DetectEncoding([]byte{0x81}) != Msgpack || DetectEncoding([]byte("[1]")) != Msgpack {
		t.Error("detect")
	}
}

func TestEncodePayloadWraps(t *testing.T) {
	for in, want := range map[string]string{`{"a":1}`: `{"a":1}`, `[1]`: `{"value":[1]}`, `null`: `{"value":null}`, `"s"`: `{"value":"s"}`} {
		v, _ := DecodeJSON([]byte(in))
		got, _ := EncodePayload(nil, v)
		if string(got) != want {
			t.Errorf("%s: %s", in, got)
		}
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5,"x",null,true]}`, `{"s":"\ud83d\ude00\u0000"}`, `{"n":-1e-7}`, `[[[]]]`, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeJSON(b)
		if err != nil {
			return
		}
		out, err := AppendJSON(nil, v)
		if err != nil {
			t.Fatalf("decoded value does not encode: %v", err)
		}
		// The canonical form is a fixed point.
		v2, err := DecodeJSON(out)
		if err != nil {
			t.Fatalf("canonical output does not decode: %s: %v", out, err)
		}
		out2, _ := AppendJSON(nil, v2)
		if string(out) != string(out2) {
			t.Fatalf("not a fixed point: %s vs %s", out, out2)
		}
	})
}

func FuzzDecodeMsgpack(f *testing.F) {
	for _, v := range []any{map[string]any{"a": []any{1, 2.5, "x", nil, true}}, []byte{1}, map[int]int{1: 2}, "s", uint64(math.MaxUint64),
		int8(-5), int16(-300), int32(-70000), int64(-1 << 40), float32(1.5), uint16(65535), map[string]any{"t": time.Unix(1, 0)}, strings.Repeat("s", 300)} {
		b, _ := msgpack.Marshal(v)
		f.Add(b)
	}
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeMsgpack(b)
		if err != nil {
			return
		}
		out, err := AppendMsgpack(nil, v)
		if err != nil {
			if !errors.Is(err, ErrUnrepresented) {
				t.Fatalf("decoded value does not encode: %v", err)
			}
			return
		}
		// Differential check against the library: it must read our
		// re-encoding as the same value, and so must we.
		var lib any
		if err := msgpack.Unmarshal(out, &lib); err != nil {
			t.Fatalf("library cannot read the re-encoding: %v", err)
		}
		v2, err := DecodeMsgpack(out)
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		j1, _ := AppendJSON(nil, v)
		j2, _ := AppendJSON(nil, v2)
		if string(j1) != string(j2) {
			t.Fatalf("round trip changed the value: %s vs %s", j1, j2)
		}
	})
}

func TestScanObject(t *testing.T) {
	var keys []string
	var raws []string
	err := ScanObject([]byte(` {"a":1,"b":{"c":[1,"x\u00e9",{"d":null}]},"e":"s\"q"} `), func(k, raw []byte) {
		keys = append(keys, string(k))
		raws = append(raws, string(raw))
	})
	if err != nil || fmt.Sprint(keys) != "[a b e]" || raws[1] != `{"c":[1,"x\u00e9",{"d":null}]}` || raws[2] != `"s\"q"` {
		t.Fatalf("%v %q %v", keys, raws, err)
	}
	for _, bad := range []string{`[1]`, `{"a":}`, `{"a":1,}`, `{"a":"\x"}`, "{\"a\":\"\xff\"}", `{"a":[1,}`, `{"a":1} x`, `{"a":NaN}`} {
		if err := ScanObject([]byte(bad), func(_, _ []byte) {}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzScanObject(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"c"}],"d":"\u00e9"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		scanErr := ScanObject(b, func(_, _ []byte) {})
		v, err := DecodeJSON(b)
		// ScanObject accepts exactly the JSON objects DecodeJSON accepts.
		if (scanErr == nil) != (err == nil && v.Kind == Object) {
			t.Fatalf("ScanObject %v, DecodeJSON %v (kind %v) for %q", scanErr, err, v.Kind, b)
		}
	})
}

func FuzzTranscode(f *testing.F) {
	for _, s := range []string{`{"seq":1,"ts":1.5,"index":{"a":null,"b":-7,"c":200,"d":70000,"e":5000000000},"payload":{"s":"x\u00e9\n","l":[1,2.5,true,false,[]],"o":{}}}`,
		`[1e300,-0.0,18446744073709551615,123456789012345678901234567890]`, `"` + strings.Repeat("y", 70000) + `"`,
		// Containers whose msgpack header outgrows one byte (16+) or three (65536+).
		`[` + strings.Repeat(`[1],`, 20) + `{"a":[` + strings.Repeat(`0,`, 70000) + `1]}]`,
		`{` + strings.Repeat(`"k":{},`, 16) + `"z":[` + strings.Repeat(`"x",`, 15) + `"y"]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, err := DecodeJSON(b)
		mp, terr := AppendMsgpackFromJSON(nil, b)
		if (err == nil) != (terr == nil) {
			t.Fatalf("DecodeJSON %v, transcode %v for %q", err, terr, b)
		}
		if err != nil {
			return
		}
		got, err := DecodeMsgpack(mp)
		if err != nil {
			t.Fatalf("transcoded msgpack does not decode: %v", err)
		}
		// The same value, except that integers outside 64 bits become floats.
		j1, _ := AppendJSON(nil, bigToFloat(want))
		j2, _ := AppendJSON(nil, got)
		if string(j1) != string(j2) {
			t.Fatalf("transcode changed the value:\n%s\n%s", j1, j2)
		}
	})
}

func bigToFloat(v Value) Value {
	switch v.Kind {
	case BigInt:
		f, _ := v.AsFloat()
		return FloatValue(f)
	case Array:
		for i := range v.Arr {
			v.Arr[i] = bigToFloat(v.Arr[i])
		}
	case Object:
		for i := range v.Obj {
			v.Obj[i].Val = bigToFloat(v.Obj[i].Val)
		}
	}
	return v
}

var benchEvent = []byte(`{"seq":123,"ts":1706252400.123,"store":"messages","topic":"plugin1.output","index":{"plugin_id":"plugin1","source":null,"priority":5,"kind":"log","type":"output","timestamp":1706252400.123,"id":"m-000000001","generation":null,"conversation_id":"c1"},"payload":{"plugin_id":"plugin1","content":"Hello from the benchmark, a payload of roughly two hundred and fifty bytes to look like a real plugin message.","priority":5,"kind":"log","type":"output","message_id":"m-000000001","metadata":{"conversation_id":"c1"}}}`)

// BenchmarkMsgpackEvent: one event of a msgpack reply, transcoded in place.
func BenchmarkMsgpackEvent(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		buf, _ = AppendMsgpackFromJSON(buf[:0], benchEvent)
	}
}

// BenchmarkMsgpackEventViaTree: the same through a decoded Value tree.
func BenchmarkMsgpackEventViaTree(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		v, _ := DecodeJSON(benchEvent)
		_, _ = AppendMsgpack(nil, v)
	}
}

func TestEscapedKeyKeepsItsName(t *testing.T) {
	v, err := DecodeJSON([]byte(`{"k\u00e9y":"v\u00e0lue","n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if x, ok := v.Get("kéy"); !ok || x.Str != "vàlue" {
		t.Fatalf("escaped key lost: %+v", v)
	}
}

func TestAsInt(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{`5`, 5, true},
		{`5.0`, 5, true},
		{`-0.0`, 0, true},
		{`5.5`, 0, false},
		{`true`, 0, false},
		{`"5"`, 0, false},
		{`null`, 0, false},
		{`9223372036854775807`, math.MaxInt64, true},
		{`9223372036854775808`, math.MaxInt64, true},
		{`18446744073709551616`, math.MaxInt64, true},
		{`-18446744073709551616`, math.MinInt64, true},
		{`1e300`, math.MaxInt64, true},
		{`-1e300`, math.MinInt64, true},
		{`9.223372036854775807e18`, math.MaxInt64, true},
	}
	for _, c := range cases {
		v, err := DecodeJSON([]byte(c.in))
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		got, ok := v.AsInt()
		if got != c.want || ok != c.ok {
			t.Errorf("%s: %d %v, want %d %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
