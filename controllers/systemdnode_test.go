package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

const unitNode = `apiVersion: sanctum.haus/v1
kind: RemoteNode
metadata: {name: vm}
spec:
  alias: vm
  catalogHost: vm
`

// writeLines names each write the node's script gets, in order, with the
// writes it needs and whether it gates the calls after it.
func writeLines(ws []observed.RemoteWrite) []string {
	var out []string
	for _, w := range ws {
		s := w.Path
		if w.Op == observed.RemoteSystemctl {
			s = "systemctl " + strings.Join(w.Args, " ")
			if w.System {
				s = "system " + s
			}
		} else if w.Op != observed.RemotePut {
			s = string(w.Op) + " " + s
		}
		if len(w.Needs) > 0 {
			s += fmt.Sprintf(" needs%v", w.Needs)
		}
		if w.Gate {
			s += " gate"
		}
		out = append(out, s)
	}
	return out
}

// TestSystemdOnANode: a pass run on the Mac places the units of the node
// that is catalog host vm on it: show in the node's observation, the unit
// files and the systemctl calls in its one apply session, in order (the
// files, one daemon-reload gating the rest, one enable, each start once
// its file was written and it was enabled); the local systemd is never
// asked. A call the node did not carry out fails its unit's entry, and
// the state does not record the unit as started.
func TestSystemdOnANode(t *testing.T) {
	h := newTestHome(t)
	cat := loadCatalog(t, h.dir, map[string]string{"units.yaml": unitCatalog, "nodes.yaml": unitNode})
	var sent []observed.RemoteWrite
	r := &fakeRemote{WriteFn: func(_ context.Context, _ observed.RemoteNode, _ string, ws []observed.RemoteWrite) ([]observed.RemoteResult, error) {
		sent = ws
		res := make([]observed.RemoteResult, len(ws))
		for i, w := range ws {
			res[i] = observed.RemoteResult{Index: i, Path: w.Path, Status: "ok"}
			if w.Op == observed.RemoteSystemctl && w.Args[0] == "start" && w.Args[2] == "neo4j-sanctum.service" {
				res[i] = observed.RemoteResult{Index: i, Status: "failed", Reason: "systemctl --user start: exit 1: Job failed"}
			}
		}
		return res, nil
	}}
	sd := &fakeSystemd{}
	p := unitPass(h, sd, "mac", "r1", cat)
	p.Remote = r
	cs, err := runApply(p, cat, SystemdController{}, RemoteNodeController{})
	if err == nil {
		t.Fatal("apply: no error for the start the node failed")
	}
	if calls := sd.Calls(); len(calls) != 0 {
		t.Errorf("the local systemd asked: %v", calls)
	}
	if diff := cmp.Diff([]string{"show vm sanctum-gateway.service neo4j-sanctum.service"}, callNames(r.CallsTo("show"))); diff != "" {
		t.Errorf("show (-want +got):\n%s", diff)
	}
	wantWrites := []string{
		".config/systemd/user/neo4j-sanctum.service",
		".config/systemd/user/sanctum-gateway.service",
		"systemctl daemon-reload gate",
		"systemctl enable -- sanctum-gateway.service neo4j-sanctum.service",
		"systemctl start -- sanctum-gateway.service needs[1 3]",
		"systemctl start -- neo4j-sanctum.service needs[0 3]",
	}
	if diff := cmp.Diff(wantWrites, writeLines(sent)); diff != "" {
		t.Errorf("the node's apply session (-want +got):\n%s", diff)
	}
	var lines []string
	for _, c := range cs.Changes {
		if c.Kind == v1.KindSystemdUnit {
			lines = append(lines, strings.Join([]string{c.Name, string(c.Action), c.Node, c.Target, c.Error}, " "))
		}
	}
	wantLines := []string{
		"gateway created vm systemd:user/sanctum-gateway.service ",
		"neo4j failed vm systemd:user/neo4j-sanctum.service systemctl --user start: exit 1: Job failed",
	}
	if diff := cmp.Diff(wantLines, lines); diff != "" {
		t.Errorf("unit entries (-want +got):\n%s", diff)
	}
	var recorded []string
	for _, u := range p.unitSection().Save().([]UnitRecord) {
		recorded = append(recorded, u.Node+"/"+u.Name)
	}
	if diff := cmp.Diff([]string{"vm/gateway"}, recorded); diff != "" {
		t.Errorf("units recorded as started (-want +got):\n%s", diff)
	}
	for _, c := range cs.Changes {
		if c.Kind == v1.KindSystemdUnit && c.Action == drift.Failed && c.Name != "neo4j" {
			t.Errorf("unexpected failure: %+v", c)
		}
	}
}

