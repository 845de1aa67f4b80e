// Package replay parses and evaluates bus.replay plans (docs/PROTOCOL.md
// "bus.replay"). Both plan shapes, the seed's {op, params, input/inputs} and
// the upstream {kind: get|unary|binary, ...}, parse into one typed tree
// before anything is evaluated; a plan that does not parse is refused whole.
package replay

import (
	"fmt"
	"regexp"
	"unicode/utf8"

	"github.com/messageplane/mp/internal/protocol"
	"github.com/messageplane/mp/internal/wire"
	"github.com/messageplane/mp/services/store/internal/event"
)

// Limits of a plan (docs/PROTOCOL.md "Limits").
const (
	MaxNodes    = 256
	MaxDepth    = 16
	MaxRegexLen = 128
	// RegexWindow is how many characters of a value a regex sees.
	RegexWindow = 1024
	// upstreamGetLimit is the default limit of an upstream "get" node.
	upstreamGetLimit = 200
	// AllTopics is the topic param meaning every topic of the store.
	AllTopics = protocol.AllTopics
)

// Error is a plan that cannot be evaluated (UNSUPPORTED_PLAN).
type Error struct{ Reason string }

func (e *Error) Error() string { return "unsupported plan: " + e.Reason }

func fail(format string, args ...any) error { return &Error{Reason: fmt.Sprintf(format, args...)} }

// Plan is a parsed, validated plan.
type Plan struct {
	root   node
	leaves []*topicNode
}

// Leaves are the topic reads the plan needs; the caller fills each one's
// Events before Eval.
func (p *Plan) Leaves() []*topicNode { return p.leaves }

// Options are the limits the parser applies.
type Options struct {
	MaxLimit        int // MP_MAX_LIMIT
	TopicNameMaxLen int // MP_TOPIC_NAME_MAX_LEN (0: unchecked)
}

// Parse parses a plan given as JSON.
func Parse(planJSON []byte, o Options) (*Plan, error) {
	v, err := wire.DecodeJSON(planJSON)
	if err != nil {
		return nil, fail("plan is not valid JSON")
	}
	return ParseValue(v, o)
}

// ParseValue parses a decoded plan.
func ParseValue(v wire.Value, o Options) (*Plan, error) {
	if o.MaxLimit <= 0 {
		o.MaxLimit = 10000
	}
	p := &parser{opts: o, plan: &Plan{}}
	root, err := p.node(v, 1)
	if err != nil {
		return nil, err
	}
	p.plan.root = root
	return p.plan, nil
}

type parser struct {
	opts  Options
	plan  *Plan
	nodes int
}

// node kinds of the typed plan.
type node interface{ isNode() }

type topicNode struct {
	Topic string // AllTopics for every topic
	Limit int    // newest Limit events (always set, at most MaxLimit)
	// Match, when set, keeps only matching events, the limit counts
	// matches and the result is newest first (an upstream "get" with filter
	// fields).
	Match *filterSpec
	// Events is filled by the caller before evaluation: the topic's events,
	// ascending seq (all of them when Match is set, else the newest Limit).
	Events []event.Event
}

type filterNode struct {
	in   node
	spec *filterSpec
}

type limitNode struct {
	in node
	n  int
}

type sortNode struct {
	in      node
	by      []string
	reverse bool
}

type whereNode struct {
	in     node
	op     string // eq, in, contains, regex
	field  string
	value  wire.Value
	values []wire.Value
	re     *regexp.Regexp
}

type setNode struct {
	op     string // union, intersect, diff
	inputs []node
}

func (*topicNode) isNode()  {}
func (*filterNode) isNode() {}
func (*limitNode) isNode()  {}
func (*sortNode) isNode()   {}
func (*whereNode) isNode()  {}
func (*setNode) isNode()    {}

