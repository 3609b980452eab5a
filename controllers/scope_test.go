package controllers

import (
	"encoding/json"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
)

// scopeCatalog: Service/voice (with its launch agent), Service/kiwix,
// the standalone LaunchAgent/backup, PersonaFile/windu and two nodes, vm
// (the persona and the calibration files) and laptop (the persona).
func scopeCatalog(t *testing.T, home string, services ...string) *desired.Catalog {
	t.Helper()
	objs := map[string]string{
		"voice": `apiVersion: sanctum.haus/v1
kind: Service
metadata: {name: voice, labels: {host: mac, tier: edge}}
spec:
  host: mac
  port: 1138
  launchAgent: {programArguments: [/bin/voice]}
`,
		"kiwix": `apiVersion: sanctum.haus/v1
kind: Service
metadata: {name: kiwix, labels: {host: mac}}
spec:
  host: mac
  port: 8888
  launchAgent: {programArguments: [/bin/kiwix]}
`,
	}
	var docs []string
	for _, s := range services {
		docs = append(docs, objs[s])
	}
	docs = append(docs, `apiVersion: sanctum.haus/v1
kind: LaunchAgent
metadata: {name: backup}
spec:
  programArguments: [/bin/backup]
  startInterval: 3600
`)
	files := map[string]string{"personas/windu/SOUL.md": soul}
	services_ := ""
	for i, d := range docs {
		if i > 0 {
			services_ += "---\n"
		}
		services_ += d
	}
	files["services.yaml"] = services_
	files["personas.yaml"] = `apiVersion: sanctum.haus/v1
kind: PersonaFile
metadata: {name: windu}
spec:
  files: [SOUL.md]
  source: {catalog: personas/windu}
  targets: ["~/.openclaw/workspace-windu"]
  optional: true
`
	files["nodes.yaml"] = `apiVersion: sanctum.haus/v1
kind: RemoteNode
metadata: {name: vm}
spec:
  alias: vm
  receives: {calibration: true, personas: [windu]}
---
apiVersion: sanctum.haus/v1
kind: RemoteNode
metadata: {name: laptop}
spec:
  host: laptop
  policy: opportunistic
  receives: {personas: [windu]}
`
	return loadCatalog(t, home, files)
}

// names lists a narrowed catalog's objects by Kind/name, sorted.
func names(cat *desired.Catalog) []string {
	out := []string{}
	for _, o := range cat.Services {
		out = append(out, v1.KindService+"/"+o.Name)
	}
	for _, o := range cat.Agents {
		out = append(out, v1.KindLaunchAgent+"/"+o.Name)
	}
	for _, o := range cat.Personas {
		out = append(out, v1.KindPersonaFile+"/"+o.Name)
	}
	for _, o := range cat.Calibration {
		out = append(out, v1.KindCalibrationFile+"/"+o.Name)
	}
	for _, o := range cat.Nodes {
		out = append(out, v1.KindRemoteNode+"/"+o.Name)
	}
	sort.Strings(out)
	return out
}

