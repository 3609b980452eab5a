package controllers

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
)

const (
	svcManifest = ServicesDir + "/voice.yaml"
	svcWrapper  = WrapperDir + "/sanctum-voice"
	svcHelper   = HelperDir + "/voice-notify.sh"
	svcScript   = "#!/bin/sh\necho voice is down\n"
	// svcManifestYAML is the watchdog manifest of Service/voice, in the
	// schema of reference/sanctum.md.
	svcManifestYAML = `name: voice
display_name: Voice
host: mac
type: service
provides: [voice]
requires: []
launchagent: null
port: 1138
health:
  readiness: {type: port, port: 1138}
metadata: {generated_from: sanctum/services.yaml}
`
)

// serviceCatalog is Service/voice (a wrapper to wrapperTarget, a helper
// script) and the disabled Service/tts.
func serviceCatalog(t *testing.T, home, wrapperTarget string) *desired.Catalog {
	t.Helper()
	return loadCatalog(t, home, map[string]string{
		"scripts/voice-notify.sh": svcScript,
		"services.yaml": `apiVersion: sanctum.haus/v1
kind: Service
metadata: {name: voice}
spec:
  displayName: Voice
  host: mac
  port: 1138
  health:
    readiness: {type: port, port: 1138}
  wrapper: {target: ` + wrapperTarget + `}
  helpers:
    - {name: voice-notify.sh, source: scripts/voice-notify.sh}
---
apiVersion: sanctum.haus/v1
kind: Service
metadata: {name: tts}
spec:
  host: vm
  enabled: false
`,
	})
}

