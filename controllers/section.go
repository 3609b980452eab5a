package controllers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
)

// Section is a kind's own part of reconcile.json: what its controller
// remembers from one pass to the next (the launch agents as they were
// loaded, the nodes as they answered), under its own key. The state file,
// its reader and its writer know nothing of any kind: a new kind with
// runtime state declares its section in its own file and nothing else.
type Section interface {
	// Load takes the last pass's section (nil when it had none).
	Load(raw json.RawMessage) error
	// Save returns this pass's section, ready to marshal.
	Save() any
}

// Stateful is a controller with a Section.
type Stateful interface {
	Controller
	// SectionKey is the section's key in reconcile.json.
	SectionKey() string
	// NewSection makes an empty section for one pass.
	NewSection() Section
}

// sectionKeys are the keys the registry's controllers own.
func sectionKeys() map[string]Stateful {
	out := map[string]Stateful{}
	for _, c := range registry {
		if s, ok := c.(Stateful); ok {
			out[s.SectionKey()] = s
		}
	}
	return out
}

// records is a Section of one record per object, as the launch agents and
// the systemd units keep them: the last pass's (prev, read-only during the
// pass) and this pass's (cur, which workers record into), each by key;
// saved as a list in order (less).
type records[R any] struct {
	key  func(R) string
	less func(a, b R) bool
	prev map[string]R
	mu   sync.Mutex
	cur  map[string]R
}

func newRecords[R any](key func(R) string, less func(a, b R) bool) *records[R] {
	return &records[R]{key: key, less: less, prev: map[string]R{}, cur: map[string]R{}}
}

// Load implements Section: the last pass's list, strictly.
func (s *records[R]) Load(raw json.RawMessage) error {
	if raw == nil {
		return nil
	}
	var list []R
	if err := strictUnmarshal(raw, &list); err != nil {
		return err
	}
	for _, r := range list {
		s.prev[s.key(r)] = r
	}
	return nil
}

// record keeps this pass's record of an object.
func (s *records[R]) record(r R) {
	s.mu.Lock()
	s.cur[s.key(r)] = r
	s.mu.Unlock()
}

// Save implements Section: this pass's records in order.
func (s *records[R]) Save() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]R, 0, len(s.cur))
	for _, r := range s.cur {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return s.less(out[i], out[j]) })
	return out
}

// section returns the pass's section of a stateful controller.
func sectionOf[T Section](p *Pass, key string) T {
	return p.sections[key].(T)
}

// MarshalJSON writes the fixed fields, then every section by key, then
// the objects last (a pass reads the file up to them and no further).
func (s State) MarshalJSON() ([]byte, error) {
	type fixed struct {
		SchemaVersion int              `json:"schemaVersion"`
		RunID         string           `json:"runId"`
		Time          any              `json:"time"`
		Mode          string           `json:"mode"`
		CatalogDigest string           `json:"catalogDigest"`
		Summary       any              `json:"summary"`
		Incomplete    []string         `json:"incomplete,omitempty"`
		Inventory     []InventoryEntry `json:"inventory"`
	}
	inv := s.Inventory
	if inv == nil {
		inv = []InventoryEntry{}
	}
	head, err := json.Marshal(fixed{s.SchemaVersion, s.RunID, s.Time, s.Mode, s.CatalogDigest, s.Summary, s.Incomplete, inv})
	if err != nil {
		return nil, err
	}
	buf := append([]byte(nil), head[:len(head)-1]...) // without the closing brace
	keys := make([]string, 0, len(s.Sections))
	for k := range s.Sections {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kb, _ := json.Marshal(k)
		buf = append(buf, ',')
		buf = append(buf, kb...)
		buf = append(buf, ':')
		buf = append(buf, s.Sections[k]...)
	}
	objects := s.Objects
	if objects == nil {
		objects = []ObjectRecord{}
	}
	ob, err := json.Marshal(objects)
	if err != nil {
		return nil, err
	}
	buf = append(buf, `,"objects":`...)
	buf = append(buf, ob...)
	return append(buf, '}'), nil
}

// UnmarshalJSON reads reconcile.json strictly: a key that is neither a
// fixed field nor a section some controller owns is an error.
func (s *State) UnmarshalJSON(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	owners := sectionKeys()
	fields := passFields(s)
	fields["objects"] = &s.Objects
	fields["incomplete"] = &s.Incomplete
	for k, raw := range m {
		if into, ok := fields[k]; ok {
			if err := strictUnmarshal(raw, into); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			continue
		}
		if _, ok := owners[k]; ok {
			if s.Sections == nil {
				s.Sections = map[string]json.RawMessage{}
			}
			s.Sections[k] = raw
			continue
		}
		return fmt.Errorf("json: unknown field %q", k)
	}
	return nil
}

func strictUnmarshal(raw json.RawMessage, into any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}
