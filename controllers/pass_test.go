package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-multierror"

	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

var testNow = time.Date(2026, 11, 25, 19, 36, 0, 0, time.UTC)

const testRunID = "20261125T193600Z-test01"

// stubController reconciles a fixed list of file targets, after reporting
// the given extra entries.
type stubController struct {
	targets []FileTarget
	extra   []drift.Change
}

func (stubController) Kind() string { return "Stub" }

func (s stubController) Reconcile(ctx context.Context, p *Pass, _ *desired.Catalog) []drift.Change {
	out := append([]drift.Change(nil), s.extra...)
	return append(out, p.Files(ctx, s.targets)...)
}

// newTestPass is NewPass without launchd, from a previous inventory.
// testMode is how a test wires a pass, as the CLI would.
type testMode int

const (
	ModeApply testMode = iota
	ModeDryRun
	ModeCheck
)

func newTestPass(host observed.Host, mode testMode, runID string, secrets []string, prev []InventoryEntry) *Pass {
	p := NewPass(host, nil, runID, testNow, secrets, &State{SchemaVersion: StateSchemaVersion, Inventory: prev})
	p.Diffs = mode != ModeCheck // as the CLI wires it
	return p
}

func newTestFileHost(t testing.TB) (*observed.FileHost, string) {
	t.Helper()
	home := t.TempDir()
	h, err := observed.NewFileHost(home)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, home
}

// putFile writes a file under home with an exact mode.
func putFile(t *testing.T, home, rel, content string, perm fs.FileMode) {
	t.Helper()
	p := filepath.Join(home, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		t.Fatal(err)
	}
}

// fileState is what a test expects of one file under home.
type fileState struct {
	Content string
	Mode    fs.FileMode
}

// stat returns the file's state, or nil when it does not exist.
func stat(t *testing.T, home, rel string) *fileState {
	t.Helper()
	p := filepath.Join(home, filepath.FromSlash(rel))
	info, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return &fileState{Content: string(data), Mode: info.Mode().Perm()}
}

