package limits

import (
	"strings"
	"testing"

	"github.com/messageplane/mp/internal/wire"
)

func TestTopic(t *testing.T) {
	c := Config{TopicNameMaxLen: 4, PayloadMaxBytes: 10, ValidatePayloadBytes: true}
	cases := map[string]Violation{
		"": TopicRequired, "a\x00": TopicInvalid, "abcd": OK, "abcde": TopicTooLong,
		"éééé": OK, "ééééé": TopicTooLong, "a.b": OK, "*": OK,
	}
	for in, want := range cases {
		if got := c.Topic(in); got != want {
			t.Errorf("%q: %q want %q", in, got, want)
		}
	}
}

func TestPayload(t *testing.T) {
	c := Config{TopicNameMaxLen: 4, PayloadMaxBytes: 10, ValidatePayloadBytes: true}
	exact := wire.ObjectValue([]wire.Member{{Key: "a", Val: wire.StringValue("xxx")}}) // {"a":"xxx"} = 11
	if _, v := c.Payload(nil, exact); v != PayloadTooLarge {
		t.Errorf("11 bytes: %q", v)
	}
	ok := wire.ObjectValue([]wire.Member{{Key: "a", Val: wire.StringValue("xx")}}) // 10 bytes: inclusive
	if out, v := c.Payload(nil, ok); v != OK || string(out) != `{"a":"xx"}` {
		t.Errorf("10 bytes: %q %s", v, out)
	}
	if _, v := c.Payload(nil, wire.Value{Kind: wire.Unrepresentable}); v != BadPayload {
		t.Errorf("binary: %q", v)
	}
	c.ValidatePayloadBytes = false
	if _, v := c.Payload(nil, wire.StringValue(strings.Repeat("x", 100))); v != OK {
		t.Errorf("unchecked: %q", v)
	}
}
