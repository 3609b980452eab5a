package controllers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// Rollback restores every file a run overwrote or removed from that run's
// backups. What it replaces is backed up under this pass's own run id, and
// launch agents whose plist it restores are reloaded.
func (p *Pass) Rollback(ctx context.Context, idx *BackupIndex) []drift.Change {
	var out []drift.Change
	var plists []string
	for _, e := range idx.Entries {
		c := drift.Change{Kind: e.Kind, Name: e.Name, Path: e.Path, Reason: "restored from run " + idx.RunID}
		if e.Mode == "symlink" {
			target, err := p.Host.Readlink(e.Backup)
			if err != nil {
				out = append(out, p.fail(c, err))
				continue
			}
			r := p.Link(ctx, LinkTarget{Kind: e.Kind, Name: e.Name, Path: e.Path, Target: target})
			r.Reason = strings.TrimPrefix(r.Reason+"; restored from run "+idx.RunID, "; ")
			out = append(out, r)
			continue
		}
		data, _, err := p.Host.ReadFile(e.Backup)
		if err != nil {
			out = append(out, p.fail(c, err))
			continue
		}
		if digest(data) != e.SHA256 {
			out = append(out, p.fail(c, fmt.Errorf("backup %s does not hold what was backed up (sha256 differs)", e.Backup)))
			continue
		}
		mode := fs.FileMode(0o644)
		if m, err := strconv.ParseUint(e.Mode, 0, 32); err == nil {
			mode = fs.FileMode(m)
		}
		r := p.File(ctx, FileTarget{Kind: e.Kind, Name: e.Name, Path: e.Path, Content: data, Perm: mode})
		r.Reason = strings.TrimPrefix(r.Reason+"; restored from run "+idx.RunID, "; ")
		if r.Action == drift.Unchanged {
			r.Reason = "already as in run " + idx.RunID + "'s backup"
		}
		if r.Action != drift.Failed && r.Action != drift.Unchanged && strings.HasPrefix(e.Path, LaunchAgentsDir+"/") {
			plists = append(plists, e.Path)
		}
		out = append(out, r)
	}
	for _, rel := range plists {
		out = append(out, p.reloadRestored(ctx, rel))
	}
	return out
}

// reloadRestored reloads the agent of a restored plist, so launchd runs
// what the file now says.
func (p *Pass) reloadRestored(ctx context.Context, rel string) drift.Change {
	c := drift.Change{Kind: v1.KindLaunchAgent, Name: strings.TrimSuffix(path.Base(rel), ".plist")}
	if p.Launchd == nil || p.Launchd.Available() != nil {
		c.Action, c.Reason = drift.Skipped, "launchd state unknown: "+observed.ErrNoLaunchd.Error()
		return c
	}
	data, _, err := p.Host.ReadFile(rel)
	if err != nil {
		return p.fail(c, err)
	}
	label := plistLabel(data)
	if label == "" {
		return p.fail(c, fmt.Errorf("%s has no Label", rel))
	}
	domain := fmt.Sprintf("gui/%d", uid())
	target := domain + "/" + label
	c.Target = target
	_, err = p.Launchd.Print(ctx, target)
	if err != nil && !errors.Is(err, observed.ErrNotLoaded) {
		return p.fail(c, err)
	}
	if _, err := observed.Reload(ctx, p.Launchd, target, domain, p.abs(rel), err == nil, p.Reload); err != nil {
		return p.fail(c, err)
	}
	c.Action, c.Reason = drift.Configured, "plist restored: reload"
	return c
}
