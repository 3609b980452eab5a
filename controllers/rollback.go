package controllers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// Rollback restores every file a run overwrote or removed from that run's
// backups. What it replaces is backed up under this pass's own run id,
// launch agents whose plist it restores are reloaded, and systemd units
// whose unit file it restores are loaded again (one daemon-reload) and
// restarted when they run.
func (p *Pass) Rollback(ctx context.Context, idx *BackupIndex) []drift.Change {
	var out []drift.Change
	var plists []string
	var units, systemUnits []BackupEntry
	for _, e := range idx.Entries {
		c := drift.Change{Kind: e.Kind, Name: e.Name, Path: e.Path, Reason: "restored from run " + idx.RunID}
		if isSystemUnitFile(e.Path) && p.SystemSystemd.Available() != nil {
			// As a pass: what this run may not touch there is left.
			c.Action, c.Reason = drift.Skipped, "not restored, since the system manager is not asked: "+p.SystemSystemd.Available().Error()
			out = append(out, c)
			continue
		}
		perm, link, _ := e.kept() // the index was checked when it was read
		if err := p.keptInRun(idx.RunID, e, link); err != nil {
			out = append(out, p.fail(c, err))
			continue
		}
		if link {
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
		// The mode it was kept from, unless it held a secret: that mode may
		// have exposed it; restored, it may not.
		mode, _ := drift.WantMode(perm, true, e.Secret, 0)
		r := p.File(ctx, FileTarget{Kind: e.Kind, Name: e.Name, Path: e.Path, Content: data, Perm: mode, Secret: e.Secret})
		r.Reason = strings.TrimPrefix(r.Reason+"; restored from run "+idx.RunID, "; ")
		if r.Action == drift.Unchanged {
			r.Reason = "already as in run " + idx.RunID + "'s backup"
		}
		if r.Action != drift.Failed && r.Action != drift.Unchanged && strings.HasPrefix(e.Path, LaunchAgentsDir+"/") {
			plists = append(plists, e.Path)
		}
		if r.Action != drift.Failed && r.Action != drift.Unchanged && isUserUnitPath(e.Path) {
			units = append(units, e)
		}
		if r.Action != drift.Failed && r.Action != drift.Unchanged && isSystemUnitFile(e.Path) {
			systemUnits = append(systemUnits, e)
		}
		out = append(out, r)
	}
	for _, rel := range plists {
		out = append(out, p.reloadRestored(ctx, rel))
	}
	out = append(out, p.reloadRestoredUnits(ctx, idx.RunID, units, false)...)
	return append(out, p.reloadRestoredUnits(ctx, idx.RunID, systemUnits, true)...)
}

// isUserUnitPath is whether rel is a unit file of the user's systemd manager
// (not a link of a .wants folder under it).
func isUserUnitPath(rel string) bool {
	return path.Dir(rel) == SystemdUserDir && strings.Contains(path.Base(rel), ".")
}

// reloadRestoredUnits makes systemd run what the restored unit files say:
// one daemon-reload for all of them, then a restart of each that runs. A
// unit that does not run is left stopped (the rollback restores files, not
// the start the catalog may or may not want: the next apply decides).
// system: the units are the system manager's.
func (p *Pass) reloadRestoredUnits(ctx context.Context, runID string, entries []BackupEntry, system bool) []drift.Change {
	if len(entries) == 0 {
		return nil
	}
	sd, scope := p.Systemd, v1.SystemdScopeUser
	if system {
		sd, scope = p.SystemSystemd, v1.SystemdScopeSystem
	}
	changes := make([]drift.Change, len(entries))
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = path.Base(e.Path)
		changes[i] = drift.Change{Kind: e.Kind, Name: e.Name, Target: "systemd:" + scope + "/" + names[i]}
	}
	var unknown error = observed.ErrNoSystemd
	if sd != nil {
		unknown = sd.Available()
	}
	if unknown != nil {
		for i := range changes {
			changes[i].Action, changes[i].Reason = drift.Skipped, "systemd state unknown: "+unknown.Error()
		}
		return changes
	}
	failAll := func(err error) []drift.Change {
		for i := range changes {
			changes[i] = p.fail(changes[i], err)
		}
		return changes
	}
	restored := "unit restored from run " + runID
	if err := sd.DaemonReload(ctx); err != nil {
		return failAll(err)
	}
	infos, err := sd.Show(ctx, names)
	if err != nil {
		return failAll(err)
	}
	for i, unit := range names {
		c := &changes[i]
		c.Action = drift.Configured
		info := infos[unit]
		if info == nil || (info.ActiveState != "active" && info.ActiveState != "activating" && info.ActiveState != "reloading") {
			state := "inactive"
			if info != nil && info.ActiveState != "" {
				state = info.ActiveState
			}
			c.Reason = restored + ": daemon-reload; not running (ActiveState=" + state + "): left stopped"
			continue
		}
		if err := sd.Restart(ctx, unit); err != nil {
			*c = p.fail(*c, err)
			continue
		}
		c.Reason = restored + ": daemon-reload; restart"
	}
	return changes
}

