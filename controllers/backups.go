package controllers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/observed"
)

// Backups are one run's backups: where each file it overwrites or removes
// is kept (backups/<run-id>/<path>, 0600) and the run's index of them, the
// one BackupIndex that rollback reads and the backup prune counts runs by.
type Backups struct {
	runID string
	time  time.Time
	mu    sync.Mutex
	kept  []BackupEntry
	// journaled is how many of kept the run's journal lists; jmu keeps
	// appends to the journal in order.
	journaled int
	jmu       sync.Mutex
	// nodes is what the run changed on each node, by node name;
	// nodeFresh what JournalNodes has yet to list.
	nodes     map[string]*NodeBackups
	nodeFresh []NodeBackups
}

// journalName is the run's journal: its backups a JSON line each, appended
// as they are made, until the run's index.json replaces it.
const journalName = "index.jsonl"

// NewBackups starts a run's backups.
func NewBackups(runID string, now time.Time) *Backups {
	return &Backups{runID: runID, time: now.UTC()}
}

// Path is where the run keeps a target's old bytes, relative to HOME.
func (b *Backups) Path(target string) string { return path.Join(BackupsDir, b.runID, target) }

// Keep lists a written backup of a file in the run's index.
func (b *Backups) Keep(kind, name, target string, data []byte, mode fs.FileMode, reason string, secret bool) {
	b.add(BackupEntry{Kind: kind, Name: name, Path: target, Backup: b.Path(target),
		Mode: fmt.Sprintf("%#o", mode), SHA256: digest(data), Reason: reason, Secret: secret})
}

// KeepLink lists a written backup of a symlink in the run's index.
func (b *Backups) KeepLink(kind, name, target, points, reason string) {
	b.add(BackupEntry{Kind: kind, Name: name, Path: target, Backup: b.Path(target),
		Mode: keptLink, SHA256: linkDigest(points), Reason: reason})
}

func (b *Backups) add(e BackupEntry) {
	b.mu.Lock()
	b.kept = append(b.kept, e)
	b.mu.Unlock()
}

// Index is the run's index, entries by path; nil when it kept nothing.
func (b *Backups) Index() *BackupIndex {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.kept) == 0 && len(b.nodes) == 0 {
		return nil
	}
	entries := append([]BackupEntry(nil), b.kept...)
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	return &BackupIndex{RunID: b.runID, Time: b.time, Entries: entries, Nodes: b.nodeList()}
}

// Journal appends the backups kept since its last call to the run's
// journal, durably (AppendFile syncs), one JSON line each. The file engine
// calls it after a batch of backups and before the writes or removals they
// protect, so a run killed at any point can be listed and rolled back; the
// cost is the new entries only, whatever the run's size. A plan keeps no
// journal: it has no run to roll back.
func (b *Backups) Journal(h observed.Host) error {
	if observed.Plans(h) {
		return nil
	}
	b.jmu.Lock()
	defer b.jmu.Unlock()
	b.mu.Lock()
	fresh := append([]BackupEntry(nil), b.kept[b.journaled:]...)
	b.mu.Unlock()
	if len(fresh) == 0 {
		return nil
	}
	var buf []byte
	for _, e := range fresh {
		line, err := json.Marshal(e)
		if err != nil {
			return err
		}
		buf = append(append(buf, line...), '\n')
	}
	if err := h.AppendFile(path.Join(BackupsDir, b.runID, journalName), buf, 0o600); err != nil {
		return err
	}
	b.mu.Lock()
	b.journaled += len(fresh)
	b.mu.Unlock()
	return nil
}