func TestServiceController(t *testing.T) {
	h := newTestHome(t)
	cat := serviceCatalog(t, h.dir, "/opt/voice/bin/voice")
	skipped := drift.Change{Kind: v1.KindService, Name: "tts", Action: drift.Skipped, Reason: "disabled"}

	// The first pass writes the manifest, makes the wrapper link and
	// installs the helper 0755; the disabled service installs nothing.
	cs := h.mustApply("run-1", cat, ServiceController{})
	want := []drift.Change{
		skipped,
		{Kind: v1.KindService, Name: "voice", Action: drift.Created, Path: svcWrapper,
			Diff: drift.LinkDiff(svcWrapper, "", "/opt/voice/bin/voice")},
		{Kind: v1.KindService, Name: "voice", Action: drift.Created, Path: svcHelper,
			Diff: drift.CreatedDiff(svcHelper, []byte(svcScript))},
		{Kind: v1.KindService, Name: "voice", Action: drift.Created, Path: svcManifest,
			Diff: drift.CreatedDiff(svcManifest, []byte(svcManifestYAML))},
	}
	if diff := cmp.Diff(want, cs.Changes); diff != "" {
		t.Errorf("first pass mismatch (-want +got):\n%s", diff)
	}
	wantFiles := map[string]*fileState{
		svcManifest:         {svcManifestYAML, 0o644},
		svcHelper:           {svcScript, 0o755},
		ManifestPath("tts"): nil,
		WrapperPath("tts"):  nil,
	}
	if diff := cmp.Diff(wantFiles, h.files(svcManifest, svcHelper, ManifestPath("tts"), WrapperPath("tts"))); diff != "" {
		t.Errorf("files after the first pass (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("/opt/voice/bin/voice", h.readlink(svcWrapper)); diff != "" {
		t.Errorf("wrapper link mismatch (-want +got):\n%s", diff)
	}

	// A second pass finds everything right.
	cs = h.mustApply("run-2", cat, ServiceController{})
	wantActions := []string{
		"Service/tts skipped ",
		"Service/voice unchanged " + svcWrapper,
		"Service/voice unchanged " + svcHelper,
		"Service/voice unchanged " + svcManifest,
	}
	if diff := cmp.Diff(wantActions, actions(cs)); diff != "" {
		t.Errorf("second pass mismatch (-want +got):\n%s", diff)
	}

	// Hand edits and a new wrapper target: the manifest is put back after a
	// backup, the helper gets its declared mode back, the wrapper is
	// repointed (the old link kept in the backups), and a stranger in the
	// manifest folder is reported and left alone.
	h.put(svcManifest, "name: voice\nport: 1\n", 0o600)
	h.put(svcHelper, svcScript, 0o644)
	h.put(ServicesDir+"/other.yaml", "name: other\n", 0o644)
	cs = h.mustApply("run-3", serviceCatalog(t, h.dir, "/opt/voice2/bin/voice"), ServiceController{})
	want = []drift.Change{
		{Kind: v1.KindService, Name: "other", Action: drift.Unmanaged, Path: ServicesDir + "/other.yaml",
			Reason: "not in the catalog and not written by reconcile; left alone"},
		skipped,
		{Kind: v1.KindService, Name: "voice", Action: drift.Configured, Path: svcWrapper,
			Reason: "points to /opt/voice/bin/voice, want /opt/voice2/bin/voice", Backup: backupOf("run-3", svcWrapper),
			Diff: drift.LinkDiff(svcWrapper, "/opt/voice/bin/voice", "/opt/voice2/bin/voice")},
		{Kind: v1.KindService, Name: "voice", Action: drift.Configured, Path: svcHelper,
			Reason: "mode 0644, declared: want 0755"},
		{Kind: v1.KindService, Name: "voice", Action: drift.Configured, Path: svcManifest,
			Reason: "content differs", Backup: backupOf("run-3", svcManifest),
			Diff: drift.Diff(svcManifest, []byte("name: voice\nport: 1\n"), []byte(svcManifestYAML))},
	}
	if diff := cmp.Diff(want, cs.Changes); diff != "" {
		t.Errorf("hand-edit pass mismatch (-want +got):\n%s", diff)
	}
	wantFiles = map[string]*fileState{
		svcManifest:                    {svcManifestYAML, 0o600},
		svcHelper:                      {svcScript, 0o755},
		ServicesDir + "/other.yaml":    {"name: other\n", 0o644},
		backupOf("run-3", svcManifest): {"name: voice\nport: 1\n", 0o600},
	}
	if diff := cmp.Diff(wantFiles, h.files(svcManifest, svcHelper, ServicesDir+"/other.yaml", backupOf("run-3", svcManifest))); diff != "" {
		t.Errorf("files after the hand-edit pass (-want +got):\n%s", diff)
	}
	links := map[string]string{svcWrapper: h.readlink(svcWrapper), "backup": h.readlink(backupOf("run-3", svcWrapper))}
	if diff := cmp.Diff(map[string]string{svcWrapper: "/opt/voice2/bin/voice", "backup": "/opt/voice/bin/voice"}, links); diff != "" {
		t.Errorf("links after the repoint (-want +got):\n%s", diff)
	}
}

// A planned first pass over an empty home writes nothing, links included,
// and the apply that follows does exactly what the plan said.
func TestServiceControllerPlan(t *testing.T) {
	h := newTestHome(t)
	cat := serviceCatalog(t, h.dir, "/opt/voice/bin/voice")
	want := []drift.Change{
		{Kind: v1.KindService, Name: "tts", Action: drift.Skipped, Reason: "disabled"},
		{Kind: v1.KindService, Name: "voice", Action: drift.Created, Path: svcWrapper,
			Diff: drift.LinkDiff(svcWrapper, "", "/opt/voice/bin/voice")},
		{Kind: v1.KindService, Name: "voice", Action: drift.Created, Path: svcHelper,
			Diff: drift.CreatedDiff(svcHelper, []byte(svcScript))},
		{Kind: v1.KindService, Name: "voice", Action: drift.Created, Path: svcManifest,
			Diff: drift.CreatedDiff(svcManifest, []byte(svcManifestYAML))},
	}
	h.checkPlanThenApply("run-1", cat, ServiceController{}, want)
	if diff := cmp.Diff(&fileState{svcScript, 0o755}, stat(t, h.dir, svcHelper)); diff != "" {
		t.Errorf("helper after the apply (-want +got):\n%s", diff)
	}
}
