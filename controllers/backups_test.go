package controllers

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestBackupsIndex: what a run keeps is listed in the one index that
// rollback reads back.
func TestBackupsIndex(t *testing.T) {
	real, home := newTestFileHost(t)
	runID := "20261201T070000.000000Z-ab12"
	b := NewBackups(runID, testNow)
	if b.Index() != nil {
		t.Fatal("an empty run has an index")
	}
	if err := b.WriteIndex(real); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(home, BackupsDir, runID)); !os.IsNotExist(err) {
		t.Errorf("a run that kept nothing wrote an index: %v", err)
	}
	b.Keep("Service", "x", "z/file", []byte("old\n"), 0o640, "overwritten")
	b.KeepLink("Service", "x", "a/link", "/opt/old", "removed")
	if err := b.WriteIndex(real); err != nil {
		t.Fatal(err)
	}
	got, err := ReadBackupIndex(real, runID)
	if err != nil {
		t.Fatal(err)
	}
	want := &BackupIndex{RunID: runID, Time: testNow.UTC(), Entries: []BackupEntry{
		{Kind: "Service", Name: "x", Path: "a/link", Backup: BackupsDir + "/" + runID + "/a/link", Mode: "symlink", SHA256: linkDigest("/opt/old"), Reason: "removed"},
		{Kind: "Service", Name: "x", Path: "z/file", Backup: BackupsDir + "/" + runID + "/z/file", Mode: "0640", SHA256: digest([]byte("old\n")), Reason: "overwritten"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("index (-want +got):\n%s", diff)
	}
	if _, err := ReadBackupIndex(real, "../etc"); err == nil {
		t.Error("a path is accepted as a run id")
	}
}
