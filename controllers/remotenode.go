package controllers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// Node statuses, in reconcile.json and the persona ledger.
const (
	NodeConverged          = "converged"
	NodeInSync             = "in-sync"
	NodeDrifted            = "drifted"
	NodeSkippedUnreachable = "skipped-unreachable"
	NodeUnreachable        = "unreachable"
	NodeAuthFailed         = "auth-failed"
	NodeHostKeyMismatch    = "host-key-mismatch"
	// NodeTimedOut: the node let us in, then a command did not finish
	// within its commandTimeout: it answered, so it is not unreachable.
	NodeTimedOut  = "timed-out"
	NodeFailed    = "failed"
	NodeLocalOnly = "skipped-local"
)

// NodeRecord is one node's outcome in a pass.
type NodeRecord struct {
	Name    string    `json:"name"`
	Policy  string    `json:"policy"`
	Status  string    `json:"status"`
	Reason  string    `json:"reason,omitempty"`
	Time    time.Time `json:"time"`
	Seconds float64   `json:"seconds"`
	// Healthy: an opportunistic node that was online and converged, a
	// healthy fan-out target.
	Healthy bool                   `json:"healthy"`
	Files   map[string]NodeFileRec `json:"files,omitempty"`
	// Owned is the node's inventory: every file reconcile wrote there and
	// still owns, what the next pass prunes from.
	Owned []NodeOwned `json:"owned,omitempty"`
}

// NodeFileRec is one file on a node.
type NodeFileRec struct {
	Object string `json:"object"`
	SHA256 string `json:"sha256,omitempty"`
	Status string `json:"status"` // in-sync, drifted, missing, skipped-optional, failed
	Reason string `json:"reason,omitempty"`
	Mode   string `json:"mode,omitempty"` // as found, or as written
}

// How many nodes a pass talks to at once: by default, and at most.
const (
	DefaultParallelNodes = 4
	MaxParallelNodes     = 64
)

// RemoteNodeController fans persona and calibration files out to remote
// nodes over SSH, each node with its own policy for being away.
type RemoteNodeController struct{}

// Kind implements Controller.
func (RemoteNodeController) Kind() string { return v1.KindRemoteNode }

// remoteTarget is one file a node should hold.
type remoteTarget struct {
	object   string // PersonaFile/windu/SOUL.md, CalibrationFile/instance-json
	path     string // relative to the node's home
	content  []byte
	err      error // the source could not be read
	optional bool  // a missing directory is skipped, never created
	mkdir    bool  // a missing directory is created
	// twin renders the target from the twin catalog (secrets as
	// placeholders), for diffs; nil when it took no secret or is not
	// rendered from the catalog.
	twin func() ([]byte, error)
}

// Reconcile implements Controller.
func (RemoteNodeController) Reconcile(ctx context.Context, p *Pass, cat *desired.Catalog) []drift.Change {
	if len(cat.Nodes) == 0 {
		return nil
	}
	if p.Local || p.Remote == nil {
		out := make([]drift.Change, 0, len(cat.Nodes))
		for _, n := range cat.Nodes {
			out = append(out, drift.Change{Kind: v1.KindRemoteNode, Name: n.Name, Action: drift.Skipped, Reason: "--local: no SSH"})
			p.nodeSection().add(NodeRecord{Name: n.Name, Policy: n.PolicyName(), Status: NodeLocalOnly, Time: p.Now.UTC(),
				Owned: p.nodeSection().previous(n.Name)})
			p.unitSection().keepNode(n.Name) // its units as they were last started there

		}
		return out
	}
	results := make([][]drift.Change, len(cat.Nodes))
	records := make([]NodeRecord, len(cat.Nodes))
	parallel := p.ParallelNodes
	if parallel < 1 {
		parallel = DefaultParallelNodes
	}
	observed.ForEach(min(parallel, MaxParallelNodes), len(cat.Nodes), func(i int) {
		results[i], records[i] = p.reconcileNode(ctx, cat, cat.Nodes[i])
	})
	var out []drift.Change
	for i := range cat.Nodes {
		out = append(out, results[i]...)
	}
	p.mu.Lock()
	p.nodeSection().add(records...)
	for _, r := range records {
		if r.Status == NodeUnreachable {
			p.Incomplete = append(p.Incomplete, r.Name)
		}
	}
	p.mu.Unlock()
	return out
}

// nodeGlob is a target whose last element is a glob: expanded on the node,
// in the digest round trip; every directory it matches there holds the
// files, as an optional workspace does.
type nodeGlob struct {
	glob  observed.RemoteGlob
	files map[string]remoteTarget // by file name: the object and content
}

// expand lists the targets a glob's matches on the node make.
func (g nodeGlob) expand(digests map[string]observed.RemoteFile) []remoteTarget {
	dir, base := path.Dir(g.glob.Pattern), path.Base(g.glob.Pattern)
	var out []remoteTarget
	for key, d := range digests {
		ws := path.Dir(key)
		t, ok := g.files[path.Base(key)]
		if !d.Glob || !ok || path.Dir(ws) != dir {
			continue
		}
		if m, _ := path.Match(base, path.Base(ws)); m {
			t.path = key
			out = append(out, t)
		}
	}
	return out
}

