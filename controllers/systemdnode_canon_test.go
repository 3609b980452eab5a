package controllers

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// handRender is what the catalog renders for SystemdUnit/hand (below);
// handFile says the same to systemd in a person's layout.
const (
	handCatalog = `apiVersion: sanctum.haus/v1
kind: SystemdUnit
metadata: {name: hand}
spec:
  unit: hand.service
  execStart: [/bin/sleep, "100000"]
`
	handFile = "# written by hand\n[Unit]\nDescription=sanctum hand\n\n[Service]\nType=simple\nExecStart=/bin/sleep \"100000\"\n\n[Install]\nWantedBy=default.target\n"
)

// TestNodeUnitCanon: which node unit files are left as they are because
// they say what the render says (UnitCanon), from the bytes the node sent
// or from what the last pass judged of the same bytes; and which are
// written.
func TestNodeUnitCanon(t *testing.T) {
	cat := loadCatalog(t, t.TempDir(), map[string]string{"units.yaml": handCatalog})
	render, err := RenderUnit(cat.Units[0], cat)
	if err != nil {
		t.Fatal(err)
	}
	want := UnitCanon(render)
	hand := []byte(handFile)
	edited := []byte(strings.Replace(handFile, "100000", "5", 1))
	headed := []byte(unitHeaderPrefix + "SystemdUnit/hand in units.yaml; do not edit.\n" + handFile)
	judged := NodeOwned{SHA256: digest(hand), Canon: want}
	for _, tt := range []struct {
		name string
		sha  string
		body []byte
		sent bool
		prev NodeOwned
		want string
	}{
		{name: "sent, says the same", sha: digest(hand), body: hand, sent: true, want: want},
		{name: "sent, another ExecStart", sha: digest(edited), body: edited, sent: true},
		{name: "sent, a file reconcile wrote is held to its bytes", sha: digest(headed), body: headed, sent: true},
		{name: "sent, not a unit file", sha: digest([]byte("ExecStart=x\n")), body: []byte("ExecStart=x\n"), sent: true},
		{name: "sent, changed between the node's reads", sha: digest(edited), body: hand, sent: true},
		{name: "not sent, judged last pass", sha: digest(hand), prev: judged, want: want},
		{name: "not sent, other bytes than judged", sha: digest(edited), prev: judged},
		{name: "not sent, judged against another render", sha: digest(hand), prev: NodeOwned{SHA256: digest(hand), Canon: UnitCanon(edited)}},
		{name: "not sent, never judged", sha: digest(hand), prev: NodeOwned{SHA256: digest(hand)}},
		{name: "sent, judged against another render, says the same now", sha: digest(hand), body: hand, sent: true,
			prev: NodeOwned{SHA256: digest(hand), Canon: UnitCanon(edited)}, want: want},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := nodeUnitCanon(render, tt.sha, tt.body, tt.sent, tt.prev); got != tt.want {
				t.Errorf("nodeUnitCanon = %q, want %q", got, tt.want)
			}
		})
	}
}

// adoptedNode is a node that is catalog host vm holding files (by path)
// and running hand.service from its unit file: what it answers, the bytes
// it sends as the real node does (none whose digest the pass named), and
// every apply session it was sent.
type adoptedNode struct {
	files    map[string][]byte
	sessions [][]observed.RemoteWrite
}

func (a *adoptedNode) remote() *fakeRemote {
	return &fakeRemote{
		DigestsFn: func(_ context.Context, _ observed.RemoteNode, paths []string) (map[string]observed.RemoteFile, error) {
			out := make(map[string]observed.RemoteFile, len(paths))
			for _, p := range paths {
				out[p] = observed.RemoteFile{State: observed.RemoteMissing}
				if b, ok := a.files[p]; ok {
					out[p] = observed.RemoteFile{State: observed.RemoteRegular, SHA256: digest(b), Mode: 0o644}
				}
			}
			return out, nil
		},
		ContentsFn: func(asked []observed.RemoteContent) map[string][]byte {
			out := map[string][]byte{}
			for _, c := range asked {
				if b, ok := a.files[c.Path]; ok && !slices.Contains(c.Unless, digest(b)) {
					out[c.Path] = b
				}
			}
			return out
		},
		UnitsFn: func(units []string) (map[string]*observed.UnitInfo, error) {
			out := map[string]*observed.UnitInfo{}
			for _, u := range units {
				out[u] = &observed.UnitInfo{Unit: u, LoadState: "loaded", ActiveState: "active", SubState: "running", MainPID: 42,
					UnitFileState: "enabled", FragmentPath: "/home/node/" + SystemdUserDir + "/" + u}
			}
			return out, nil
		},
		WriteFn: func(_ context.Context, _ observed.RemoteNode, _ string, ws []observed.RemoteWrite) ([]observed.RemoteResult, error) {
			a.sessions = append(a.sessions, ws)
			res := make([]observed.RemoteResult, len(ws))
			for i, w := range ws {
				res[i] = observed.RemoteResult{Index: i, Path: w.Path, Status: "ok"}
				if w.Op == observed.RemotePut {
					a.files[w.Path] = w.Content
				}
			}
			return res, nil
		},
	}
}

