package controllers

import (
	"context"
	"strings"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
)

// Scope is what a targeted pass reaches (reconcile apply Service/x, -l,
// --node): the objects picked and what they own (a service's launch
// agent, wrapper and helpers; a persona's copies here; a node's files).
// Everything else is neither observed nor changed, and the prune never
// touches an inventory entry of an object out of scope: what the last pass
// owned there is owned again, as it was. A pass without a Scope reaches
// everything.
type Scope struct {
	ids    map[string]bool // Kind/name of every object in scope, owned ones included
	agents map[string]bool // the agent names of the PersonaFile objects in scope
	local  *desired.Catalog
	remote *desired.Catalog
}

// NewScope narrows cat to the objects picked, by Kind/name (catalog names:
// PersonaFile/windu, not its files). A node is reached only when it is
// picked itself, and then with everything it receives, so that its prune
// (what its inventory holds and no target wants) stays within the target;
// a persona or calibration file picked alone is reconciled on this host.
// gone are objects the catalog no longer has that the caller still wants
// pruned (Kind/name, as the last pass's inventory names them).
func NewScope(cat *desired.Catalog, picked []string, gone []string) *Scope {
	s := &Scope{ids: make(map[string]bool), agents: make(map[string]bool)}
	want := make(map[string]bool, len(picked))
	for _, id := range picked {
		want[id] = true
		s.ids[id] = true
	}
	for _, id := range gone {
		s.ids[id] = true
		if kind, name, _ := strings.Cut(id, "/"); kind == v1.KindPersonaFile {
			s.agents[name] = true
		}
	}

	local := *cat
	local.Services, local.Agents, local.Units, local.Personas, local.Calibration, local.Nodes = nil, nil, nil, nil, nil, nil
	for _, o := range cat.Services {
		if want[v1.KindService+"/"+o.Name] {
			local.Services = append(local.Services, o)
		}
	}
	for _, o := range cat.Agents {
		id := v1.KindLaunchAgent + "/" + o.Name
		if want[id] || (o.Spec.Owner != "" && want[o.Spec.Owner]) {
			local.Agents = append(local.Agents, o)
			s.ids[id] = true
		}
	}
	for _, o := range cat.Units {
		id := v1.KindSystemdUnit + "/" + o.Name
		if want[id] || (o.Spec.Owner != "" && want[o.Spec.Owner]) {
			local.Units = append(local.Units, o)
			s.ids[id] = true
		}
	}
	for _, o := range cat.Personas {
		if want[v1.KindPersonaFile+"/"+o.Name] {
			local.Personas = append(local.Personas, o)
			s.agents[o.AgentName()] = true
		}
	}
	for _, o := range cat.Calibration {
		if want[v1.KindCalibrationFile+"/"+o.Name] {
			local.Calibration = append(local.Calibration, o)
		}
	}

	// A node picked gets all it receives.
	remote := *cat
	remote.Services, remote.Agents, remote.Units, remote.Personas, remote.Calibration, remote.Nodes = nil, nil, nil, nil, nil, nil
	for _, n := range cat.Nodes {
		if want[v1.KindRemoteNode+"/"+n.Name] {
			remote.Nodes = append(remote.Nodes, n)
		}
	}
	if len(remote.Nodes) > 0 {
		// The units too: a node that is a catalog host runs its units,
		// and its prune must not take their files for gone.
		remote.Personas, remote.Calibration, remote.Units = cat.Personas, cat.Calibration, cat.Units
		for _, n := range remote.Nodes {
			for _, u := range cat.Units {
				if n.Spec.CatalogHost != "" && u.HostName() == n.Spec.CatalogHost {
					s.ids[v1.KindSystemdUnit+"/"+u.Name] = true
				}
			}
		}
	}
	s.local, s.remote = &local, &remote
	return s
}

// Has says whether an entry of a change set or of the inventory belongs
// to an object in scope (a persona's entries are named agent/file).
func (s *Scope) Has(kind, name string) bool {
	if s == nil {
		return true
	}
	if kind == v1.KindPersonaFile {
		agent, _, _ := strings.Cut(name, "/")
		return s.agents[agent]
	}
	return s.ids[kind+"/"+name]
}