// keptInRun checks that an entry's backup is what a run leaves: every
// folder from the run's own down to it a real folder, not a symlink, and
// the backup itself a regular file (a symlink for a symlink entry). A
// symlink planted in a run's folder would otherwise make rollback copy
// what it points at (anything the user can read) to the entry's path.
func (p *Pass) keptInRun(runID string, e BackupEntry, link bool) error {
	run := path.Join(BackupsDir, runID)
	rel := strings.TrimPrefix(e.Backup, run+"/")
	folders := []string{run}
	if dir := path.Dir(rel); dir != "." {
		at := run
		for _, part := range strings.Split(dir, "/") {
			at = path.Join(at, part)
			folders = append(folders, at)
		}
	}
	for _, at := range folders {
		info, err := p.Host.Lstat(at)
		if err != nil {
			return err
		}
		if !info.IsDir() {
			return fmt.Errorf("backup %s: %s is a %s, not a folder of the run; refusing to restore through it", e.Backup, at, kindOfMode(info.Mode()))
		}
	}
	info, err := p.Host.Lstat(e.Backup)
	if err != nil {
		return err
	}
	want := "file"
	if link {
		want = "symlink"
	}
	if got := kindOfMode(info.Mode()); got != want {
		return fmt.Errorf("backup %s is not what the run kept (a %s where it kept a %s); refusing to restore from it", e.Backup, got, want)
	}
	return nil
}

func kindOfMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsDir():
		return "folder"
	case m.IsRegular():
		return "file"
	}
	return "special file"
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

// FinishRollback keeps what a rollback leaves: its backup index, and what
// it restored re-claimed in reconcile.json's inventory (issue 13 item 7),
// on the nodes too (each node's inventory).
// The files a rollback puts back were reconcile's before the run it undoes
// (or are where that run wrote), so the next apply treats them as its own:
// a file the catalog still wants is compared as usual, and one it no longer
// wants is pruned (after its backup) rather than reported unmanaged
// forever. The rest of reconcile.json stays as the last pass left it.
func (p *Pass) FinishRollback() error {
	if err := p.writeBackupIndex(); err != nil {
		return err
	}
	restored := p.inv.Owned()
	p.mu.Lock()
	onNodes := len(p.reclaimed)
	p.mu.Unlock()
	if len(restored) == 0 && onNodes == 0 {
		return nil
	}
	data, _, err := p.Host.ReadFile(StateFile)
	var s *State
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s = &State{SchemaVersion: StateSchemaVersion, RunID: p.RunID, Time: p.Now.UTC(), Mode: RecordedMode}
	case err != nil:
		return fmt.Errorf("state: %w", err)
	default:
		if s, err = ParseState(data); err != nil {
			return err
		}
	}
	at := make(map[string]int, len(s.Inventory))
	for i, e := range s.Inventory {
		at[e.Path] = i
	}
	for _, e := range restored {
		if i, ok := at[e.Path]; ok {
			s.Inventory[i] = e
			continue
		}
		s.Inventory = append(s.Inventory, e)
	}
	sort.Slice(s.Inventory, func(i, j int) bool { return s.Inventory[i].Path < s.Inventory[j].Path })
	if err := p.reclaimNodes(s); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := p.Host.MkdirAll(StateDir, 0o700); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := writeJSON(p.Host, StateFile, s, 0o600); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}
