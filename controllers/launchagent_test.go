package controllers

import (
	"context"
	"fmt"
	"os"
	"path"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// agentSpec is what a test varies of the two agents: a's program, and
// whether b is retired or a disabled.
type agentSpec struct {
	aProgram  string
	aDisabled bool
	bRetired  bool
}

// agentCatalog is LaunchAgent/a (restarted when ~/.config/a.conf changes)
// and LaunchAgent/b, which depends on a.
func agentCatalog(t *testing.T, home string, s agentSpec) *desired.Catalog {
	t.Helper()
	if s.aProgram == "" {
		s.aProgram = "/opt/a/bin/a"
	}
	a := fmt.Sprintf("apiVersion: sanctum.haus/v1\nkind: LaunchAgent\nmetadata: {name: a}\nspec:\n"+
		"  programArguments: [%s]\n  runAtLoad: true\n  restartOn: [\"~/.config/a.conf\"]\n  enabled: %t\n", s.aProgram, !s.aDisabled)
	b := "apiVersion: sanctum.haus/v1\nkind: LaunchAgent\nmetadata: {name: b}\nspec:\n  programArguments: [/opt/b/bin/b]\n  dependsOn: [a]\n"
	if s.bRetired {
		b = "apiVersion: sanctum.haus/v1\nkind: LaunchAgent\nmetadata: {name: b}\nspec:\n  retired: true\n"
	}
	return loadCatalog(t, home, map[string]string{"agents.yaml": a + "---\n" + b})
}

// agentPlist is the plist of an agent running program with RunAtLoad.
func agentPlist(label, program string, runAtLoad bool) string {
	s := "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" +
		"<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n" +
		"<plist version=\"1.0\">\n\t<dict>\n\t\t<key>Label</key>\n\t\t<string>" + label + "</string>\n" +
		"\t\t<key>ProgramArguments</key>\n\t\t<array>\n\t\t\t<string>" + program + "</string>\n\t\t</array>\n"
	if runAtLoad {
		s += "\t\t<key>RunAtLoad</key>\n\t\t<true/>\n"
	}
	return s + "\t</dict>\n</plist>\n"
}

// agentLaunchd answers Print as launchd would for agents loaded from their
// plists under home: loaded once bootstrapped (or when already listed),
// gone once booted out. Everything else is the fake's zero behaviour.
func agentLaunchd(h *testHome, already ...string) *fakeLaunchd {
	l := &fakeLaunchd{}
	l.PrintFn = func(_ context.Context, target string) (*observed.ServiceInfo, error) {
		plist := h.abs(LaunchAgentsDir + "/" + path.Base(target) + ".plist")
		loaded := slices.Contains(already, target)
		for _, c := range l.Calls() {
			switch {
			case c.Method == "bootstrap" && c.Args[1] == plist:
				loaded = true
			case c.Method == "bootout" && c.Args[0] == target:
				loaded = false
			}
		}
		if !loaded {
			return nil, observed.ErrNotLoaded
		}
		return &observed.ServiceInfo{Target: target, Path: plist, State: "running"}, nil
	}
	return l
}

func TestLaunchAgentController(t *testing.T) {
	h := newTestHome(t)
	l := agentLaunchd(h)
	h.launchd = l
	domain := fmt.Sprintf("gui/%d", os.Getuid())
	targetA, targetB := domain+"/com.sanctum.a", domain+"/com.sanctum.b"
	plistA, plistB := LaunchAgentsDir+"/com.sanctum.a.plist", LaunchAgentsDir+"/com.sanctum.b.plist"
	xmlA, xmlB := agentPlist("com.sanctum.a", "/opt/a/bin/a", true), agentPlist("com.sanctum.b", "/opt/b/bin/b", false)
	agent := func(name string, action drift.Action, target, reason string) drift.Change {
		return drift.Change{Kind: v1.KindLaunchAgent, Name: name, Action: action, Target: target, Reason: reason}
	}
	plist := func(name string, action drift.Action, path string) drift.Change {
		return drift.Change{Kind: v1.KindLaunchAgent, Name: name, Action: action, Path: path}
	}
	run := func(runID string, s agentSpec, want []drift.Change, wantLaunchd []fakeCall) {
		t.Helper()
		mark := len(l.Calls())
		cs := h.mustApply(runID, agentCatalog(t, h.dir, s), LaunchAgentController{})
		if diff := cmp.Diff(want, cs.Changes); diff != "" {
			t.Errorf("%s: changes mismatch (-want +got):\n%s", runID, diff)
		}
		if diff := cmp.Diff(wantLaunchd, l.ChangesSince(mark)); diff != "" {
			t.Errorf("%s: launchd calls mismatch (-want +got):\n%s", runID, diff)
		}
	}

	// Not loaded: both plists are written and bootstrapped, a before b,
	// which depends on it.
	created := func(name, path, content string) drift.Change {
		c := plist(name, drift.Created, path)
		c.Diff = drift.CreatedDiff(path, []byte(content))
		return c
	}
	run("run-1", agentSpec{}, []drift.Change{
		created("a", plistA, xmlA), agent("a", drift.Created, targetA, "not loaded: bootstrap"),
		created("b", plistB, xmlB), agent("b", drift.Created, targetB, "not loaded: bootstrap"),
	}, []fakeCall{
		{"bootstrap", []string{domain, h.abs(plistA)}},
		{"bootstrap", []string{domain, h.abs(plistB)}},
	})
	wantFiles := map[string]*fileState{plistA: {xmlA, 0o644}, plistB: {xmlB, 0o644}}
	if diff := cmp.Diff(wantFiles, h.files(plistA, plistB)); diff != "" {
		t.Errorf("plists after the first pass (-want +got):\n%s", diff)
	}

	// Loaded from the plists reconcile wrote: nothing to do.
	unchanged := []drift.Change{
		plist("a", drift.Unchanged, plistA), agent("a", drift.Unchanged, targetA, ""),
		plist("b", drift.Unchanged, plistB), agent("b", drift.Unchanged, targetB, ""),
	}
	run("run-2", agentSpec{}, unchanged, nil)

	// A new program for a: its plist is rewritten, then a is booted out
	// and bootstrapped again, in that order; b is left running.
	xmlA2 := agentPlist("com.sanctum.a", "/opt/a/bin/a2", true)
	configured := plist("a", drift.Configured, plistA)
	configured.Reason, configured.Backup = "content differs", backupOf("run-3", plistA)
	configured.Diff = drift.Diff(plistA, []byte(xmlA), []byte(xmlA2))
	run("run-3", agentSpec{aProgram: "/opt/a/bin/a2"}, []drift.Change{
		configured, agent("a", drift.Configured, targetA, "plist changed since it was loaded: reload"),
		plist("b", drift.Unchanged, plistB), agent("b", drift.Unchanged, targetB, ""),
	}, []fakeCall{
		{"bootout", []string{targetA}},
		{"bootstrap", []string{domain, h.abs(plistA)}},
	})
	if diff := cmp.Diff(&fileState{xmlA, 0o600}, stat(t, h.dir, backupOf("run-3", plistA))); diff != "" {
		t.Errorf("backup of the old plist (-want +got):\n%s", diff)
	}

	// A restartOn input appears: a is reloaded though its plist is the same.
	h.put(".config/a.conf", "port: 1\n", 0o644)
	run("run-4", agentSpec{aProgram: "/opt/a/bin/a2"}, []drift.Change{
		plist("a", drift.Unchanged, plistA), agent("a", drift.Configured, targetA, "restartOn ~/.config/a.conf changed since it was loaded: reload"),
		plist("b", drift.Unchanged, plistB), agent("b", drift.Unchanged, targetB, ""),
	}, []fakeCall{
		{"bootout", []string{targetA}},
		{"bootstrap", []string{domain, h.abs(plistA)}},
	})

	// Somebody disabled b in launchd: it is enabled again, not reloaded.
	l.DisabledFn = func(_ context.Context, d string) (map[string]bool, error) {
		return map[string]bool{"com.sanctum.b": d == domain}, nil
	}
	run("run-5", agentSpec{aProgram: "/opt/a/bin/a2"}, []drift.Change{
		plist("a", drift.Unchanged, plistA), agent("a", drift.Unchanged, targetA, ""),
		plist("b", drift.Unchanged, plistB), agent("b", drift.Configured, targetB, "disabled in launchd: enable"),
	}, []fakeCall{{"enable", []string{targetB}}})
	l.DisabledFn = nil

	// A hand edit of b's plist is put back after a backup; launchd still
	// runs what reconcile loaded, so nothing is reloaded.
	h.put(plistB, "<plist>edited</plist>\n", 0o644)
	handEdit := plist("b", drift.Configured, plistB)
	handEdit.Reason, handEdit.Backup = "content differs", backupOf("run-6", plistB)
	handEdit.Diff = drift.Diff(plistB, []byte("<plist>edited</plist>\n"), []byte(xmlB))
	run("run-6", agentSpec{aProgram: "/opt/a/bin/a2"}, []drift.Change{
		plist("a", drift.Unchanged, plistA), agent("a", drift.Unchanged, targetA, ""),
		handEdit, agent("b", drift.Unchanged, targetB, ""),
	}, nil)
	wantFiles = map[string]*fileState{plistB: {xmlB, 0o644}, backupOf("run-6", plistB): {"<plist>edited</plist>\n", 0o600}}
	if diff := cmp.Diff(wantFiles, h.files(plistB, backupOf("run-6", plistB))); diff != "" {
		t.Errorf("files after the hand-edit pass (-want +got):\n%s", diff)
	}

	// b retired: booted out, its plist moved into the run's backups.
	run("run-7", agentSpec{aProgram: "/opt/a/bin/a2", bRetired: true}, []drift.Change{
		plist("a", drift.Unchanged, plistA), agent("a", drift.Unchanged, targetA, ""),
		{Kind: v1.KindLaunchAgent, Name: "b", Action: drift.Deleted, Path: plistB, Target: targetB,
			Reason: "retired: booted out; retired: plist moved to backups", Backup: backupOf("run-7", plistB),
			Diff: drift.DeletedDiff(plistB, []byte(xmlB))},
	}, []fakeCall{{"bootout", []string{targetB}}})
	wantFiles = map[string]*fileState{plistB: nil, backupOf("run-7", plistB): {xmlB, 0o600}}
	if diff := cmp.Diff(wantFiles, h.files(plistB, backupOf("run-7", plistB))); diff != "" {
		t.Errorf("files after retiring b (-want +got):\n%s", diff)
	}

	// a disabled in the catalog: the prune boots it out before it removes
	// the plist reconcile wrote, and says why.
	run("run-8", agentSpec{aProgram: "/opt/a/bin/a2", aDisabled: true, bRetired: true}, []drift.Change{
		{Kind: v1.KindLaunchAgent, Name: "a", Action: drift.Deleted, Path: plistA, Target: targetA,
			Reason: "disabled", Backup: backupOf("run-8", plistA), Diff: drift.DeletedDiff(plistA, []byte(xmlA2))},
		{Kind: v1.KindLaunchAgent, Name: "b", Action: drift.Unchanged, Path: plistB, Target: targetB, Reason: "retired"},
	}, []fakeCall{{"bootout", []string{targetA}}})
	if h.exists(plistA) {
		t.Errorf("%s is still there after a was disabled", plistA)
	}
}

// Without launchctl (Linux), plists are still written; launchd's side is
// skipped, never guessed, and launchd is asked nothing more.
func TestLaunchAgentControllerNoLaunchctl(t *testing.T) {
	h := newTestHome(t)
	l := &fakeLaunchd{AvailableFn: func() error { return observed.ErrNoLaunchd }}
	h.launchd = l
	domain := fmt.Sprintf("gui/%d", os.Getuid())
	plistA, plistB := LaunchAgentsDir+"/com.sanctum.a.plist", LaunchAgentsDir+"/com.sanctum.b.plist"
	xmlA, xmlB := agentPlist("com.sanctum.a", "/opt/a/bin/a", true), agentPlist("com.sanctum.b", "/opt/b/bin/b", false)
	cs := h.mustApply("run-1", agentCatalog(t, h.dir, agentSpec{}), LaunchAgentController{})
	unknown := "launchd state unknown: " + observed.ErrNoLaunchd.Error()
	want := []drift.Change{
		{Kind: v1.KindLaunchAgent, Name: "a", Action: drift.Created, Path: plistA, Diff: drift.CreatedDiff(plistA, []byte(xmlA))},
		{Kind: v1.KindLaunchAgent, Name: "a", Action: drift.Skipped, Target: domain + "/com.sanctum.a", Reason: unknown},
		{Kind: v1.KindLaunchAgent, Name: "b", Action: drift.Created, Path: plistB, Diff: drift.CreatedDiff(plistB, []byte(xmlB))},
		{Kind: v1.KindLaunchAgent, Name: "b", Action: drift.Skipped, Target: domain + "/com.sanctum.b", Reason: unknown},
	}
	if diff := cmp.Diff(want, cs.Changes); diff != "" {
		t.Errorf("changes mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]fakeCall{{"available", nil}, {"available", nil}}, l.Calls()); diff != "" {
		t.Errorf("launchd calls mismatch (-want +got):\n%s", diff)
	}
}

// A planned reload writes nothing and asks launchd to change nothing; the
// apply that follows does what the plan said, bootout before bootstrap.
func TestLaunchAgentControllerPlan(t *testing.T) {
	h := newTestHome(t)
	l := agentLaunchd(h)
	h.launchd = l
	domain := fmt.Sprintf("gui/%d", os.Getuid())
	targetA, targetB := domain+"/com.sanctum.a", domain+"/com.sanctum.b"
	plistA, plistB := LaunchAgentsDir+"/com.sanctum.a.plist", LaunchAgentsDir+"/com.sanctum.b.plist"
	h.mustApply("run-1", agentCatalog(t, h.dir, agentSpec{}), LaunchAgentController{})

	mark := len(l.Calls())
	want := []drift.Change{
		{Kind: v1.KindLaunchAgent, Name: "a", Action: drift.Configured, Path: plistA, Reason: "content differs",
			Backup: backupOf("run-2", plistA), Diff: drift.Diff(plistA,
				[]byte(agentPlist("com.sanctum.a", "/opt/a/bin/a", true)), []byte(agentPlist("com.sanctum.a", "/opt/a/bin/a2", true)))},
		{Kind: v1.KindLaunchAgent, Name: "a", Action: drift.Configured, Target: targetA, Reason: "plist changed since it was loaded: reload"},
		{Kind: v1.KindLaunchAgent, Name: "b", Action: drift.Unchanged, Path: plistB},
		{Kind: v1.KindLaunchAgent, Name: "b", Action: drift.Unchanged, Target: targetB},
	}
	// The plan's launchd calls stop at the dry-run decorator: the only
	// changes the fake sees are the apply's.
	h.checkPlanThenApply("run-2", agentCatalog(t, h.dir, agentSpec{aProgram: "/opt/a/bin/a2"}), LaunchAgentController{}, want)
	wantLaunchd := []fakeCall{{"bootout", []string{targetA}}, {"bootstrap", []string{domain, h.abs(plistA)}}}
	if diff := cmp.Diff(wantLaunchd, l.ChangesSince(mark)); diff != "" {
		t.Errorf("launchd calls mismatch (-want +got):\n%s", diff)
	}
}
