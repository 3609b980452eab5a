package controllers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"time"

	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// HistoryFile is the append-only ledger of passes, one JSON object per line.
const HistoryFile = StateDir + "/history.jsonl"

// HistoryEntry is one pass in the history: every apply, scheduled or not,
// and every scheduled pass that skipped because another held the lock.
type HistoryEntry struct {
	RunID  string    `json:"runId"`
	Time   time.Time `json:"time"`
	Mode   string    `json:"mode"`   // apply | scheduled | schedule
	Result string    `json:"result"` // converged | failed | incomplete | skipped
	Reason string    `json:"reason,omitempty"`
	// Incomplete names the required nodes a pass could not reach (result
	// incomplete, exit 3): what it says of them is not an answer.
	Incomplete    []string      `json:"incomplete,omitempty"`
	CatalogDigest string        `json:"catalogDigest,omitempty"`
	Changes       int           `json:"changes"`
	Summary       drift.Summary `json:"summary"`
	// Nodes is a rollback's outcome on each node the run it undoes
	// changed.
	Nodes []NodeRollback `json:"nodes,omitempty"`
}

// AppendHistory records one pass. A line is written in one append, so
// concurrent passes never interleave their entries.
func AppendHistory(h observed.Host, e HistoryEntry) error {
	if err := h.MkdirAll(StateDir, 0o700); err != nil {
		return err
	}
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return h.AppendFile(HistoryFile, append(line, '\n'), 0o600)
}

// ResultUnfinished is the result of a run the history lists from its
// backups alone: it started changing the host and never recorded its end.
const ResultUnfinished = "unfinished"

// ReadHistory reads the history, oldest first; a line that does not parse
// (a pass killed mid-write) is skipped and counted. A run that kept
// backups but never recorded its end (killed, or still running) is listed
// too, from its backups (see unfinishedRuns), so that it can be found and
// rolled back.
func ReadHistory(h observed.Host) (entries []HistoryEntry, damaged int, err error) {
	data, _, err := h.ReadFile(HistoryFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("history: %w", err)
	}
	entries, damaged = parseHistory(data)
	unfinished, err := unfinishedRuns(h, entries)
	if err != nil {
		return nil, 0, fmt.Errorf("history: %w", err)
	}
	if len(unfinished) > 0 {
		entries = append(entries, unfinished...)
		sort.SliceStable(entries, func(i, j int) bool { return entries[i].Time.Before(entries[j].Time) })
	}
	return entries, damaged, nil
}

// unfinishedRuns lists the backup runs the history has no entry for: a run
// writes its backups (and their journal) before the changes they keep and
// its history entry last, so such a run was killed after its first backup
// (or is running now). Each says how many backups it kept and how to
// restore them, or why its index cannot be read.
func unfinishedRuns(h observed.Host, recorded []HistoryEntry) ([]HistoryEntry, error) {
	dirs, err := h.ReadDir(BackupsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	known := make(map[string]bool, len(recorded))
	for _, e := range recorded {
		known[e.RunID] = true
	}
	var out []HistoryEntry
	for _, d := range dirs {
		id := d.Name()
		if !d.IsDir() || !runIDPattern.MatchString(id) || known[id] {
			continue
		}
		e := HistoryEntry{RunID: id, Mode: "unknown", Result: ResultUnfinished}
		if t, err := time.Parse(RunIDTimeFormat, id[:len(RunIDTimeFormat)]); err == nil {
			e.Time = t
		}
		idx, err := ReadBackupIndex(h, id)
		switch {
		case errors.Is(err, ErrKilledBeforeChange):
			e.Reason = "started and never recorded its end (killed, or still running) before its first change: nothing to roll back"
		case err != nil:
			e.Reason = "started and never recorded its end (killed, or still running); its backups cannot be restored: " + err.Error()
		default:
			e.Changes = len(idx.Entries)
			e.Reason = fmt.Sprintf("started and never recorded its end (killed, or still running); %d backup(s) kept: reconcile rollback %s restores them", len(idx.Entries), id)
		}
		out = append(out, e)
	}
	return out, nil
}

// parseHistory reads the lines of the history ledger.
func parseHistory(data []byte) (entries []HistoryEntry, damaged int) {
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e HistoryEntry
		if err := json.Unmarshal(line, &e); err != nil {
			damaged++
			continue
		}
		entries = append(entries, e)
	}
	return entries, damaged
}

// entryTime is the one field of a history entry rotation reads.
type entryTime struct {
	Time time.Time `json:"time"`
}

// firstEntryTime is the time of the first entry that parses.
func firstEntryTime(data []byte) (time.Time, bool) {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		var e entryTime
		if len(bytes.TrimSpace(line)) > 0 && json.Unmarshal(line, &e) == nil {
			return e.Time, true
		}
	}
	return time.Time{}, false
}

// historySlack is how far past the kept days the oldest entry may be
// before the history is rewritten: a scheduled pass every few minutes
// would otherwise rewrite the whole file on every pass to drop one entry.
// The history so holds between keepDays and keepDays+1 days.
const historySlack = 24 * time.Hour

// RotateHistory drops the entries older than keepDays before now, once
// the first (the file is appended in time order) is a day past that
// (historySlack). The newest entry is never
// dropped, whatever its age (a clock set back, a haus not run for a month);
// a damaged line is dropped with the old entries it lies among and kept
// after them. The file is rewritten atomically (temporary file, fsync,
// rename) and 0600, so a pass killed meanwhile leaves the old history or the new,
// never a cut one. The caller holds the home's lock; a scheduled pass that
// skips appends without it, and an entry it appends between this read and
// the rename is lost (one "skipped" line, at most once a day). It returns
// how many entries it dropped.
func RotateHistory(h observed.Host, now time.Time, keepDays int) (int, error) {
	if keepDays <= 0 {
		return 0, fmt.Errorf("history: keep %d days: want 1 or more", keepDays)
	}
	data, _, err := h.ReadFile(HistoryFile)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("history: %w", err)
	}
	cutoff := now.Add(-time.Duration(keepDays) * 24 * time.Hour)
	// The file is appended in time order: its first entry says whether
	// anything is old enough to go, at the cost of one line, on the
	// every-pass path.
	if first, ok := firstEntryTime(data); !ok || !first.Before(cutoff.Add(-historySlack)) {
		return 0, nil
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	times := make([]time.Time, len(lines))
	parsed := make([]bool, len(lines))
	newest, oldest := -1, -1
	for i, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e entryTime
		if json.Unmarshal(line, &e) != nil {
			continue
		}
		times[i], parsed[i] = e.Time, true
		if newest < 0 || !e.Time.Before(times[newest]) {
			newest = i
		}
		if oldest < 0 || e.Time.Before(times[oldest]) {
			oldest = i
		}
	}
	if oldest < 0 || oldest == newest || !times[oldest].Before(cutoff.Add(-historySlack)) {
		return 0, nil
	}
	lastDropped, dropped := -1, 0
	drop := make([]bool, len(lines))
	for i := range lines {
		if parsed[i] && i != newest && times[i].Before(cutoff) {
			drop[i], lastDropped = true, i
			dropped++
		}
	}
	var out bytes.Buffer
	out.Grow(len(data))
	for i, line := range lines {
		if drop[i] || (!parsed[i] && i < lastDropped) {
			continue
		}
		out.Write(line)
	}
	// 0600, as AppendHistory creates it: the rewrite also mends a mode
	// someone widened.
	if err := h.WriteFile(HistoryFile, out.Bytes(), 0o600); err != nil {
		return 0, fmt.Errorf("history: %w", err)
	}
	return dropped, nil
}
