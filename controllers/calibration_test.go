package controllers

import (
	"strings"
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
	calYAMLPath     = desired.InstanceYAMLPath
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
		{Kind: v1.KindCalibrationFile, Name: "instance-yaml", Action: drift.Created, Path: calYAMLPath,
			Diff: drift.CreatedDiff(calYAMLPath, []byte(testInstanceYAML))},
	}
	if diff := cmp.Diff(want, cs.Changes); diff != "" {
		t.Errorf("first pass mismatch (-want +got):\n%s", diff)
	}
	wantFiles := map[string]*fileState{
		calCapsPath:     {calCaps, 0o644},
		calInstancePath: {calInstanceJSON, 0o644},
		calYAMLPath:     {testInstanceYAML, 0o644},
	}
	if diff := cmp.Diff(wantFiles, h.files(calCapsPath, calInstancePath, calYAMLPath)); diff != "" {
		t.Errorf("files after the first pass (-want +got):\n%s", diff)
	}

	// A second pass finds both right and writes nothing.
	cs = h.mustApply("run-2", cat, CalibrationController{})
	wantActions := []string{
		"CalibrationFile/agent-capabilities unchanged " + calCapsPath,
		"CalibrationFile/instance-json unchanged " + calInstancePath,
		"CalibrationFile/instance-yaml unchanged " + calYAMLPath,
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
		{Kind: v1.KindCalibrationFile, Name: "instance-yaml", Action: drift.Unchanged, Path: calYAMLPath},
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
		{Kind: v1.KindCalibrationFile, Name: "instance-yaml", Action: drift.Unchanged, Path: calYAMLPath},
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
		{Kind: v1.KindCalibrationFile, Name: "instance-yaml", Action: drift.Unchanged, Path: calYAMLPath},
	}
	h.checkPlanThenApply("run-2", cat, CalibrationController{}, want)
	if diff := cmp.Diff(&fileState{calInstanceJSON, 0o644}, stat(t, h.dir, calInstancePath)); diff != "" {
		t.Errorf("file after the apply (-want +got):\n%s", diff)
	}
}

// The host's instance.yaml is the catalog's byte for byte; a copy that
// does not parse is drift whose reason carries each located parse error,
// and apply puts the catalog's back after a backup.
func TestCalibrationHostInstance(t *testing.T) {
	h := newTestHome(t)
	cat := calibrationCatalog(t, h.dir, false)
	h.mustApply("run-1", cat, CalibrationController{})
	for _, tt := range []struct{ name, host, reason string }{
		{"divergent", "instance: {slug: other}\n", "content differs"},
		{"unknown field", "instance: {slug: t}\ncolour: blue\n", "content differs; host copy is invalid: " +
			"~/.sanctum/instance.yaml:2:1: colour: unknown field \"colour\" (known: agents, backups, history, instance, " +
			"limits, network, nodes, paths, personas, secrets, services, users)"},
		{"not YAML", "instance: [\n", "content differs; host copy is invalid: ~/.sanctum/instance.yaml:1:1: " +
			"invalid YAML: did not find expected node content"},
		{"no slug", "instance: {name: x}\n", "content differs; host copy is invalid: ~/.sanctum/instance.yaml:1:11: " +
			"instance.slug: Required value: name this haus"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h.put(calYAMLPath, tt.host, 0o644)
			run := "run-" + strings.ReplaceAll(tt.name, " ", "-")
			cs := h.mustApply(run, cat, CalibrationController{})
			var got drift.Change
			for _, c := range cs.Changes {
				if c.Name == "instance-yaml" {
					got = c
				}
			}
			want := drift.Change{Kind: v1.KindCalibrationFile, Name: "instance-yaml", Action: drift.Configured,
				Path: calYAMLPath, Reason: tt.reason, Backup: backupOf(run, calYAMLPath),
				Diff: drift.Diff(calYAMLPath, []byte(tt.host), []byte(testInstanceYAML))}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("change mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(&fileState{testInstanceYAML, 0o644}, stat(t, h.dir, calYAMLPath)); diff != "" {
				t.Errorf("file after the apply (-want +got):\n%s", diff)
			}
		})
	}
}
