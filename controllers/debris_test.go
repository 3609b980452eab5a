package controllers

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// SweepDebris removes exactly reconcile's temporary files, each reported
// as cleaned; a plan reports the same and removes nothing (issue 13 item 7).
func TestSweepDebris(t *testing.T) {
	real, home := newTestFileHost(t)
	dir := ServicesDir
	putFile(t, home, dir+"/alpha.yaml", "name: alpha\n", 0o644)
	putFile(t, home, dir+"/.alpha.yaml.reconcile-tmp-0123456789ab", "name: al", 0o644) // a killed write
	putFile(t, home, dir+"/.beta.yaml.reconcile-tmp-ba9876543210", "", 0o600)          // killed before a byte
	putFile(t, home, dir+"/.alpha.yaml7385012345", "a user's\n", 0o644)                // renameio's style: not ours
	putFile(t, home, dir+"/notes.reconcile-tmp-0123456789ab", "a user's\n", 0o644)     // no leading dot
	if err := os.Mkdir(filepath.Join(home, dir, ".gamma.yaml.reconcile-tmp-000000000000"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := []drift.Change{
		{Kind: KindTempFile, Name: "alpha.yaml", Action: drift.Cleaned, Path: dir + "/.alpha.yaml.reconcile-tmp-0123456789ab", Reason: "temporary file of an interrupted write; removed"},
		{Kind: KindTempFile, Name: "beta.yaml", Action: drift.Cleaned, Path: dir + "/.beta.yaml.reconcile-tmp-ba9876543210", Reason: "temporary file of an interrupted write; removed"},
	}
	if diff := cmp.Diff(want, SweepDebris(observed.NewDryRunHost(real), dir)); diff != "" {
		t.Errorf("planned sweep (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(home, dir, ".alpha.yaml.reconcile-tmp-0123456789ab")); err != nil {
		t.Errorf("a plan removed debris: %v", err)
	}
	if diff := cmp.Diff(want, SweepDebris(real, dir)); diff != "" {
		t.Errorf("sweep (-want +got):\n%s", diff)
	}
	entries, err := os.ReadDir(filepath.Join(home, dir))
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if diff := cmp.Diff([]string{".alpha.yaml7385012345", ".gamma.yaml.reconcile-tmp-000000000000", "alpha.yaml", "notes.reconcile-tmp-0123456789ab"}, left); diff != "" {
		t.Errorf("left (-want +got):\n%s", diff)
	}
	if got := SweepDebris(real, "no/such/dir"); got != nil {
		t.Errorf("a missing directory: %v", got)
	}
}
