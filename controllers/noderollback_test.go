package controllers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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
	// A system unit's file, the one path outside the node's home a run
	// writes, backed up under the run's folder.
	unit := func(_ *NodeBackups, e *NodeBackupEntry) {
		e.Object, e.Path = "SystemdUnit/web", "/etc/systemd/system/web.service"
		e.Backup = ".sanctum/state/backups/" + runID + "/etc/systemd/system/web.service"
	}
	if err := checkNodeIndex(index(unit)); err != nil {
		t.Fatalf("a system unit's entry refused: %v", err)
	}
	then := func(more func(*NodeBackups, *NodeBackupEntry)) func(*NodeBackups, *NodeBackupEntry) {
		return func(nb *NodeBackups, e *NodeBackupEntry) { unit(nb, e); more(nb, e) }
	}
	for name, tc := range map[string]struct {
		mutate func(*NodeBackups, *NodeBackupEntry)
		why    string
	}{
		"system dir, not a unit":   {then(func(_ *NodeBackups, e *NodeBackupEntry) { e.Object = "PersonaFile/windu/SOUL.md" }), "only a SystemdUnit's file"},
		"system dir, subdirectory": {then(func(_ *NodeBackups, e *NodeBackupEntry) { e.Path = "/etc/systemd/system/x/web.service" }), "not a clean path"},
		"system dir, not .service": {then(func(_ *NodeBackups, e *NodeBackupEntry) { e.Path = "/etc/systemd/system/sudoers" }), "not a clean path"},
		"system dir, backup elsewhere": {then(func(_ *NodeBackups, e *NodeBackupEntry) {
			e.Backup = ".sanctum/state/backups/" + runID + "/web.service"
		}),
			"is not where run"},
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

// TestRollbackNodeDecisions: what rollback sends a node for each kind of
// entry, from one digest round trip: a mode change is undone by the mode
// rule alone (a secret-bearing file stays 0600), and only while the bytes
// are those it was made on; a file the run only created is left; a file
// already as in the backup is unchanged and nothing is sent for it; a
// target that became a symlink, or an entry whose old bytes the run could
// not read, fails; a backup that no longer holds what was kept is refused
// before anything is sent.
func TestRollbackNodeDecisions(t *testing.T) {
	real, _ := newTestFileHost(t)
	const runID = "20261125T193600.000000Z-ab12"
	h := func(s string) string { return sha(s) }
	bk := func(p string) string { return observed.RemoteBackupDir(runID) + "/" + p }
	entries := []NodeBackupEntry{
		{Object: "o/restore", Path: "w/restore", Reason: NodeOverwritten, Backup: bk("w/restore"), SHA256: h("old"), Mode: "0640", Wrote: h("new")},
		{Object: "o/removed", Path: "w/removed", Reason: NodeRemoved, Backup: bk("w/removed"), SHA256: h("gone"), Mode: "0644"},
		{Object: "o/same", Path: "w/same", Reason: NodeOverwritten, Backup: bk("w/same"), SHA256: h("same"), Mode: "0644", Wrote: h("x")},
		{Object: "o/tampered", Path: "w/tampered", Reason: NodeOverwritten, Backup: bk("w/tampered"), SHA256: h("kept"), Mode: "0644", Wrote: h("x")},
		{Object: "o/mode", Path: "w/mode", Reason: NodeModeFixed, SHA256: h("m"), Mode: "0644"},
		{Object: "o/secret", Path: "w/secret", Reason: NodeModeFixed, SHA256: h("s"), Mode: "0644", Secret: true},
		{Object: "o/edited", Path: "w/edited", Reason: NodeModeFixed, SHA256: h("e"), Mode: "0644"},
		{Object: "o/created", Path: "w/created", Reason: NodeCreated, Mode: "0644", Wrote: h("c")},
		{Object: "o/link", Path: "w/link", Reason: NodeOverwritten, Backup: bk("w/link"), SHA256: h("l"), Mode: "0644", Wrote: h("x")},
		{Object: "o/unread", Path: "w/unread", Reason: NodeOverwritten, Backup: bk("w/unread"), Mode: "0644", Wrote: h("x")},
	}
	file := func(content string, mode fs.FileMode) observed.RemoteFile {
		return observed.RemoteFile{State: observed.RemoteRegular, SHA256: h(content), Mode: mode}
	}
	on := map[string]observed.RemoteFile{
		"w/restore": file("new", 0o644), bk("w/restore"): file("old", 0o600),
		"w/removed": {State: observed.RemoteMissing}, bk("w/removed"): file("gone", 0o600),
		"w/same": file("same", 0o644), bk("w/same"): file("same", 0o600),
		"w/tampered": file("x", 0o644), bk("w/tampered"): file("planted", 0o600),
		"w/mode": file("m", 0o600), "w/secret": file("s", 0o600), "w/edited": file("edited since", 0o600),
		"w/link": {State: observed.RemoteSymlink}, bk("w/link"): file("l", 0o600),
		"w/unread": file("x", 0o644),
	}
	r := &fakeRemote{DigestsFn: func(_ context.Context, _ observed.RemoteNode, paths []string) (map[string]observed.RemoteFile, error) {
		out := map[string]observed.RemoteFile{}
		for _, p := range paths {
			if f, ok := on[p]; ok {
				out[p] = f
			} else {
				out[p] = observed.RemoteFile{State: observed.RemoteMissing}
			}
		}
		return out, nil
	}}
	var sent []observed.RemoteWrite
	r.WriteFn = func(_ context.Context, _ observed.RemoteNode, _ string, w []observed.RemoteWrite) ([]observed.RemoteResult, error) {
		sent = w
		var res []observed.RemoteResult
		for _, x := range w {
			res = append(res, observed.RemoteResult{Path: x.Path, Status: "ok"})
		}
		return res, nil
	}
	p := newTestPass(real, ModeApply, "20261125T200000.000000Z-cd34", nil, nil)
	p.Remote = r
	idx := &BackupIndex{RunID: runID, Nodes: []NodeBackups{{Node: "vm", Destination: "vm", Entries: entries}}}
	changes, recs := p.RollbackNodes(context.Background(), idx, nil, 1)
	got := map[string]string{}
	for _, c := range changes {
		if c.Path != "" {
			got[c.Path] = string(c.Action)
		}
	}
	want := map[string]string{
		"w/restore": "configured", "w/removed": "created", "w/same": "unchanged", "w/tampered": "failed",
		"w/mode": "configured", "w/secret": "unchanged", "w/edited": "unmanaged", "w/link": "failed", "w/unread": "failed",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
	var ops []string
	for _, w := range sent {
		ops = append(ops, fmt.Sprintf("%s %s %#o %s", w.Op, w.Path, w.Mode, w.From))
	}
	wantOps := []string{
		"restore w/restore 0640 " + bk("w/restore"),
		"restore w/removed 0644 " + bk("w/removed"),
		"chmod w/mode 0644 ",
	}
	if diff := cmp.Diff(wantOps, ops); diff != "" {
		t.Errorf("sent (-want +got):\n%s", diff)
	}
	if len(recs) != 1 || recs[0].Status != NodeFailed || recs[0].Reason != "3 of 9 file(s) not restored" {
		t.Errorf("record: %+v", recs)
	}
}