func TestPassFile(t *testing.T) {
	const (
		path   = ".sanctum/services/voice-agent.yaml"
		backup = BackupsDir + "/" + testRunID + "/" + path
		secret = "tok-123"
	)
	type existing struct {
		content string
		mode    fs.FileMode
	}
	tests := []struct {
		name     string
		mode     testMode
		secrets  []string
		existing *existing
		content  string
		want     drift.Change
		wantFile *fileState
		// wantBackup is the backup under backups/<runID>/<path>; nil: none.
		wantBackup *fileState
	}{
		{
			name:     "created",
			mode:     ModeApply,
			content:  "name: voice-agent\n",
			want:     drift.Change{Action: drift.Created, Diff: drift.CreatedDiff(path, []byte("name: voice-agent\n"))},
			wantFile: &fileState{"name: voice-agent\n", 0o644},
		},
		{
			name:    "created holding a secret is 0600, its diff masked (no twin: every line)",
			mode:    ModeApply,
			secrets: []string{"other", secret},
			content: "token: " + secret + "\n",
			want: drift.Change{Action: drift.Created,
				Diff: "--- /dev/null\n+++ b/" + path + "\n@@ -0,0 +1 @@\n+*** (secret changed)\n"},
			wantFile: &fileState{"token: " + secret + "\n", 0o600},
		},
		{
			name:     "secrets that the content does not hold change nothing",
			mode:     ModeApply,
			secrets:  []string{secret},
			content:  "token: <secret:x>\n",
			want:     drift.Change{Action: drift.Created, Diff: drift.CreatedDiff(path, []byte("token: <secret:x>\n"))},
			wantFile: &fileState{"token: <secret:x>\n", 0o644},
		},
		{
			name:     "unchanged",
			mode:     ModeApply,
			existing: &existing{"same\n", 0o640},
			content:  "same\n",
			want:     drift.Change{Action: drift.Unchanged},
			wantFile: &fileState{"same\n", 0o640},
		},
		{
			name:       "configured keeps the mode and backs up the old bytes",
			mode:       ModeApply,
			existing:   &existing{"port: 1\n", 0o640},
			content:    "port: 2\n",
			want:       drift.Change{Action: drift.Configured, Reason: "content differs", Backup: backup, Diff: drift.Diff(path, []byte("port: 1\n"), []byte("port: 2\n"))},
			wantFile:   &fileState{"port: 2\n", 0o640},
			wantBackup: &fileState{"port: 1\n", 0o600},
		},
		{
			name:     "secret-bearing file with the right content but mode 0644 is chmodded",
			mode:     ModeApply,
			secrets:  []string{secret},
			existing: &existing{"token: " + secret + "\n", 0o644},
			content:  "token: " + secret + "\n",
			want:     drift.Change{Action: drift.Configured, Reason: "mode 0644, holds a secret: want 0600"},
			wantFile: &fileState{"token: " + secret + "\n", 0o600},
		},
		{
			name:     "secret-bearing file already 0600 is unchanged",
			mode:     ModeApply,
			secrets:  []string{secret},
			existing: &existing{"token: " + secret + "\n", 0o600},
			content:  "token: " + secret + "\n",
			want:     drift.Change{Action: drift.Unchanged},
			wantFile: &fileState{"token: " + secret + "\n", 0o600},
		},
		{
			name:     "secret-bearing file with new content is written 0600, the old value masked",
			mode:     ModeApply,
			secrets:  []string{secret},
			existing: &existing{"token: old\n", 0o644},
			content:  "token: " + secret + "\n",
			want: drift.Change{Action: drift.Configured, Reason: "content differs", Backup: backup,
				Diff: "--- a/" + path + "\n+++ b/" + path + "\n@@ -1 +1 @@\n-*** (secret changed)\n+*** (secret changed)\n"},
			wantFile:   &fileState{"token: " + secret + "\n", 0o600},
			wantBackup: &fileState{"token: old\n", 0o600},
		},
		{
			name:     "dry run: created with its content, nothing written",
			mode:     ModeDryRun,
			content:  "x\n",
			want:     drift.Change{Action: drift.Created, Diff: "--- /dev/null\n+++ b/" + path + "\n@@ -0,0 +1 @@\n+x\n"},
			wantFile: nil,
		},
		{
			name:     "dry run: configured with a diff and the backup it plans",
			mode:     ModeDryRun,
			existing: &existing{"port: 1\n", 0o644},
			content:  "port: 2\n",
			want:     drift.Change{Action: drift.Configured, Reason: "content differs", Backup: backup, Diff: drift.Diff(path, []byte("port: 1\n"), []byte("port: 2\n"))},
			wantFile: &fileState{"port: 1\n", 0o644},
		},
		{
			name:     "check: configured without a diff",
			mode:     ModeCheck,
			existing: &existing{"port: 1\n", 0o644},
			content:  "port: 2\n",
			want:     drift.Change{Action: drift.Configured, Reason: "content differs", Backup: backup},
			wantFile: &fileState{"port: 1\n", 0o644},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			real, home := newTestFileHost(t)
			if tt.existing != nil {
				putFile(t, home, path, tt.existing.content, tt.existing.mode)
			}
			var host observed.Host = real
			switch tt.mode {
			case ModeDryRun:
				host = observed.NewDryRunHost(real)
			case ModeCheck:
				host = observed.NewDryRunHost(observed.ReadOnlyHost{Host: real})
			}
			p := newTestPass(host, tt.mode, testRunID, tt.secrets, nil)
			got := p.File(context.Background(), FileTarget{Kind: "Service", Name: "voice-agent", Path: path, Content: []byte(tt.content)})
			want := tt.want
			want.Kind, want.Name, want.Path = "Service", "voice-agent", path
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("File() mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFile, stat(t, home, path)); diff != "" {
				t.Errorf("file mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantBackup, stat(t, home, backup)); diff != "" {
				t.Errorf("backup mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPassFileUnchangedLeavesMtime(t *testing.T) {
	const path = ".sanctum/.instance.json"
	real, home := newTestFileHost(t)
	target := FileTarget{Kind: "CalibrationFile", Name: "instance-json", Path: path, Content: []byte("{}\n")}

	first := newTestPass(real, ModeApply, "run-1", nil, nil).File(context.Background(), target)
	if diff := cmp.Diff(drift.Created, first.Action); diff != "" {
		t.Fatalf("first pass action mismatch (-want +got):\n%s", diff)
	}
	// A fixed mtime in the past: any write would replace it.
	past := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	abs := filepath.Join(home, filepath.FromSlash(path))
	if err := os.Chtimes(abs, past, past); err != nil {
		t.Fatal(err)
	}
	second := newTestPass(real, ModeApply, "run-2", nil, nil).File(context.Background(), target)
	if diff := cmp.Diff(drift.Change{Kind: "CalibrationFile", Name: "instance-json", Action: drift.Unchanged, Path: path}, second); diff != "" {
		t.Errorf("second pass mismatch (-want +got):\n%s", diff)
	}
	info, err := os.Stat(abs)
	if err != nil {
		t.Fatal(err)
	}
	if !info.ModTime().Equal(past) {
		t.Errorf("mtime changed by an unchanged pass: %v, want %v", info.ModTime(), past)
	}
	if _, err := os.Stat(filepath.Join(home, filepath.FromSlash(BackupsDir))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("backups folder exists after passes that replaced nothing: %v", err)
	}
}

func TestPassFileFailures(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, home string)
		path    string
		wantErr string
	}{
		{name: "path outside home", path: "../escape.txt", wantErr: "leads outside HOME"},
		{name: "absolute path", path: "/etc/motd", wantErr: "leads outside HOME"},
		{
			name: "linked directory out of home",
			setup: func(t *testing.T, home string) {
				if err := os.Symlink(t.TempDir(), filepath.Join(home, "sub")); err != nil {
					t.Fatal(err)
				}
			},
			path:    "sub/x.txt",
			wantErr: "leads outside HOME",
		},
		{
			name: "a symlink is never replaced",
			setup: func(t *testing.T, home string) {
				putFile(t, home, "real.txt", "old\n", 0o644)
				if err := os.Symlink("real.txt", filepath.Join(home, "link.txt")); err != nil {
					t.Fatal(err)
				}
			},
			path:    "link.txt",
			wantErr: "is a symlink",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			real, home := newTestFileHost(t)
			if tt.setup != nil {
				tt.setup(t, home)
			}
			p := newTestPass(real, ModeApply, testRunID, nil, nil)
			got := p.File(context.Background(), FileTarget{Kind: "Stub", Name: "x", Path: tt.path, Content: []byte("new\n")})
			if diff := cmp.Diff(drift.Failed, got.Action); diff != "" {
				t.Errorf("action mismatch (-want +got):\n%s", diff)
			}
			if !strings.Contains(got.Error, tt.wantErr) {
				t.Errorf("Error = %q, want it to contain %q", got.Error, tt.wantErr)
			}
		})
	}
	t.Run("symlink target untouched", func(t *testing.T) {
		real, home := newTestFileHost(t)
		putFile(t, home, "real.txt", "old\n", 0o644)
		if err := os.Symlink("real.txt", filepath.Join(home, "link.txt")); err != nil {
			t.Fatal(err)
		}
		newTestPass(real, ModeApply, testRunID, nil, nil).File(context.Background(), FileTarget{Kind: "Stub", Name: "x", Path: "link.txt", Content: []byte("new\n")})
		if diff := cmp.Diff(&fileState{"old\n", 0o644}, stat(t, home, "real.txt")); diff != "" {
			t.Errorf("link target changed (-want +got):\n%s", diff)
		}
	})
}

func TestPassFileOneOwnerPerPath(t *testing.T) {
	real, home := newTestFileHost(t)
	p := newTestPass(real, ModeApply, testRunID, nil, nil)
	first := p.File(context.Background(), FileTarget{Kind: "Stub", Name: "a", Path: "same.txt", Content: []byte("a\n")})
	second := p.File(context.Background(), FileTarget{Kind: "Stub", Name: "b", Path: "same.txt", Content: []byte("b\n")})
	if diff := cmp.Diff(drift.Change{Kind: "Stub", Name: "a", Action: drift.Created, Path: "same.txt", Diff: drift.CreatedDiff("same.txt", []byte("a\n"))}, first); diff != "" {
		t.Errorf("first owner mismatch (-want +got):\n%s", diff)
	}
	if second.Action != drift.Failed || !strings.Contains(second.Error, "Stub/a") {
		t.Errorf("second owner = %+v, want failed naming Stub/a", second)
	}
	if diff := cmp.Diff(&fileState{"a\n", 0o644}, stat(t, home, "same.txt")); diff != "" {
		t.Errorf("file mismatch (-want +got):\n%s", diff)
	}
}

func sha(s string) string { return digest([]byte(s)) }

func TestPassRunPrune(t *testing.T) {
	real, home := newTestFileHost(t)
	// What the previous pass wrote, and what became of it since.
	putFile(t, home, "old.txt", "old\n", 0o644)           // still as written: pruned
	putFile(t, home, "disabled.txt", "disabled\n", 0o640) // as written, its object now skipped: pruned
	putFile(t, home, "edited.txt", "edited by hand\n", 0o644)
	putFile(t, home, "keep.txt", "keep v1\n", 0o644)
	prev := []InventoryEntry{
		{Kind: "Stub", Name: "disabled", Path: "disabled.txt", SHA256: sha("disabled\n")},
		{Kind: "Stub", Name: "edited", Path: "edited.txt", SHA256: sha("as written\n")},
		{Kind: "Stub", Name: "gone", Path: "gone.txt", SHA256: sha("gone\n")},
		{Kind: "Stub", Name: "keep", Path: "keep.txt", SHA256: sha("keep v1\n")},
		{Kind: "Stub", Name: "old", Path: "old.txt", SHA256: sha("old\n")},
	}
	ctrl := stubController{
		targets: []FileTarget{
			{Kind: "Stub", Name: "keep", Path: "keep.txt", Content: []byte("keep v2\n")},
			{Kind: "Stub", Name: "new", Path: "dir/new.txt", Content: []byte("new\n")},
		},
		extra: []drift.Change{{Kind: "Stub", Name: "disabled", Action: drift.Skipped, Reason: "disabled"}},
	}
	cat := &desired.Catalog{Name: "cat", Digest: "sha256:test"}
	p := newTestPass(real, ModeApply, testRunID, nil, prev)
	cs, err := runApply(p, cat, ctrl)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	backups := BackupsDir + "/" + testRunID + "/"
	wantChanges := []drift.Change{
		// the skip is superseded by the prune, which keeps its reason
		{Kind: "Stub", Name: "disabled", Action: drift.Deleted, Path: "disabled.txt", Reason: "disabled", Backup: backups + "disabled.txt",
			Diff: drift.DeletedDiff("disabled.txt", []byte("disabled\n"))},
		{Kind: "Stub", Name: "edited", Action: drift.Unmanaged, Path: "edited.txt",
			Reason: "no longer in the catalog, but changed since reconcile wrote it; left in place"},
		{Kind: "Stub", Name: "keep", Action: drift.Configured, Path: "keep.txt", Reason: "content differs",
			Diff: drift.Diff("keep.txt", []byte("keep v1\n"), []byte("keep v2\n")), Backup: backups + "keep.txt"},
		{Kind: "Stub", Name: "new", Action: drift.Created, Path: "dir/new.txt", Diff: drift.CreatedDiff("dir/new.txt", []byte("new\n"))},
		{Kind: "Stub", Name: "old", Action: drift.Deleted, Path: "old.txt", Reason: "no longer in the catalog", Backup: backups + "old.txt",
			Diff: drift.DeletedDiff("old.txt", []byte("old\n"))},
	}
	if diff := cmp.Diff(wantChanges, cs.Changes); diff != "" {
		t.Errorf("changes mismatch (-want +got):\n%s", diff)
	}

	wantFiles := map[string]*fileState{
		"old.txt":                nil,
		"disabled.txt":           nil,
		"gone.txt":               nil,
		"edited.txt":             {"edited by hand\n", 0o644},
		"keep.txt":               {"keep v2\n", 0o644},
		"dir/new.txt":            {"new\n", 0o644},
		backups + "old.txt":      {"old\n", 0o600},
		backups + "disabled.txt": {"disabled\n", 0o600},
		backups + "keep.txt":     {"keep v1\n", 0o600},
		backups + "edited.txt":   nil,
		backups + "gone.txt":     nil,
	}
	gotFiles := make(map[string]*fileState, len(wantFiles))
	for rel := range wantFiles {
		gotFiles[rel] = stat(t, home, rel)
	}
	if diff := cmp.Diff(wantFiles, gotFiles); diff != "" {
		t.Errorf("files mismatch (-want +got):\n%s", diff)
	}

	// The record: the edited file stays in the inventory with the digest
	// reconcile wrote, the missing one is dropped, the pruned ones are gone.
	state, err := LoadState(real)
	if err != nil {
		t.Fatalf("LoadState: %v", err)
	}
	// The fields of the record this test is about (kinds add their own).
	type record struct {
		SchemaVersion int
		RunID         string
		Time          time.Time
		Mode          string
		CatalogDigest string
		Summary       drift.Summary
		Objects       []ObjectRecord
		Inventory     []InventoryEntry
	}
	gotState := record{state.SchemaVersion, state.RunID, state.Time, state.Mode, state.CatalogDigest, state.Summary, state.Objects, state.Inventory}
	wantState := record{
		SchemaVersion: StateSchemaVersion, RunID: testRunID, Time: testNow, Mode: RecordedMode, CatalogDigest: "sha256:test",
		Summary: drift.Summary{Created: 1, Configured: 1, Deleted: 2, Unmanaged: 1},
		Objects: []ObjectRecord{
			{Kind: "Stub", Name: "disabled", Action: drift.Deleted, Path: "disabled.txt", Reason: "disabled", Backup: backups + "disabled.txt"},
			{Kind: "Stub", Name: "edited", Action: drift.Unmanaged, Path: "edited.txt", Reason: "no longer in the catalog, but changed since reconcile wrote it; left in place"},
			{Kind: "Stub", Name: "keep", Action: drift.Configured, Path: "keep.txt", Reason: "content differs", Backup: backups + "keep.txt"},
			{Kind: "Stub", Name: "new", Action: drift.Created, Path: "dir/new.txt"},
			{Kind: "Stub", Name: "old", Action: drift.Deleted, Path: "old.txt", Reason: "no longer in the catalog", Backup: backups + "old.txt"},
		},
		Inventory: []InventoryEntry{
			{Kind: "Stub", Name: "new", Path: "dir/new.txt", SHA256: sha("new\n")},
			{Kind: "Stub", Name: "edited", Path: "edited.txt", SHA256: sha("as written\n")},
			{Kind: "Stub", Name: "keep", Path: "keep.txt", SHA256: sha("keep v2\n")},
		},
	}
	if diff := cmp.Diff(wantState, gotState); diff != "" {
		t.Errorf("state mismatch (-want +got):\n%s", diff)
	}
	if got := stat(t, home, StateFile); got == nil || got.Mode != 0o600 {
		t.Errorf("state file = %+v, want mode 0600", got)
	}
	if info, err := os.Stat(filepath.Join(home, filepath.FromSlash(StateDir))); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("state dir: %v, err %v; want mode 0700", info.Mode(), err)
	}

	// The run's backup index lists every backup, sorted by path.
	idx := stat(t, home, backups+"index.json")
	if idx == nil {
		t.Fatal("no backup index")
	}
	var index struct {
		RunID   string        `json:"runId"`
		Time    time.Time     `json:"time"`
		Entries []BackupEntry `json:"entries"`
	}
	if err := json.Unmarshal([]byte(idx.Content), &index); err != nil {
		t.Fatal(err)
	}
	wantEntries := []BackupEntry{
		{Kind: "Stub", Name: "disabled", Path: "disabled.txt", Backup: backups + "disabled.txt", Mode: "0640", SHA256: sha("disabled\n"), Reason: "removed"},
		{Kind: "Stub", Name: "keep", Path: "keep.txt", Backup: backups + "keep.txt", Mode: "0644", SHA256: sha("keep v1\n"), Reason: "overwritten"},
		{Kind: "Stub", Name: "old", Path: "old.txt", Backup: backups + "old.txt", Mode: "0644", SHA256: sha("old\n"), Reason: "removed"},
	}
	if diff := cmp.Diff(wantEntries, index.Entries); diff != "" {
		t.Errorf("backup index mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(testRunID, index.RunID); diff != "" {
		t.Errorf("backup index runId mismatch (-want +got):\n%s", diff)
	}

	// A second pass from the recorded inventory converges: nothing to do,
	// the edited file is still reported and still not touched.
	p2 := newTestPass(real, ModeApply, "run-2", nil, state.Inventory)
	cs2, err := runApply(p2, cat, stubController{targets: ctrl.targets})
	if err != nil {
		t.Fatalf("second Run: %v", err)
	}
	var got2 []string
	for _, c := range cs2.Changes {
		got2 = append(got2, c.ID()+" "+string(c.Action))
	}
	if diff := cmp.Diff([]string{"Stub/edited unmanaged", "Stub/keep unchanged", "Stub/new unchanged"}, got2); diff != "" {
		t.Errorf("second pass mismatch (-want +got):\n%s", diff)
	}
	if got := stat(t, home, BackupsDir+"/run-2/index.json"); got != nil {
		t.Errorf("second pass wrote a backup index although it replaced nothing: %+v", got)
	}
}

func TestPassRunFailureKeepsOwnership(t *testing.T) {
	real, home := newTestFileHost(t)
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(home, "sub")); err != nil {
		t.Fatal(err)
	}
	prev := []InventoryEntry{{Kind: "Stub", Name: "x", Path: "sub/x.txt", SHA256: sha("x\n")}}
	ctrl := stubController{targets: []FileTarget{{Kind: "Stub", Name: "x", Path: "sub/x.txt", Content: []byte("x\n")}}}
	p := newTestPass(real, ModeApply, testRunID, nil, prev)
	cs, err := runApply(p, &desired.Catalog{Digest: "sha256:test"}, ctrl)
	if err == nil || !strings.Contains(err.Error(), "Stub/x: ") {
		t.Errorf("Run error = %v, want one naming Stub/x", err)
	}
	// The error stays typed from the host to the caller.
	if !errors.Is(err, observed.ErrOutsideHome) {
		t.Errorf("Run error = %v, want errors.Is ErrOutsideHome", err)
	}
	if diff := cmp.Diff(drift.Summary{Failed: 1}, cs.Summary()); diff != "" {
		t.Errorf("summary mismatch (-want +got):\n%s", diff)
	}
	state, lerr := LoadState(real)
	if lerr != nil {
		t.Fatal(lerr)
	}
	// What a failed object owned before stays owned.
	if diff := cmp.Diff(prev, state.Inventory); diff != "" {
		t.Errorf("inventory mismatch (-want +got):\n%s", diff)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("pass wrote outside home: %v", entries)
	}
}

func TestPassRunDryRunPrune(t *testing.T) {
	real, home := newTestFileHost(t)
	putFile(t, home, "old.txt", "old\n", 0o644)
	prev := []InventoryEntry{{Kind: "Stub", Name: "old", Path: "old.txt", SHA256: sha("old\n")}}
	host := observed.NewDryRunHost(real)
	p := newTestPass(host, ModeDryRun, testRunID, nil, prev)
	cs, err := p.Run(context.Background(), &desired.Catalog{Digest: "sha256:test"}, []Controller{stubController{}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []drift.Change{{Kind: "Stub", Name: "old", Action: drift.Deleted, Path: "old.txt", Reason: "no longer in the catalog",
		Diff: "--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-old\n", Backup: BackupsDir + "/" + testRunID + "/old.txt"}}
	if diff := cmp.Diff(want, cs.Changes); diff != "" {
		t.Errorf("changes mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&fileState{"old\n", 0o644}, stat(t, home, "old.txt")); diff != "" {
		t.Errorf("dry run touched the file (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(home, ".sanctum")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("dry run created .sanctum: %v", err)
	}
	var verbs []string
	for _, op := range host.Ops() {
		verbs = append(verbs, op.Verb+" "+op.Path)
	}
	// A plan keeps no journal of its backups: it has no run to roll back.
	if diff := cmp.Diff([]string{"write " + BackupsDir + "/" + testRunID + "/old.txt", "remove old.txt"}, verbs); diff != "" {
		t.Errorf("recorded ops mismatch (-want +got):\n%s", diff)
	}
}

// Files writes a window's backups in one batch and the files in another: a
// file whose backup cannot be written is left as it was and fails, and the
// others of the batch are still converged, each with its backup.
func TestPassFilesBackupFailureStopsOnlyItsWrite(t *testing.T) {
	real, home := newTestFileHost(t)
	var targets []FileTarget
	for i := range 5 {
		name := fmt.Sprintf("d/f%d.txt", i)
		putFile(t, home, name, "hand edit\n", 0o644)
		targets = append(targets, FileTarget{Kind: "Stub", Name: fmt.Sprint(i), Path: name, Content: []byte("catalog\n")})
	}
	targets = append(targets, FileTarget{Kind: "Stub", Name: "new", Path: "d/new.txt", Content: []byte("created\n")})
	// A directory where f2's backup must go.
	if err := os.MkdirAll(filepath.Join(home, BackupsDir, testRunID, "d", "f2.txt", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := newTestPass(real, ModeApply, testRunID, nil, nil)
	got := p.Files(context.Background(), targets)
	for i, c := range got {
		switch {
		case i == 2:
			if c.Action != drift.Failed || !strings.Contains(c.Error, "backup before overwrite") {
				t.Errorf("f2: %s %q, want a failed backup", c.Action, c.Error)
			}
			if diff := cmp.Diff(&fileState{"hand edit\n", 0o644}, stat(t, home, "d/f2.txt")); diff != "" {
				t.Errorf("f2 was written without its backup (-want +got):\n%s", diff)
			}
		case i == 5:
			if c.Action != drift.Created {
				t.Errorf("new: %s %q", c.Action, c.Error)
			}
		default:
			if c.Action != drift.Configured || c.Backup == "" {
				t.Errorf("%s: %s backup %q %q", c.Path, c.Action, c.Backup, c.Error)
			}
			if diff := cmp.Diff(&fileState{"catalog\n", 0o644}, stat(t, home, c.Path)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", c.Path, diff)
			}
			if diff := cmp.Diff(&fileState{"hand edit\n", 0o600}, stat(t, home, c.Backup)); diff != "" {
				t.Errorf("%s backup (-want +got):\n%s", c.Path, diff)
			}
		}
	}
}

// runApply is what the apply session does with a pass: run it, then save
// what it leaves for the next one.
func runApply(p *Pass, cat *desired.Catalog, ctrls ...Controller) (*drift.ChangeSet, error) {
	cs, err := p.Run(context.Background(), cat, ctrls)
	if serr := p.Save(cat.Digest, cs); serr != nil {
		err = multierror.Append(err, serr)
	}
	return cs, err
}

// TestPassRunErrorsStayTyped: a refusal keeps its sentinel through the
// pass's combined error, so the CLI can decide on it.
func TestPassRunErrorsStayTyped(t *testing.T) {
	real, home := newTestFileHost(t)
	putFile(t, home, "real.txt", "old\n", 0o644)
	if err := os.Symlink("real.txt", filepath.Join(home, "link.txt")); err != nil {
		t.Fatal(err)
	}
	ctrl := stubController{targets: []FileTarget{{Kind: "Stub", Name: "x", Path: "link.txt", Content: []byte("new\n")}}}
	p := newTestPass(real, ModeApply, testRunID, nil, nil)
	_, err := runApply(p, &desired.Catalog{Digest: "sha256:test"}, ctrl)
	if !errors.Is(err, observed.ErrSymlink) {
		t.Errorf("Run error = %v, want errors.Is ErrSymlink", err)
	}
}