// nodeTargets lists what a node should hold: its files, and the globs to
// expand on it.
func (p *Pass) nodeTargets(cat *desired.Catalog, n *v1.RemoteNode) ([]remoteTarget, []nodeGlob) {
	var globs []nodeGlob
	want := make(map[string]bool)
	all := false
	for _, a := range n.Spec.Receives.Personas {
		if a == "*" {
			all = true
		}
		want[a] = true
	}
	var out []remoteTarget
	for _, pf := range cat.Personas {
		if !all && !want[pf.AgentName()] && !slices.Contains(pf.Spec.Nodes, n.Name) {
			continue
		}
		for _, t := range pf.Spec.Targets {
			ws, _ := v1.HomePath(t)
			if strings.ContainsAny(path.Base(ws), "*?[") {
				g := nodeGlob{glob: observed.RemoteGlob{Pattern: ws, Files: pf.FileNames()}, files: map[string]remoteTarget{}}
				for _, f := range pf.FileNames() {
					content, _, err := p.personaSource(cat, pf, f)
					g.files[f] = remoteTarget{object: "PersonaFile/" + pf.AgentName() + "/" + f, content: content, err: err, optional: true}
				}
				globs = append(globs, g)
				continue
			}
			for _, f := range pf.FileNames() {
				content, _, err := p.personaSource(cat, pf, f)
				out = append(out, remoteTarget{object: "PersonaFile/" + pf.AgentName() + "/" + f, path: path.Join(ws, f),
					content: content, err: err, optional: pf.Spec.Optional})
			}
		}
	}
	if n.Spec.Receives.Calibration {
		for _, c := range cat.Calibration {
			out = append(out, remoteTarget{object: v1.KindCalibrationFile + "/" + c.Name, path: c.Spec.Path, content: c.Spec.Content, mkdir: true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out, globs
}

// reconcileNode observes a node in one round trip (its targets and what
// its inventory says reconcile wrote there and no longer wants), fetches
// content only for diffs, and sends every change in one session: files,
// mode fixes, and the prune, each removal backed up on the node.
// ObservedNode is how a node is reached: its destination, port, home and
// time bounds, as the catalog says.
func ObservedNode(n *v1.RemoteNode) observed.RemoteNode {
	return observed.RemoteNode{Name: n.Name, Destination: n.Destination(), Port: n.Spec.Port, Home: n.Spec.Home,
		Timeout: time.Duration(n.Timeout()) * time.Second, CommandTimeout: time.Duration(n.CommandTimeoutSeconds()) * time.Second}
}

func (p *Pass) reconcileNode(ctx context.Context, cat *desired.Catalog, n *v1.RemoteNode) ([]drift.Change, NodeRecord) {
	start := time.Now()
	rec := NodeRecord{Name: n.Name, Policy: n.PolicyName(), Time: p.Now.UTC(), Files: map[string]NodeFileRec{}}
	node := ObservedNode(n)
	summary := drift.Change{Kind: v1.KindRemoteNode, Name: n.Name, Node: n.Name}
	progress := func(s string) {
		if p.Progress != nil {
			p.Progress(n.Name, s)
		}
	}
	prev := p.nodeSection().previous(n.Name)
	finish := func(changes []drift.Change) ([]drift.Change, NodeRecord) {
		rec.Seconds = time.Since(start).Round(10 * time.Millisecond).Seconds()
		if summary.Action == drift.Failed {
			summary.Error = rec.Reason
		} else {
			summary.Reason = rec.Reason
		}
		progress(rec.Status)
		// Over the node's own file entries the node's line is a roll-up,
		// not one more object; alone, it is the node's entry.
		summary.Rollup = len(changes) > 0
		return append(changes, summary), rec
	}
	targets, globs := p.nodeTargets(cat, n)
	// The units placed on the node (it is their catalog host): their
	// files are the node's files, systemd's side is asked in the same
	// round trip and changed in the same apply session.
	calls := &nodeCalls{}
	nus := p.nodeUnitsOf(cat, n, calls)
	unitAt := make(map[string]unitOn) // the unit of a unit file, and its manager
	for _, nu := range nus {
		targets = append(targets, p.unitTargets(ctx, nu, cat)...)
		for _, u := range nu.active {
			unitAt[UnitPath(u)] = unitOn{u, nu}
		}
	}
	if len(nus) > 0 {
		sort.Slice(targets, func(i, j int) bool { return targets[i].path < targets[j].path })
	}
	paths := make([]string, len(targets))
	wanted := make(map[string]bool, len(targets))
	for i, t := range targets {
		paths[i] = t.path
		wanted[t.path] = true
	}
	for _, nu := range nus {
		// A retired unit's file goes whatever it holds (backed up), never
		// through the prune; the restartOn inputs are read as any file.
		for _, u := range nu.retired {
			if rel := UnitPath(u); !wanted[rel] {
				wanted[rel] = true
				paths = append(paths, rel)
			}
		}
		for _, rel := range nu.inputPaths() {
			if !slices.Contains(paths, rel) {
				paths = append(paths, rel)
			}
		}
	}
	// The prune's candidates: what the node's inventory holds and no
	// target wants. They are asked about in the same round trip (and
	// dropped below when a glob's match on the node wants them).
	var candidates []NodeOwned
	for _, e := range prev {
		if strings.HasPrefix(e.Path, "/") && !isNodeSystemUnitOwned(e) {
			// No pass writes such an entry outside the node's home: the
			// state was edited. It is forgotten, nothing there touched.
			continue
		}
		if !wanted[e.Path] {
			candidates = append(candidates, e)
			paths = append(paths, e.Path)
		}
	}
	rg := make([]observed.RemoteGlob, len(globs))
	for i, g := range globs {
		rg[i] = g.glob
	}
	prevAt := make(map[string]NodeOwned, len(prev))
	for _, e := range prev {
		prevAt[e.Path] = e
	}
	q := observed.RemoteQuery{Paths: paths, Globs: rg, Contents: unitContents(targets, unitAt, prevAt)}
	for _, e := range candidates {
		if _, system, ok := isUnitFile(e); ok {
			// Unit files reconcile wrote and no longer wants: their units
			// are stopped and disabled before the files go, by their
			// manager.
			managerOf(&nus, n.Name, system, calls)
		}
	}
	for _, nu := range nus {
		asked := &q.Units
		if nu.system {
			asked = &q.SystemUnits
		}
		for _, u := range append(slices.Clone(nu.active), nu.retired...) {
			*asked = append(*asked, u.UnitName())
		}
		for _, e := range candidates {
			if unit, system, ok := isUnitFile(e); ok && system == nu.system && !slices.Contains(*asked, unit) {
				*asked = append(*asked, unit)
			}
		}
	}
	progress("connecting")
	defer p.Remote.Disconnect(node)
	var digests map[string]observed.RemoteFile
	obs, err := p.Remote.Observe(ctx, node, q)
	if err == nil {
		digests = obs.Files
		for _, nu := range nus {
			nu.sd.infos, nu.sd.err = obs.Units, obs.UnitsErr
			if nu.system {
				nu.sd.infos, nu.sd.err = obs.SystemUnits, obs.SystemUnitsErr
			}
		}
	}
	if err == nil && len(globs) > 0 {
		// Each directory a glob matched on the node holds the files, as an
		// optional workspace: a path a target already names keeps that one.
		for _, g := range globs {
			for _, t := range g.expand(digests) {
				if !wanted[t.path] {
					wanted[t.path] = true
					targets = append(targets, t)
				}
			}
		}
		sort.Slice(targets, func(i, j int) bool { return targets[i].path < targets[j].path })
	}
	var unwanted []NodeOwned
	for _, e := range candidates {
		if !wanted[e.Path] {
			unwanted = append(unwanted, e)
		}
	}
	if err != nil {
		rec.Status, rec.Reason = classifyNode(n, err)
		rec.Owned = prev // not reached: what it owned is still owned
		summary.Action = drift.Skipped
		switch rec.Status {
		case NodeSkippedUnreachable:
		case NodeUnreachable:
			summary.Action = drift.Unreachable
		default:
			summary = p.fail(summary, err)
		}
		out, r := finish(nil)
		for _, nu := range nus {
			out = append(out, p.unitsUnreached(nu, r)...)
		}
		return out, r
	}
	owned := make(map[string]NodeOwned)
	// keep carries what the last pass owned at a path into this pass's
	// inventory: a failure never forgets a file.
	keep := func(path string) {
		if e, ok := prevAt[path]; ok {
			owned[path] = e
		}
	}
	var changes []drift.Change
	// pending is one change to send: its entry in changes, and either the
	// target it writes or the inventory entry it removes.
	type pending struct {
		at     int
		target *remoteTarget
		gone   *NodeOwned
		// holds is the digest of the bytes the target's file holds once
		// the write is done, and canon what they say to systemd when
		// they are not the render's (a mode fixed on a unit file left as
		// it is).
		holds, canon string
	}
	var writes []observed.RemoteWrite
	var sent []pending
	var fetch []string
	fileAt := make(map[string]int) // a target's entry in changes
	// The units' entries in changes, by entryKey: what a systemctl call
	// the node did not carry out fails.
	unitEntries := make(map[string][]int)
	for ti := range targets {
		t := &targets[ti]
		c := drift.Change{Kind: v1.KindRemoteNode, Name: n.Name, Node: n.Name, Path: t.path, Reason: t.object}
		fr := NodeFileRec{Object: t.object}
		d, listed := digests[t.path]
		if !listed {
			d.State = observed.RemoteUnknown
		}
		want := digest(t.content)
		mode, why := nodeMode(d, p.holdsSecret(t.content))
		op := observed.RemotePut
		holds, canon := want, ""
		if _, unit := unitAt[t.path]; unit && t.err == nil && d.State == observed.RemoteRegular && d.SHA256 != want {
			body, brought := obs.Contents[t.path]
			canon = nodeUnitCanon(t.content, d.SHA256, body, brought, prevAt[t.path])
		}
		switch {
		case t.err != nil:
			c = p.fail(c, t.err)
			fr.Status, fr.Reason = PersonaFailed, t.err.Error()
		case canon != "" && why != "":
			// A unit file that says what the render says, in its own
			// bytes, with the wrong mode: as on this host, the mode is
			// fixed and the bytes are left.
			c.Action, fr.Status, fr.SHA256, fr.Mode = drift.Configured, PersonaDrifted, d.SHA256, modeString(d.Mode)
			c.Reason = fmt.Sprintf("%s: mode %#o, %s: want %#o", t.object, d.Mode, why, mode)
			op, holds = observed.RemoteChmod, d.SHA256
		case canon != "":
			// A unit file that says what the render says, in its own
			// bytes (one adopted): left as it is, as on this host.
			c.Action, fr.Status, fr.SHA256, fr.Mode = drift.Unchanged, PersonaInSync, d.SHA256, modeString(d.Mode)
			owned[t.path] = NodeOwned{Path: t.path, Object: t.object, SHA256: d.SHA256, Mode: modeString(d.Mode), Canon: canon}
		case d.State == observed.RemoteRegular && d.SHA256 == want && why != "":
			// The right bytes with the wrong mode: the mode is fixed, the
			// content is not sent again.
			c.Action, fr.Status, fr.SHA256, fr.Mode = drift.Configured, PersonaDrifted, want, modeString(d.Mode)
			c.Reason = fmt.Sprintf("%s: mode %#o, %s: want %#o", t.object, d.Mode, why, mode)
			op = observed.RemoteChmod
		case d.State == observed.RemoteRegular && d.SHA256 == want:
			c.Action, fr.Status, fr.SHA256, fr.Mode = drift.Unchanged, PersonaInSync, want, modeString(d.Mode)
			owned[t.path] = NodeOwned{Path: t.path, Object: t.object, SHA256: want, Mode: modeString(d.Mode)}
		case d.State == observed.RemoteRegular:
			c.Action, fr.Status, fr.SHA256 = drift.Configured, PersonaDrifted, d.SHA256
			c.Reason = t.object + ": content differs"
			fetch = append(fetch, t.path)
		case d.State == observed.RemoteMissing:
			c.Action, fr.Status = drift.Created, PersonaMissing
		case d.State == observed.RemoteNoDir && t.optional:
			c.Action, fr.Status = drift.Skipped, PersonaSkippedOptional
			c.Reason = t.object + ": workspace ~/" + path.Dir(t.path) + " absent on the node; optional, not created"
			fr.Reason = c.Reason
		case d.State == observed.RemoteNoDir && t.mkdir:
			c.Action, fr.Status = drift.Created, PersonaMissing
		case d.State == observed.RemoteNoDir:
			c = p.fail(c, fmt.Errorf("%s: %s does not exist on the node and is not optional", t.object, drift.ShowPath(path.Dir(t.path))))
			fr.Status, fr.Reason = PersonaFailed, c.Error
		default:
			c = p.fail(c, errors.New(refusal(d.State, t.path)))
			fr.Status, fr.Reason = PersonaFailed, c.Error
		}
		if c.Action == drift.Created && p.Diffs {
			c.Diff = p.nodeDiff(n.Name+":"+t.path, nil, t.content, false, t.twin)
		}
		fileAt[t.path] = len(changes)
		switch c.Action {
		case drift.Created, drift.Configured:
			writes = append(writes, observed.RemoteWrite{Op: op, Path: t.path, Content: t.content, Mode: mode, MkDir: t.mkdir})
			sent = append(sent, pending{at: len(changes), target: t, holds: holds, canon: canon})
			if on, ok := unitAt[t.path]; ok {
				on.nu.sd.written[on.u.UnitName()] = len(writes) - 1
			}
		case drift.Unchanged:
		default:
			keep(t.path)
		}
		rec.Files[t.path] = fr
		changes = append(changes, c)
	}
	// A glob whose directory the node could not enter: nothing matched
	// there; an absent directory is skipped as an absent optional
	// workspace, anything else is refused.
	for _, g := range globs {
		d, ok := digests[g.glob.Pattern]
		if !ok || d.Glob {
			continue
		}
		c := drift.Change{Kind: v1.KindRemoteNode, Name: n.Name, Node: n.Name, Path: g.glob.Pattern}
		if d.State == observed.RemoteNoDir {
			c.Action, c.Reason = drift.Skipped, "~/"+path.Dir(g.glob.Pattern)+" absent on the node; nothing matches ~/"+g.glob.Pattern
		} else {
			c = p.fail(c, fmt.Errorf("~/%s not expanded: ~/%s is %s on the node", g.glob.Pattern, path.Dir(g.glob.Pattern), globRefusal[d.State]))
		}
		changes = append(changes, c)
	}
	// The prune: only a file that still holds what reconcile wrote goes
	// (the node checks the digest again as it moves it into its backups);
	// anything else is reported and left, and stays in the inventory.
	for ui := range unwanted {
		e := &unwanted[ui]
		c := drift.Change{Kind: v1.KindRemoteNode, Name: n.Name, Node: n.Name, Path: e.Path}
		d, listed := digests[e.Path]
		switch {
		case !listed:
			c = p.fail(c, errors.New(refusal(observed.RemoteUnknown, e.Path)))
			keep(e.Path)
		case d.State == observed.RemoteMissing || d.State == observed.RemoteNoDir:
			continue // gone already: nothing left to own
		case d.State == observed.RemoteRegular && d.SHA256 == e.SHA256:
			c.Action, c.Reason = drift.Deleted, e.Object+": no longer in the catalog"
			w := observed.RemoteWrite{Op: observed.RemoteRemove, Path: e.Path, SHA256: e.SHA256}
			if unit, system, ok := isUnitFile(*e); ok {
				// As the local prune: the unit stopped and disabled first,
				// the file removed only once they were.
				nu := managerOf(&nus, n.Name, system, calls)
				c.Target = "systemd:" + v1.SystemdScopeUser + "/" + unit
				if system {
					c.Target = "systemd:" + v1.SystemdScopeSystem + "/" + unit
				}
				info := nu.sd.infos[unit]
				switch {
				case nu.sd.err == nil && info != nil:
					steps, _ := stopUnit(ctx, nu.sd, unit, info, "")
					c.Reason = strings.Join(append([]string{c.Reason}, steps...), "; ")
					w.Needs = nu.sd.preNeeds(unit)
					unitEntries[entryKey(system, unit)] = append(unitEntries[entryKey(system, unit)], len(changes))
					nu.removed = true
				case nu.sd.err != nil && !errors.Is(nu.sd.err, observed.ErrNoSystemd):
					changes = append(changes, p.fail(c, nu.sd.err))
					keep(e.Path)
					continue
				}
			}
			writes = append(writes, w)
			sent = append(sent, pending{at: len(changes), gone: e})
			fetch = append(fetch, e.Path)
		case d.State == observed.RemoteRegular:
			c.Action, c.Reason = drift.Unmanaged, e.Object+": no longer in the catalog, but changed since reconcile wrote it; left in place"
			keep(e.Path)
		default:
			c.Action, c.Reason = drift.Unmanaged, e.Object+": no longer in the catalog, and no longer the file reconcile wrote ("+
				refusal(d.State, e.Path)+"); left in place"
			keep(e.Path)
		}
		changes = append(changes, c)
	}
	// The retired units: stopped and disabled, then their files moved into
	// the node's backups; then what systemd must do for the active ones,
	// decided as on this host (unitsRuntime).
	var removals []observed.RemoteWrite
	var retired []retiringUnit
	activeUnits := make(map[bool][]string) // by manager (system)
	for _, nu := range nus {
		for _, u := range nu.retired {
			rel := UnitPath(u)
			c := drift.Change{Kind: v1.KindSystemdUnit, Name: u.Name, Node: n.Name, Path: rel, Target: unitTarget(u), Action: drift.Unchanged, Reason: "retired"}
			var steps []string
			switch info := nu.sd.infos[u.UnitName()]; {
			case nu.sd.err == nil && info != nil:
				steps, _ = stopUnit(ctx, nu.sd, u.UnitName(), info, "retired")
			case nu.sd.err != nil && !errors.Is(nu.sd.err, observed.ErrNoSystemd):
				changes = append(changes, p.fail(c, nu.sd.err))
				keep(rel)
				continue
			}
			switch d := digests[rel]; d.State {
			case observed.RemoteRegular:
				w := observed.RemoteWrite{Op: observed.RemoteRemove, Path: rel, SHA256: d.SHA256, Needs: nu.sd.preNeeds(u.UnitName())}
				retired = append(retired, retiringUnit{at: len(changes), w: w, object: v1.KindSystemdUnit + "/" + u.Name})
				removals = append(removals, w)
				steps = append(steps, why("retired", "unit file moved to backups"))
				fetch = append(fetch, rel)
				nu.removed = true
			case observed.RemoteMissing, observed.RemoteNoDir:
			default:
				c = p.fail(c, errors.New(refusal(d.State, rel)))
				keep(rel)
			}
			if len(steps) > 0 && c.Action != drift.Failed {
				c.Action, c.Reason = drift.Deleted, strings.Join(steps, "; ")
			}
			key := entryKey(nu.system, u.UnitName())
			unitEntries[key] = append(unitEntries[key], len(changes))
			changes = append(changes, c)
		}
	}
	// Then each manager's active units, once every retired unit's removal
	// is queued (the removals follow the file writes in the script, in
	// the order of retired).
	for _, nu := range nus {
		ftargets := make([]FileTarget, len(nu.active))
		files := make([]drift.Change, len(nu.active))
		writing := make(map[string][]byte)
		content := make(map[string][]byte)
		for k, s := range sent {
			if s.target != nil && writes[k].Op == observed.RemotePut {
				writing[s.target.path] = s.target.content
			}
		}
		for _, t := range targets {
			content[t.path] = t.content
		}
		for i, u := range nu.active {
			rel := UnitPath(u)
			files[i] = changes[fileAt[rel]]
			// As on this host: the digest of the unit the catalog wants,
			// also for a file left as it is because it says the same
			// (there FileTarget.Says): the unit's record keeps what the
			// file says, so a later pass restarts only when that changes.
			ftargets[i] = FileTarget{Kind: v1.KindSystemdUnit, Name: u.Name, Path: rel, SHA256: digest(content[rel])}
			activeUnits[nu.system] = append(activeUnits[nu.system], u.UnitName())
		}
		nu.host = nodeUnitHost(nu, obs.Home, digests, writing)
		uc := p.unitsRuntime(ctx, nu.host, nu.active, ftargets, files, nu.sd.infos, nu.sd.err, nu.removed)
		for i, c := range uc {
			if i < len(nu.active) {
				key := entryKey(nu.system, nu.active[i].UnitName())
				unitEntries[key] = append(unitEntries[key], len(changes))
			}
			changes = append(changes, c)
		}
		changes = append(changes, nu.skipped...)
	}
	// What changed files held, for diffs: the bytes the observation
	// brought (a unit file it could not judge by its digest) are the
	// file's as long as they still hold its digest; the rest is fetched.
	fetched := make(map[string][]byte)
	var need []string
	for _, path := range fetch {
		if b, ok := obs.Contents[path]; ok && digest(b) == digests[path].SHA256 {
			fetched[path] = b
		} else {
			need = append(need, path)
		}
	}
	if len(need) > 0 && p.Diffs {
		if old, err := p.Remote.Fetch(ctx, node, need); err == nil {
			maps.Copy(fetched, old)
		}
	}
	if p.Diffs {
		for _, s := range sent {
			c := &changes[s.at]
			b, ok := fetched[c.Path]
			switch {
			case !ok:
			case s.gone != nil && (p.holdsSecret(b)):
				c.Diff = drift.SecretDiff(n.Name+":"+c.Path, b, []byte{}, nil)
			case s.gone != nil:
				c.Diff = drift.DeletedDiff(n.Name+":"+c.Path, b)
			default:
				c.Diff = p.nodeDiff(n.Name+":"+c.Path, b, s.target.content, true, s.target.twin)
			}
		}
		for _, r := range retired {
			c := &changes[r.at]
			switch b, ok := fetched[c.Path]; {
			case !ok:
			case p.holdsSecret(b):
				c.Diff = drift.SecretDiff(n.Name+":"+c.Path, b, []byte{}, nil)
			default:
				c.Diff = drift.DeletedDiff(n.Name+":"+c.Path, b)
			}
		}
	}
	all, postAt := writes, len(writes)
	if len(nus) > 0 {
		all, postAt = calls.assemble(writes, removals)
	}
	if len(all) > 0 {
		progress(fmt.Sprintf("sending %d change(s)", len(all)))
		res, err := p.Remote.Write(ctx, node, observed.RemoteBackupDir(p.RunID), all)
		done := make(map[string]observed.RemoteResult, len(res))
		for _, r := range res {
			done[r.Path] = r
		}
		plans := observed.Plans(p.Remote)
		for k, s := range sent {
			c := &changes[s.at]
			r, ok := done[c.Path]
			switch {
			case ok && r.Status == "ok" && s.gone != nil:
				c.Backup = r.Backup
				if plans {
					keep(c.Path)
					break
				}
				p.recordNodeChange(node, writes[k], s.gone.Object, digests[c.Path], r.Backup, nil)
			case ok && r.Status == "ok":
				c.Backup = r.Backup
				if plans {
					keep(c.Path)
					break
				}
				p.recordNodeChange(node, writes[k], s.target.object, digests[c.Path], r.Backup, fetched[c.Path])
				t := s.target
				m := modeString(writes[k].Mode)
				rec.Files[c.Path] = NodeFileRec{Object: t.object, SHA256: s.holds, Mode: m, Status: PersonaInSync}
				owned[c.Path] = NodeOwned{Path: c.Path, Object: t.object, SHA256: s.holds, Mode: m, Canon: s.canon}
			case ok && r.Status == "gone":
				c.Action, c.Reason = drift.Unchanged, c.Reason+": gone before the removal"
			case ok && r.Status == "changed":
				c.Action, c.Reason = drift.Unmanaged, s.gone.Object+": no longer in the catalog, but changed since reconcile wrote it; left in place"
				keep(c.Path)
			case ok && r.Status == "skipped":
				c.Action, c.Reason = drift.Skipped, c.Reason+": directory gone before the write"
				keep(c.Path)
			default:
				why := errors.New("the node did not confirm the write")
				switch {
				case err != nil:
					why = err
				case ok && r.Status == "failed" && r.Reason != "":
					why = errors.New(r.Reason)
				case ok && r.Status == "failed":
					why = errors.New("the node could not write it (disk full, read-only, or in the way); what was there is untouched")
				}
				*c = p.fail(*c, why)
				keep(c.Path)
				if s.target != nil {
					rec.Files[c.Path] = NodeFileRec{Object: s.target.object, Status: PersonaFailed, Reason: c.Error}
				}
			}
		}
		if len(nus) > 0 {
			p.settleRetired(node, changes, retired, res, len(calls.pre)+len(writes), digests, fetched, err, keep)
			p.settleUnits(n.Name, calls, changes, unitEntries, activeUnits, res, postAt, len(all), err)
		}
		// What the node confirmed is listed in the run's journal now, so
		// that a run killed before its index can still roll it back; a
		// journal that cannot be written fails the run's index too, and
		// the pass reports that.
		_ = p.kept.JournalNodes(p.Host)
		if err != nil {
			rec.Owned = sortedOwned(owned)
			rec.Status, rec.Reason = NodeFailed, "transfer failed: "+err.Error()
			if errors.Is(err, observed.ErrTimedOut) {
				rec.Status = NodeTimedOut
			}
			if errors.Is(err, observed.ErrUnreachable) {
				rec.Reason = "connection lost during the transfer (" + strings.TrimPrefix(err.Error(), "unreachable: ") +
					"); every file is written to a temporary name and renamed, so the node holds no partial file"
			}
			summary = p.fail(summary, err)
			return finish(changes)
		}
	}
	rec.Owned = sortedOwned(owned)
	var failed, wrote, removed, left int
	files := 0
	for _, c := range changes {
		if c.Kind != v1.KindRemoteNode {
			// A unit's systemd entry is its own object, not a node file;
			// its failure fails the node.
			if c.Action == drift.Failed {
				failed++
			}
			continue
		}
		files++
		switch c.Action {
		case drift.Failed:
			failed++
		case drift.Created, drift.Configured:
			wrote++
		case drift.Deleted:
			removed++
		case drift.Unmanaged:
			left++
		}
	}
	var extra string
	if removed > 0 {
		extra += fmt.Sprintf(", %d removed", removed)
	}
	if left > 0 {
		extra += fmt.Sprintf(", %d unmanaged left in place", left)
	}
	switch {
	case failed > 0:
		rec.Status, rec.Reason = NodeFailed, fmt.Sprintf("%d of %d entries failed", failed, len(changes))
		if files == len(changes) {
			rec.Reason = fmt.Sprintf("%d of %d file(s) failed", failed, len(changes))
		}
		summary.Action = drift.Failed
		summary.Error = rec.Reason
	case wrote+removed > 0 && observed.Plans(p.Remote):
		rec.Status, rec.Reason = NodeDrifted, fmt.Sprintf("%d of %d file(s) differ%s", wrote, len(targets), extra)
		summary.Action = drift.Configured
	case wrote+removed > 0:
		rec.Status, rec.Reason = NodeConverged, fmt.Sprintf("%d of %d file(s) written%s", wrote, len(targets), extra)
		summary.Action = drift.Configured
	default:
		rec.Status, rec.Reason = NodeInSync, fmt.Sprintf("%d file(s) in sync%s", len(targets), extra)
		summary.Action = drift.Unchanged
	}
	rec.Healthy = failed == 0 && n.PolicyName() == v1.PolicyOpportunistic && (!observed.Plans(p.Remote) || wrote+removed == 0)
	if rec.Healthy {
		rec.Reason += "; healthy fan-out target"
	}
	return finish(changes)
}

// NodeOwned is a file reconcile wrote on a node: the node's inventory, kept
// in reconcile.json. A file is pruned from the node only while it still
// holds SHA256.
type NodeOwned struct {
	Path   string `json:"path"`
	Object string `json:"object"`
	SHA256 string `json:"sha256"`
	Mode   string `json:"mode,omitempty"`
	// Canon is what a unit file left as it is says to systemd (its
	// UnitCanon digest), when the pass left its bytes (SHA256) because
	// they say what the render says (nodeUnitCanon): the next pass judges
	// the same bytes the same way from the digest alone, without asking
	// for them again.
	Canon string `json:"canon,omitempty"`
}

func sortedOwned(m map[string]NodeOwned) []NodeOwned {
	out := make([]NodeOwned, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// nodeMode is the mode a node's file must have, as the local rule says: a
// file that holds a secret is 0600; any other keeps the mode it has, and a
// new one is 0644 (node files declare none). why is set when the file is
// there with another mode.
func nodeMode(d observed.RemoteFile, secret bool) (fs.FileMode, string) {
	// A regular file whose mode the node did not report (0) counts as
	// there only for the secret rule.
	return drift.WantMode(d.Mode, d.State == observed.RemoteRegular && (d.Mode != 0 || secret), secret, 0)
}

func modeString(m fs.FileMode) string { return fmt.Sprintf("%#04o", m.Perm()) }

// globRefusal says why a glob's directory could not be entered.
var globRefusal = map[observed.RemoteState]string{
	observed.RemoteEscape: "reached through a symlink leading out of the node's home",
	observed.RemoteNotDir: "not a directory", observed.RemoteDenied: "not enterable",
}

// refusal says why a node's file is not touched, by what the node found on
// its way.
func refusal(st observed.RemoteState, p string) string {
	switch st {
	case observed.RemoteEscape:
		if path.IsAbs(p) {
			return drift.ShowPath(path.Dir(p)) + " on the node is not itself (a symlink on its way) or not the system's unit directory; refused before any write"
		}
		return "a directory on the way to " + drift.ShowPath(p) + " is a symlink leading out of the node's home; refused before any write"
	case observed.RemoteSymlink:
		return drift.ShowPath(p) + " is a symlink on the node; refusing to write through it"
	case observed.RemoteOther:
		return drift.ShowPath(p) + " is not a regular file on the node (a directory, FIFO or device); refused, not opened"
	case observed.RemoteNotDir:
		return "a component of ~/" + path.Dir(p) + " is not a directory on the node"
	case observed.RemoteDenied:
		return drift.ShowPath(path.Dir(p)) + " cannot be entered on the node"
	case observed.RemoteDirSymlink:
		return drift.ShowPath(path.Dir(p)) + " is a symlink on the node; refusing to write persona files through it"
	case observed.RemoteUnknown:
		return "the node did not answer for " + drift.ShowPath(p)
	}
	return drift.ShowPath(p) + " is " + string(st) + " on the node, not a file"
}

// Nodes returns every node's record of this pass, sorted by name.
func (p *Pass) Nodes() []NodeRecord { return p.nodeSection().sorted() }

// nodesSection is the key of the nodes' section in reconcile.json.
const nodesSection = "nodes"

// SectionKey implements Stateful.
func (RemoteNodeController) SectionKey() string { return nodesSection }

// NewSection implements Stateful.
func (RemoteNodeController) NewSection() Section { return &nodeSection{} }

// nodeSection is every node as this pass found it, and as the last pass
// left it (each node's inventory).
type nodeSection struct {
	mu      sync.Mutex
	records []NodeRecord
	prev    map[string]NodeRecord
}

func (p *Pass) nodeSection() *nodeSection { return sectionOf[*nodeSection](p, nodesSection) }

// Load implements Section: the last pass's records, for each node's
// inventory; every pass asks each node afresh for the rest.
func (s *nodeSection) Load(raw json.RawMessage) error {
	if raw == nil {
		return nil
	}
	var list []NodeRecord
	if err := strictUnmarshal(raw, &list); err != nil {
		return err
	}
	s.prev = make(map[string]NodeRecord, len(list))
	for _, r := range list {
		s.prev[r.Name] = r
	}
	return nil
}

// previous is the inventory the last pass left for a node. A record from
// before node inventories counts the files it found in sync, with their
// digest: the files reconcile wrote or would have written.
func (s *nodeSection) previous(node string) []NodeOwned {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.prev[node]
	switch {
	case !ok:
		return nil
	case r.Owned != nil:
		return r.Owned
	}
	owned := make(map[string]NodeOwned)
	for p, f := range r.Files {
		if f.Status == PersonaInSync && f.SHA256 != "" {
			owned[p] = NodeOwned{Path: p, Object: f.Object, SHA256: f.SHA256, Mode: f.Mode}
		}
	}
	return sortedOwned(owned)
}

func (s *nodeSection) add(r ...NodeRecord) {
	s.mu.Lock()
	s.records = append(s.records, r...)
	s.mu.Unlock()
}

func (s *nodeSection) sorted() []NodeRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]NodeRecord{}, s.records...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Save implements Section.
func (s *nodeSection) Save() any { return s.sorted() }

// NodeRecordsOf reads the nodes' section of a state.
func NodeRecordsOf(s *State) []NodeRecord {
	var list []NodeRecord
	if raw := s.Sections[nodesSection]; raw != nil {
		_ = json.Unmarshal(raw, &list)
	}
	return list
}

// classifyNode turns a failed first contact into a node status: an
// unreachable node is skipped when opportunistic and makes the answer
// incomplete when required; authentication and host-key failures are
// reported as such whatever the policy.
func classifyNode(n *v1.RemoteNode, err error) (string, string) {
	switch {
	case errors.Is(err, observed.ErrAuth):
		return NodeAuthFailed, err.Error()
	case errors.Is(err, observed.ErrHostKey):
		return NodeHostKeyMismatch, err.Error()
	case errors.Is(err, observed.ErrTimedOut):
		return NodeTimedOut, err.Error()
	case errors.Is(err, observed.ErrUnreachable) && n.PolicyName() == v1.PolicyOpportunistic:
		return NodeSkippedUnreachable, "unreachable, opportunistic: " + strings.TrimPrefix(err.Error(), "unreachable: ")
	case errors.Is(err, observed.ErrUnreachable):
		return NodeUnreachable, "required: " + strings.TrimPrefix(err.Error(), "unreachable: ")
	}
	return NodeFailed, err.Error()
}

// nodeDiff shows a node file's change; one that holds a secret value
// (a persona source with allowSecrets) has every changed line masked:
// node files are not rendered from the catalog's templates, so there is
// no twin to say where the secret is.
//
// A target rendered from the catalog (a unit file) has a twin: its
// secrets are masked where they are, as for a local file.
func (p *Pass) nodeDiff(name string, old, content []byte, replaces bool, twin func() ([]byte, error)) string {
	secret := p.holdsSecret(content) || p.holdsSecret(old)
	if secret && twin != nil {
		if tw, err := twin(); err == nil {
			if replaces {
				return drift.SecretDiff(name, old, content, tw)
			}
			return drift.SecretCreatedDiff(name, content, tw)
		}
	}
	switch {
	case !secret && replaces:
		return drift.Diff(name, old, content)
	case !secret:
		return drift.CreatedDiff(name, content)
	case replaces:
		return drift.SecretDiff(name, old, content, nil)
	}
	return drift.SecretCreatedDiff(name, content, nil)
}

// unitContents asks the node for the bytes of each unit file whose digest
// alone does not decide it: any but the render's, and the bytes the last
// pass left because they say what this render says (NodeOwned.Canon).
// The observation carries them, so that a unit file in its own layout is
// judged by what it says to systemd (nodeUnitCanon) in the one round
// trip; a file already judged costs one sha256sum on the node, no bytes.
func unitContents(targets []remoteTarget, unitAt map[string]unitOn, prevAt map[string]NodeOwned) []observed.RemoteContent {
	var out []observed.RemoteContent
	for _, t := range targets {
		if _, ok := unitAt[t.path]; !ok || t.err != nil {
			continue
		}
		c := observed.RemoteContent{Path: t.path, Unless: []string{digest(t.content)}}
		if e, ok := prevAt[t.path]; ok && e.Canon != "" && e.Canon == UnitCanon(t.content) {
			c.Unless = append(c.Unless, e.SHA256)
		}
		out = append(out, c)
	}
	return out
}

// nodeUnitCanon is what a node's unit file says to systemd (UnitCanon)
// when its bytes (digest sha) are not the render's but say what the
// render says: the file is left as it is, as on this host
// (FileEngine.file); "" when it is to be written. As there, a file that
// begins with the generated-by header (one reconcile wrote) is held to
// its bytes, and a file UnitCanon cannot read says nothing. The node sent
// the bytes (body, sent) unless they are the ones the last pass judged so
// (prev): the same bytes say the same, so prev's Canon decides for them.
// Bytes whose digest is not sha changed between the node's two reads:
// not judged, written.
func nodeUnitCanon(render []byte, sha string, body []byte, sent bool, prev NodeOwned) string {
	want := UnitCanon(render)
	switch {
	case want == "":
		return ""
	case prev.Canon == want && prev.SHA256 == sha:
		return want
	case sent && digest(body) == sha && !bytes.HasPrefix(body, []byte(unitHeaderPrefix)) && UnitCanon(body) == want:
		return want
	}
	return ""
}
