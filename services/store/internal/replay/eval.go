package replay

import (
	"slices"
	"strings"

	"github.com/messageplane/mp/internal/wire"
	"github.com/messageplane/mp/services/store/internal/event"
)

// item is an event flowing through a plan, with its payload parsed on first
// use (most plans never look inside the payload).
type item struct {
	ev      event.Event
	store   string
	payload wire.Value
	parsed  bool
}

func (it *item) payloadValue() wire.Value {
	if !it.parsed {
		it.payload, _ = wire.DecodeJSON(it.ev.Payload())
		it.parsed = true
	}
	return it.payload
}

// field resolves a field name (docs/PROTOCOL.md "Field names"): seq, ts, store,
// topic are the event's own; index.<key>; payload.<a>.<b>; any other bare
// name is the index value unless null, then the payload's top-level value
// when the payload has that key, else the index's null. A field is missing
// (false) only when it is neither an index key nor a top-level payload key.
func (it *item) field(name string) (wire.Value, bool) {
	switch name {
	case "seq":
		return wire.IntValue(int64(it.ev.Seq)), true
	case "ts":
		return wire.FloatValue(it.ev.TS), true
	case "store":
		return wire.StringValue(it.store), true
	case "topic":
		return wire.StringValue(it.ev.Topic), true
	case "payload":
		return it.payloadValue(), true
	}
	if key, ok := strings.CutPrefix(name, "index."); ok {
		return it.ev.IndexValue(key)
	}
	if path, ok := strings.CutPrefix(name, "payload."); ok {
		v := it.payloadValue()
		for _, k := range strings.Split(path, ".") {
			var found bool
			if v, found = v.Get(k); !found {
				return wire.Value{}, false
			}
		}
		return v, true
	}
	if v, ok := it.ev.IndexValue(name); ok {
		if v.Kind != wire.Null {
			return v, true
		}
		if pv, found := it.payloadValue().Get(name); found {
			return pv, true
		}
		return v, true
	}
	return it.payloadValue().Get(name)
}

// Eval evaluates the plan; the leaves' Events must be filled. limit > 0
// keeps the first limit items; the result never exceeds maxLimit.
func (p *Plan) Eval(store string, limit, maxLimit int) []event.Event {
	items := p.eval(p.root, store)
	if limit > 0 && len(items) > limit {
		items = items[:limit]
	}
	if maxLimit > 0 && len(items) > maxLimit {
		items = items[:maxLimit]
	}
	out := make([]event.Event, len(items))
	for i, it := range items {
		out[i] = it.ev
	}
	return out
}

func (p *Plan) eval(n node, store string) []*item {
	switch n := n.(type) {
	case *topicNode:
		return n.read(store)
	case *filterNode:
		return keep(p.eval(n.in, store), n.spec.match)
	case *limitNode:
		in := p.eval(n.in, store)
		return in[:min(n.n, len(in))]
	case *sortNode:
		in := p.eval(n.in, store)
		sortItems(in, n.by, n.reverse)
		return in
	case *whereNode:
		return keep(p.eval(n.in, store), n.match)
	case *setNode:
		inputs := make([][]*item, len(n.inputs))
		for i, in := range n.inputs {
			inputs[i] = p.eval(in, store)
		}
		return setOp(n.op, inputs)
	}
	return nil
}

// read turns a leaf's events into items: the newest Limit, ascending; with
// filter fields (an upstream get) the newest Limit that match, newest first,
// as the Python server answers it with its query.
func (t *topicNode) read(store string) []*item {
	evs := t.Events
	if t.Match == nil {
		evs = evs[max(0, len(evs)-t.Limit):]
		items := make([]item, len(evs))
		out := make([]*item, len(evs))
		for i, ev := range evs {
			items[i] = item{ev: ev, store: store}
			out[i] = &items[i]
		}
		return out
	}
	var out []*item
	for i := len(evs) - 1; i >= 0 && len(out) < t.Limit; i-- {
		it := &item{ev: evs[i], store: store}
		if t.Match.match(it) {
			out = append(out, it)
		}
	}
	return out
}

func keep(in []*item, pred func(*item) bool) []*item {
	out := in[:0]
	for _, it := range in {
		if pred(it) {
			out = append(out, it)
		}
	}
	return out
}

func (w *whereNode) match(it *item) bool {
	switch w.op {
	case "regex":
		return regexMatch(it, w.field, w.re)
	}
	v, ok := w.field2(it)
	if !ok {
		return false
	}
	switch w.op {
	case "eq":
		return equal(v, w.value)
	case "in":
		for _, x := range w.values {
			if equal(v, x) {
				return true
			}
		}
		return false
	case "contains":
		switch v.Kind {
		case wire.String:
			return w.value.Kind == wire.String && strings.Contains(v.Str, w.value.Str)
		case wire.Array:
			for _, x := range v.Arr {
				if equal(x, w.value) {
					return true
				}
			}
		}
	}
	return false
}