// TestSystemUnitsOnANode: a node's system units beside its user units,
// from the Mac: each manager asked in the one observation (the system's
// apart), the system unit's file at /etc/systemd/system on the node, each
// manager's calls in the one apply session with a daemon-reload of its
// own, a start needing its own manager's enable. A system daemon-reload
// the node did not carry out (sudo -n refused) fails the system unit
// only.
func TestSystemUnitsOnANode(t *testing.T) {
	h := newTestHome(t)
	const units = `apiVersion: sanctum.haus/v1
kind: SystemdUnit
metadata: {name: web}
spec:
  unit: web.service
  host: vm
  execStart: [/bin/sleep, "100"]
---
apiVersion: sanctum.haus/v1
kind: SystemdUnit
metadata: {name: db}
spec:
  unit: db.service
  host: vm
  scope: system
  execStart: [/bin/sleep, "200"]
`
	cat := loadCatalog(t, h.dir, map[string]string{"units.yaml": units, "nodes.yaml": unitNode})
	var sent []observed.RemoteWrite
	const refused = "sudo -n: sudo: a password is required"
	r := &fakeRemote{WriteFn: func(_ context.Context, _ observed.RemoteNode, _ string, ws []observed.RemoteWrite) ([]observed.RemoteResult, error) {
		sent = ws
		res := make([]observed.RemoteResult, len(ws))
		for i, w := range ws {
			res[i] = observed.RemoteResult{Index: i, Path: w.Path, Status: "ok"}
			if w.System {
				res[i] = observed.RemoteResult{Index: i, Status: "failed", Reason: refused}
			}
		}
		return res, nil
	}}
	p := unitPass(h, &fakeSystemd{}, "mac", "r1", cat)
	p.Remote = r
	cs, _ := runApply(p, cat, SystemdController{}, RemoteNodeController{})
	if diff := cmp.Diff([]string{"show vm web.service"}, callNames(r.CallsTo("show"))); diff != "" {
		t.Errorf("user show (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"sysshow vm db.service"}, callNames(r.CallsTo("sysshow"))); diff != "" {
		t.Errorf("system show (-want +got):\n%s", diff)
	}
	wantWrites := []string{
		".config/systemd/user/web.service",
		"/etc/systemd/system/db.service",
		"systemctl daemon-reload gate",
		"systemctl enable -- web.service",
		"systemctl start -- web.service needs[0 3]",
		"system systemctl daemon-reload gate",
		"system systemctl enable -- db.service",
		"system systemctl start -- db.service needs[1 6]",
	}
	if diff := cmp.Diff(wantWrites, writeLines(sent)); diff != "" {
		t.Errorf("the node's apply session (-want +got):\n%s", diff)
	}
	var lines []string
	for _, c := range cs.Changes {
		lines = append(lines, strings.Join([]string{c.ID(), string(c.Action), c.Node, c.Path, c.Target, c.Error}, " "))
	}
	wantLines := []string{
		"SystemdUnit/db failed vm  systemd:system/db.service " + refused,
		"SystemdUnit/web created vm  systemd:user/web.service ",
		"RemoteNode/vm created vm .config/systemd/user/web.service  ",
		"RemoteNode/vm created vm /etc/systemd/system/db.service  ",
		"RemoteNode/vm failed vm   1 of 4 entries failed",
	}
	if diff := cmp.Diff(wantLines, lines); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

// TestNodeManagersStopBeforeFilesGo: a pass that retires a user unit and
// prunes a system unit's file (dropped from the catalog) on the node
// queues each manager's stop and disable before the files, each removal
// needing its own manager's calls (the pre calls of both managers share
// one list, so the indices are the script's), then a daemon-reload per
// manager.
func TestNodeManagersStopBeforeFilesGo(t *testing.T) {
	h := newTestHome(t)
	const both = `apiVersion: sanctum.haus/v1
kind: SystemdUnit
metadata: {name: web}
spec:
  unit: web.service
  host: vm
  retired: false
  execStart: [/bin/sleep, "100"]
---
apiVersion: sanctum.haus/v1
kind: SystemdUnit
metadata: {name: db}
spec:
  unit: db.service
  host: vm
  scope: system
  execStart: [/bin/sleep, "200"]
`
	node := &adoptedNode{files: map[string][]byte{}}
	r := node.remote()
	r.SystemUnitsFn = func(units []string) (map[string]*observed.UnitInfo, error) {
		out := map[string]*observed.UnitInfo{}
		for _, u := range units {
			out[u] = &observed.UnitInfo{Unit: u, LoadState: "loaded", ActiveState: "active", SubState: "running", MainPID: 7,
				UnitFileState: "enabled", FragmentPath: observed.SystemUnitDir + "/" + u}
		}
		return out, nil
	}
	cat := loadCatalog(t, h.dir, map[string]string{"units.yaml": both, "nodes.yaml": unitNode})
	p := unitPass(h, &fakeSystemd{}, "mac", "r1", cat)
	p.Remote = r
	if _, err := runApply(p, cat, SystemdController{}, RemoteNodeController{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := node.files["/etc/systemd/system/db.service"]; !ok {
		t.Fatalf("the first pass wrote %v", node.files)
	}
	retired := strings.Replace(both[:strings.Index(both, "---")], "retired: false", "retired: true", 1)
	cat2 := loadCatalog(t, h.dir, map[string]string{"units.yaml": retired, "nodes.yaml": unitNode})
	p = unitPass(h, &fakeSystemd{}, "mac", "r2", cat2)
	p.Remote = r
	node.sessions = nil
	cs, err := runApply(p, cat2, SystemdController{}, RemoteNodeController{})
	if err != nil {
		t.Fatal(err)
	}
	if len(node.sessions) != 1 {
		t.Fatalf("sessions: %d", len(node.sessions))
	}
	want := []string{
		"system systemctl stop -- db.service",
		"system systemctl disable -- db.service",
		"systemctl stop -- web.service",
		"systemctl disable -- web.service",
		"remove /etc/systemd/system/db.service needs[0 1]",
		"remove .config/systemd/user/web.service needs[2 3]",
		"systemctl daemon-reload gate",
		"system systemctl daemon-reload gate",
	}
	if diff := cmp.Diff(want, writeLines(node.sessions[0])); diff != "" {
		t.Errorf("the node's apply session (-want +got):\n%s", diff)
	}
	var lines []string
	for _, c := range cs.Changes {
		if c.Action == drift.Deleted {
			lines = append(lines, strings.Join([]string{c.ID(), c.Path, c.Target}, " "))
		}
	}
	wantLines := []string{
		"SystemdUnit/web .config/systemd/user/web.service systemd:user/web.service",
		"RemoteNode/vm /etc/systemd/system/db.service systemd:system/db.service",
	}
	if diff := cmp.Diff(wantLines, lines); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
}
