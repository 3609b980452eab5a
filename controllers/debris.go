package controllers

import (
	"path"
	"strings"

	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// KindTempFile names the entries of debris swept by a pass.
const KindTempFile = "TempFile"

// sweepDebris removes the temporary files (observed.IsTemp, a name nothing
// but reconcile's own writes has) that interrupted writes left in the
// directories this pass writes to: a run killed between a temporary file
// and its rename leaves one next to the target. Each is reported as
// cleaned; a plan only plans it, and a check counts it as drift. The state
// directory is the session's (SweepDebris under the lock): a saved plan
// must not depend on its listing, which the lock file changes.
func (p *Pass) sweepDebris() []drift.Change {
	var out []drift.Change
	for _, dir := range p.inv.WantedDirs() {
		if dir == StateDir {
			continue
		}
		out = append(out, SweepDebris(p.Host, dir)...)
	}
	return out
}

// SweepDebris removes reconcile's temporary files from one directory,
// each reported as cleaned (or failed).
func SweepDebris(h observed.Host, dir string) []drift.Change {
	entries, err := h.ReadDir(dir)
	if err != nil {
		// Missing, or no directory: no debris there, and the targets in
		// it report what is wrong themselves.
		return nil
	}
	var out []drift.Change
	for _, e := range entries {
		if e.IsDir() || !observed.IsTemp(e.Name()) {
			continue
		}
		rel := path.Join(dir, e.Name())
		c := drift.Change{Kind: KindTempFile, Name: tempTarget(e.Name()), Path: rel}
		if err := h.Remove(rel); err != nil {
			c.Action, c.Error, c.Err = drift.Failed, err.Error(), err
		} else {
			c.Action, c.Reason = drift.Cleaned, "temporary file of an interrupted write; removed"
		}
		out = append(out, c)
	}
	return out
}

// tempTarget is the name of the file a temporary file was to replace.
func tempTarget(name string) string {
	name = strings.TrimPrefix(name, ".")
	if i := strings.LastIndex(name, ".reconcile-tmp-"); i >= 0 {
		name = name[:i]
	}
	return name
}
