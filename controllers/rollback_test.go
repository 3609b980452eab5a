package controllers

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
)

// runIDAt is a run id of a run at now minus ago.
func runIDAt(ago time.Duration, suffix string) string {
	return testNow.Add(-ago).UTC().Format(RunIDTimeFormat) + "-" + suffix
}

const day = 24 * time.Hour

// backupDirs lists the directories under the backups directory.
func backupDirs(t *testing.T, home string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(home, filepath.FromSlash(BackupsDir)))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	sort.Strings(dirs)
	return dirs
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func TestPruneBackups(t *testing.T) {
	var (
		r1h   = runIDAt(time.Hour, "aaaa")
		r1d   = runIDAt(day, "bbbb")
		r2d   = runIDAt(2*day, "cccc")
		r3d   = runIDAt(3*day, "dddd")
		r40d  = runIDAt(40*day, "eeee")
		r50d  = runIDAt(50*day, "ffff")
		r100d = runIDAt(100*day, "0000")
		r200d = runIDAt(200*day, "1111")
	)
	tests := []struct {
		name       string
		settings   v1.BackupSettings
		runs       []string // run directories, each with an index.json
		other      []string // other directories under backups
		files      []string // plain files under backups
		wantPruned []string // newest first
		wantLeft   []string // every directory left, sorted
	}{
		{name: "keep newest two",
			settings:   v1.BackupSettings{Keep: 2},
			runs:       []string{r3d, r1h, r2d, r1d},
			wantPruned: []string{r2d, r3d},
			wantLeft:   []string{r1d, r1h}},
		{name: "keep one",
			settings:   v1.BackupSettings{Keep: 1},
			runs:       []string{r1h, r1d, r2d},
			wantPruned: []string{r1d, r2d},
			wantLeft:   []string{r1h}},
		{name: "fewer runs than keep",
			settings: v1.BackupSettings{Keep: 5},
			runs:     []string{r1h, r1d},
			wantLeft: []string{r1d, r1h}},
		{name: "max age removes old runs",
			settings:   v1.BackupSettings{Keep: 10, MaxAgeDays: 30},
			runs:       []string{r1h, r3d, r40d, r50d},
			wantPruned: []string{r40d, r50d},
			wantLeft:   []string{r3d, r1h}},
		{name: "run exactly max age old is kept",
			settings: v1.BackupSettings{Keep: 10, MaxAgeDays: 40},
			runs:     []string{r1h, r40d},
			wantLeft: []string{r40d, r1h}},
		{name: "newest is kept however old",
			settings:   v1.BackupSettings{Keep: 10, MaxAgeDays: 30},
			runs:       []string{r100d, r200d},
			wantPruned: []string{r200d},
			wantLeft:   []string{r100d}},
		{name: "defaults keep 50 and 90 days",
			runs:       []string{r1h, r50d, r100d, r200d},
			wantPruned: []string{r100d, r200d},
			wantLeft:   []string{r50d, r1h}},
		{name: "count and age together",
			settings:   v1.BackupSettings{Keep: 2, MaxAgeDays: 30},
			runs:       []string{r40d, r1h, r1d, r2d},
			wantPruned: []string{r2d, r40d},
			wantLeft:   []string{r1d, r1h}},
		{name: "directories that are not run ids are left alone",
			settings: v1.BackupSettings{Keep: 1},
			runs:     []string{r1h, r1d},
			other: []string{"notes", "20261125T193600Z-test01", runIDAt(300*day, "ABCD"),
				runIDAt(300*day, "abcde"), runIDAt(300*day, "abcd") + ".old"},
			files:      []string{runIDAt(400*day, "2222")},
			wantPruned: []string{r1d},
			wantLeft: sortedCopy([]string{r1h, "notes", "20261125T193600Z-test01", runIDAt(300*day, "ABCD"),
				runIDAt(300*day, "abcde"), runIDAt(300*day, "abcd") + ".old"})},
		{name: "no backups at all"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, home := newTestFileHost(t)
			for _, r := range tt.runs {
				putFile(t, home, BackupsDir+"/"+r+"/index.json", `{"runId":"`+r+`"}`, 0o644)
				putFile(t, home, BackupsDir+"/"+r+"/.sanctum/services/a.yaml", "a\n", 0o644)
			}
			for _, d := range tt.other {
				if err := os.MkdirAll(filepath.Join(home, filepath.FromSlash(BackupsDir), d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range tt.files {
				putFile(t, home, BackupsDir+"/"+f, "x", 0o644)
			}
			p := NewPass(host, nil, "r", testNow, nil, &State{})
			pruned, err := p.PruneBackups(tt.settings)
			if err != nil {
				t.Fatalf("PruneBackups: %v", err)
			}
			if diff := cmp.Diff(tt.wantPruned, pruned); diff != "" {
				t.Errorf("pruned mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(sortedCopy(tt.wantLeft), backupDirs(t, home)); diff != "" {
				t.Errorf("directories left mismatch (-want +got):\n%s", diff)
			}
			for _, f := range tt.files {
				if _, err := os.Stat(filepath.Join(home, filepath.FromSlash(BackupsDir), f)); err != nil {
					t.Errorf("file %s under backups: %v, want it left alone", f, err)
				}
			}
		})
	}
}
