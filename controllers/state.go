package controllers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// StateSchemaVersion is the version of reconcile.json.
const StateSchemaVersion = 1

// State is ~/.sanctum/state/reconcile.json: the record of the last pass that
// wrote it, and the inventory of every file reconcile owns.
type State struct {
	SchemaVersion int           `json:"schemaVersion"`
	RunID         string        `json:"runId"`
	Time          time.Time     `json:"time"`
	Mode          string        `json:"mode"`
	CatalogDigest string        `json:"catalogDigest"`
	Summary       drift.Summary `json:"summary"`
	// Incomplete names the required nodes the pass could not reach (it
	// exited 3): the record holds no answer for them.
	Incomplete []string         `json:"incomplete,omitempty"`
	Inventory  []InventoryEntry `json:"inventory"`
	// Sections are the stateful kinds' own parts, by key (each kind's
	// controller declares its Section), as the last pass left them.
	Sections map[string]json.RawMessage `json:"-"`
	// Objects comes last: a pass reads the file up to it and no further.
	Objects []ObjectRecord `json:"objects"`
}

// ObjectRecord is one object's outcome in the pass record.
type ObjectRecord struct {
	Kind   string       `json:"kind"`
	Name   string       `json:"name"`
	Action drift.Action `json:"action"`
	Path   string       `json:"path,omitempty"`
	Reason string       `json:"reason,omitempty"`
	Backup string       `json:"backup,omitempty"`
	Error  string       `json:"error,omitempty"`
}

// InventoryEntry is a file reconcile wrote, with the digest of what it wrote:
// it may remove the file later only while the file still has that digest.
type InventoryEntry struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	// Launchd is the service loaded from the file (a plist), booted out
	// before the file is pruned.
	Launchd string `json:"launchd,omitempty"`
	// Systemd is the user unit the file defines (x.service), stopped and
	// disabled before the file is pruned.
	Systemd string `json:"systemd,omitempty"`
	// Secret says what reconcile wrote there held a secret: a later diff
	// or prune of the file masks every line of it, even once the secret
	// is rotated or no longer templated into the file (no value is known
	// to look for then).
	Secret bool `json:"secret,omitempty"`
}

// BackupEntry is one file kept in a run's backups, listed in its index.json.
type BackupEntry struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Path   string `json:"path"`
	Backup string `json:"backup"`
	Mode   string `json:"mode"`
	SHA256 string `json:"sha256"`
	Reason string `json:"reason"` // overwritten | removed
	// Secret says the kept bytes held a secret (the target was
	// secret-bearing when they were written or is now): rollback restores
	// them 0600 whatever mode they had.
	Secret bool `json:"secret,omitempty"`
}

