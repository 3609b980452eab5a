package controllers

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// The units of a catalog host that a node is (RemoteNode spec.catalogHost),
// reconciled on that node by a pass run on another host: the unit files
// are node files (the node's diff, backups and inventory), systemd's side
// is asked in the node's observation round trip (one systemctl show) and
// changed in its apply round trip, where each systemctl call has its place
// among the writes. What decides is the local logic (unitsRuntime,
// unitRuntime, restartReason, stopUnit) over nodeSystemd, the node's
// systemd as that logic sees it.

// nodeServesUnits is the node of cat on which the units of host are
// reconciled in this pass (it is that catalog host, this host is not, and
// nodes are reached), nil when there is none.
func (p *Pass) nodeServesUnits(cat *desired.Catalog, host string) *v1.RemoteNode {
	if host == p.LocalHost || p.Local || p.Remote == nil {
		return nil
	}
	return cat.NodeFor(host)
}

// nodeUnits is what a node's pass does with the units placed on it.
type nodeUnits struct {
	node    string
	active  []*v1.SystemdUnit // enabled, in dependsOn order
	retired []*v1.SystemdUnit
	skipped []drift.Change // disabled units
	sd      *nodeSystemd
	host    *unitHost
}

// nodeUnitsOf lists the units a node runs in this pass; nil when it is no
// catalog host or this host is the one it is.
func (p *Pass) nodeUnitsOf(cat *desired.Catalog, n *v1.RemoteNode) *nodeUnits {
	h := n.Spec.CatalogHost
	if h == "" || p.nodeServesUnits(cat, h) != n || len(cat.Units) == 0 {
		return nil
	}
	nu := &nodeUnits{node: n.Name, sd: &nodeSystemd{written: map[string]int{}}}
	byName := make(map[string]*v1.SystemdUnit, len(cat.Units))
	for _, u := range cat.Units {
		byName[u.Name] = u
	}
	for _, name := range cat.UnitGraph().Order() {
		u := byName[name]
		switch {
		case u.HostName() != h:
		case u.Spec.Retired:
			nu.retired = append(nu.retired, u)
		case !u.IsEnabled():
			nu.skipped = append(nu.skipped, drift.Change{Kind: v1.KindSystemdUnit, Name: u.Name, Node: n.Name, Action: drift.Skipped,
				Reason: "disabled" + unitOwnerNote(u)})
		default:
			nu.active = append(nu.active, u)
		}
	}
	return nu
}

// targets are the unit files the node should hold, as node files.
func (p *Pass) unitTargets(ctx context.Context, nu *nodeUnits, cat *desired.Catalog) []remoteTarget {
	out := make([]remoteTarget, 0, len(nu.active))
	for _, u := range nu.active {
		content, err := RenderUnit(u, cat)
		out = append(out, remoteTarget{object: v1.KindSystemdUnit + "/" + u.Name, path: UnitPath(u), content: content, err: err, mkdir: true,
			twin: p.unitTwin(ctx, u.Name)})
	}
	return out
}

// inputPaths are the restartOn inputs on the node, HOME-relative.
func (nu *nodeUnits) inputPaths() []string {
	var out []string
	for _, u := range nu.active {
		for _, r := range u.Spec.RestartOn {
			rel, _ := v1.HomePath(r)
			if !slices.Contains(out, rel) {
				out = append(out, rel)
			}
		}
	}
	return out
}

// isUnitFile says whether a node inventory entry is a unit file reconcile
// wrote: its unit is stopped and disabled before the prune removes it.
func isUnitFile(e NodeOwned) (string, bool) {
	if !strings.HasPrefix(e.Object, v1.KindSystemdUnit+"/") || path.Dir(e.Path) != SystemdUserDir || !strings.HasSuffix(e.Path, ".service") {
		return "", false
	}
	return path.Base(e.Path), true
}

// unreachable is every unit of the node skipped with the node's reason;
// what the state remembered of them stands.
func (p *Pass) unitsUnreached(nu *nodeUnits, rec NodeRecord) []drift.Change {
	p.unitSection().keepNode(nu.node)
	out := slices.Clone(nu.skipped)
	for _, u := range append(slices.Clone(nu.active), nu.retired...) {
		out = append(out, drift.Change{Kind: v1.KindSystemdUnit, Name: u.Name, Node: nu.node, Target: unitTarget(u), Action: drift.Skipped,
			Reason: "node " + nu.node + " " + rec.Status + ": " + rec.Reason})
	}
	return out
}

