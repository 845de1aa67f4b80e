package protocol

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	mpv1 "github.com/messageplane/mp/proto/messageplane/v1"
)

func contract(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCodesAreTheContracts: the error table of docs/PROTOCOL.md, code by
// code and message by message, is Codes.
func TestCodesAreTheContracts(t *testing.T) {
	rows := regexp.MustCompile("(?m)^\\| `([A-Z_]+)` \\| `([^`]*)` \\|").FindAllStringSubmatch(contract(t), -1)
	var codes []Code
	for _, r := range rows {
		c := Code(r[1])
		codes = append(codes, c)
		msg, _, _ := strings.Cut(r[2], ": <")
		if c.Message() != msg {
			t.Errorf("%s: message %q, the contract says %q", c, c.Message(), msg)
		}
	}
	if !slices.Equal(codes, Codes) {
		t.Errorf("the contract's codes %v, here %v", codes, Codes)
	}
}

// TestReasonsAreTheContracts: every drop reason is named in the contract's
// INGEST section.
func TestReasonsAreTheContracts(t *testing.T) {
	doc := contract(t)
	ingest := doc[strings.Index(doc, "## INGEST server"):]
	for _, r := range Reasons {
		if !strings.Contains(ingest, "`"+string(r)+"`") {
			t.Errorf("drop reason %s is not in docs/PROTOCOL.md's INGEST section", r)
		}
	}
}

func TestCheckTopic(t *testing.T) {
	cases := []struct {
		topic string
		max   int
		want  *Violation
	}{
		{"", 4, ViolTopicRequired}, {"a\x00", 4, ViolTopicInvalid}, {"\xff", 4, ViolTopicInvalid},
		{"abcd", 4, nil}, {"abcde", 4, ViolTopicTooLong}, {"éééé", 4, nil}, {"ééééé", 4, ViolTopicTooLong},
		{"ééééé", 0, nil}, {"*", 4, nil},
	}
	for _, c := range cases {
		if got := CheckTopic(c.topic, c.max); got != c.want {
			t.Errorf("%q max %d: %v, want %v", c.topic, c.max, got, c.want)
		}
	}
}

// TestRejectsRoundTrip: every store reject but NONE and EXPIRED stands for
// a rule, and each rule for its reject.
func TestRejectsRoundTrip(t *testing.T) {
	for n := range mpv1.Reject_name {
		r := mpv1.Reject(n)
		v := Rejected(r)
		switch r {
		case mpv1.Reject_REJECT_NONE, mpv1.Reject_REJECT_EXPIRED:
			if v != nil {
				t.Errorf("%s stands for %v", r, v)
			}
			continue
		}
		if v == nil || Reject(v) != r {
			t.Errorf("%s: rule %v, back to %s", r, v, Reject(v))
		}
	}
}
