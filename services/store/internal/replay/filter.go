package replay

import (
	"regexp"

	"github.com/messageplane/mp/internal/protocol"
	"github.com/messageplane/mp/internal/wire"
)

// exactFields are the filter's exact-match fields (index first, then the
// payload's top level), and regexFields its regex params and the field
// each searches: both from protocol's index key table, and content_re on
// payload.content.
var exactFields, regexFields = func() (exact []string, regex []struct{ param, field string }) {
	for _, k := range protocol.IndexKeys {
		if k.ReplayExact {
			exact = append(exact, k.Name)
		}
		if k.ReplayRegex {
			regex = append(regex, struct{ param, field string }{k.Name + "_re", k.Name})
		}
	}
	return exact, append(regex, struct{ param, field string }{"content_re", "payload.content"})
}()

type regexCond struct {
	field string
	re    *regexp.Regexp
}

type exactCond struct {
	field string
	value wire.Value
}

// filterSpec is a filter node's conditions, all of which must hold.
type filterSpec struct {
	exact       []exactCond
	regexes     []regexCond
	priorityMin *float64
	sinceTS     *float64
	untilTS     *float64
}

func (f *filterSpec) empty() bool {
	return len(f.exact) == 0 && len(f.regexes) == 0 && f.priorityMin == nil && f.sinceTS == nil && f.untilTS == nil
}

// filterSpec reads filter conditions from params; other params are ignored.
func (p *parser) filterSpec(params wire.Value) (*filterSpec, error) {
	f := &filterSpec{}
	for _, name := range exactFields {
		if v, ok := params.Get(name); ok && v.Kind != wire.Null {
			f.exact = append(f.exact, exactCond{field: name, value: v})
		}
	}
	for _, rf := range regexFields {
		if v, ok := params.Get(rf.param); ok && v.Kind != wire.Null {
			re, err := compileRegex(v)
			if err != nil {
				return nil, err
			}
			f.regexes = append(f.regexes, regexCond{field: rf.field, re: re})
		}
	}
	num := func(name string) (*float64, error) {
		v, ok := params.Get(name)
		if !ok || v.Kind == wire.Null {
			return nil, nil
		}
		x, isNum := v.AsFloat()
		if !isNum {
			return nil, fail("%s must be a number", name)
		}
		return &x, nil
	}
	var err error
	if f.priorityMin, err = num("priority_min"); err != nil {
		return nil, err
	}
	if f.sinceTS, err = num("since_ts"); err != nil {
		return nil, err
	}
	if f.untilTS, err = num("until_ts"); err != nil {
		return nil, err
	}
	return f, nil
}

// match reports whether it satisfies every condition.
func (f *filterSpec) match(it *item) bool {
	if f.priorityMin != nil && float64(it.ev.Priority) < *f.priorityMin {
		return false
	}
	if f.sinceTS != nil && it.ev.Timestamp < *f.sinceTS {
		return false
	}
	if f.untilTS != nil && it.ev.Timestamp > *f.untilTS {
		return false
	}
	for _, c := range f.exact {
		v, ok := it.field(c.field)
		if !ok || !equal(v, c.value) {
			return false
		}
	}
	for _, c := range f.regexes {
		if !regexMatch(it, c.field, c.re) {
			return false
		}
	}
	return true
}

// regexMatch searches (not full-matches) a string field's first
// RegexWindow characters.
func regexMatch(it *item, field string, re *regexp.Regexp) bool {
	v, ok := it.field(field)
	if !ok || v.Kind != wire.String {
		return false
	}
	s := v.Str
	n := 0
	for i := range s {
		if n == RegexWindow {
			s = s[:i]
			break
		}
		n++
	}
	return re.MatchString(s)
}