func TestNewScope(t *testing.T) {
	cat := scopeCatalog(t, t.TempDir(), "voice", "kiwix")
	tests := []struct {
		name       string
		picked     []string
		wantLocal  []string // what this host reconciles
		wantRemote []string // what the node controller gets: nodes, and what they receive
	}{
		{name: "a service brings its launch agent, and no node",
			picked:    []string{"Service/voice"},
			wantLocal: []string{"LaunchAgent/voice", "Service/voice"}, wantRemote: []string{}},
		{name: "a service's agent alone is only the agent",
			picked:    []string{"LaunchAgent/voice"},
			wantLocal: []string{"LaunchAgent/voice"}, wantRemote: []string{}},
		{name: "a persona alone is its copies here, no node",
			picked:    []string{"PersonaFile/windu"},
			wantLocal: []string{"PersonaFile/windu"}, wantRemote: []string{}},
		{name: "a node picked gets everything it receives; nothing local",
			picked:    []string{"RemoteNode/vm"},
			wantLocal: []string{}, wantRemote: []string{"CalibrationFile/instance-json", "PersonaFile/windu", "RemoteNode/vm"}},
		{name: "two nodes",
			picked:    []string{"RemoteNode/laptop", "RemoteNode/vm"},
			wantLocal: []string{}, wantRemote: []string{"CalibrationFile/instance-json", "PersonaFile/windu", "RemoteNode/laptop", "RemoteNode/vm"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewScope(cat, tt.picked, nil)
			if diff := cmp.Diff(tt.wantLocal, names(s.Catalog())); diff != "" {
				t.Errorf("local catalog (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRemote, names(s.remote)); diff != "" {
				t.Errorf("remote catalog (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScopeHas(t *testing.T) {
	cat := scopeCatalog(t, t.TempDir(), "voice", "kiwix")
	s := NewScope(cat, []string{"Service/voice", "PersonaFile/windu"}, []string{"Service/tommy"})
	for _, tt := range []struct {
		kind, name string
		want       bool
	}{
		{"Service", "voice", true},
		{"LaunchAgent", "voice", true}, // owned by Service/voice
		{"Service", "kiwix", false},
		{"LaunchAgent", "kiwix", false},
		{"LaunchAgent", "backup", false},
		{"PersonaFile", "windu/SOUL.md", true}, // a persona's entries are agent/file
		{"RemoteNode", "vm", false},            // reached only when picked itself
		{"Service", "tommy", true},             // gone from the catalog, named: pruned
		{"Service", "com.sanctum.stranger", false},
	} {
		if got := s.Has(tt.kind, tt.name); got != tt.want {
			t.Errorf("Has(%s, %s) = %t, want %t", tt.kind, tt.name, got, tt.want)
		}
	}
	if !(*Scope)(nil).Has("Service", "anything") {
		t.Error("a nil scope (a whole pass) must hold everything")
	}
}

// TestTargetedPassPrunesOnlyItsObjects: two services applied, then both
// dropped from the catalog; a pass targeted at one prunes exactly its
// files and agent, keeps the other's inventory entries owned (a whole pass
// afterwards still prunes them), and records the other agent as loaded.
func TestTargetedPassPrunesOnlyItsObjects(t *testing.T) {
	h := newTestHome(t)
	h.launchd = agentLaunchd(h)
	full := scopeCatalog(t, h.dir, "voice", "kiwix")
	ctrls := []Controller{ServiceController{}, LaunchAgentController{}}
	if _, _, err := h.applyAll("r1", full, ctrls); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{ManifestPath("voice"), ManifestPath("kiwix"), "Library/LaunchAgents/com.sanctum.kiwix.plist"} {
		if !h.exists(rel) {
			t.Fatalf("%s not applied", rel)
		}
	}

	dropped := scopeCatalog(t, h.dir) // neither service any more
	scope := NewScope(dropped, nil, []string{"Service/voice", "LaunchAgent/voice"})
	cs, p, err := h.applyAll("r2", dropped, ctrls, scope)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs.Changes {
		got = append(got, c.ID()+" "+string(c.Action)+" "+c.Path)
	}
	want := []string{
		"Service/voice deleted " + ManifestPath("voice"),
		"LaunchAgent/voice deleted Library/LaunchAgents/com.sanctum.voice.plist",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("targeted pass (-want +got):\n%s", diff)
	}
	if !h.exists(ManifestPath("kiwix")) || !h.exists("Library/LaunchAgents/com.sanctum.kiwix.plist") {
		t.Error("a targeted pass pruned what is out of its scope")
	}
	owned := map[string]bool{}
	for _, e := range p.inv.Owned() {
		owned[e.Path] = true
	}
	if !owned[ManifestPath("kiwix")] || owned[ManifestPath("voice")] {
		t.Errorf("inventory after the targeted pass: %v; want kiwix's kept and voice's gone", owned)
	}
	state, err := LoadPassState(h.host)
	if err != nil {
		t.Fatal(err)
	}
	agents := agentRecordsOf(t, state)
	if diff := cmp.Diff([]string{"backup", "kiwix"}, agents); diff != "" {
		t.Errorf("agents recorded (-want +got):\n%s", diff)
	}

	// A whole pass afterwards prunes what the targeted one left.
	cs, _, err = h.applyAll("r3", dropped, ctrls)
	if err != nil {
		t.Fatal(err)
	}
	if h.exists(ManifestPath("kiwix")) {
		t.Errorf("the whole pass did not prune kiwix: %v", actions(cs))
	}
}

// TestScopedStrangers: a targeted pass reports a stranger only when it is
// named like an object in scope; an untargeted catalog service that was
// never applied is no stranger to it.
func TestScopedStrangers(t *testing.T) {
	h := newTestHome(t)
	cat := scopeCatalog(t, h.dir, "voice", "kiwix")
	h.put(ManifestPath("kiwix"), "hand-made\n", 0o644) // kiwix never applied
	h.put(ManifestPath("stranger"), "x\n", 0o644)
	scope := NewScope(cat, []string{"Service/voice"}, nil)
	cs, _, err := h.applyAll("r1", cat, []Controller{ServiceController{}}, scope)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs.Changes {
		if c.Action == drift.Unmanaged {
			t.Errorf("targeted pass reported %s %s", c.ID(), c.Action)
		}
		if c.Name == "kiwix" {
			t.Errorf("targeted pass touched %s: %s", c.ID(), c.Action)
		}
	}
	if got := stat(t, h.dir, ManifestPath("kiwix")); got == nil || got.Content != "hand-made\n" {
		t.Errorf("kiwix's manifest changed: %+v", got)
	}
}

// applyAll is apply with several controllers, narrowed to scope when one
// is given.
func (h *testHome) applyAll(runID string, cat *desired.Catalog, ctrls []Controller, scope ...*Scope) (*drift.ChangeSet, *Pass, error) {
	h.t.Helper()
	p := h.pass(h.host, h.launchd, h.remote, runID, cat)
	p.Ledgers = h.host
	if len(scope) > 0 {
		p.Narrow(scope[0])
		ctrls = scope[0].Controllers(ctrls)
	}
	cs, err := runApply(p, cat, ctrls...)
	return cs, p, err
}

// agentRecordsOf lists the agents a state records, by name.
func agentRecordsOf(t *testing.T, s *State) []string {
	t.Helper()
	sec := LaunchAgentController{}.NewSection()
	if err := sec.Load(s.Sections[agentsSection]); err != nil {
		t.Fatal(err)
	}
	var out []string
	for name := range sec.(*agentSection).prev {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// TestNarrowKeepsNodesOutOfScope: a node a targeted pass does not reach
// keeps its record, inventory and all, for the next pass that reaches it.
func TestNarrowKeepsNodesOutOfScope(t *testing.T) {
	h := newTestHome(t)
	cat := scopeCatalog(t, h.dir, "voice")
	owned := []NodeOwned{{Path: ".openclaw/workspace-windu/SOUL.md", Object: "PersonaFile/windu/SOUL.md", SHA256: "ab", Mode: "0644"}}
	raw, err := json.Marshal([]NodeRecord{
		{Name: "vm", Policy: v1.PolicyRequired, Status: NodeConverged, Owned: owned},
		{Name: "laptop", Policy: v1.PolicyOpportunistic, Status: NodeSkippedUnreachable},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := NewPass(h.host, nil, "r1", testNow, nil, &State{Sections: map[string]json.RawMessage{nodesSection: raw}})
	p.Narrow(NewScope(cat, []string{"Service/voice", "RemoteNode/laptop"}, nil))
	got := p.Nodes()
	if len(got) != 1 || got[0].Name != "vm" {
		t.Fatalf("nodes kept: %+v; want vm's record only (laptop is in scope: its pass records it)", got)
	}
	if diff := cmp.Diff(owned, got[0].Owned); diff != "" {
		t.Errorf("vm's inventory (-want +got):\n%s", diff)
	}
}