// nodeCall is one systemctl call the node's apply script makes.
type nodeCall struct {
	w     observed.RemoteWrite
	units []string // whose entries it decides; nil: every active unit's
	// start and restart run only once the unit's file was written (when
	// this pass writes it) and the unit enabled (when this pass enables
	// it).
	needsFile, needsEnable string
}

// nodeSystemd is a node's systemd as the units' logic sees it: show is
// answered from the node's observation; every change is queued as a call
// of the node's apply script, stop and disable before the files (a
// retired or pruned unit is stopped before its file goes), daemon-reload,
// enable, start and restart after them. Each answers nil here: the
// script's answer decides afterwards (settle).
type nodeSystemd struct {
	infos     map[string]*observed.UnitInfo
	err       error
	pre, post []nodeCall
	written   map[string]int // unit -> index of its file's put among the file writes
	enabled   []string       // the units of the enable call
}

var _ observed.Systemd = (*nodeSystemd)(nil)

// Available implements observed.Systemd.
func (s *nodeSystemd) Available() error {
	if errors.Is(s.err, observed.ErrNoSystemd) {
		return s.err
	}
	return nil
}

// Show implements observed.Systemd: the node's answer in its observation.
func (s *nodeSystemd) Show(context.Context, []string) (map[string]*observed.UnitInfo, error) {
	return s.infos, s.err
}

func call(args ...string) observed.RemoteWrite {
	return observed.RemoteWrite{Op: observed.RemoteSystemctl, Args: args}
}

// DaemonReload implements observed.Systemd: a gate, every later call
// waits for it.
func (s *nodeSystemd) DaemonReload(context.Context) error {
	w := call("daemon-reload")
	w.Gate = true
	s.post = append(s.post, nodeCall{w: w})
	return nil
}

// Enable implements observed.Systemd.
func (s *nodeSystemd) Enable(_ context.Context, units ...string) error {
	s.post = append(s.post, nodeCall{w: call(append([]string{"enable", "--"}, units...)...), units: units})
	s.enabled = units
	return nil
}

// Disable implements observed.Systemd.
func (s *nodeSystemd) Disable(_ context.Context, unit string) error {
	s.pre = append(s.pre, nodeCall{w: call("disable", "--", unit), units: []string{unit}})
	return nil
}

// Stop implements observed.Systemd.
func (s *nodeSystemd) Stop(_ context.Context, unit string) error {
	s.pre = append(s.pre, nodeCall{w: call("stop", "--", unit), units: []string{unit}})
	return nil
}

// Start implements observed.Systemd.
func (s *nodeSystemd) Start(_ context.Context, unit string) error { return s.run("start", unit) }

// Restart implements observed.Systemd.
func (s *nodeSystemd) Restart(_ context.Context, unit string) error { return s.run("restart", unit) }

func (s *nodeSystemd) run(verb, unit string) error {
	c := nodeCall{w: call(verb, "--", unit), units: []string{unit}}
	if _, ok := s.written[unit]; ok {
		c.needsFile = unit
	}
	if slices.Contains(s.enabled, unit) {
		c.needsEnable = unit
	}
	s.post = append(s.post, c)
	return nil
}

// preNeeds are the indices of the stop and disable calls of a unit (pre
// calls come first in the script, so their index is their place).
func (s *nodeSystemd) preNeeds(unit string) []int {
	var out []int
	for i, c := range s.pre {
		if slices.Contains(c.units, unit) {
			out = append(out, i)
		}
	}
	return out
}

// assemble is the node's apply script's writes: the stop and disable
// calls, the file writes, the retired units' removals, then the other
// calls; postAt is the index of the first of those.
func (s *nodeSystemd) assemble(files, removals []observed.RemoteWrite) (all []observed.RemoteWrite, postAt int) {
	for _, c := range s.pre {
		all = append(all, c.w)
	}
	fileAt := len(all)
	all = append(all, files...)
	all = append(all, removals...)
	postAt = len(all)
	enableAt := -1
	for i, c := range s.post {
		w := c.w
		if c.needsFile != "" {
			w.Needs = append(w.Needs, fileAt+s.written[c.needsFile])
		}
		if c.needsEnable != "" && enableAt >= 0 {
			w.Needs = append(w.Needs, enableAt)
		}
		if len(w.Args) > 0 && w.Args[0] == "enable" {
			enableAt = postAt + i
		}
		all = append(all, w)
	}
	return all, postAt
}

