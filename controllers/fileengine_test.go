package controllers

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sanctum-haus/reconcile/drift"
)

// TestFileEngine: the engine on its own, with an inventory and a run's
// backups and no pass around it: it creates, replaces after a backup,
// leaves a right file alone, and records what it leaves as owned.
func TestFileEngine(t *testing.T) {
	real, home := newTestFileHost(t)
	putFile(t, home, "b.txt", "old\n", 0o640)
	inv := NewInventory(nil)
	kept := NewBackups(testRunID, testNow)
	fe := NewFileEngine(real, inv, kept, []string{"tok-secret-1"})
	got := fe.Files(context.Background(), []FileTarget{
		{Kind: "Stub", Name: "a", Path: "d/a.txt", Content: []byte("token: tok-secret-1\n"),
			Twin: func() ([]byte, error) { return []byte("token: " + drift.SecretSentinel + "\n"), nil }},
		{Kind: "Stub", Name: "b", Path: "b.txt", Content: []byte("new\n")},
		{Kind: "Stub", Name: "c", Path: "c.txt", Render: func() ([]byte, error) { return []byte("c\n"), nil }},
	})
	want := []drift.Change{
		{Kind: "Stub", Name: "a", Path: "d/a.txt", Action: drift.Created, Diff: "--- /dev/null\n+++ b/d/a.txt\n@@ -0,0 +1 @@\n+token: *** (secret changed)\n"},
		{Kind: "Stub", Name: "b", Path: "b.txt", Action: drift.Configured, Reason: "content differs",
			Diff: drift.Diff("b.txt", []byte("old\n"), []byte("new\n")), Backup: kept.Path("b.txt")},
		{Kind: "Stub", Name: "c", Path: "c.txt", Action: drift.Created, Diff: drift.CreatedDiff("c.txt", []byte("c\n"))},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	// A file that holds a secret is 0600; what was replaced is kept 0600.
	if diff := cmp.Diff(&fileState{"token: tok-secret-1\n", 0o600}, stat(t, home, "d/a.txt")); diff != "" {
		t.Errorf("secret file (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&fileState{"old\n", 0o600}, stat(t, home, kept.Path("b.txt"))); diff != "" {
		t.Errorf("backup (-want +got):\n%s", diff)
	}
	var owned []string
	for _, e := range inv.Owned() {
		owned = append(owned, e.Path)
	}
	if diff := cmp.Diff([]string{"b.txt", "c.txt", "d/a.txt"}, owned); diff != "" {
		t.Errorf("owned (-want +got):\n%s", diff)
	}
	if idx := kept.Index(); idx == nil || len(idx.Entries) != 1 || idx.Entries[0].Path != "b.txt" {
		t.Errorf("backup index = %+v, want the one replaced file", idx)
	}
	// A second engine of the next run finds everything right.
	fe2 := NewFileEngine(real, NewInventory(inv.Owned()), NewBackups("run-2", testNow), []string{"tok-secret-1"})
	for _, c := range fe2.Files(context.Background(), []FileTarget{
		{Kind: "Stub", Name: "a", Path: "d/a.txt", Content: []byte("token: tok-secret-1\n")},
		{Kind: "Stub", Name: "b", Path: "b.txt", Content: []byte("new\n")},
	}) {
		if c.Action != drift.Unchanged {
			t.Errorf("second run: %s %s, want unchanged", c.Path, c.Action)
		}
	}
}
