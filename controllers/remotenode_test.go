package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"path"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

const (
	nodeSoul     = ".openclaw/workspace-windu/SOUL.md"
	nodeInstance = desired.InstanceJSONPath
)

// nodeCatalog is RemoteNode/vm (required: windu's persona and the
// calibration files) and RemoteNode/laptop (opportunistic: the persona).
func nodeCatalog(t *testing.T, home string) *desired.Catalog {
	t.Helper()
	return loadCatalog(t, home, map[string]string{
		"personas/windu/SOUL.md": soul,
		"personas.yaml": `apiVersion: sanctum.haus/v1
kind: PersonaFile
metadata: {name: windu}
spec:
  files: [SOUL.md]
  source: {catalog: personas/windu}
  targets: ["~/.openclaw/workspace-windu"]
  optional: true
`,
		"nodes.yaml": `apiVersion: sanctum.haus/v1
kind: RemoteNode
metadata: {name: vm}
spec:
  alias: vm
  policy: required
  receives: {calibration: true, personas: [windu]}
---
apiVersion: sanctum.haus/v1
kind: RemoteNode
metadata: {name: laptop}
spec:
  host: laptop
  user: neo
  policy: opportunistic
  receives: {personas: [windu]}
`,
	})
}

// fakeNodes are the nodes' files, by node and path, behind a fakeRemote:
// Digests and Fetch read them, Write replaces them and reports a backup
// when it replaced something.
type fakeNodes struct {
	mu    sync.Mutex
	files map[string]map[string]string
}

func (n *fakeNodes) remote() *fakeRemote {
	return &fakeRemote{
		DigestsFn: func(_ context.Context, node observed.RemoteNode, paths []string) (map[string]observed.RemoteFile, error) {
			n.mu.Lock()
			defer n.mu.Unlock()
			out := map[string]observed.RemoteFile{}
			for _, p := range paths {
				if c, ok := n.files[node.Name][p]; ok {
					out[p] = observed.RemoteFile{State: observed.RemoteRegular, SHA256: sha(c)}
				} else {
					out[p] = observed.RemoteFile{State: observed.RemoteMissing}
				}
			}
			return out, nil
		},
		FetchFn: func(_ context.Context, node observed.RemoteNode, paths []string) (map[string][]byte, error) {
			n.mu.Lock()
			defer n.mu.Unlock()
			out := map[string][]byte{}
			for _, p := range paths {
				out[p] = []byte(n.files[node.Name][p])
			}
			return out, nil
		},
		WriteFn: func(_ context.Context, node observed.RemoteNode, backupDir string, writes []observed.RemoteWrite) ([]observed.RemoteResult, error) {
			n.mu.Lock()
			defer n.mu.Unlock()
			var res []observed.RemoteResult
			for _, w := range writes {
				r := observed.RemoteResult{Path: w.Path, Status: "ok"}
				old, there := n.files[node.Name][w.Path]
				switch {
				case w.Op == observed.RemoteChmod:
				case w.Op == observed.RemoteRemove && !there:
					r.Status = "gone"
				case w.Op == observed.RemoteRemove && sha(old) != w.SHA256:
					r.Status = "changed"
				case w.Op == observed.RemoteRemove:
					r.Backup = path.Join(backupDir, w.Path)
					delete(n.files[node.Name], w.Path)
				default:
					if there {
						r.Backup = path.Join(backupDir, w.Path)
					}
					n.files[node.Name][w.Path] = string(w.Content)
				}
				res = append(res, r)
			}
			return res, nil
		},
	}
}

// callsOf is the calls about one node, in order (nodes run in parallel).
func callsOf(r *fakeRemote, node string) []fakeCall {
	var out []fakeCall
	for _, c := range r.Calls() {
		if len(c.Args) > 0 && c.Args[0] == node {
			out = append(out, c)
		}
	}
	return out
}

