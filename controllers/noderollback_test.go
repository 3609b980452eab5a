package controllers

import (
	"errors"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/sanctum-haus/reconcile/observed"
)

// TestCheckNodeIndex: rollback takes every node path, backup and mode from
// the run's index, so an index whose node entries no run could have written
// is refused whole, naming the node and the entry.
func TestCheckNodeIndex(t *testing.T) {
	const runID = "20261125T193600.000000Z-ab12"
	sum := strings.Repeat("ab", 32)
	good := func() NodeBackupEntry {
		return NodeBackupEntry{Object: "PersonaFile/windu/SOUL.md", Path: ".openclaw/workspace-windu/SOUL.md", Reason: NodeOverwritten,
			Backup: ".sanctum/state/backups/" + runID + "/.openclaw/workspace-windu/SOUL.md", SHA256: sum, Mode: "0644", Wrote: sum}
	}
	index := func(mutate func(*NodeBackups, *NodeBackupEntry)) *BackupIndex {
		nb := NodeBackups{Node: "vm", Destination: "vm"}
		e := good()
		mutate(&nb, &e)
		nb.Entries = []NodeBackupEntry{e}
		return &BackupIndex{RunID: runID, Nodes: []NodeBackups{nb}}
	}
	if err := checkNodeIndex(index(func(*NodeBackups, *NodeBackupEntry) {})); err != nil {
		t.Fatalf("a run's own entry refused: %v", err)
	}
	created := index(func(_ *NodeBackups, e *NodeBackupEntry) { e.Reason, e.Backup, e.SHA256 = NodeCreated, "", "" })
	if err := checkNodeIndex(created); err != nil {
		t.Fatalf("a created entry refused: %v", err)
	}
	for name, tc := range map[string]struct {
		mutate func(*NodeBackups, *NodeBackupEntry)
		why    string
	}{
		"absolute path":       {func(_ *NodeBackups, e *NodeBackupEntry) { e.Path = "/etc/passwd" }, "not a clean path"},
		"parent path":         {func(_ *NodeBackups, e *NodeBackupEntry) { e.Path = "../x" }, "not a clean path"},
		"unclean path":        {func(_ *NodeBackups, e *NodeBackupEntry) { e.Path = "a//b" }, "not a clean path"},
		"state path":          {func(_ *NodeBackups, e *NodeBackupEntry) { e.Path = ".sanctum/state/reconcile.json" }, "no file of its state"},
		"backup elsewhere":    {func(_ *NodeBackups, e *NodeBackupEntry) { e.Backup = ".ssh/id_ed25519" }, "is not where run"},
		"other run's backup":  {func(_ *NodeBackups, e *NodeBackupEntry) { e.Backup = strings.Replace(e.Backup, "ab12", "cd34", 1) }, "is not where run"},
		"created with backup": {func(_ *NodeBackups, e *NodeBackupEntry) { e.Reason = NodeCreated }, "keeps no backup"},
		"unknown reason":      {func(_ *NodeBackups, e *NodeBackupEntry) { e.Reason = "copied" }, "not one a run records"},
		"setuid mode":         {func(_ *NodeBackups, e *NodeBackupEntry) { e.Mode = "04755" }, "not a file permission"},
		"symlink mode":        {func(_ *NodeBackups, e *NodeBackupEntry) { e.Mode = keptLink }, "not a file permission"},
		"bad sha256":          {func(_ *NodeBackups, e *NodeBackupEntry) { e.SHA256 = "xyz" }, "not one"},
		"bad wrote":           {func(_ *NodeBackups, e *NodeBackupEntry) { e.Wrote = "xyz" }, "not one"},
		"no destination":      {func(nb *NodeBackups, _ *NodeBackupEntry) { nb.Destination = "" }, "not a node a run records"},
		"option destination":  {func(nb *NodeBackups, _ *NodeBackupEntry) { nb.Destination = "-oProxyCommand=x" }, "not a node a run records"},
	} {
		err := checkNodeIndex(index(tc.mutate))
		if !errors.Is(err, ErrTamperedIndex) || !strings.Contains(err.Error(), tc.why) || !strings.Contains(err.Error(), "vm") {
			t.Errorf("%s: %v; want %v naming node vm and %q", name, err, ErrTamperedIndex, tc.why)
		}
	}
}

// TestNodeChangesJournaled: a run's node changes are listed in its journal
// as each node confirms them, so a run killed before its index can still
// be rolled back on its nodes; the journal's node lines are checked as the
// index's are.
func TestNodeChangesJournaled(t *testing.T) {
	real, _ := newTestFileHost(t)
	const runID = "20261125T193600.000000Z-ab12"
	b := NewBackups(runID, time.Now())
	sum := strings.Repeat("cd", 32)
	n := observed.RemoteNode{Name: "vm", Destination: "vm", Port: 2222, Home: "/srv/vm", Timeout: 3 * time.Second}
	b.KeepNode(n, NodeBackupEntry{Object: "PersonaFile/windu/SOUL.md", Path: "ws/SOUL.md", Reason: NodeOverwritten,
		Backup: observed.RemoteBackupDir(runID) + "/ws/SOUL.md", SHA256: sum, Mode: "0640", Wrote: sum})
	if err := b.JournalNodes(real); err != nil {
		t.Fatal(err)
	}
	b.KeepNode(n, NodeBackupEntry{Object: "PersonaFile/windu/TOOLS.md", Path: "ws/TOOLS.md", Reason: NodeCreated, Mode: "0644", Wrote: sum})
	if err := b.JournalNodes(real); err != nil {
		t.Fatal(err)
	}
	// Killed here: no index.json.
	idx, err := ReadBackupIndex(real, runID)
	if err != nil {
		t.Fatalf("index of a killed run: %v", err)
	}
	if len(idx.Nodes) != 1 || idx.Nodes[0].Node != "vm" || idx.Nodes[0].Port != 2222 || idx.Nodes[0].ConnectTimeout != 3 || len(idx.Nodes[0].Entries) != 2 ||
		idx.Nodes[0].Entries[0].Path != "ws/SOUL.md" || idx.Nodes[0].Entries[1].Path != "ws/TOOLS.md" {
		t.Fatalf("nodes from the journal: %+v", idx.Nodes)
	}
	// A node line no run writes refuses the journal whole.
	line := `{"node":{"node":"vm","destination":"vm","entries":[{"object":"x","path":"../etc/passwd","reason":"created","mode":"0644"}]}}` + "\n"
	if err := real.AppendFile(path.Join(BackupsDir, runID, journalName), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadBackupIndex(real, runID); !errors.Is(err, ErrTamperedIndex) {
		t.Fatalf("a tampered journal: %v; want %v", err, ErrTamperedIndex)
	}
}
