package controllers

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
)

const (
	soul     = "# Windu\nCalm, exact.\n"
	soulWS   = ".openclaw/workspace-windu/SOUL.md"
	soulVM   = ".openclaw/workspace-windu-vm/SOUL.md"
	soulGone = "ws/absent/SOUL.md"
)

// personaCatalog is PersonaFile/windu: SOUL.md from the catalog into every
// ~/.openclaw/workspace-windu* and into ~/ws/absent, all optional.
func personaCatalog(t *testing.T, home string) *desired.Catalog {
	t.Helper()
	return loadCatalog(t, home, map[string]string{
		"personas/windu/SOUL.md": soul,
		"personas.yaml": `apiVersion: sanctum.haus/v1
kind: PersonaFile
metadata: {name: windu}
spec:
  files: [SOUL.md]
  source: {catalog: personas/windu}
  targets: ["~/.openclaw/workspace-windu*", "~/ws/absent"]
  optional: true
`,
	})
}

func TestPersonaController(t *testing.T) {
	h := newTestHome(t)
	h.mkdir(".openclaw/workspace-windu")
	h.mkdir(".openclaw/workspace-windu-vm")
	cat := personaCatalog(t, h.dir)
	absent := drift.Change{Kind: v1.KindPersonaFile, Name: "windu/SOUL.md", Action: drift.Skipped, Path: soulGone,
		Reason: "workspace ~/ws/absent absent; optional, not created"}

	// The first pass fans the file out to both workspaces the glob finds;
	// the absent optional one is skipped and not created.
	cs := h.mustApply("run-1", cat, PersonaController{})
	want := []drift.Change{
		{Kind: v1.KindPersonaFile, Name: "windu/SOUL.md", Action: drift.Created, Path: soulVM, Diff: drift.CreatedDiff(soulVM, []byte(soul))},
		{Kind: v1.KindPersonaFile, Name: "windu/SOUL.md", Action: drift.Created, Path: soulWS, Diff: drift.CreatedDiff(soulWS, []byte(soul))},
		absent,
	}
	if diff := cmp.Diff(want, cs.Changes); diff != "" {
		t.Errorf("first pass mismatch (-want +got):\n%s", diff)
	}
	wantFiles := map[string]*fileState{soulWS: {soul, 0o644}, soulVM: {soul, 0o644}}
	if diff := cmp.Diff(wantFiles, h.files(soulWS, soulVM)); diff != "" {
		t.Errorf("files after the first pass (-want +got):\n%s", diff)
	}
	if h.exists("ws") {
		t.Errorf("the optional workspace's parent ~/ws was created")
	}

	// The ledger says where each copy stands.
	raw := stat(t, h.dir, PersonaLedgerFile)
	if raw == nil {
		t.Fatalf("no %s", PersonaLedgerFile)
	}
	var ledger PersonaLedger
	if err := json.Unmarshal([]byte(raw.Content), &ledger); err != nil {
		t.Fatal(err)
	}
	wantAgents := map[string]map[string]*PersonaFileRecord{"windu": {"SOUL.md": {
		Source: "sanctum/personas/windu/SOUL.md", SourceSHA256: sha(soul),
		Targets: []PersonaTarget{
			{Path: "~/" + soulVM, SHA256: sha(soul), Status: PersonaInSync},
			{Path: "~/" + soulWS, SHA256: sha(soul), Status: PersonaInSync},
			{Path: "~/" + soulGone, Status: PersonaSkippedOptional, Reason: "workspace ~/ws/absent absent; optional, not created"},
		},
	}}}
	if diff := cmp.Diff(wantAgents, ledger.Agents); diff != "" {
		t.Errorf("ledger mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"apply", "run-1"}, []string{ledger.Mode, ledger.RunID}); diff != "" {
		t.Errorf("ledger mode and run mismatch (-want +got):\n%s", diff)
	}

	// A second pass finds both copies right.
	cs = h.mustApply("run-2", cat, PersonaController{})
	wantActions := []string{
		"PersonaFile/windu/SOUL.md unchanged " + soulVM,
		"PersonaFile/windu/SOUL.md unchanged " + soulWS,
		"PersonaFile/windu/SOUL.md skipped " + soulGone,
	}
	if diff := cmp.Diff(wantActions, actions(cs)); diff != "" {
		t.Errorf("second pass mismatch (-want +got):\n%s", diff)
	}

	// A hand edit in one workspace is put back after a backup; the other
	// copy is left alone.
	h.put(soulWS, "# Windu\nLoud.\n", 0o644)
	cs = h.mustApply("run-3", cat, PersonaController{})
	want = []drift.Change{
		{Kind: v1.KindPersonaFile, Name: "windu/SOUL.md", Action: drift.Unchanged, Path: soulVM},
		{Kind: v1.KindPersonaFile, Name: "windu/SOUL.md", Action: drift.Configured, Path: soulWS, Reason: "content differs",
			Backup: backupOf("run-3", soulWS), Diff: drift.Diff(soulWS, []byte("# Windu\nLoud.\n"), []byte(soul))},
		absent,
	}
	if diff := cmp.Diff(want, cs.Changes); diff != "" {
		t.Errorf("hand-edit pass mismatch (-want +got):\n%s", diff)
	}
	wantFiles = map[string]*fileState{soulWS: {soul, 0o644}, backupOf("run-3", soulWS): {"# Windu\nLoud.\n", 0o600}}
	if diff := cmp.Diff(wantFiles, h.files(soulWS, backupOf("run-3", soulWS))); diff != "" {
		t.Errorf("files after the hand-edit pass (-want +got):\n%s", diff)
	}
}

// A workspace that is a symlink is refused, never written through.
func TestPersonaControllerSymlinkedWorkspace(t *testing.T) {
	h := newTestHome(t)
	h.mkdir(".openclaw/workspace-windu")
	h.mkdir("elsewhere")
	if err := os.Symlink("../elsewhere", h.abs(".openclaw/workspace-windu-vm")); err != nil {
		t.Fatal(err)
	}
	cs, _, err := h.apply("run-1", personaCatalog(t, h.dir), PersonaController{})
	if err == nil {
		t.Errorf("apply: no error for a symlinked workspace")
	}
	if diff := cmp.Diff([]string{
		"PersonaFile/windu/SOUL.md failed " + soulVM,
		"PersonaFile/windu/SOUL.md created " + soulWS,
		"PersonaFile/windu/SOUL.md skipped " + soulGone,
	}, actions(cs)); diff != "" {
		t.Errorf("changes mismatch (-want +got):\n%s", diff)
	}
	if h.exists("elsewhere/SOUL.md") {
		t.Errorf("wrote through the symlinked workspace")
	}
}

// A planned hand-edit repair writes nothing (no ledger either: a plain dry
// run has no door for it), and the apply does what the plan said.
func TestPersonaControllerPlan(t *testing.T) {
	h := newTestHome(t)
	h.mkdir(".openclaw/workspace-windu")
	h.mkdir(".openclaw/workspace-windu-vm")
	cat := personaCatalog(t, h.dir)
	h.mustApply("run-1", cat, PersonaController{})
	h.put(soulVM, "# Windu\nLoud.\n", 0o644)
	want := []drift.Change{
		{Kind: v1.KindPersonaFile, Name: "windu/SOUL.md", Action: drift.Configured, Path: soulVM, Reason: "content differs",
			Backup: backupOf("run-2", soulVM), Diff: drift.Diff(soulVM, []byte("# Windu\nLoud.\n"), []byte(soul))},
		{Kind: v1.KindPersonaFile, Name: "windu/SOUL.md", Action: drift.Unchanged, Path: soulWS},
		{Kind: v1.KindPersonaFile, Name: "windu/SOUL.md", Action: drift.Skipped, Path: soulGone,
			Reason: "workspace ~/ws/absent absent; optional, not created"},
	}
	h.checkPlanThenApply("run-2", cat, PersonaController{}, want)
	if diff := cmp.Diff(&fileState{soul, 0o644}, stat(t, h.dir, soulVM)); diff != "" {
		t.Errorf("file after the apply (-want +got):\n%s", diff)
	}
}
