package controllers

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sanctum-haus/reconcile/drift"
)

// A run's index lists each backup before the file it keeps changes, not
// only when the run saves: a run killed after an overwrite or a prune can
// still be rolled back (issue 13 item 7).
func TestBackupIndexDurableBeforeTheChange(t *testing.T) {
	real, home := newTestFileHost(t)
	putFile(t, home, "a.txt", "a\n", 0o644)
	putFile(t, home, "old.txt", "old\n", 0o640)
	prev := []InventoryEntry{{Kind: "Stub", Name: "old", Path: "old.txt", SHA256: sha("old\n")}}
	const runID = "20261125T193600.000000Z-ab12" // a real run id: ReadBackupIndex checks it
	p := newTestPass(real, ModeApply, runID, nil, prev)
	if c := p.File(context.Background(), FileTarget{Kind: "Stub", Name: "a", Path: "a.txt", Content: []byte("b\n")}); c.Action != drift.Configured {
		t.Fatalf("File: %+v", c)
	}
	if _, err := p.Run(context.Background(), nil, nil); err != nil {
		t.Logf("Run: %v", err) // the prune is what matters here
	}
	// No Save, no Finish: the run is killed here.
	if _, err := os.Stat(filepath.Join(home, BackupsDir, runID, "index.json")); err == nil {
		t.Fatal("index.json written before the run ended")
	}
	idx, err := ReadBackupIndex(real, runID) // from the journal
	if err != nil {
		t.Fatalf("index of a killed run: %v", err)
	}
	var got []string
	for _, e := range idx.Entries {
		got = append(got, e.Path+" "+e.Mode+" "+e.Reason)
	}
	if diff := cmp.Diff([]string{"a.txt 0644 overwritten", "old.txt 0640 removed"}, got); diff != "" {
		t.Errorf("index entries (-want +got):\n%s", diff)
	}
}
