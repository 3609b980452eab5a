package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// BackupIndex is backups/<run-id>/index.json.
type BackupIndex struct {
	RunID   string        `json:"runId"`
	Time    time.Time     `json:"time"`
	Entries []BackupEntry `json:"entries"`
}

// RunIDTimeFormat is the time part of a run id.
const RunIDTimeFormat = "20060102T150405.000000Z"

var runIDPattern = regexp.MustCompile(`^\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{4}$`)

// ReadBackupIndex reads one run's backup index.
func ReadBackupIndex(h observed.Host, runID string) (*BackupIndex, error) {
	if !runIDPattern.MatchString(runID) {
		return nil, fmt.Errorf("%q is not a run id (reconcile history lists them)", runID)
	}
	data, _, err := h.ReadFile(path.Join(BackupsDir, runID, "index.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("run %s has no backups (it overwrote and removed nothing, or they were pruned)", runID)
	}
	if err != nil {
		return nil, err
	}
	var idx BackupIndex
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("backups of %s: index.json is damaged: %w", runID, err)
	}
	return &idx, nil
}

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
		r := p.File(ctx, FileTarget{Kind: e.Kind, Name: e.Name, Path: e.Path, Content: data, Mode: mode})
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
	if _, err := observed.Reload(ctx, p.Launchd, target, domain, p.abs(rel), p.Reload); err != nil {
		return p.fail(c, err)
	}
	c.Action, c.Reason = drift.Configured, "plist restored: reload"
	return c
}

// PruneBackups removes backup runs beyond the newest keep, or older than
// maxAge; the newest run is never removed.
func (p *Pass) PruneBackups(s v1.BackupSettings) ([]string, error) {
	keep, maxAge := s.Keep, time.Duration(s.MaxAgeDays)*24*time.Hour
	if keep == 0 {
		keep = 50
	}
	if maxAge == 0 {
		maxAge = 90 * 24 * time.Hour
	}
	entries, err := p.Host.ReadDir(BackupsDir)
	if err != nil {
		return nil, err
	}
	var runs []string
	for _, e := range entries {
		if e.IsDir() && runIDPattern.MatchString(e.Name()) {
			runs = append(runs, e.Name())
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(runs))) // newest first: run ids start with the time
	var pruned []string
	for i, r := range runs {
		if i == 0 {
			continue
		}
		t, err := time.Parse(RunIDTimeFormat, r[:len(RunIDTimeFormat)])
		if i < keep && (err != nil || p.Now.Sub(t) <= maxAge) {
			continue
		}
		if err := p.Host.RemoveAll(path.Join(BackupsDir, r)); err != nil {
			return pruned, err
		}
		pruned = append(pruned, r)
	}
	return pruned, nil
}