// LoadState reads the last pass record; a home without one has an empty state.
func LoadState(h observed.Host) (*State, error) {
	var s State
	if err := readState(h, &s, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// LoadPassState reads what a pass needs of the last one, the inventory and
// the agents, without its object records (most of the file): it stops at
// "objects", which reconcile writes last. A file written with "objects"
// earlier is read whole, the records skipped.
func LoadPassState(h observed.Host) (*State, error) {
	data, _, err := h.ReadFile(StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return &State{SchemaVersion: StateSchemaVersion}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	if err := stateDensity(data); err != nil {
		return nil, err
	}
	s, err := decodePassState(data)
	if err != nil {
		return nil, fmt.Errorf("state %s is damaged (%w); move it aside to start a fresh inventory", StateFile, err)
	}
	if s.SchemaVersion != StateSchemaVersion {
		return nil, fmt.Errorf("state %s has schemaVersion %d; this reconcile reads %d", StateFile, s.SchemaVersion, StateSchemaVersion)
	}
	return s, nil
}

// passFields are the fields of reconcile.json a pass reads, by key.
func passFields(s *State) map[string]any {
	return map[string]any{
		"schemaVersion": &s.SchemaVersion, "runId": &s.RunID, "time": &s.Time, "mode": &s.Mode,
		"catalogDigest": &s.CatalogDigest, "summary": &s.Summary, "inventory": &s.Inventory,
	}
}

func decodePassState(data []byte) (*State, error) {
	s := &State{}
	fields := passFields(s)
	owners := sectionKeys()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if t, err := dec.Token(); err != nil {
		return nil, err
	} else if t != json.Delim('{') {
		return nil, fmt.Errorf("want an object, found %v", t)
	}
	seen := 0
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		if key == "objects" {
			if seen == len(fields)+len(owners) {
				return s, nil // everything a pass reads came before
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, err
			}
			continue
		}
		if owner, ok := owners[key]; ok {
			// A kind's own section: kept as it is for its controller,
			// checked now so that a damaged one is found before the pass.
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, err
			}
			if err := owner.NewSection().Load(raw); err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			if s.Sections == nil {
				s.Sections = make(map[string]json.RawMessage, len(owners))
			}
			s.Sections[key] = raw
			seen++
			continue
		}
		if key == "incomplete" { // recorded, not read by a pass, and absent when empty
			if err := dec.Decode(&s.Incomplete); err != nil {
				return nil, err
			}
			continue
		}
		into, ok := fields[key]
		if !ok {
			return nil, fmt.Errorf("json: unknown field %q", key)
		}
		if err := dec.Decode(into); err != nil {
			return nil, err
		}
		seen++
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return s, nil
}

func readState(h observed.Host, into any, s *State) error {
	data, _, err := h.ReadFile(StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		s.SchemaVersion = StateSchemaVersion
		return nil
	}
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return decodeState(data, into, s)
}

// ParseState decodes reconcile.json strictly.
func ParseState(data []byte) (*State, error) {
	var s State
	if err := decodeState(data, &s, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func decodeState(data []byte, into any, s *State) error {
	if err := stateDensity(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("state %s is damaged (%w); move it aside to start a fresh inventory", StateFile, err)
	}
	if s.SchemaVersion != StateSchemaVersion {
		return fmt.Errorf("state %s has schemaVersion %d; this reconcile reads %d", StateFile, s.SchemaVersion, StateSchemaVersion)
	}
	return nil
}

// minStateObjectBytes bounds how densely a state packs its records: every
// object reconcile writes there (an inventory entry with its path and
// sha256, an object record with kind, name and action) takes more than
// this many bytes of JSON, while each decodes into a struct of a hundred
// bytes or more. A state of "{}" entries, well within the file limit,
// would otherwise decode into gigabytes.
const minStateObjectBytes = 24

// stateDensity refuses a state that packs its objects more densely than
// reconcile ever writes them, before any of it is decoded.
func stateDensity(data []byte) error {
	n := jsonObjects(data)
	if n > maxStateObjects {
		return fmt.Errorf("state %s is damaged (%d JSON objects: more than the %d records of any home reconcile manages, about three per managed file, and decoding them would take gigabytes); move it aside to start a fresh inventory",
			StateFile, n, maxStateObjects)
	}
	if n > len(data)/minStateObjectBytes+1024 {
		return fmt.Errorf("state %s is damaged (%d JSON objects in %d bytes: no record reconcile writes is that small, and decoding them would take memory out of all proportion to the file); move it aside to start a fresh inventory",
			StateFile, n, len(data))
	}
	return nil
}

// maxStateObjects bounds the records of a state, whatever their size:
// reconcile writes about three per managed file (an inventory entry, an
// object record, a section's), so a million covers a third of a million
// managed files, and at a few hundred bytes each decoded stays under half a
// gigabyte.
const maxStateObjects = 1_000_000

// jsonObjects counts the objects of a JSON text ('{' outside strings).
func jsonObjects(data []byte) int {
	n, inString, escaped := 0, false, false
	for _, c := range data {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && c == '{':
			n++
		}
	}
	return n
}

func writeJSON(h observed.Host, name string, v any, perm fs.FileMode) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	return h.WriteFile(name, buf.Bytes(), perm)
}

// record builds the state this pass leaves behind.
func (p *Pass) record(digest string, cs *drift.ChangeSet) *State {
	s := &State{
		SchemaVersion: StateSchemaVersion, RunID: p.RunID, Time: p.Now.UTC(), Mode: RecordedMode,
		CatalogDigest: digest, Summary: cs.Summary(), Incomplete: p.Incomplete,
		Objects:   make([]ObjectRecord, 0, len(cs.Changes)),
		Inventory: p.inv.Owned(),
	}
	for _, c := range cs.Changes {
		s.Objects = append(s.Objects, ObjectRecord{Kind: c.Kind, Name: c.Name, Action: c.Action, Path: c.Path,
			Reason: c.Reason, Backup: c.Backup, Error: c.Error})
	}
	s.Sections = make(map[string]json.RawMessage, len(p.sections))
	for key, sec := range p.sections {
		raw, err := json.Marshal(sec.Save())
		if err != nil {
			raw = []byte("null") // records of plain data always marshal
		}
		s.Sections[key] = raw
	}
	return s
}

// writeBackupIndex lists the run's backups next to them.
func (fe *FileEngine) writeBackupIndex() error { return fe.kept.WriteIndex(fe.Host) }
