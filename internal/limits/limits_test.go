package limits

import (
	"strings"
	"testing"

	"github.com/messageplane/mp/internal/protocol"
	"github.com/messageplane/mp/internal/wire"
)

func TestTopic(t *testing.T) {
	c := Config{TopicNameMaxLen: 4, PayloadMaxBytes: 10, ValidatePayloadBytes: true}
	cases := map[string]*protocol.Violation{
		"": protocol.ViolTopicRequired, "a\x00": protocol.ViolTopicInvalid, "abcd": nil, "abcde": protocol.ViolTopicTooLong,
		"éééé": nil, "ééééé": protocol.ViolTopicTooLong, "a.b": nil, "*": nil, "\xff": protocol.ViolTopicInvalid,
	}
	for in, want := range cases {
		if got := c.Topic(in); got != want {
			t.Errorf("%q: %v want %v", in, got, want)
		}
	}
}

func TestPayload(t *testing.T) {
	c := Config{TopicNameMaxLen: 4, PayloadMaxBytes: 10, ValidatePayloadBytes: true}
	exact := wire.ObjectValue([]wire.Member{{Key: "a", Val: wire.StringValue("xxx")}}) // {"a":"xxx"} = 11
	if _, v := c.Payload(nil, exact); v != protocol.ViolPayloadTooLarge {
		t.Errorf("11 bytes: %q", v)
	}
	ok := wire.ObjectValue([]wire.Member{{Key: "a", Val: wire.StringValue("xx")}}) // 10 bytes: inclusive
	if out, v := c.Payload(nil, ok); v != nil || string(out) != `{"a":"xx"}` {
		t.Errorf("10 bytes: %q %s", v, out)
	}
	if _, v := c.Payload(nil, wire.Value{Kind: wire.Unrepresentable}); v != protocol.ViolBadPayload {
		t.Errorf("binary: %q", v)
	}
	c.ValidatePayloadBytes = false
	if _, v := c.Payload(nil, wire.StringValue(strings.Repeat("x", 100))); v != nil {
		t.Errorf("unchecked: %q", v)
	}
}
