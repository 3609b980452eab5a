package controllers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/hashicorp/go-multierror"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// Controller reconciles every object of one kind.
type Controller interface {
	Kind() string
	Reconcile(ctx context.Context, p *Pass, cat *desired.Catalog) []drift.Change
}

// registry is every kind's controller, in the order a pass runs them
// (calibration files and service manifests first: the rest reads them) and
// reports list them. A new kind is one line here.
var registry = []Controller{
	CalibrationController{},
	ServiceController{},
	LaunchAgentController{},
	SystemdController{},
	PersonaController{},
	RemoteNodeController{},
}

// Controllers returns the controllers in the order a pass runs them.
func Controllers() []Controller { return slices.Clone(registry) }

// KindRank orders kinds in reports as the pass runs them; a kind no
// controller reconciles comes last.
func KindRank(kind string) int {
	for i, c := range registry {
		if c.Kind() == kind {
			return i
		}
	}
	return len(registry)
}

// Run runs every controller, prunes what the inventory says reconcile owns
// and no object wants, and, when applying, records the pass. It keeps going
// past failing objects; their errors come back combined, next to the full
// ChangeSet.
func (p *Pass) Run(ctx context.Context, cat *desired.Catalog, controllers []Controller) (*drift.ChangeSet, error) {
	cs := &drift.ChangeSet{}
	p.twin.of = cat
	p.hostNodes = make(map[string]string)
	for _, n := range nodesOf(cat) {
		if n.Spec.CatalogHost != "" {
			p.hostNodes[n.Spec.CatalogHost] = n.Name
		}
	}
	for _, c := range controllers {
		cs.Add(c.Reconcile(ctx, p, cat)...)
	}
	cs.Add(p.sweepDebris()...)
	pruned := p.prune(ctx)
	pruned = append(pruned, p.reloadAfterPrune(ctx)...)
	cs.Changes = supersede(cs.Changes, pruned)
	cs.Add(pruned...)
	if p.personaLedger != nil {
		for _, n := range p.Nodes() {
			p.personaLedger.Nodes[n.Name] = n
		}
		p.personaLedger.Incomplete = p.Incomplete
		if err := p.writeLedger(PersonaLedgerFile, p.personaLedger); err != nil {
			cs.Add(p.fail(drift.Change{Kind: v1.KindPersonaFile, Name: "ledger", Path: PersonaLedgerFile}, err))
		}
	}
	cs.Sort(KindRank)

	var result *multierror.Error
	for _, c := range cs.Failed() {
		result = multierror.Append(result, c.Failure())
	}
	return cs, result.ErrorOrNil()
}

// Save records what a pass that converged the host leaves for the next
// one: the run's backup index, the state (inventory, agents, nodes) and
// the index. The session of a writing command calls it; a plan has
// nothing to leave.
func (p *Pass) Save(catalogDigest string, cs *drift.ChangeSet) error {
	var result *multierror.Error
	if err := p.Host.MkdirAll(StateDir, 0o700); err != nil {
		return multierror.Append(result, fmt.Errorf("state: %w", err))
	}
	if err := p.writeBackupIndex(); err != nil {
		result = multierror.Append(result, fmt.Errorf("backup index: %w", err))
	}
	if err := writeJSON(p.Host, StateFile, p.record(catalogDigest, cs), 0o600); err != nil {
		result = multierror.Append(result, fmt.Errorf("state: %w", err))
	}
	if err := p.saveIndex(cs); err != nil {
		result = multierror.Append(result, fmt.Errorf("index: %w", err))
	}
	return result.ErrorOrNil()
}

// pruneLink removes a symlink reconcile made, while it still points where
// reconcile pointed it; the link itself is kept in the backups.
func (p *Pass) pruneLink(e InventoryEntry, c drift.Change) drift.Change {
	cur, err := p.Host.Readlink(e.Path)
	if err != nil {
		return p.fail(c, err)
	}
	if linkDigest(cur) != e.SHA256 {
		c.Action = drift.Unmanaged
		c.Reason = "no longer in the catalog, but repointed since reconcile made it; left in place"
		p.own(e)
		return c
	}
	backup, err := p.backupLink(e.Kind, e.Name, e.Path, cur, "removed")
	if err != nil {
		return p.fail(c, err)
	}
	if err := p.Host.Remove(e.Path); err != nil {
		return p.fail(c, err)
	}
	c.Action, c.Reason, c.Backup = drift.Deleted, "no longer in the catalog", backup
	if p.Diffs {
		c.Diff = drift.LinkDiff(e.Path, cur, "")
	}
	return c
}

