package client

import (
	"context"
	"encoding/json"
	"time"
)

// Op names (docs/PROTOCOL.md, "RPC server").
const (
	OpPing       = "ping"
	OpHealth     = "health"
	OpListTopics = "bus.list_topics"
	OpPublish    = "bus.publish"
	OpGetRecent  = "bus.get_recent"
	OpGetSince   = "bus.get_since"
	OpQuery      = "bus.query"
	OpReplay     = "bus.replay"
)

// Event is one stored message (docs/PROTOCOL.md, "Events").
type Event struct {
	Seq   int64   `json:"seq"`
	TS    float64 `json:"ts"`
	Store string  `json:"store"`
	Topic string  `json:"topic"`
	Index Index   `json:"index"`
	// Payload is the payload's JSON as the server keeps it (key order
	// included); absent in light items.
	Payload json.RawMessage `json:"payload,omitempty"`
	// Raw is the whole event as the server sent it (nulls included; a
	// msgpack reply's event converted to JSON).
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON keeps the event's JSON in Raw.
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event // without this method
	if err := json.Unmarshal(b, (*plain)(e)); err != nil {
		return err
	}
	e.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// DecodePayload unmarshals the payload into v.
func (e *Event) DecodePayload(v any) error { return json.Unmarshal(e.Payload, v) }

// Index holds the fields the server extracts from a payload. A null
// string field reads as "" (only source can also be an empty string).
type Index struct {
	PluginID       string  `json:"plugin_id"`
	Source         string  `json:"source"`
	Priority       int64   `json:"priority"`
	Kind           string  `json:"kind"`
	Type           string  `json:"type"`
	Timestamp      float64 `json:"timestamp"`
	ID             string  `json:"id"`
	Generation     *int64  `json:"generation"`
	ConversationID string  `json:"conversation_id"`
}

// ReadResult is the result of get_recent, query and replay.
type ReadResult struct {
	Store string  `json:"store"`
	Topic string  `json:"topic"` // as asked ("" when absent); replay has none
	Items []Event `json:"items"`
	Light bool    `json:"light"`
	// Truncated says MP_MAX_REPLY_BYTES cut the items.
	Truncated bool `json:"truncated"`
}

// Since is the result of get_since.
type Since struct {
	ReadResult
	AfterSeq int64 `json:"after_seq"`
	// HeadSeq is the store's highest seq so far: ask again while the last
	// item's seq is below it.
	HeadSeq int64  `json:"head_seq"`
	Epoch   string `json:"epoch"`
}

// Topics is the result of list_topics.
type Topics struct {
	Store      string      `json:"store"`
	Epoch      string      `json:"epoch"`
	Stores     []string    `json:"stores"`
	Topics     []string    `json:"topics"` // last written first
	TopicCount int         `json:"topic_count"`
	Info       []TopicInfo `json:"topics_info"`
}

// TopicInfo describes one topic.
type TopicInfo struct {
	Topic      string  `json:"topic"`
	Count      int64   `json:"count"`       // events retained
	CountTotal int64   `json:"count_total"` // accepted since created or replaced
	CreatedAt  float64 `json:"created_at"`
	LastTS     float64 `json:"last_ts"`
	LastSeq    int64   `json:"last_seq"`
}

// Health is the result of health: OK false and Store "unavailable" when
// the RPC edge cannot reach the store.
type Health struct {
	OK    bool    `json:"ok"`
	TS    float64 `json:"ts"`
	Store string  `json:"store"`
	Epoch string  `json:"epoch"`
}

// RecentArgs are bus.get_recent's arguments. Topic "*" reads every topic.
type RecentArgs struct {
	Store string `json:"store,omitempty"` // "": messages
	Topic string `json:"topic"`
	Limit int    `json:"limit,omitempty"` // 0: the server's default (200)
	Light bool   `json:"light,omitempty"`
}

// SinceArgs are bus.get_since's arguments. Topic "" reads every topic.
type SinceArgs struct {
	Store    string `json:"store,omitempty"`
	Topic    string `json:"topic,omitempty"`
	AfterSeq int64  `json:"after_seq"`
	Limit    int    `json:"limit,omitempty"`
	Light    bool   `json:"light,omitempty"`
}

// QueryArgs are bus.query's arguments; empty fields do not filter.
type QueryArgs struct {
	Store       string   `json:"store,omitempty"`
	Topic       string   `json:"topic,omitempty"`
	PluginID    string   `json:"plugin_id,omitempty"`
	Source      string   `json:"source,omitempty"`
	Kind        string   `json:"kind,omitempty"`
	Type        string   `json:"type,omitempty"`
	PriorityMin *int64   `json:"priority_min,omitempty"`
	SinceTS     *float64 `json:"since_ts,omitempty"`
	UntilTS     *float64 `json:"until_ts,omitempty"`
	Limit       int      `json:"limit,omitempty"`
	Light       bool     `json:"light,omitempty"`
}

// ReplayArgs are bus.replay's arguments. Plan is a plan tree: a map, a
// json.RawMessage or any value encoding/json turns into one.
type ReplayArgs struct {
	Store string `json:"store,omitempty"`
	Plan  any    `json:"plan"`
	Limit int    `json:"limit,omitempty"` // 0: no cap beyond MP_MAX_LIMIT
	Light bool   `json:"light,omitempty"`
}

// do calls op and decodes its result into out.
func (c *Client) do(ctx context.Context, op string, args, out any) error {
	r, err := c.Call(ctx, op, args)
	if err != nil {
		return err
	}
	return r.Decode(out)
}

// Publish stores one event in store ("" for messages) under topic and
// returns it as stored (seq, ts, index). payload is any value encoding/json
// accepts, or a json.RawMessage whose key order is kept.
func (c *Client) Publish(ctx context.Context, store, topic string, payload any) (Event, error) {
	args := map[string]any{"topic": topic, "payload": payload}
	if store != "" {
		args["store"] = store
	}
	var res struct {
		Event Event `json:"event"`
	}
	err := c.do(ctx, OpPublish, args, &res)
	return res.Event, err
}

// GetRecent returns a topic's newest events, oldest first.
func (c *Client) GetRecent(ctx context.Context, a RecentArgs) (*ReadResult, error) {
	res := &ReadResult{}
	return res, c.do(ctx, OpGetRecent, a, res)
}

// GetSince returns the first events with seq > a.AfterSeq, ascending, with
// the store's head seq and epoch.
func (c *Client) GetSince(ctx context.Context, a SinceArgs) (*Since, error) {
	res := &Since{}
	return res, c.do(ctx, OpGetSince, a, res)
}

// Query returns matching events, newest first.
func (c *Client) Query(ctx context.Context, a QueryArgs) (*ReadResult, error) {
	res := &ReadResult{}
	return res, c.do(ctx, OpQuery, a, res)
}

// Replay evaluates a plan (docs/PROTOCOL.md, "bus.replay").
func (c *Client) Replay(ctx context.Context, a ReplayArgs) (*ReadResult, error) {
	res := &ReadResult{}
	return res, c.do(ctx, OpReplay, a, res)
}

// ListTopics describes a store's topics ("" for messages).
func (c *Client) ListTopics(ctx context.Context, store string) (*Topics, error) {
	var args map[string]any
	if store != "" {
		args = map[string]any{"store": store}
	}
	res := &Topics{}
	return res, c.do(ctx, OpListTopics, args, res)
}

// Ping asks the RPC edge alone and returns the round-trip time.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	_, err := c.Call(ctx, OpPing, nil)
	return time.Since(start), err
}

// Health asks the RPC edge and, through it, the store.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	res := &Health{}
	return res, c.do(ctx, OpHealth, nil, res)
}