// WriteIndex writes the run's index.json next to its backups when the run
// ends, and drops the journal it replaces; a run that kept nothing writes
// none.
func (b *Backups) WriteIndex(h observed.Host) error {
	idx := b.Index()
	if idx == nil {
		return nil
	}
	if err := h.MkdirAll(path.Join(BackupsDir, b.runID), 0o700); err != nil {
		return err
	}
	if err := writeJSON(h, path.Join(BackupsDir, b.runID, "index.json"), idx, 0o600); err != nil {
		return err
	}
	if err := h.Remove(path.Join(BackupsDir, b.runID, journalName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// BackupIndex is backups/<run-id>/index.json.
type BackupIndex struct {
	RunID   string        `json:"runId"`
	Time    time.Time     `json:"time"`
	Entries []BackupEntry `json:"entries"`
	// Nodes is what the run changed on each remote node, kept in the
	// node's own backups (see NodeBackups).
	Nodes []NodeBackups `json:"nodes,omitempty"`
}

// RunIDTimeFormat is the time part of a run id.
const RunIDTimeFormat = "20060102T150405.000000Z"

var runIDPattern = regexp.MustCompile(`^\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{4}$`)

// ReadBackupIndex reads one run's backup index.
func ReadBackupIndex(h observed.Host, runID string) (*BackupIndex, error) {
	if !runIDPattern.MatchString(runID) {
		return nil, fmt.Errorf("%q is not a run id (reconcile history lists them)", runID)
	}
	data, _, err := h.ReadFile(path.Join(BackupsDir, runID, "index.json"))
	if errors.Is(err, fs.ErrNotExist) {
		// A run killed before it ended left its journal.
		if idx, jerr := readJournal(h, runID); jerr == nil || !errors.Is(jerr, fs.ErrNotExist) {
			return idx, jerr
		}
		// Backups are written before the journal that lists them, and the
		// journal before any change they keep: a run folder with neither
		// was killed between its first backups and its first change.
		if entries, derr := h.ReadDir(path.Join(BackupsDir, runID)); derr == nil && len(entries) > 0 {
			return nil, fmt.Errorf("run %s: %w: its first backups were written and nothing they keep was replaced, so there is nothing to roll back (they stay in ~/%s/%s)",
				runID, ErrKilledBeforeChange, BackupsDir, runID)
		}
		return nil, fmt.Errorf("run %s has no backups (it overwrote and removed nothing, or they were pruned)", runID)
	}
	if err != nil {
		return nil, err
	}
	var idx BackupIndex
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("backups of %s: index.json is damaged: %w", runID, err)
	}
	if idx.RunID != runID {
		return nil, fmt.Errorf("backups of %s: index.json is not this run's (it names run %q); refusing to restore from it", runID, idx.RunID)
	}
	if err := checkIndex(&idx); err != nil {
		return nil, err
	}
	if err := checkNodeIndex(&idx); err != nil {
		return nil, err
	}
	return &idx, nil
}

// ErrKilledBeforeChange: a run's folder holds backups but no index or
// journal: the run was killed before the first change they protect.
var ErrKilledBeforeChange = errors.New("killed before its first change")

// ErrTamperedIndex: a run's backup index lists an entry that no run of
// reconcile writes. Rollback takes every path and mode from the index, so
// an index edited by hand could otherwise copy any file of HOME anywhere
// with any mode; it refuses the whole index instead.
var ErrTamperedIndex = errors.New("backup index refused")

// checkIndex accepts an index only when every entry is one a run of
// reconcile could have made: a clean path under HOME, never reconcile's
// state or the secrets; its backup exactly where the run keeps that path's
// old bytes, inside the run's own folder, so that what a rollback writes
// at a path can only be what the run kept of that very path (and its
// sha256 is checked against it there); a permission mode (no setuid,
// setgid or sticky bit) or a symlink; and a sha256.
func checkIndex(idx *BackupIndex) error {
	for i, e := range idx.Entries {
		_, _, keptErr := e.kept()
		why := ""
		switch {
		case isSystemUnitFile(e.Path) && !systemUnitEntry(e):
			why = "a system unit's file is kept only as one: a SystemdUnit's or Service's x.service directly in " + observed.SystemUnitDir
		case isSystemUnitFile(e.Path):
		case e.Path == "" || path.IsAbs(e.Path) || path.Clean(e.Path) != e.Path || e.Path == ".." || strings.HasPrefix(e.Path, "../"):
			why = "its path is not a clean path under HOME"
		case e.Path == StateDir || strings.HasPrefix(e.Path, StateDir+"/") || strings.HasPrefix(e.Path, ".sanctum/secrets/"):
			why = "reconcile backs up no file of its state or of the secrets"
		}
		switch {
		case why != "":
		case e.Backup != path.Join(BackupsDir, idx.RunID, e.Path):
			why = fmt.Sprintf("its backup %q is not where run %s keeps %s", e.Backup, idx.RunID, e.Path)
		case keptErr != nil:
			why = keptErr.Error()
		case !sha256Hex.MatchString(e.SHA256):
			why = "its sha256 is not one"
		}
		if why != "" {
			return fmt.Errorf("backups of %s: %w: entry %d (%s/%s %s): %s", idx.RunID, ErrTamperedIndex, i+1, e.Kind, e.Name, e.Path, why)
		}
	}
	return nil
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// systemUnitEntry says whether an entry under /etc/systemd/system is one
// a run makes: the unit file of a unit or a service, directly in it.
func systemUnitEntry(e BackupEntry) bool { return isSystemUnitShape(e.Kind, e.Path) }

// isSystemUnitShape says whether kind and p are those of a system unit's
// file as a pass writes it: a SystemdUnit's or a Service's x.service
// directly in /etc/systemd/system, its name no dotfile.
func isSystemUnitShape(kind, p string) bool {
	return (kind == v1.KindSystemdUnit || kind == v1.KindService) && isSystemUnitPath(p)
}

// systemUnitOwned says whether an inventory entry outside HOME is one a
// pass makes: a system unit's file, and the unit it stops before a prune
// is that file's own.
func systemUnitOwned(e InventoryEntry) bool {
	return isSystemUnitShape(e.Kind, e.Path) && e.Systemd == path.Base(e.Path) && e.Launchd == ""
}

// keptLink is the mode an index entry of a kept symlink has.
const keptLink = "symlink"

// kept is what an index entry kept: a symlink, or a file with the
// permission the index wrote for it ("0644", no setuid, setgid or sticky
// bit); anything else is no entry a run writes.
func (e BackupEntry) kept() (perm fs.FileMode, link bool, err error) {
	if e.Mode == keptLink {
		return 0, true, nil
	}
	m, err := strconv.ParseUint(e.Mode, 0, 32)
	if err != nil || !strings.HasPrefix(e.Mode, "0") || m > 0o777 {
		return 0, false, fmt.Errorf("mode %q is not a file permission", e.Mode)
	}
	return fs.FileMode(m), false, nil
}

// PruneBackups removes backup runs beyond the newest keep, or older than
// maxAge; the newest run is never removed.
func (p *Pass) PruneBackups(s v1.BackupSettings) ([]string, error) {
	keep, maxAge := s.Keep, time.Duration(s.MaxAgeDays)*24*time.Hour
	if keep == 0 {
		keep = 50
	}
	if maxAge == 0 {
		maxAge = 90 * 24 * time.Hour
	}
	entries, err := p.Host.ReadDir(BackupsDir)
	if err != nil {
		return nil, err
	}
	var runs []string
	for _, e := range entries {
		if e.IsDir() && runIDPattern.MatchString(e.Name()) {
			runs = append(runs, e.Name())
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(runs))) // newest first: run ids start with the time
	var pruned []string
	for i, r := range runs {
		if i == 0 {
			continue
		}
		t, err := time.Parse(RunIDTimeFormat, r[:len(RunIDTimeFormat)])
		if i < keep && (err != nil || p.Now.Sub(t) <= maxAge) {
			continue
		}
		if err := p.Host.RemoveAll(path.Join(BackupsDir, r)); err != nil {
			return pruned, err
		}
		pruned = append(pruned, r)
	}
	return pruned, nil
}

// readJournal reads the index of a run that did not end from its journal;
// a line cut short by the kill is the last and is left out.
func readJournal(h observed.Host, runID string) (*BackupIndex, error) {
	data, _, err := h.ReadFile(path.Join(BackupsDir, runID, journalName))
	if err != nil {
		return nil, err
	}
	idx := &BackupIndex{RunID: runID}
	if t, err := time.Parse(RunIDTimeFormat, runID[:len(RunIDTimeFormat)]); err == nil {
		idx.Time = t
	}
	lines := bytes.Split(data, []byte("\n"))
	for i, line := range lines {
		if len(line) == 0 {
			continue
		}
		var e BackupEntry
		var n journalLine
		err := json.Unmarshal(line, &n)
		if err == nil && n.Node == nil {
			err = json.Unmarshal(line, &e)
		}
		if err != nil {
			if i == len(lines)-1 {
				break // the kill cut the last line short
			}
			return nil, fmt.Errorf("backups of %s: %s is damaged at line %d: %w", runID, journalName, i+1, err)
		}
		if n.Node != nil {
			addJournalNode(idx, n.Node)
			continue
		}
		idx.Entries = append(idx.Entries, e)
	}
	sort.SliceStable(idx.Entries, func(i, j int) bool { return idx.Entries[i].Path < idx.Entries[j].Path })
	sort.Slice(idx.Nodes, func(i, j int) bool { return idx.Nodes[i].Node < idx.Nodes[j].Node })
	for _, nb := range idx.Nodes {
		sort.SliceStable(nb.Entries, func(i, j int) bool { return nb.Entries[i].Path < nb.Entries[j].Path })
	}
	if err := checkIndex(idx); err != nil {
		return nil, err
	}
	if err := checkNodeIndex(idx); err != nil {
		return nil, err
	}
	return idx, nil
}
