package controllers

import (
	"os"
	"path/filepath"
	"strings"
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
	b.Keep("Service", "x", "z/file", []byte("old\n"), 0o640, "overwritten", false)
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

// A backup index edited by hand is refused whole, with the entry and why
// (issue 13 item 7): rollback would take every path and mode from it.
func TestReadBackupIndexRefusesTampering(t *testing.T) {
	const runID = "20261201T070000.000000Z-ab12"
	good := BackupEntry{Kind: "Service", Name: "x", Path: ".sanctum/services/x.yaml", Backup: BackupsDir + "/" + runID + "/.sanctum/services/x.yaml",
		Mode: "0644", SHA256: digest([]byte("old\n")), Reason: "overwritten"}
	tests := []struct {
		name string
		edit func(*BackupIndex)
		want string // "" accepted
	}{
		{"as written", func(*BackupIndex) {}, ""},
		{"another run's index", func(i *BackupIndex) { i.RunID = "20261130T070000.000000Z-cd34" }, `index.json is not this run's (it names run "20261130T070000.000000Z-cd34")`},
		{"a backup outside the run's folder", func(i *BackupIndex) { i.Entries[0].Backup = ".ssh/id_x" },
			`entry 1 (Service/x .sanctum/services/x.yaml): its backup ".ssh/id_x" is not where run ` + runID + ` keeps .sanctum/services/x.yaml`},
		{"another path's backup", func(i *BackupIndex) { i.Entries[0].Path = "public/leak.txt" },
			`its backup ".sanctum/state/backups/` + runID + `/.sanctum/services/x.yaml" is not where run ` + runID + ` keeps public/leak.txt`},
		{"a path leaving HOME", func(i *BackupIndex) {
			i.Entries[0].Path, i.Entries[0].Backup = "../x", BackupsDir+"/"+runID+"/../x"
		}, "its path is not a clean path under HOME"},
		{"an absolute path", func(i *BackupIndex) { i.Entries[0].Path = "/etc/passwd" }, "its path is not a clean path under HOME"},
		{"the state", func(i *BackupIndex) {
			i.Entries[0].Path, i.Entries[0].Backup = StateFile, BackupsDir+"/"+runID+"/"+StateFile
		}, "reconcile backs up no file of its state or of the secrets"},
		{"a setuid mode", func(i *BackupIndex) { i.Entries[0].Mode = "04755" }, `mode "04755" is not a file permission`},
		{"a mode in decimal", func(i *BackupIndex) { i.Entries[0].Mode = "420" }, `mode "420" is not a file permission`},
		{"no sha256", func(i *BackupIndex) { i.Entries[0].SHA256 = "" }, "its sha256 is not one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			real, _ := newTestFileHost(t)
			idx := &BackupIndex{RunID: runID, Time: testNow, Entries: []BackupEntry{good}}
			tt.edit(idx)
			if err := writeJSON(real, BackupsDir+"/"+runID+"/index.json", idx, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := ReadBackupIndex(real, runID)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}
