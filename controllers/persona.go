package controllers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
)

// PersonaLedgerFile is the persona calibration ledger, relative to HOME.
const PersonaLedgerFile = StateDir + "/agent-markdown-sync.json"

// Statuses of a persona copy in the ledger.
const (
	PersonaInSync          = "in-sync"
	PersonaDrifted         = "drifted"
	PersonaMissing         = "missing"
	PersonaSkippedOptional = "skipped-optional"
	PersonaFailed          = "failed"
)

// PersonaLedger is ~/.sanctum/state/agent-markdown-sync.json: which copy of
// which persona file is in sync where, as the last apply or audit found it.
type PersonaLedger struct {
	SchemaVersion int                                      `json:"schemaVersion"`
	Time          time.Time                                `json:"time"`
	Mode          string                                   `json:"mode"` // apply | audit
	RunID         string                                   `json:"runId"`
	CatalogDigest string                                   `json:"catalogDigest"`
	Agents        map[string]map[string]*PersonaFileRecord `json:"agents"`
	// Nodes holds one section per remote node (the RemoteNode controller's).
	Nodes map[string]NodeRecord `json:"nodes"`
	// Incomplete names the required nodes the pass could not reach: their
	// copies are as an earlier pass found them, not as they are.
	Incomplete []string `json:"incomplete,omitempty"`
}

// PersonaFileRecord is one agent's file: its source and every copy.
type PersonaFileRecord struct {
	Source       string          `json:"source"`
	SourceSHA256 string          `json:"sourceSha256,omitempty"`
	Targets      []PersonaTarget `json:"targets"`
}

// PersonaTarget is one copy.
type PersonaTarget struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256,omitempty"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// PersonaController keeps each agent's canonical persona markdown identical in
// every workspace it names.
type PersonaController struct{}

// Kind implements Controller.
func (PersonaController) Kind() string { return v1.KindPersonaFile }

// personaCopy ties a file target back to its ledger record.
type personaCopy struct {
	rec    *PersonaFileRecord
	source string // sha256
}

// Reconcile implements Controller.
func (PersonaController) Reconcile(ctx context.Context, p *Pass, cat *desired.Catalog) []drift.Change {
	if len(cat.Personas) == 0 {
		return nil
	}
	ledger := &PersonaLedger{SchemaVersion: 1, Time: p.Now.UTC(), Mode: RecordedMode, RunID: p.RunID,
		CatalogDigest: cat.Digest, Agents: map[string]map[string]*PersonaFileRecord{}, Nodes: map[string]NodeRecord{}}
	if p.plans {
		ledger.Mode = "audit"
	}
	var changes []drift.Change
	var targets []FileTarget
	var copies []personaCopy
	for _, pf := range cat.Personas {
		agent := pf.AgentName()
		if ledger.Agents[agent] == nil {
			ledger.Agents[agent] = map[string]*PersonaFileRecord{}
		}
		ws := p.personaWorkspaces(pf)
		for _, file := range pf.FileNames() {
			name := agent + "/" + file
			rec := &PersonaFileRecord{Targets: []PersonaTarget{}}
			ledger.Agents[agent][file] = rec
			content, src, err := p.personaSource(cat, pf, file)
			rec.Source = src
			if err == nil {
				rec.SourceSHA256 = digest(content)
			}
			for _, w := range ws {
				target := path.Join(w.path, file)
				c := drift.Change{Kind: v1.KindPersonaFile, Name: name, Path: target}
				switch {
				case w.skip != "":
					c.Action, c.Reason = drift.Skipped, w.skip
					changes = append(changes, c)
					rec.Targets = append(rec.Targets, PersonaTarget{Path: "~/" + target, Status: PersonaSkippedOptional, Reason: w.skip})
				case w.err != nil || err != nil:
					if w.err != nil {
						c = p.fail(c, w.err)
					} else {
						c = p.fail(c, err)
					}
					changes = append(changes, c)
					rec.Targets = append(rec.Targets, PersonaTarget{Path: "~/" + target, Status: PersonaFailed, Reason: c.Error})
				default:
					targets = append(targets, FileTarget{Kind: v1.KindPersonaFile, Name: name, Path: target, Content: content})
					copies = append(copies, personaCopy{rec: rec, source: rec.SourceSHA256})
				}
			}
			if len(ws) == 0 && err != nil {
				changes = append(changes, p.fail(drift.Change{Kind: v1.KindPersonaFile, Name: name}, err))
			}
		}
	}
	results := p.Files(ctx, targets)
	for i, c := range results {
		t := PersonaTarget{Path: "~/" + c.Path, SHA256: copies[i].source}
		switch c.Action {
		case drift.Unchanged:
			t.Status = PersonaInSync
		case drift.Created, drift.Configured:
			t.Status = PersonaInSync
			if p.plans {
				t.Status, t.SHA256 = PersonaDrifted, p.ObservedDigest(c.Path)
				if c.Action == drift.Created {
					t.Status, t.SHA256 = PersonaMissing, ""
				}
			}
		default:
			t.Status, t.SHA256, t.Reason = PersonaFailed, "", c.Error
		}
		copies[i].rec.Targets = append(copies[i].rec.Targets, t)
	}
	changes = append(changes, results...)
	for _, files := range ledger.Agents {
		for _, rec := range files {
			sort.Slice(rec.Targets, func(i, j int) bool { return rec.Targets[i].Path < rec.Targets[j].Path })
		}
	}
	p.personaLedger = ledger
	return changes
}

