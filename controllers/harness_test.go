package controllers

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// The controller tests share this harness: a catalog written as YAML and
// loaded the way the CLI loads one, a real home in a temp dir, and a pass
// wired as apply or as a plan wires it.

// testInstanceYAML is the smallest instance.yaml a catalog needs.
const testInstanceYAML = "instance: {slug: t}\n"

// loadCatalog writes files (catalog-relative name → content) into a fresh
// catalog directory and loads it as the CLI does: desired.Load over
// os.DirFS, secrets resolved against home. instance.yaml defaults to
// testInstanceYAML.
func loadCatalog(t *testing.T, home string, files map[string]string) *desired.Catalog {
	t.Helper()
	dir := t.TempDir()
	if _, ok := files["instance.yaml"]; !ok {
		files["instance.yaml"] = testInstanceYAML
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cat, err := desired.Load(context.Background(), desired.Options{FS: os.DirFS(dir), Name: "sanctum", Home: home})
	if err != nil {
		t.Fatalf("load catalog: %v", err)
	}
	return cat
}

// testReload keeps launchd's waits short: the fakes answer at once.
var testReload = observed.ReloadPolicy{PollInterval: time.Millisecond, PollTries: 5, RetryInterval: time.Millisecond, RetryTries: 3}

// testHome is one disposable home and the doors a pass reaches beyond it.
type testHome struct {
	t       *testing.T
	dir     string
	host    *observed.FileHost
	launchd observed.Launchd // nil: the pass has none
	remote  observed.Remote  // nil: the pass has none
}

func newTestHome(t *testing.T) *testHome {
	t.Helper()
	host, dir := newTestFileHost(t)
	return &testHome{t: t, dir: dir, host: host}
}

// pass prepares a pass over host from the state the last apply saved.
func (h *testHome) pass(host observed.Host, launchd observed.Launchd, remote observed.Remote, runID string, cat *desired.Catalog) *Pass {
	h.t.Helper()
	state, err := LoadPassState(h.host)
	if err != nil {
		h.t.Fatalf("LoadPassState: %v", err)
	}
	p := NewPass(host, launchd, runID, testNow, cat.SecretValues, state)
	p.Reload = testReload
	p.Remote = remote
	return p
}

// apply is what `reconcile apply` does with one controller: a pass on the
// real host from the last apply's state, its ledgers written, and what it
// leaves saved for the next.
func (h *testHome) apply(runID string, cat *desired.Catalog, ctrl Controller) (*drift.ChangeSet, *Pass, error) {
	h.t.Helper()
	p := h.pass(h.host, h.launchd, h.remote, runID, cat)
	p.Ledgers = h.host
	cs, err := runApply(p, cat, ctrl)
	return cs, p, err
}

// plan is what --dry-run does with one controller: the same pass through
// the dry-run overlay above the read-only guard, launchd and the nodes
// decorated alike; nothing is saved.
func (h *testHome) plan(runID string, cat *desired.Catalog, ctrl Controller) (*drift.ChangeSet, *Pass, error) {
	h.t.Helper()
	var launchd observed.Launchd
	if h.launchd != nil {
		launchd = observed.NewDryRunLaunchd(observed.ReadOnlyLaunchd{Launchd: h.launchd})
	}
	var remote observed.Remote
	if h.remote != nil {
		remote = observed.NewDryRunRemote(observed.ReadOnlyRemote{Remote: h.remote})
	}
	p := h.pass(observed.NewDryRunHost(observed.ReadOnlyHost{Host: h.host}), launchd, remote, runID, cat)
	cs, err := p.Run(context.Background(), cat, []Controller{ctrl})
	return cs, p, err
}

// mustApply is apply for a pass that must not fail.
func (h *testHome) mustApply(runID string, cat *desired.Catalog, ctrl Controller) *drift.ChangeSet {
	h.t.Helper()
	cs, _, err := h.apply(runID, cat, ctrl)
	if err != nil {
		h.t.Fatalf("apply %s: %v", runID, err)
	}
	return cs
}

// put writes a file under the home with an exact mode.
func (h *testHome) put(rel, content string, perm fs.FileMode) {
	putFile(h.t, h.dir, rel, content, perm)
}

// mkdir makes a directory under the home.
func (h *testHome) mkdir(rel string) {
	h.t.Helper()
	if err := os.MkdirAll(filepath.Join(h.dir, filepath.FromSlash(rel)), 0o755); err != nil {
		h.t.Fatal(err)
	}
}

// abs is a home-relative path on disk.
func (h *testHome) abs(rel string) string { return filepath.Join(h.dir, filepath.FromSlash(rel)) }

// readlink is where a symlink under the home points, or "" when there is
// no symlink.
func (h *testHome) readlink(rel string) string {
	h.t.Helper()
	target, err := os.Readlink(h.abs(rel))
	if err != nil {
		return ""
	}
	return target
}

// treeEntry is one thing in a home: a directory, a file or a symlink.
type treeEntry struct {
	Mode    fs.FileMode // type bits and permissions
	Content string      // a file's
	Link    string      // a symlink's target
}

// tree is every entry under the home, by slash path: what a test compares
// to show a plan wrote nothing.
func (h *testHome) tree() map[string]treeEntry {
	h.t.Helper()
	out := map[string]treeEntry{}
	err := filepath.WalkDir(h.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(h.dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := treeEntry{Mode: info.Mode()}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			e.Link, err = os.Readlink(p)
		case info.Mode().IsRegular():
			var b []byte
			b, err = os.ReadFile(p)
			e.Content = string(b)
		}
		out[filepath.ToSlash(rel)] = e
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// checkPlanThenApply runs a plan, shows it wrote nothing, then applies with
// the same run id and shows the apply did what the plan said. It returns
// the apply's change set.
func (h *testHome) checkPlanThenApply(runID string, cat *desired.Catalog, ctrl Controller, want []drift.Change) *drift.ChangeSet {
	h.t.Helper()
	before := h.tree()
	plan, _, err := h.plan(runID, cat, ctrl)
	if err != nil {
		h.t.Fatalf("plan: %v", err)
	}
	if diff := cmp.Diff(want, plan.Changes, cmpChanges); diff != "" {
		h.t.Errorf("plan changes mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, h.tree()); diff != "" {
		h.t.Errorf("the plan changed the home (-before +after):\n%s", diff)
	}
	applied, _, err := h.apply(runID, cat, ctrl)
	if err != nil {
		h.t.Fatalf("apply: %v", err)
	}
	if diff := cmp.Diff(plan.Changes, applied.Changes, cmpChanges); diff != "" {
		h.t.Errorf("apply did other than the plan said (-plan +apply):\n%s", diff)
	}
	return applied
}

// cmpChanges compares changes by what reports show: Err is the typed form
// of Error, compared through it.
var cmpChanges = cmp.Comparer(func(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Error() == b.Error()
})

// actions is each change as "Kind/name action path" (target when no
// path): a short form for passes whose details other tests pin.
func actions(cs *drift.ChangeSet) []string {
	var out []string
	for _, c := range cs.Changes {
		where := c.Path
		if where == "" {
			where = c.Target
		}
		out = append(out, c.ID()+" "+string(c.Action)+" "+where)
	}
	return out
}

// exists reports whether anything is at a home-relative path.
func (h *testHome) exists(rel string) bool {
	_, err := os.Lstat(h.abs(rel))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		h.t.Fatal(err)
	}
	return err == nil
}

// files is the state of each home-relative path (nil: none there), for a
// test to compare with what it expects on disk.
func (h *testHome) files(rels ...string) map[string]*fileState {
	h.t.Helper()
	out := make(map[string]*fileState, len(rels))
	for _, rel := range rels {
		out[rel] = stat(h.t, h.dir, rel)
	}
	return out
}

// backupOf is where a run keeps the old bytes of a home-relative path.
func backupOf(runID, rel string) string { return BackupsDir + "/" + runID + "/" + rel }