// unload boots a service out before its plist goes, if launchd has it.
func (p *Pass) unload(ctx context.Context, target string) error {
	if p.Launchd == nil || p.Launchd.Available() != nil {
		return nil
	}
	_, err := observed.Unload(ctx, p.Launchd, target, p.Reload)
	return err
}

// supersede drops "skipped" entries of objects the prune acted on, and gives
// the prune's entry the skip's reason: a disabled service whose manifest is
// removed reads as deleted, once, saying why.
func supersede(changes, pruned []drift.Change) []drift.Change {
	if len(pruned) == 0 {
		return changes
	}
	acted := make(map[string]int, len(pruned))
	for i, c := range pruned {
		acted[c.ID()] = i
	}
	out := changes[:0]
	for _, c := range changes {
		if i, ok := acted[c.ID()]; ok && c.Action == drift.Skipped {
			if pruned[i].Action == drift.Deleted {
				pruned[i].Reason = c.Reason
			}
			continue
		}
		out = append(out, c)
	}
	return out
}

// prune removes files of the previous inventory that no object wants any
// more, only while they still hold exactly what reconcile wrote; a file
// changed since is reported and left in place, and stays in the inventory.
func (p *Pass) prune(ctx context.Context) []drift.Change {
	var out []drift.Change
	for _, e := range p.inv.Unwanted() {
		path := e.Path
		c := drift.Change{Kind: e.Kind, Name: e.Name, Path: path}
		if strings.HasPrefix(path, "/") && !systemUnitOwned(e) {
			// No pass writes such an entry: the state was edited. It is
			// dropped, and nothing there is touched.
			c.Action, c.Reason = drift.Unmanaged, "the inventory names it, but reconcile writes nothing there but a unit's own x.service file "+
				"directly in "+observed.SystemUnitDir+"; left alone, forgotten"
			out = append(out, c)
			continue
		}
		if system := isSystemUnitFile(path); system && p.SystemSystemd.Available() != nil {
			// A system unit's file, and this pass may not touch the
			// system's units: it stays, and stays owned, for a pass that may.
			c.Action, c.Reason = drift.Skipped, "no longer in the catalog; left, since the system manager is not asked: "+p.SystemSystemd.Available().Error()
			p.own(e)
			out = append(out, c)
			continue
		}
		if li, err := p.Host.Lstat(path); err == nil && li.Mode()&fs.ModeSymlink != 0 {
			out = append(out, p.pruneLink(e, c))
			continue
		}
		data, info, err := p.Host.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // gone already: nothing left to own
		case err != nil:
			out = append(out, p.fail(c, err))
			continue
		case digest(data) != e.SHA256:
			c.Action = drift.Unmanaged
			c.Reason = "no longer in the catalog, but changed since reconcile wrote it; left in place"
			p.own(e)
			out = append(out, c)
			continue
		}
		if e.Launchd != "" {
			c.Target = e.Launchd
			if err := p.unload(ctx, e.Launchd); err != nil {
				out = append(out, p.fail(c, err))
				continue
			}
		}
		var steps []string
		if e.Systemd != "" {
			system := isSystemUnitFile(path)
			c.Target = "systemd:user/" + e.Systemd
			if system {
				c.Target = "systemd:system/" + e.Systemd
			}
			if steps, err = p.pruneUnit(ctx, e.Systemd, system); err != nil {
				out = append(out, p.fail(withSteps(c, steps), err))
				continue
			}
		}
		backup, err := p.backup(e.Kind, e.Name, path, data, info.Mode().Perm(), "removed")
		if err != nil {
			out = append(out, p.fail(c, err))
			continue
		}
		if err := p.Host.Remove(path); err != nil {
			out = append(out, p.fail(c, err))
			continue
		}
		c.Action, c.Reason, c.Backup = drift.Deleted, strings.Join(append([]string{"no longer in the catalog"}, steps...), "; "), backup
		if p.Diffs {
			c.Diff = p.deletedDiff(path, data)
		}
		out = append(out, c)
	}
	return out
}

// nodesOf is cat's nodes; none for no catalog (a pass that only prunes).
func nodesOf(cat *desired.Catalog) []*v1.RemoteNode {
	if cat == nil {
		return nil
	}
	return cat.Nodes
}