// settle reads the script's answers to the systemctl calls and fails the
// entry of each unit a call did not carry out (its record reverted: the
// reason to act is not forgotten). entries are the unit's entries in
// changes by unit name; active names every active unit (a daemon-reload
// that failed fails them all).
func (p *Pass) settleUnits(nu *nodeUnits, changes []drift.Change, entries map[string][]int, active []string,
	res []observed.RemoteResult, postAt, total int, transferErr error) {
	byIndex := make(map[int]observed.RemoteResult, len(res))
	for _, r := range res {
		byIndex[r.Index] = r
	}
	calls := make(map[int]nodeCall, len(nu.sd.pre)+len(nu.sd.post))
	for i, c := range nu.sd.pre {
		calls[i] = c
	}
	for i, c := range nu.sd.post {
		calls[postAt+i] = c
	}
	for i := 0; i < total; i++ {
		c, ok := calls[i]
		if !ok {
			continue
		}
		r, answered := byIndex[i]
		if answered && r.Status == "ok" {
			continue
		}
		var why error
		switch {
		case answered && r.Reason != "":
			why = errors.New(r.Reason)
		case transferErr != nil:
			why = transferErr
		default:
			why = fmt.Errorf("the node did not confirm systemctl --user %s", strings.Join(c.w.Args, " "))
		}
		units := c.units
		if units == nil {
			units = active
		}
		for _, u := range units {
			for _, at := range entries[u] {
				if changes[at].Action == drift.Failed {
					continue
				}
				changes[at] = p.fail(changes[at], why)
				if changes[at].Kind == v1.KindSystemdUnit {
					p.unitSection().revert(nu.node, changes[at].Name)
				}
			}
		}
	}
}

// nodeUnitHost is a node's systemd for the units' logic: the unit files
// under the node's physical home, the restartOn inputs as the node
// answered for them (or as this pass writes them there).
func nodeUnitHost(nu *nodeUnits, home string, files map[string]observed.RemoteFile, writing map[string][]byte) *unitHost {
	return &unitHost{sd: nu.sd, node: nu.node,
		abs:  func(rel string) string { return path.Join(home, rel) },
		same: func(fragment, abs string) bool { return fragment == abs },
		inputs: func(restartOn []string) (map[string]string, error) {
			if len(restartOn) == 0 {
				return nil, nil
			}
			out := make(map[string]string, len(restartOn))
			for _, r := range restartOn {
				rel, _ := v1.HomePath(r)
				if b, ok := writing[rel]; ok {
					out[r] = digest(b)
					continue
				}
				d, ok := files[rel]
				switch {
				case !ok:
					return nil, fmt.Errorf("restartOn %s: the node did not answer for it", r)
				case d.State == observed.RemoteRegular:
					out[r] = d.SHA256
				case d.State == observed.RemoteMissing || d.State == observed.RemoteNoDir:
					out[r] = ""
				default:
					return nil, fmt.Errorf("restartOn %s: %s", r, refusal(d.State, rel))
				}
			}
			return out, nil
		}}
}

// retiringUnit is a retired unit's file the node's script removes: its
// entry in changes, the removal, and its object.
type retiringUnit struct {
	at     int
	w      observed.RemoteWrite
	object string
}

// settleRetired reads the node's answers to the retired units' removals
// (from index first on): a removal carried out is recorded for rollback;
// one that was not fails its entry and the file stays owned.
func (p *Pass) settleRetired(node observed.RemoteNode, changes []drift.Change, retired []retiringUnit, res []observed.RemoteResult,
	first int, digests map[string]observed.RemoteFile, fetched map[string][]byte, transferErr error, keep func(string)) {
	byIndex := make(map[int]observed.RemoteResult, len(res))
	for _, r := range res {
		byIndex[r.Index] = r
	}
	plans := observed.Plans(p.Remote)
	for k, rt := range retired {
		c := &changes[rt.at]
		r, ok := byIndex[first+k]
		switch {
		case ok && r.Status == "ok":
			c.Backup = r.Backup
			if plans {
				keep(c.Path)
				break
			}
			p.recordNodeChange(node, rt.w, rt.object, digests[c.Path], r.Backup, fetched[c.Path])
		case ok && r.Status == "gone":
		case ok && r.Status == "changed":
			*c = p.fail(*c, errors.New("the unit file changed on the node since it was read; left in place"))
			keep(c.Path)
		default:
			why := transferErr
			switch {
			case ok && r.Reason != "":
				why = errors.New(r.Reason)
			case why == nil:
				why = errors.New("the node did not confirm the removal")
			}
			if c.Action != drift.Failed {
				*c = p.fail(*c, why)
			}
			keep(c.Path)
		}
	}
}
