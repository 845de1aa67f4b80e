package event

// The string index keys, numbered in the order their references are kept.
const (
	PluginID = iota
	Source
	Kind
	Type
	ID
	ConversationID
	numStrings
)

const generationBit = 1 << numStrings

type keyKind uint8

const (
	stringKey     keyKind = iota // a string, even empty (plugin_id, source)
	nonEmptyKey                  // the first non-empty string among its sources
	priorityKey                  // an integer, see Priority
	timestampKey                 // a float, see Timestamp
	generationKey                // an integer or null, see Generation
)

// Key is one index key: how it is extracted and where it is rendered.
type Key struct {
	Name string
	kind keyKind
	str  int // for string keys: its number
	// sources are the payload paths it is read from, in order of
	// preference; a path of two names is a key of an object member.
	sources [][]string
	jsonKey string // `"name":`
}

// Keys are the nine index keys in docs/PROTOCOL.md's order, which is the
// order they are rendered in. Adding a key is one row here (and its
// extraction rule if it is a new kind).
var Keys = []Key{
	key("plugin_id", stringKey, PluginID, paths("plugin_id")),
	key("source", stringKey, Source, paths("source")),
	key("priority", priorityKey, -1, paths("priority")),
	key("kind", nonEmptyKey, Kind, paths("kind")),
	key("type", nonEmptyKey, Type, paths("type", "message_type")),
	key("timestamp", timestampKey, -1, paths("timestamp", "time")),
	key("id", nonEmptyKey, ID, paths("message_id", "event_id", "lifecycle_id", "id", "task_id", "run_id")),
	key("generation", generationKey, -1, paths("generation")),
	key("conversation_id", nonEmptyKey, ConversationID, [][]string{{"metadata", "conversation_id"}}),
}

func key(name string, kind keyKind, str int, sources [][]string) Key {
	return Key{Name: name, kind: kind, str: str, sources: sources, jsonKey: `"` + name + `":`}
}

func paths(names ...string) [][]string {
	out := make([][]string, len(names))
	for i, n := range names {
		out[i] = []string{n}
	}
	return out
}

// keyByName finds an index key by its name.
var keyByName = func() map[string]*Key {
	m := map[string]*Key{}
	for i := range Keys {
		m[Keys[i].Name] = &Keys[i]
	}
	return m
}()

// StringKeys are the names of the string keys, by number.
var StringKeys = func() [numStrings]string {
	var out [numStrings]string
	for _, k := range Keys {
		if k.kind == stringKey || k.kind == nonEmptyKey {
			out[k.str] = k.Name
		}
	}
	return out
}()

// maxSources bounds the top-level payload keys the index reads.
const maxSources = 16

// sourceIndex maps each top-level payload key the index reads to a slot,
// so extraction records each key's last value in one pass.
var sourceIndex = func() map[string]int {
	m := map[string]int{}
	for _, k := range Keys {
		for _, p := range k.sources {
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
