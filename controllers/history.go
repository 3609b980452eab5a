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

// HistoryFile is the append-only ledger of passes, one JSON object per line.
const HistoryFile = StateDir + "/history.jsonl"

// HistoryEntry is one pass in the history: every apply, scheduled or not,
// and every scheduled pass that skipped because another held the lock.
type HistoryEntry struct {
	RunID         string        `json:"runId"`
	Time          time.Time     `json:"time"`
	Mode          string        `json:"mode"`   // apply | scheduled | schedule
	Result        string        `json:"result"` // converged | failed | skipped
	Reason        string        `json:"reason,omitempty"`
	CatalogDigest string        `json:"catalogDigest,omitempty"`
	Changes       int           `json:"changes"`
	Summary       drift.Summary `json:"summary"`
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

// ReadHistory reads the history; a line that does not parse (a pass killed
// mid-write) is skipped and counted.
func ReadHistory(h observed.Host) (entries []HistoryEntry, damaged int, err error) {
	data, _, err := h.ReadFile(HistoryFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("history: %w", err)
	}
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
	return entries, damaged, nil
}