func (p *parser) node(v wire.Value, depth int) (node, error) {
	if depth > MaxDepth {
		return nil, fail("plan deeper than %d", MaxDepth)
	}
	p.nodes++
	if p.nodes > MaxNodes {
		return nil, fail("plan has more than %d nodes", MaxNodes)
	}
	if v.Kind != wire.Object {
		return nil, fail("a plan node must be an object")
	}
	if k, ok := v.Get("kind"); ok && k.Kind == wire.String {
		return p.upstream(v, k.Str, depth)
	}
	opv, ok := v.Get("op")
	if !ok || opv.Kind != wire.String {
		return nil, fail("node without op")
	}
	params, err := paramsOf(v)
	if err != nil {
		return nil, err
	}
	switch opv.Str {
	case "union", "intersect", "diff":
		inputs, ok := v.Get("inputs")
		if !ok || inputs.Kind == wire.Null {
			inputs, ok = params.Get("inputs")
		}
		if !ok || inputs.Kind != wire.Array || len(inputs.Arr) == 0 {
			return nil, fail("%s needs inputs: a list of at least one node", opv.Str)
		}
		s := &setNode{op: opv.Str}
		for _, in := range inputs.Arr {
			n, err := p.node(in, depth+1)
			if err != nil {
				return nil, err
			}
			s.inputs = append(s.inputs, n)
		}
		return s, nil
	case "topic":
		return p.topic(params, false)
	}
	in, ok := v.Get("input")
	if !ok || in.Kind == wire.Null {
		return nil, fail("%s needs an input node", opv.Str)
	}
	return p.unary(opv.Str, params, in, depth)
}

// unary parses the ops that take one input, shared by both shapes.
func (p *parser) unary(op string, params, in wire.Value, depth int) (node, error) {
	mk := func() (node, error) { return p.node(in, depth+1) }
	switch op {
	case "filter":
		spec, err := p.filterSpec(params)
		if err != nil {
			return nil, err
		}
		child, err := mk()
		if err != nil {
			return nil, err
		}
		return &filterNode{in: child, spec: spec}, nil
	case "limit":
		nv, ok := params.Get("n")
		if !ok {
			return nil, fail("limit needs n")
		}
		n, ok := nv.AsInt()
		if !ok || n < 0 {
			return nil, fail("limit n must be an integer >= 0")
		}
		child, err := mk()
		if err != nil {
			return nil, err
		}
		return &limitNode{in: child, n: int(min(n, int64(1<<31)))}, nil
	case "sort":
		s := &sortNode{by: []string{"timestamp"}}
		if by, ok := params.Get("by"); ok && by.Kind != wire.Null {
			switch by.Kind {
			case wire.String:
				s.by = []string{by.Str}
			case wire.Array:
				if len(by.Arr) == 0 {
					return nil, fail("sort by must name at least one field")
				}
				s.by = nil
				for _, f := range by.Arr {
					if f.Kind != wire.String {
						return nil, fail("sort by must be field names")
					}
					s.by = append(s.by, f.Str)
				}
			default:
				return nil, fail("sort by must be a field or a list of fields")
			}
		}
		if r, ok := params.Get("reverse"); ok && r.Kind != wire.Null {
			if r.Kind != wire.Bool {
				return nil, fail("sort reverse must be a boolean")
			}
			s.reverse = r.Bool
		}
		child, err := mk()
		if err != nil {
			return nil, err
		}
		s.in = child
		return s, nil
	case "where_eq", "where_in", "where_contains", "where_regex":
		w := &whereNode{op: op[len("where_"):]}
		f, ok := params.Get("field")
		if !ok || f.Kind != wire.String || f.Str == "" {
			return nil, fail("%s needs a field", op)
		}
		w.field = f.Str
		switch w.op {
		case "eq", "contains":
			val, ok := params.Get("value")
			if !ok {
				return nil, fail("%s needs a value", op)
			}
			w.value = val
		case "in":
			vals, ok := params.Get("values")
			if !ok || vals.Kind != wire.Array {
				return nil, fail("where_in needs values: a list")
			}
			w.values = vals.Arr
		case "regex":
			pat, ok := params.Get("pattern")
			if !ok {
				return nil, fail("where_regex needs a pattern")
			}
			re, err := compileRegex(pat)
			if err != nil {
				return nil, err
			}
			w.re = re
		}
		child, err := mk()
		if err != nil {
			return nil, err
		}
		w.in = child
		return w, nil
	}
	return nil, fail("unknown op %q", op)
}