// personaSource reads one canonical file once per pass, whichever
// controller asks first (the local copies or a remote node's).
func (p *Pass) personaSource(cat *desired.Catalog, pf *v1.PersonaFile, file string) ([]byte, string, error) {
	key := pf.Name + "\x00" + file
	p.mu.Lock()
	if s, ok := p.sources[key]; ok {
		p.mu.Unlock()
		return s.content, s.display, s.err
	}
	p.mu.Unlock()
	content, display, err := readPersonaSource(cat, p, pf, file)
	if err == nil && !pf.Spec.AllowSecrets {
		if what, line, found := drift.SecretMaterial(content); found {
			err = fmt.Errorf("refusing %s: line %d looks like %s, and persona files travel to other machines "+
				"(set spec.allowSecrets: true on PersonaFile/%s to send it anyway)", display, line, what, pf.Name)
		} else if line, found := p.secretLine(content); found {
			err = fmt.Errorf("refusing %s: line %d holds the value of a secret, and persona files travel to other machines "+
				"(set spec.allowSecrets: true on PersonaFile/%s to send it anyway)", display, line, pf.Name)
		}
	}
	p.mu.Lock()
	p.sources[key] = sourceFile{content, display, err}
	p.mu.Unlock()
	return content, display, err
}

// secretLine finds the first line of content that holds a resolved secret
// in any spelling the pass knows (the CLI gives it the whole masking
// table).
func (p *Pass) secretLine(content []byte) (int, bool) {
	first := -1
	for _, s := range p.secrets {
		if k := drift.IndexSecret(content, s); k >= 0 && (first < 0 || k < first) {
			first = k
		}
	}
	if first < 0 {
		return 0, false
	}
	return bytes.Count(content[:first], []byte("\n")) + 1, true
}

type sourceFile struct {
	content []byte
	display string
	err     error
}

// writeLedger writes an audit ledger through Ledgers, the one door the
// wiring opened for them (apply: the pass's host; --check --record: a door
// to exactly the ledger); a plain dry run or check has none.
func (p *Pass) writeLedger(name string, v any) error {
	host := p.Ledgers
	if host == nil {
		return nil
	}
	if err := host.MkdirAll(StateDir, 0o700); err != nil {
		return err
	}
	return writeJSON(host, name, v, 0o600)
}

// workspace is one resolved target directory of a PersonaFile.
type workspace struct {
	path string // relative to HOME
	skip string // why it is skipped (absent and optional)
	err  error  // why it is refused
}

// personaWorkspaces resolves targets and globs against the host. A missing
// optional workspace is skipped, never created; a symlinked one is refused.
func (p *Pass) personaWorkspaces(pf *v1.PersonaFile) []workspace {
	var out []workspace
	seen := make(map[string]bool)
	add := func(w workspace) {
		if !seen[w.path] {
			seen[w.path] = true
			out = append(out, w)
		}
	}
	for _, t := range pf.Spec.Targets {
		rel, _ := v1.HomePath(t) // validated
		dir, base := path.Split(rel)
		dir = path.Clean(dir)
		if !strings.ContainsAny(base, "*?[") {
			add(p.checkWorkspace(rel, pf.Spec.Optional))
			continue
		}
		entries, err := p.Host.ReadDir(dir)
		if err != nil {
			add(workspace{path: rel, err: err})
			continue
		}
		for _, e := range entries {
			if ok, _ := path.Match(base, e.Name()); ok {
				add(p.checkWorkspace(path.Join(dir, e.Name()), true))
			}
		}
	}
	return out
}

func (p *Pass) checkWorkspace(rel string, optional bool) workspace {
	w := workspace{path: rel}
	info, err := p.Host.Lstat(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist) && optional:
		w.skip = "workspace ~/" + rel + " absent; optional, not created"
	case errors.Is(err, fs.ErrNotExist):
		w.err = fmt.Errorf("workspace ~/%s does not exist and is not optional", rel)
	case err != nil:
		w.err = err
	case info.Mode()&fs.ModeSymlink != 0:
		w.err = fmt.Errorf("workspace ~/%s is a symlink; refusing to write persona files through it", rel)
	case !info.IsDir():
		w.err = fmt.Errorf("workspace ~/%s is not a directory", rel)
	}
	return w
}

// readPersonaSource reads one canonical file: from the catalog, or from
// under HOME (a persona root such as ~/Projects/mlx-finetune/data/raw).
func readPersonaSource(cat *desired.Catalog, p *Pass, pf *v1.PersonaFile, file string) ([]byte, string, error) {
	if dir := pf.Spec.Source.Catalog; dir != "" {
		display := path.Join(cat.Name, path.Clean(dir), file)
		src := pf.Spec.Loaded[file]
		if src.Err != nil {
			return nil, display, fmt.Errorf("source %s: %w", display, unwrapPathError(src.Err))
		}
		return src.Content, display, nil
	}
	rel, _ := v1.HomePath(pf.Spec.Source.Path)
	name := path.Join(rel, file)
	data, _, err := p.Host.ReadFile(name)
	if err != nil {
		return nil, "~/" + name, fmt.Errorf("source ~/%s: %w", name, unwrapPathError(err))
	}
	return data, "~/" + name, nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
