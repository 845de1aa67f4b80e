package client

import (
	"encoding/json"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// A json.RawMessage argument crosses to msgpack with its key order and
// number kinds, and msgpack replies come back as the same JSON.
func TestMsgpackRoundTripKeepsOrder(t *testing.T) {
	const js = `{"z":1,"a":{"y":2.5,"b":[true,null,"é\n"]},"big":18446744073709551615,"neg":-3,"f":1e-07}`
	body, err := encodeRequest(Msgpack, "r1", "bus.publish", map[string]any{"payload": json.RawMessage(js)})
	if err != nil {
		t.Fatal(err)
	}
	var req struct {
		Args struct {
			Payload msgpack.RawMessage `msgpack:"payload"`
		} `msgpack:"args"`
	}
	if err := msgpack.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	back, err := msgpackToJSON(req.Args.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if string(back) != `{"z":1,"a":{"y":2.5,"b":[true,null,"é\n"]},"big":18446744073709551615,"neg":-3,"f":1e-07}` {
		t.Errorf("round trip: %s", back)
	}
}

// Values with no JSON form are refused, never passed on.
func TestMsgpackToJSONRefuses(t *testing.T) {
	for name, v := range map[string]any{
		"binary":         map[string]any{"b": []byte{1}},
		"non-string key": map[int]int{1: 2},
	} {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := msgpackToJSON(b); err == nil {
			t.Errorf("%s: converted to %s", name, out)
		}
	}
	if _, err := msgpackToJSON([]byte{0x91}); err == nil {
		t.Error("truncated array accepted")
	}
}

// A struct argument means in msgpack what encoding/json makes of it.
func TestMsgpackArgsFollowJSONTags(t *testing.T) {
	body, err := encodeRequest(Msgpack, "r1", OpGetSince, SinceArgs{Store: "runs", AfterSeq: 7})
	if err != nil {
		t.Fatal(err)
	}
	js, err := msgpackToJSON(body)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"v":1,"req_id":"r1","op":"bus.get_since","args":{"store":"runs","after_seq":7}}`; string(js) != want {
		t.Errorf("got %s, want %s", js, want)
	}
}