// Catalog is the catalog a pass in scope reconciles on this host.
func (s *Scope) Catalog() *desired.Catalog { return s.local }

// Nodes are the remote nodes the scope reaches.
func (s *Scope) Nodes() []*v1.RemoteNode { return s.remote.Nodes }

// Controllers wraps the controllers of a pass: each reconciles the
// catalog narrowed to the scope (a node's, for the remote nodes), and a
// stranger found in a folder it scans is reported only when it is named
// like an object in scope. The persona ledger is an audit of the whole
// fan-out: a targeted pass does not write it.
func (s *Scope) Controllers(cs []Controller) []Controller {
	out := make([]Controller, len(cs))
	for i, c := range cs {
		cat := s.local
		if c.Kind() == v1.KindRemoteNode {
			cat = s.remote
		}
		out[i] = scoped{Controller: c, scope: s, cat: cat}
	}
	return out
}

type scoped struct {
	Controller
	scope *Scope
	cat   *desired.Catalog
}

// Reconcile implements Controller.
func (c scoped) Reconcile(ctx context.Context, p *Pass, _ *desired.Catalog) []drift.Change {
	if objectsOf(c.cat, c.Kind()) == 0 {
		// Nothing of this kind in scope: the controller does not run at
		// all, so that nothing it implies from the catalog as a whole
		// (a folder's strangers, a file the instance settings imply) is
		// observed or changed.
		return nil
	}
	changes := c.Controller.Reconcile(ctx, p, c.cat)
	if c.Kind() == v1.KindPersonaFile {
		p.personaLedger = nil
	}
	out := changes[:0]
	for _, ch := range changes {
		if ch.Action == drift.Unmanaged && !c.scope.Has(ch.Kind, ch.Name) {
			continue
		}
		out = append(out, ch)
	}
	return out
}

// Narrow makes p a targeted pass: every inventory entry of an object out
// of scope is wanted and owned again as the last pass left it (never a
// prune candidate, never forgotten), the record of every launch agent out
// of scope is kept as it was loaded, that of every node out of scope as
// the last pass left it, and that of every systemd unit out of scope (or
// on a node out of scope) as it was last started. Call it before Run.
func (p *Pass) Narrow(s *Scope) {
	p.scope = s
	p.inv.mu.Lock()
	for path, e := range p.inv.prev {
		if !s.Has(e.Kind, e.Name) {
			if _, taken := p.inv.want[path]; !taken {
				p.inv.want[path] = e.Kind + "/" + e.Name
			}
			p.inv.owned[path] = e
		}
	}
	p.inv.mu.Unlock()
	agents := p.agentSection()
	agents.mu.Lock()
	for name, r := range agents.prev {
		if !s.Has(v1.KindLaunchAgent, name) {
			agents.cur[name] = r
		}
	}
	agents.mu.Unlock()
	// A node out of scope keeps its record, and with it its inventory:
	// the next pass that reaches it prunes from there.
	nodes := p.nodeSection()
	nodes.mu.Lock()
	var keep []NodeRecord
	for name, r := range nodes.prev {
		if !s.Has(v1.KindRemoteNode, name) {
			keep = append(keep, r)
		}
	}
	nodes.mu.Unlock()
	nodes.add(keep...)
	// A unit out of scope keeps what it was last started with: here when
	// the unit is out of scope, on a node when the node is.
	units := p.unitSection()
	units.mu.Lock()
	for k, r := range units.prev {
		if (r.Node == "" && !s.Has(v1.KindSystemdUnit, r.Name)) || (r.Node != "" && !s.Has(v1.KindRemoteNode, r.Node)) {
			units.cur[k] = r
		}
	}
	units.mu.Unlock()
}

// objectsOf counts the objects of a kind in cat; -1 for a kind it does not
// know (its controller runs).
func objectsOf(cat *desired.Catalog, kind string) int {
	switch kind {
	case v1.KindService:
		return len(cat.Services)
	case v1.KindLaunchAgent:
		return len(cat.Agents)
	case v1.KindSystemdUnit:
		return len(cat.Units)
	case v1.KindPersonaFile:
		return len(cat.Personas)
	case v1.KindCalibrationFile:
		return len(cat.Calibration)
	case v1.KindRemoteNode:
		return len(cat.Nodes)
	}
	return -1
}
