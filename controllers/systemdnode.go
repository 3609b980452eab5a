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

// nodeUnits is what a node's pass does with the units placed on it, of
// one of its managers (the user's, or the system's when system).
type nodeUnits struct {
	node    string
	system  bool
	active  []*v1.SystemdUnit // enabled, in dependsOn order
	retired []*v1.SystemdUnit
	skipped []drift.Change // disabled units
	sd      *nodeSystemd
	host    *unitHost
	// removed: a unit file of this manager goes in this pass, so it
	// reloads.
	removed bool
}

// unitOn is the unit a node's unit file is of, and its manager.
type unitOn struct {
	u  *v1.SystemdUnit
	nu *nodeUnits
}

// newNodeUnits is a node's manager with no unit yet, its calls queued in
// calls (one queue for both managers: the apply script's order).
func newNodeUnits(node string, system bool, calls *nodeCalls) *nodeUnits {
	return &nodeUnits{node: node, system: system, sd: &nodeSystemd{system: system, calls: calls, written: map[string]int{}}}
}

// nodeUnitsOf lists the units a node runs in this pass, by manager: the
// user's first, then the system's, each only when it has units; nil when
// the node is no catalog host or this host is the one it is.
func (p *Pass) nodeUnitsOf(cat *desired.Catalog, n *v1.RemoteNode, calls *nodeCalls) []*nodeUnits {
	h := n.Spec.CatalogHost
	if h == "" || p.nodeServesUnits(cat, h) != n || len(cat.Units) == 0 {
		return nil
	}
	byManager := [2]*nodeUnits{newNodeUnits(n.Name, false, calls), newNodeUnits(n.Name, true, calls)}
	byName := make(map[string]*v1.SystemdUnit, len(cat.Units))
	for _, u := range cat.Units {
		byName[u.Name] = u
	}
	for _, name := range cat.UnitGraph().Order() {
		u := byName[name]
		nu := byManager[0]
		if u.IsSystem() {
			nu = byManager[1]
		}
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
	var out []*nodeUnits
	for _, nu := range byManager {
		if len(nu.active)+len(nu.retired)+len(nu.skipped) > 0 {
			out = append(out, nu)
		}
	}
	return out
}

// managerOf is the node's manager in nus (system or not), made and added
// when it has none yet: a unit file the prune removes needs its manager.
func managerOf(nus *[]*nodeUnits, node string, system bool, calls *nodeCalls) *nodeUnits {
	for _, nu := range *nus {
		if nu.system == system {
			return nu
		}
	}
	nu := newNodeUnits(node, system, calls)
	*nus = append(*nus, nu)
	return nu
}

// entryKey names a unit in the node's entries by manager: a user and a
// system unit may share a unit name.
func entryKey(system bool, unit string) string {
	if system {
		return "system/" + unit
	}
	return unit
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
// wrote, and of which manager (system: in /etc/systemd/system): its unit
// is stopped and disabled before the prune removes it.
func isUnitFile(e NodeOwned) (unit string, system, ok bool) {
	dir := path.Dir(e.Path)
	if !strings.HasPrefix(e.Object, v1.KindSystemdUnit+"/") || (dir != SystemdUserDir && dir != observed.SystemUnitDir) || !strings.HasSuffix(e.Path, ".service") {
		return "", false, false
	}
	return path.Base(e.Path), dir == observed.SystemUnitDir, true
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
	units []string // whose entries it decides; nil: every active unit's of its manager
	// start and restart run only once the unit's file was written (its
	// index among the file writes, when this pass writes it: else -1) and
	// the unit enabled (when this pass enables it).
	needsFile   int
	needsEnable bool
}

// nodeCalls are the systemctl calls of a node's apply script, of both its
// managers, in their order: stop and disable before the files (a retired
// or pruned unit is stopped before its file goes), daemon-reload, enable,
// start and restart after them.
type nodeCalls struct{ pre, post []nodeCall }

// nodeSystemd is one of a node's managers as the units' logic sees it:
// show is answered from the node's observation; every change is queued as
// a call of the node's apply script (calls). Each answers nil here: the
// script's answer decides afterwards (settle).
type nodeSystemd struct {
	system  bool // the system manager (systemctl without --user, sudo -n)
	calls   *nodeCalls
	infos   map[string]*observed.UnitInfo
	err     error
	written map[string]int // unit -> index of its file's put among the file writes
	enabled []string       // the units of the enable call
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

// call is a systemctl call of this manager.
func (s *nodeSystemd) call(args ...string) observed.RemoteWrite {
	return observed.RemoteWrite{Op: observed.RemoteSystemctl, Args: args, System: s.system}
}

// queue puts a call among the calls before the file writes (pre: stop and
// disable) or after them.
func (s *nodeSystemd) queue(pre bool, c nodeCall) {
	if pre {
		s.calls.pre = append(s.calls.pre, c)
	} else {
		s.calls.post = append(s.calls.post, c)
	}
}

// DaemonReload implements observed.Systemd: a gate, every later call of
// the manager waits for it.
func (s *nodeSystemd) DaemonReload(context.Context) error {
	w := s.call("daemon-reload")
	w.Gate = true
	s.queue(false, nodeCall{w: w, needsFile: -1})
	return nil
}

// Enable implements observed.Systemd.
func (s *nodeSystemd) Enable(_ context.Context, units ...string) error {
	s.queue(false, nodeCall{w: s.call(append([]string{"enable", "--"}, units...)...), units: units, needsFile: -1})
	s.enabled = units
	return nil
}

// Disable implements observed.Systemd.
func (s *nodeSystemd) Disable(_ context.Context, unit string) error {
	s.queue(true, nodeCall{w: s.call("disable", "--", unit), units: []string{unit}, needsFile: -1})
	return nil
}

// Stop implements observed.Systemd.
func (s *nodeSystemd) Stop(_ context.Context, unit string) error {
	s.queue(true, nodeCall{w: s.call("stop", "--", unit), units: []string{unit}, needsFile: -1})
	return nil
}

// Start implements observed.Systemd.
func (s *nodeSystemd) Start(_ context.Context, unit string) error { return s.run("start", unit) }

// Restart implements observed.Systemd.
func (s *nodeSystemd) Restart(_ context.Context, unit string) error { return s.run("restart", unit) }

func (s *nodeSystemd) run(verb, unit string) error {
	c := nodeCall{w: s.call(verb, "--", unit), units: []string{unit}, needsFile: -1}
	if at, ok := s.written[unit]; ok {
		c.needsFile = at
	}
	c.needsEnable = slices.Contains(s.enabled, unit)
	s.queue(false, c)
	return nil
}

// preNeeds are the indices of this manager's stop and disable calls of a
// unit (pre calls come first in the script, so their index is their
// place).
func (s *nodeSystemd) preNeeds(unit string) []int {
	var out []int
	for i, c := range s.calls.pre {
		if c.w.System == s.system && slices.Contains(c.units, unit) {
			out = append(out, i)
		}
	}
	return out
}

// assemble is the node's apply script's writes: the stop and disable
// calls, the file writes, the retired units' removals, then the other
// calls; postAt is the index of the first of those.
func (q *nodeCalls) assemble(files, removals []observed.RemoteWrite) (all []observed.RemoteWrite, postAt int) {
	for _, c := range q.pre {
		all = append(all, c.w)
	}
	fileAt := len(all)
	all = append(all, files...)
	all = append(all, removals...)
	postAt = len(all)
	enableAt := map[bool]int{} // by manager (System)
	for i, c := range q.post {
		w := c.w
		if c.needsFile >= 0 {
			w.Needs = append(w.Needs, fileAt+c.needsFile)
		}
		if at, ok := enableAt[w.System]; ok && c.needsEnable {
			w.Needs = append(w.Needs, at)
		}
		if len(w.Args) > 0 && w.Args[0] == "enable" {
			enableAt[w.System] = postAt + i
		}
		all = append(all, w)
	}
	return all, postAt
}

// settle reads the script's answers to the systemctl calls and fails the
// entry of each unit a call did not carry out (its record reverted: the
// reason to act is not forgotten). entries are the units' entries in
// changes by entryKey; active names every active unit of each manager (a
// daemon-reload that failed fails them all).
func (p *Pass) settleUnits(node string, calls *nodeCalls, changes []drift.Change, entries map[string][]int, active map[bool][]string,
	res []observed.RemoteResult, postAt, total int, transferErr error) {
	byIndex := resultsByIndex(res)
	byAt := make(map[int]nodeCall, len(calls.pre)+len(calls.post))
	for i, c := range calls.pre {
		byAt[i] = c
	}
	for i, c := range calls.post {
		byAt[postAt+i] = c
	}
	for i := 0; i < total; i++ {
		c, ok := byAt[i]
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
			user := "--user "
			if c.w.System {
				user = ""
			}
			why = fmt.Errorf("the node did not confirm systemctl %s%s", user, strings.Join(c.w.Args, " "))
		}
		units := c.units
		if units == nil {
			units = active[c.w.System]
		}
		for _, u := range units {
			for _, at := range entries[entryKey(c.w.System, u)] {
				if changes[at].Action == drift.Failed {
					continue
				}
				changes[at] = p.fail(changes[at], why)
				if changes[at].Kind == v1.KindSystemdUnit {
					p.unitSection().revert(node, changes[at].Name)
				}
			}
		}
	}
}

// nodeUnitHost is a node's systemd for the units' logic: the unit files
// under the node's physical home (a system unit's named absolute), the
// restartOn inputs as the node answered for them (or as this pass writes
// them there).
func nodeUnitHost(nu *nodeUnits, home string, files map[string]observed.RemoteFile, writing map[string][]byte) *unitHost {
	dir := SystemdUserDir
	if nu.system {
		dir = observed.SystemUnitDir
	}
	return &unitHost{sd: nu.sd, node: nu.node, system: nu.system, dir: dir,
		abs: func(rel string) string {
			if path.IsAbs(rel) {
				return rel
			}
			return path.Join(home, rel)
		},
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
	byIndex := resultsByIndex(res)
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

// resultsByIndex is a node script's answers by the index of their op.
func resultsByIndex(res []observed.RemoteResult) map[int]observed.RemoteResult {
	out := make(map[int]observed.RemoteResult, len(res))
	for _, r := range res {
		out[r.Index] = r
	}
	return out
}
