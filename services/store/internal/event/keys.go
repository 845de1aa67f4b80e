package event

import "github.com/messageplane/mp/internal/protocol"

// The string index keys are numbered in protocol.IndexKeys' order, which
// is the order their references are kept in; an event's present byte has
// a bit per string key and one for generation.
const (
	maxStrings    = 7
	generationBit = 1 << maxStrings
)

// numStrings is how many of the index keys are strings.
var numStrings = func() int {
	n := 0
	for _, k := range protocol.IndexKeys {
		if k.Kind == stringKey || k.Kind == nonEmptyKey {
			n++
		}
	}
	if n > maxStrings {
		panic("event: more string index keys than an event's present byte holds")
	}
	return n
}()

type keyKind = protocol.IndexKind

const (
	stringKey     = protocol.IndexString
	nonEmptyKey   = protocol.IndexNonEmpty
	priorityKey   = protocol.IndexPriority
	timestampKey  = protocol.IndexTimestamp
	generationKey = protocol.IndexGeneration
)

// Key is one index key as the store uses it: protocol's row, its number
// among the string keys, and its rendered name.
type Key struct {
	protocol.IndexKey
	str     int // for string keys: its number
	jsonKey string
}

// Keys are protocol.IndexKeys, in their order.
var Keys = func() []Key {
	out := make([]Key, len(protocol.IndexKeys))
	n := 0
	for i, k := range protocol.IndexKeys {
		out[i] = Key{IndexKey: k, str: -1, jsonKey: `"` + k.Name + `":`}
		if k.Kind == stringKey || k.Kind == nonEmptyKey {
			out[i].str = n
			n++
		}
	}
	return out
}()

// StrKey is the number of string key name, or -1.
func StrKey(name string) int {
	if k, ok := keyByName[name]; ok {
		return k.str
	}
	return -1
}

// IDKey is index.id's number, an event's identity in replay's set ops.
var IDKey = StrKey("id")

// keyByName finds an index key by its name.
var keyByName = func() map[string]*Key {
	m := map[string]*Key{}
	for i := range Keys {
		m[Keys[i].Name] = &Keys[i]
	}
	return m
}()

// maxSources bounds the top-level payload keys the index reads.
const maxSources = 16

// sourceIndex maps each top-level payload key the index reads to a slot,
// so extraction records each key's last value in one pass.
var sourceIndex = func() map[string]int {
	m := map[string]int{}
	for _, k := range Keys {
		for _, p := range k.Sources {
			if _, ok := m[p[0]]; !ok {
				m[p[0]] = len(m)
			}
		}
	}
	if len(m) > maxSources {
		panic("event: raise maxSources")
	}
	return m
}()