func (w *whereNode) field2(it *item) (wire.Value, bool) { return it.field(w.field) }

// equal compares values as docs/PROTOCOL.md says: numbers by value (1 == 1.0), a
// boolean never equals a number, strings exactly, lists and objects deeply.
func equal(a, b wire.Value) bool {
	if a.IsNumber() && b.IsNumber() {
		if a.Kind == wire.Float || b.Kind == wire.Float {
			x, _ := a.AsFloat()
			y, _ := b.AsFloat()
			return x == y
		}
		if a.Kind != b.Kind {
			return false // int64, uint64 above int64 and big ints never overlap
		}
		return a.Int == b.Int && a.Uint == b.Uint && a.Str == b.Str
	}
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case wire.Null:
		return true
	case wire.Bool:
		return a.Bool == b.Bool
	case wire.String:
		return a.Str == b.Str
	case wire.Array:
		if len(a.Arr) != len(b.Arr) {
			return false
		}
		for i := range a.Arr {
			if !equal(a.Arr[i], b.Arr[i]) {
				return false
			}
		}
		return true
	case wire.Object:
		if len(a.Obj) != len(b.Obj) {
			return false
		}
		for _, m := range a.Obj {
			y, ok := b.Get(m.Key)
			if !ok || !equal(m.Val, y) {
				return false
			}
		}
		return true
	}
	return false
}

// sortKey is one field's rank for sorting: numbers, then strings, then
// everything else (missing, null, booleans, lists, objects).
type sortKey struct {
	rank int
	num  float64
	str  string
}

func keyOf(v wire.Value, ok bool) sortKey {
	if !ok {
		return sortKey{rank: 2}
	}
	if f, isNum := v.AsFloat(); isNum {
		return sortKey{rank: 0, num: f}
	}
	if v.Kind == wire.String {
		return sortKey{rank: 1, str: v.Str}
	}
	return sortKey{rank: 2}
}

func compareKeys(a, b []sortKey) int {
	for i := range a {
		x, y := a[i], b[i]
		if x.rank != y.rank {
			return x.rank - y.rank
		}
		switch x.rank {
		case 0:
			if x.num < y.num {
				return -1
			}
			if x.num > y.num {
				return 1
			}
		case 1:
			if c := strings.Compare(x.str, y.str); c != 0 {
				return c
			}
		}
	}
	return 0
}

// sortItems sorts stably; reverse sorts descending while equal keys keep
// their input order, as Python's sorted(reverse=True) does.
func sortItems(items []*item, by []string, reverse bool) {
	keys := make(map[*item][]sortKey, len(items))
	for _, it := range items {
		k := make([]sortKey, len(by))
		for i, f := range by {
			k[i] = keyOf(it.field(f))
		}
		keys[it] = k
	}
	slices.SortStableFunc(items, func(a, b *item) int {
		c := compareKeys(keys[a], keys[b])
		if reverse {
			return -c
		}
		return c
	})
}

// identity is an event's identity for set ops: index.id, else its seq.
type identity struct {
	id  string
	seq uint64
}

func identityOf(ev *event.Event) identity {
	if id, ok := ev.Str(event.IDKey); ok {
		return identity{id: id}
	}
	return identity{seq: ev.Seq}
}

// setOp implements union, intersect and diff: ascending seq, one event per
// identity (the lowest seq).
func setOp(op string, inputs [][]*item) []*item {
	var pool []*item
	switch op {
	case "union", "intersect":
		for _, in := range inputs {
			pool = append(pool, in...)
		}
	case "diff":
		pool = inputs[0]
	}
	slices.SortStableFunc(pool, func(a, b *item) int {
		if a.ev.Seq < b.ev.Seq {
			return -1
		}
		if a.ev.Seq > b.ev.Seq {
			return 1
		}
		return 0
	})
	var sets []map[identity]bool
	if op != "union" {
		for i, in := range inputs {
			if op == "diff" && i == 0 {
				continue
			}
			m := make(map[identity]bool, len(in))
			for _, it := range in {
				m[identityOf(&it.ev)] = true
			}
			sets = append(sets, m)
		}
	}
	seen := make(map[identity]bool, len(pool))
	out := make([]*item, 0, len(pool))
	for _, it := range pool {
		id := identityOf(&it.ev)
		if seen[id] {
			continue
		}
		seen[id] = true
		ok := true
		for _, m := range sets {
			if m[id] == (op == "diff") {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, it)
		}
	}
	return out
}