// topic parses a topic read: the seed's topic node, or an upstream get
// (which defaults its topic to "all" and its limit to 200 and may filter).
func (p *parser) topic(params wire.Value, upstream bool) (node, error) {
	t := &topicNode{Limit: p.opts.MaxLimit}
	tv, ok := params.Get("topic")
	switch {
	case (!ok || tv.Kind == wire.Null) && upstream:
		t.Topic = "all"
	case !ok || tv.Kind == wire.Null:
		return nil, fail("topic node needs a topic")
	case tv.Kind != wire.String || tv.Str == "":
		return nil, fail("topic must be a non-empty string")
	default:
		t.Topic = tv.Str
	}
	if t.Topic != AllTopics {
		if protocol.CheckTopic(t.Topic, p.opts.TopicNameMaxLen) != nil {
			return nil, fail("invalid topic")
		}
	}
	lv, ok := params.Get("limit")
	if upstream && (!ok || lv.Kind == wire.Null) {
		lv, ok = params.Get("max_count")
	}
	if ok && lv.Kind != wire.Null {
		n, isInt := lv.AsInt()
		if !isInt || n < 0 {
			return nil, fail("topic limit must be an integer >= 0")
		}
		t.Limit = int(min(n, int64(p.opts.MaxLimit)))
	} else if upstream {
		t.Limit = min(upstreamGetLimit, p.opts.MaxLimit)
	}
	if upstream {
		spec, err := p.filterSpec(params)
		if err != nil {
			return nil, err
		}
		if !spec.empty() {
			t.Match = spec
		}
	}
	p.plan.leaves = append(p.plan.leaves, t)
	return t, nil
}

func (p *parser) upstream(v wire.Value, kind string, depth int) (node, error) {
	params, err := paramsOf(v)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "get":
		if inner, ok := params.Get("params"); ok && inner.Kind == wire.Object {
			params = inner
		}
		return p.topic(params, true)
	case "unary":
		opv, ok := v.Get("op")
		if !ok || opv.Kind != wire.String {
			return nil, fail("unary node without op")
		}
		child, ok := v.Get("child")
		if !ok || child.Kind == wire.Null {
			return nil, fail("unary node without child")
		}
		switch opv.Str {
		case "limit", "sort", "filter", "where_eq", "where_in", "where_contains", "where_regex":
			return p.unary(opv.Str, params, child, depth)
		}
		return nil, fail("unknown unary op %q", opv.Str)
	case "binary":
		opv, _ := v.Get("op")
		ops := map[string]string{"merge": "union", "intersection": "intersect", "difference": "diff"}
		op, ok := ops[opv.Str]
		if opv.Kind != wire.String || !ok {
			return nil, fail("unknown binary op")
		}
		s := &setNode{op: op}
		for _, side := range []string{"left", "right"} {
			sv, ok := v.Get(side)
			if !ok || sv.Kind == wire.Null {
				return nil, fail("binary node without %s", side)
			}
			n, err := p.node(sv, depth+1)
			if err != nil {
				return nil, err
			}
			s.inputs = append(s.inputs, n)
		}
		return s, nil
	}
	return nil, fail("unknown node kind %q", kind)
}

// paramsOf returns a node's params object ({} when absent or null).
func paramsOf(v wire.Value) (wire.Value, error) {
	params, ok := v.Get("params")
	if !ok || params.Kind == wire.Null {
		return wire.ObjectValue(nil), nil
	}
	if params.Kind != wire.Object {
		return wire.Value{}, fail("params must be an object")
	}
	return params, nil
}

func compileRegex(pat wire.Value) (*regexp.Regexp, error) {
	if pat.Kind != wire.String {
		return nil, fail("a regex must be a string")
	}
	if utf8.RuneCountInString(pat.Str) > MaxRegexLen {
		return nil, fail("regex longer than %d characters", MaxRegexLen)
	}
	re, err := regexp.Compile(pat.Str)
	if err != nil {
		return nil, fail("bad regex: %v", err)
	}
	return re, nil
}
