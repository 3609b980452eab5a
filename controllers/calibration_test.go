package controllers

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
)

const (
	calInstancePath = desired.InstanceJSONPath
	calCapsPath     = desired.AgentCapabilitiesPath
	// calInstanceJSON is .instance.json of testInstanceYAML.
	calInstanceJSON = "{\n  \"instance\": {\n    \"slug\": \"t\"\n  }\n}\n"
	calCaps         = "agents:\n  windu: {can: [read, audit]}\n"
)

func calibrationCatalog(t *testing.T, home string, withCaps bool) *desired.Catalog {
	files := map[string]string{}
	if withCaps {
		files[desired.CapabilitiesFile] = calCaps
	}
	return loadCatalog(t, home, files)
}

func TestCalibrationController(t *testing.T) {
	h := newTestHome(t)
	cat := calibrationCatalog(t, h.dir, true)

	// The first pass creates both files, each shown in full.
	cs := h.mustApply("run-1", cat, CalibrationController{})
	want := []drift.Change{
		{Kind: v1.KindCalibrationFile, Name: "agent-capabilities", Action: drift.Created, Path: calCapsPath,
			Diff: drift.CreatedDiff(calCapsPath, []byte(calCaps))},
		{Kind: v1.KindCalibrationFile, Name: "instance-json", Action: drift.Created, Path: calInstancePath,
			Diff: drift.CreatedDiff(calInstancePath, []byte(calInstanceJSON))},
	}
	if diff := cmp.Diff(want, cs.Changes); diff != "" {
		t.Errorf("first pass mismatch (-want +got):\n%s", diff)
	}
	wantFiles := map[string]*fileState{
		calCapsPath:     {calCaps, 0o644},
		calInstancePath: {calInstanceJSON, 0o644},
	}
	if diff := cmp.Diff(wantFiles, h.files(calCapsPath, calInstancePath)); diff != "" {
		t.Errorf("files after the first pass (-want +got):\n%s", diff)
	}

	// A second pass finds both right and writes nothing.
	cs = h.mustApply("run-2", cat, CalibrationController{})
	wantActions := []string{
		"CalibrationFile/agent-capabilities unchanged " + calCapsPath,
		"CalibrationFile/instance-json unchanged " + calInstancePath,
	}
	if diff := cmp.Diff(wantActions, actions(cs)); diff != "" {
		t.Errorf("second pass mismatch (-want +got):\n%s", diff)
	}
	if h.exists(BackupsDir + "/run-2") {
		t.Errorf("an unchanged pass made %s/run-2", BackupsDir)
	}

	// A hand edit is put back; the edited bytes go to the run's backups and
	// the file keeps the mode it was given.
	h.put(calInstancePath, "{\"hand\": true}\n", 0o640)
	cs = h.mustApply("run-3", cat, CalibrationController{})
	want = []drift.Change{
		{Kind: v1.KindCalibrationFile, Name: "agent-capabilities", Action: drift.Unchanged, Path: calCapsPath},
		{Kind: v1.KindCalibrationFile, Name: "instance-json", Action: drift.Configured, Path: calInstancePath,
			Reason: "content differs", Backup: backupOf("run-3", calInstancePath),
			Diff: drift.Diff(calInstancePath, []byte("{\"hand\": true}\n"), []byte(calInstanceJSON))},
	}
	if diff := cmp.Diff(want, cs.Changes); diff != "" {
		t.Errorf("hand-edit pass mismatch (-want +got):\n%s", diff)
	}
	wantFiles = map[string]*fileState{
		calInstancePath:                    {calInstanceJSON, 0o640},
		backupOf("run-3", calInstancePath): {"{\"hand\": true}\n", 0o600},
	}
	if diff := cmp.Diff(wantFiles, h.files(calInstancePath, backupOf("run-3", calInstancePath))); diff != "" {
		t.Errorf("files after the hand-edit pass (-want +got):\n%s", diff)
	}

	// Without agent_capabilities.yaml in the catalog, the file reconcile
	// wrote is pruned, after a backup.
	cs = h.mustApply("run-4", calibrationCatalog(t, h.dir, false), CalibrationController{})
	want = []drift.Change{
		{Kind: v1.KindCalibrationFile, Name: "agent-capabilities", Action: drift.Deleted, Path: calCapsPath,
			Reason: "no longer in the catalog", Backup: backupOf("run-4", calCapsPath),
			Diff: drift.DeletedDiff(calCapsPath, []byte(calCaps))},
		{Kind: v1.KindCalibrationFile, Name: "instance-json", Action: drift.Unchanged, Path: calInstancePath},
	}
	if diff := cmp.Diff(want, cs.Changes); diff != "" {
		t.Errorf("prune pass mismatch (-want +got):\n%s", diff)
	}
	wantFiles = map[string]*fileState{
		calCapsPath:                    nil,
		backupOf("run-4", calCapsPath): {calCaps, 0o600},
	}
	if diff := cmp.Diff(wantFiles, h.files(calCapsPath, backupOf("run-4", calCapsPath))); diff != "" {
		t.Errorf("files after the prune pass (-want +got):\n%s", diff)
	}
}

// A planned hand-edit repair writes nothing, and the apply that follows
// does exactly what the plan said.
func TestCalibrationControllerPlan(t *testing.T) {
	h := newTestHome(t)
	cat := calibrationCatalog(t, h.dir, true)
	h.mustApply("run-1", cat, CalibrationController{})
	h.put(calInstancePath, "{}\n", 0o644)

	want := []drift.Change{
		{Kind: v1.KindCalibrationFile, Name: "agent-capabilities", Action: drift.Unchanged, Path: calCapsPath},
		{Kind: v1.KindCalibrationFile, Name: "instance-json", Action: drift.Configured, Path: calInstancePath,
			Reason: "content differs", Backup: backupOf("run-2", calInstancePath),
			Diff: drift.Diff(calInstancePath, []byte("{}\n"), []byte(calInstanceJSON))},
	}
	h.checkPlanThenApply("run-2", cat, CalibrationController{}, want)
	if diff := cmp.Diff(&fileState{calInstanceJSON, 0o644}, stat(t, h.dir, calInstancePath)); diff != "" {
		t.Errorf("file after the apply (-want +got):\n%s", diff)
	}
}