func TestRemoteNodeController(t *testing.T) {
	h := newTestHome(t)
	nodes := &fakeNodes{files: map[string]map[string]string{"vm": {}, "laptop": {}}}
	r := nodes.remote()
	h.remote = r
	cat := nodeCatalog(t, h.dir)
	// A node's line over its files' entries is a roll-up: not counted again.
	node := func(name string, action drift.Action, reason string) drift.Change {
		return drift.Change{Kind: v1.KindRemoteNode, Name: name, Node: name, Action: action, Reason: reason, Rollup: true}
	}
	file := func(name string, action drift.Action, p, reason string) drift.Change {
		return drift.Change{Kind: v1.KindRemoteNode, Name: name, Node: name, Action: action, Path: p, Reason: reason}
	}

	// The first pass sends every file, one Write per node.
	cs := h.mustApply("run-1", cat, RemoteNodeController{})
	want := []drift.Change{
		file("laptop", drift.Created, nodeSoul, "PersonaFile/windu/SOUL.md"),
		node("laptop", drift.Configured, "1 of 1 file(s) written; healthy fan-out target"),
		file("vm", drift.Created, nodeSoul, "PersonaFile/windu/SOUL.md"),
		file("vm", drift.Created, nodeInstance, "CalibrationFile/instance-json"),
		node("vm", drift.Configured, "2 of 2 file(s) written"),
	}
	// Created files carry their whole content as a diff from /dev/null
	// (TestRemoteNodeControllerCreatedDiff); the entries are compared here.
	if diff := cmp.Diff(want, cs.Changes, cmpopts.IgnoreFields(drift.Change{}, "Diff")); diff != "" {
		t.Errorf("first pass mismatch (-want +got):\n%s", diff)
	}
	wantNodes := map[string]map[string]string{
		"vm":     {nodeSoul: soul, nodeInstance: calInstanceJSON},
		"laptop": {nodeSoul: soul},
	}
	if diff := cmp.Diff(wantNodes, nodes.files); diff != "" {
		t.Errorf("node files after the first pass (-want +got):\n%s", diff)
	}
	wantCalls := []fakeCall{
		{"digests", []string{"vm", nodeSoul, nodeInstance}},
		{"write", []string{"vm", observed.RemoteBackupDir("run-1"), nodeSoul, nodeInstance}},
		{"disconnect", []string{"vm"}},
	}
	if diff := cmp.Diff(wantCalls, callsOf(r, "vm")); diff != "" {
		t.Errorf("vm calls mismatch (-want +got):\n%s", diff)
	}

	// A second pass finds the nodes in sync and sends nothing.
	cs = h.mustApply("run-2", cat, RemoteNodeController{})
	want = []drift.Change{
		file("laptop", drift.Unchanged, nodeSoul, "PersonaFile/windu/SOUL.md"),
		node("laptop", drift.Unchanged, "1 file(s) in sync; healthy fan-out target"),
		file("vm", drift.Unchanged, nodeSoul, "PersonaFile/windu/SOUL.md"),
		file("vm", drift.Unchanged, nodeInstance, "CalibrationFile/instance-json"),
		node("vm", drift.Unchanged, "2 file(s) in sync"),
	}
	if diff := cmp.Diff(want, cs.Changes); diff != "" {
		t.Errorf("second pass mismatch (-want +got):\n%s", diff)
	}
	if got := r.CallsTo("write"); len(got) != 2 {
		t.Errorf("writes after the second pass: %v, want only the first pass's two", got)
	}

	// A hand edit on the vm: fetched for the diff, sent back alone, the
	// node's backup reported.
	nodes.files["vm"][nodeInstance] = "{}\n"
	mark := len(callsOf(r, "vm"))
	cs = h.mustApply("run-3", cat, RemoteNodeController{})
	drifted := file("vm", drift.Configured, nodeInstance, "CalibrationFile/instance-json: content differs")
	drifted.Diff = drift.Diff("vm:"+nodeInstance, []byte("{}\n"), []byte(calInstanceJSON))
	drifted.Backup = path.Join(observed.RemoteBackupDir("run-3"), nodeInstance)
	want = []drift.Change{
		file("laptop", drift.Unchanged, nodeSoul, "PersonaFile/windu/SOUL.md"),
		node("laptop", drift.Unchanged, "1 file(s) in sync; healthy fan-out target"),
		file("vm", drift.Unchanged, nodeSoul, "PersonaFile/windu/SOUL.md"),
		drifted,
		node("vm", drift.Configured, "1 of 2 file(s) written"),
	}
	if diff := cmp.Diff(want, cs.Changes); diff != "" {
		t.Errorf("hand-edit pass mismatch (-want +got):\n%s", diff)
	}
	wantCalls = []fakeCall{
		{"digests", []string{"vm", nodeSoul, nodeInstance}},
		{"fetch", []string{"vm", nodeInstance}},
		{"write", []string{"vm", observed.RemoteBackupDir("run-3"), nodeInstance}},
		{"disconnect", []string{"vm"}},
	}
	if diff := cmp.Diff(wantCalls, callsOf(r, "vm")[mark:]); diff != "" {
		t.Errorf("vm calls mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(calInstanceJSON, nodes.files["vm"][nodeInstance]); diff != "" {
		t.Errorf("vm file after the repair (-want +got):\n%s", diff)
	}
}

// What a node's first contact can end in, and what the pass makes of it.
func TestRemoteNodeControllerFirstContact(t *testing.T) {
	const detail = "ssh: connect to host vm port 22: Operation timed out"
	unreachable := &observed.RemoteError{Kind: observed.ErrUnreachable, Detail: detail}
	tests := []struct {
		name  string
		err   error // what Digests answers, for both nodes
		local bool
		want  []drift.Change
		// wantStatus is each node's record status.
		wantStatus     map[string]string
		wantIncomplete []string
		wantErr        error
	}{
		{
			name: "unreachable: the required node makes the pass incomplete, the opportunistic one is skipped",
			err:  unreachable,
			want: []drift.Change{
				{Kind: v1.KindRemoteNode, Name: "laptop", Node: "laptop", Action: drift.Skipped, Reason: "unreachable, opportunistic: " + detail},
				{Kind: v1.KindRemoteNode, Name: "vm", Node: "vm", Action: drift.Unreachable, Reason: "required: " + detail},
			},
			wantStatus:     map[string]string{"laptop": NodeSkippedUnreachable, "vm": NodeUnreachable},
			wantIncomplete: []string{"vm"},
		},
		{
			name: "authentication failure fails whatever the policy",
			err:  &observed.RemoteError{Kind: observed.ErrAuth, Detail: "Permission denied (publickey)"},
			want: []drift.Change{
				{Kind: v1.KindRemoteNode, Name: "laptop", Node: "laptop", Action: drift.Failed, Error: "authentication failed: Permission denied (publickey)",
					Err: &observed.RemoteError{Kind: observed.ErrAuth, Detail: "Permission denied (publickey)"}},
				{Kind: v1.KindRemoteNode, Name: "vm", Node: "vm", Action: drift.Failed, Error: "authentication failed: Permission denied (publickey)",
					Err: &observed.RemoteError{Kind: observed.ErrAuth, Detail: "Permission denied (publickey)"}},
			},
			wantStatus: map[string]string{"laptop": NodeAuthFailed, "vm": NodeAuthFailed},
			wantErr:    observed.ErrAuth,
		},
		{
			name:  "--local leaves every node alone",
			local: true,
			want: []drift.Change{
				{Kind: v1.KindRemoteNode, Name: "laptop", Action: drift.Skipped, Reason: "--local: no SSH"},
				{Kind: v1.KindRemoteNode, Name: "vm", Action: drift.Skipped, Reason: "--local: no SSH"},
			},
			wantStatus: map[string]string{"laptop": NodeLocalOnly, "vm": NodeLocalOnly},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHome(t)
			r := &fakeRemote{DigestsFn: func(context.Context, observed.RemoteNode, []string) (map[string]observed.RemoteFile, error) {
				return nil, tt.err
			}}
			h.remote = r
			cat := nodeCatalog(t, h.dir)
			p := h.pass(h.host, nil, r, "run-1", cat)
			p.Local = tt.local
			cs, err := runApply(p, cat, RemoteNodeController{})
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("error = %v, want errors.Is %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, cs.Changes, cmpChanges); diff != "" {
				t.Errorf("changes mismatch (-want +got):\n%s", diff)
			}
			status := map[string]string{}
			for _, n := range p.Nodes() {
				status[n.Name] = n.Status
			}
			if diff := cmp.Diff(tt.wantStatus, status); diff != "" {
				t.Errorf("node records mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantIncomplete, p.Incomplete); diff != "" {
				t.Errorf("Incomplete mismatch (-want +got):\n%s", diff)
			}
			if got := r.CallsTo("write"); len(got) != 0 {
				t.Errorf("wrote to a node it could not reach: %v", got)
			}
			// reconcile.json holds the nodes as found (read as the file
			// users and tools read, not through the state's Go types).
			var record struct {
				Nodes []NodeRecord `json:"nodes"`
			}
			raw := stat(t, h.dir, StateFile)
			if raw == nil {
				t.Fatalf("no %s", StateFile)
			}
			if err := json.Unmarshal([]byte(raw.Content), &record); err != nil {
				t.Fatal(err)
			}
			saved := map[string]string{}
			for _, n := range record.Nodes {
				saved[n.Name] = n.Status
			}
			if diff := cmp.Diff(tt.wantStatus, saved, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("saved node records mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// A planned repair of a node sends nothing; the apply sends what the plan
// listed. The plan cannot know the node's backup path, and its node
// summary says "differ" where the apply says "written".
func TestRemoteNodeControllerPlan(t *testing.T) {
	h := newTestHome(t)
	nodes := &fakeNodes{files: map[string]map[string]string{
		"vm":     {nodeSoul: soul, nodeInstance: "{}\n"},
		"laptop": {nodeSoul: soul},
	}}
	r := nodes.remote()
	h.remote = r
	cat := nodeCatalog(t, h.dir)
	drifted := drift.Change{Kind: v1.KindRemoteNode, Name: "vm", Node: "vm", Action: drift.Configured, Path: nodeInstance,
		Reason: "CalibrationFile/instance-json: content differs", Diff: drift.Diff("vm:"+nodeInstance, []byte("{}\n"), []byte(calInstanceJSON))}
	want := func(summary string, backup string) []drift.Change {
		d := drifted
		d.Backup = backup
		return []drift.Change{
			{Kind: v1.KindRemoteNode, Name: "laptop", Node: "laptop", Action: drift.Unchanged, Path: nodeSoul, Reason: "PersonaFile/windu/SOUL.md"},
			{Kind: v1.KindRemoteNode, Name: "laptop", Node: "laptop", Action: drift.Unchanged, Reason: "1 file(s) in sync; healthy fan-out target", Rollup: true},
			{Kind: v1.KindRemoteNode, Name: "vm", Node: "vm", Action: drift.Unchanged, Path: nodeSoul, Reason: "PersonaFile/windu/SOUL.md"},
			d,
			{Kind: v1.KindRemoteNode, Name: "vm", Node: "vm", Action: drift.Configured, Reason: summary, Rollup: true},
		}
	}

	before := h.tree()
	plan, p, err := h.plan("run-1", cat, RemoteNodeController{})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if diff := cmp.Diff(want("1 of 2 file(s) differ", ""), plan.Changes); diff != "" {
		t.Errorf("plan changes mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, h.tree()); diff != "" {
		t.Errorf("the plan changed the home (-before +after):\n%s", diff)
	}
	if got := r.CallsTo("write"); len(got) != 0 {
		t.Errorf("the plan wrote to a node: %v", got)
	}
	if diff := cmp.Diff("{}\n", nodes.files["vm"][nodeInstance]); diff != "" {
		t.Errorf("the plan changed the vm (-want +got):\n%s", diff)
	}
	status := map[string]string{}
	for _, n := range p.Nodes() {
		status[n.Name] = n.Status
	}
	if diff := cmp.Diff(map[string]string{"laptop": NodeInSync, "vm": NodeDrifted}, status); diff != "" {
		t.Errorf("planned node records mismatch (-want +got):\n%s", diff)
	}

	cs, _, err := h.apply("run-1", cat, RemoteNodeController{})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if diff := cmp.Diff(want("1 of 2 file(s) written", path.Join(observed.RemoteBackupDir("run-1"), nodeInstance)), cs.Changes); diff != "" {
		t.Errorf("apply changes mismatch (-want +got):\n%s", diff)
	}
	wantWrites := []fakeCall{{"write", []string{"vm", observed.RemoteBackupDir("run-1"), nodeInstance}}}
	if diff := cmp.Diff(wantWrites, r.CallsTo("write")); diff != "" {
		t.Errorf("apply writes mismatch (-want +got):\n%s", diff)
	}
}

// A file created on a node should show its content as a diff from
// /dev/null, as a file created on this host does: a dry run is the user's
// one look at what will be sent. The controller fetches old content only
// for drifted files and leaves created ones without a diff.
func TestRemoteNodeControllerCreatedDiff(t *testing.T) {
	h := newTestHome(t)
	h.remote = &fakeRemote{}
	cs := h.mustApply("run-1", nodeCatalog(t, h.dir), RemoteNodeController{})
	for _, c := range cs.Changes {
		if c.Action == drift.Created && c.Diff == "" {
			t.Errorf("%s %s:%s created without a diff", c.ID(), c.Node, c.Path)
		}
	}
}

// TestNodeMode: the local mode rule on a node: a secret-bearing file is
// 0600 (a wrong mode says why), any other keeps its mode, a new one 0644.
func TestNodeMode(t *testing.T) {
	type want struct {
		Mode fs.FileMode
		Why  string
	}
	reg := func(m fs.FileMode) observed.RemoteFile {
		return observed.RemoteFile{State: observed.RemoteRegular, SHA256: "x", Mode: m}
	}
	tests := []struct {
		name   string
		d      observed.RemoteFile
		secret bool
		want   want
	}{
		{"secret, 0644 on the node", reg(0o644), true, want{0o600, "holds a secret"}},
		{"secret, 0640 on the node", reg(0o640), true, want{0o600, "holds a secret"}},
		{"secret, 0600 on the node", reg(0o600), true, want{0o600, ""}},
		{"secret, missing", observed.RemoteFile{State: observed.RemoteMissing}, true, want{0o600, ""}},
		{"plain, 0640 kept", reg(0o640), false, want{0o640, ""}},
		{"plain, 0755 kept", reg(0o755), false, want{0o755, ""}},
		{"plain, missing", observed.RemoteFile{State: observed.RemoteMissing}, false, want{0o644, ""}},
		{"plain, mode unknown", reg(0), false, want{0o644, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, why := nodeMode(tt.d, tt.secret)
			if diff := cmp.Diff(tt.want, want{m, why}); diff != "" {
				t.Errorf("nodeMode mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRemoteNodePrune: a node's inventory is pruned as the local one: a
// file reconcile wrote that no target wants any more is removed (backed up
// on the node) while it holds what reconcile wrote; one changed since is
// reported unmanaged and left, and stays in the inventory; a stranger is
// never touched; an unreachable node keeps its inventory.
func TestRemoteNodePrune(t *testing.T) {
	h := newTestHome(t)
	nodes := &fakeNodes{files: map[string]map[string]string{"vm": {}, "laptop": {}}}
	r := nodes.remote()
	h.remote = r
	h.mustApply("run-1", nodeCatalog(t, h.dir), RemoteNodeController{})
	nodes.files["vm"][".openclaw/workspace-windu/NOTES.md"] = "a stranger\n"
	nodes.files["laptop"][nodeSoul] = "a hand edit\n"

	// The vm stops receiving the calibration files, the laptop windu.
	fewer := loadCatalog(t, h.dir, map[string]string{
		"personas/windu/SOUL.md": soul,
		"personas.yaml": `apiVersion: sanctum.haus/v1
kind: PersonaFile
metadata: {name: windu}
spec:
  files: [SOUL.md]
  source: {catalog: personas/windu}
  targets: ["~/.openclaw/workspace-windu"]
  optional: true
`,
		"nodes.yaml": `apiVersion: sanctum.haus/v1
kind: RemoteNode
metadata: {name: vm}
spec:
  alias: vm
  receives: {personas: [windu]}
---
apiVersion: sanctum.haus/v1
kind: RemoteNode
metadata: {name: laptop}
spec:
  host: laptop
  policy: opportunistic
`,
	})
	// A dry run plans the removal and removes nothing.
	cs, _, err := h.plan("plan", fewer, RemoteNodeController{})
	if err != nil {
		t.Fatal(err)
	}
	if !hasChange(cs, "vm", nodeInstance, drift.Deleted) {
		t.Errorf("dry run does not plan the removal:\n%v", cs.Changes)
	}
	if _, ok := nodes.files["vm"][nodeInstance]; !ok {
		t.Fatal("the dry run removed the file")
	}

	cs = h.mustApply("run-2", fewer, RemoteNodeController{})
	gone := drift.Change{Kind: v1.KindRemoteNode, Name: "vm", Node: "vm", Path: nodeInstance, Action: drift.Deleted,
		Reason: "CalibrationFile/instance-json: no longer in the catalog", Backup: path.Join(observed.RemoteBackupDir("run-2"), nodeInstance)}
	left := drift.Change{Kind: v1.KindRemoteNode, Name: "laptop", Node: "laptop", Path: nodeSoul, Action: drift.Unmanaged,
		Reason: "PersonaFile/windu/SOUL.md: no longer in the catalog, but changed since reconcile wrote it; left in place"}
	for _, want := range []drift.Change{gone, left} {
		if !slices.ContainsFunc(cs.Changes, func(c drift.Change) bool {
			c.Diff = ""
			return cmp.Equal(want, c)
		}) {
			t.Errorf("no change %+v in\n%v", want, cs.Changes)
		}
	}
	wantFiles := map[string]map[string]string{
		"vm":     {nodeSoul: soul, ".openclaw/workspace-windu/NOTES.md": "a stranger\n"},
		"laptop": {nodeSoul: "a hand edit\n"},
	}
	if diff := cmp.Diff(wantFiles, nodes.files); diff != "" {
		t.Errorf("node files after the prune (-want +got):\n%s", diff)
	}
	owned := func(p *Pass) map[string][]string {
		out := map[string][]string{}
		for _, n := range p.Nodes() {
			for _, e := range n.Owned {
				out[n.Name] = append(out[n.Name], e.Path)
			}
		}
		return out
	}
	// The next pass: the vm has nothing left to prune; the laptop's
	// changed file is still reported, still owned.
	cs, p, err := h.apply("run-3", fewer, RemoteNodeController{})
	if err != nil {
		t.Fatal(err)
	}
	if hasChange(cs, "vm", nodeInstance, drift.Deleted) || !hasChange(cs, "laptop", nodeSoul, drift.Unmanaged) {
		t.Errorf("third pass:\n%v", cs.Changes)
	}
	if diff := cmp.Diff(map[string][]string{"vm": {nodeSoul}, "laptop": {nodeSoul}}, owned(p)); diff != "" {
		t.Errorf("inventories (-want +got):\n%s", diff)
	}
	// Unreachable, a node keeps its inventory.
	h.remote = &fakeRemote{DigestsFn: func(context.Context, observed.RemoteNode, []string) (map[string]observed.RemoteFile, error) {
		return nil, &observed.RemoteError{Kind: observed.ErrUnreachable, Detail: "refused"}
	}}
	_, p, _ = h.apply("run-4", fewer, RemoteNodeController{})
	if diff := cmp.Diff(map[string][]string{"vm": {nodeSoul}, "laptop": {nodeSoul}}, owned(p)); diff != "" {
		t.Errorf("inventories of unreachable nodes (-want +got):\n%s", diff)
	}
}

func hasChange(cs *drift.ChangeSet, node, p string, a drift.Action) bool {
	return slices.ContainsFunc(cs.Changes, func(c drift.Change) bool { return c.Node == node && c.Path == p && c.Action == a })
}