// nonEmpty drops the empty strings of a line's fields.
func nonEmpty(fields ...string) []string {
	var out []string
	for _, f := range fields {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// TestNodeUnitAdopted: a unit adopted on a node and pasted into the
// catalog, its file in its own layout, is left as it is by a pass run on
// the Mac (no write, no systemctl call, no restart), as on the node's own
// host; the node's inventory keeps what the file says, so the next pass
// does not ask for its bytes again and judges it the same; the dry run
// agrees. A real change in the catalog is a write, with its diff from the
// bytes the observation brought (no fetch), and a restart.
func TestNodeUnitAdopted(t *testing.T) {
	h := newTestHome(t)
	cat := loadCatalog(t, h.dir, map[string]string{"units.yaml": handCatalog, "nodes.yaml": unitNode})
	rel := SystemdUserDir + "/hand.service"
	node := &adoptedNode{files: map[string][]byte{rel: []byte(handFile)}}
	run := func(runID string, c *desired.Catalog, dry bool) (*fakeRemote, []string) {
		t.Helper()
		r := node.remote()
		var p *Pass
		var cs *drift.ChangeSet
		var err error
		if dry {
			p = unitPass(h, &fakeSystemd{}, "mac", runID, c)
			p.Remote = observed.NewDryRunRemote(observed.ReadOnlyRemote{Remote: r})
			cs, err = p.Run(context.Background(), c, []Controller{SystemdController{}, RemoteNodeController{}})
		} else {
			p = unitPass(h, &fakeSystemd{}, "mac", runID, c)
			p.Remote = r
			cs, err = runApply(p, c, SystemdController{}, RemoteNodeController{})
		}
		if err != nil {
			t.Fatalf("%s: %v", runID, err)
		}
		var lines []string
		for _, ch := range cs.Changes {
			if ch.Kind == v1.KindSystemdUnit || (ch.Kind == v1.KindRemoteNode && ch.Path != "") {
				lines = append(lines, strings.Join(nonEmpty(ch.Kind, string(ch.Action), ch.Path, ch.Reason), " "))
			}
		}
		return r, lines
	}
	render, err := RenderUnit(cat.Units[0], cat)
	if err != nil {
		t.Fatal(err)
	}
	unchanged := []string{"SystemdUnit unchanged", "RemoteNode unchanged " + rel + " SystemdUnit/hand"}

	// The first pass after the paste: the node sends the file's bytes,
	// they say what the render says; nothing is sent to the node.
	r, lines := run("r1", cat, false)
	if diff := cmp.Diff(unchanged, lines); diff != "" {
		t.Errorf("r1 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"contents vm " + rel + " " + digest(render)}, callNames(r.CallsTo("contents"))); diff != "" {
		t.Errorf("r1 asks (-want +got):\n%s", diff)
	}
	if len(node.sessions) != 0 || len(r.CallsTo("write")) != 0 || len(r.CallsTo("fetch")) != 0 {
		t.Errorf("r1 wrote or fetched: %v", writeLines(node.sessions[0]))
	}
	owned := p0Owned(t, h, "r1", cat)
	wantOwned := NodeOwned{Path: rel, Object: "SystemdUnit/hand", SHA256: digest([]byte(handFile)), Mode: "0644", Canon: UnitCanon(render)}
	if diff := cmp.Diff([]NodeOwned{wantOwned}, owned); diff != "" {
		t.Errorf("the node's inventory (-want +got):\n%s", diff)
	}
	if recs := unitRecords(h, cat); len(recs) != 1 || recs[0].UnitSHA != digest(render) {
		t.Errorf("unit record %+v, want the render's digest %s (what the file says)", recs, digest(render))
	}

	// The next pass names the judged bytes: the node sends none, and the
	// file is judged the same; a dry run agrees.
	r, lines = run("r2", cat, false)
	if diff := cmp.Diff(unchanged, lines); diff != "" {
		t.Errorf("r2 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"contents vm " + rel + " " + digest(render) + " " + digest([]byte(handFile))}, callNames(r.CallsTo("contents"))); diff != "" {
		t.Errorf("r2 asks (-want +got):\n%s", diff)
	}
	_, lines = run("r3", cat, true)
	if diff := cmp.Diff(unchanged, lines); diff != "" {
		t.Errorf("dry run (-want +got):\n%s", diff)
	}
	if len(node.sessions) != 0 {
		t.Fatalf("a session sent: %v", writeLines(node.sessions[0]))
	}

	// A real change: the file is written (its diff from the bytes the
	// observation brought) and the unit restarted for it.
	changed := loadCatalog(t, h.dir, map[string]string{"units.yaml": strings.Replace(handCatalog, `"100000"`, `"5"`, 1), "nodes.yaml": unitNode})
	r, lines = run("r4", changed, false)
	wantLines := []string{
		"SystemdUnit configured unit changed since it was started: restart",
		"RemoteNode configured " + rel + " SystemdUnit/hand: content differs",
	}
	if diff := cmp.Diff(wantLines, lines); diff != "" {
		t.Errorf("r4 (-want +got):\n%s", diff)
	}
	if len(r.CallsTo("fetch")) != 0 {
		t.Errorf("r4 fetched what the observation brought: %v", r.CallsTo("fetch"))
	}
	if len(node.sessions) != 1 {
		t.Fatalf("r4 sessions: %d", len(node.sessions))
	}
	wantSession := []string{rel, "systemctl daemon-reload gate", "systemctl restart -- hand.service needs[0]"}
	if diff := cmp.Diff(wantSession, writeLines(node.sessions[0])); diff != "" {
		t.Errorf("r4 session (-want +got):\n%s", diff)
	}
}

// p0Owned is the node vm's inventory as the last apply saved it.
func p0Owned(t *testing.T, h *testHome, runID string, cat *desired.Catalog) []NodeOwned {
	t.Helper()
	return h.pass(h.host, nil, nil, runID, cat).nodeSection().previous("vm")
}

// unitRecords are the units' records the last apply saved.
func unitRecords(h *testHome, cat *desired.Catalog) []UnitRecord {
	p := h.pass(h.host, nil, nil, "read", cat)
	var out []UnitRecord
	for _, r := range p.unitSection().prev {
		out = append(out, r)
	}
	return out
}
