package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// NodeBackups is what one run changed on one remote node, in the run's
// local backup index: how the node was reached, and an entry per file.
// The bytes it replaced stay on the node (its
// ~/.sanctum/state/backups/<run-id>/); the index says what they must hold,
// so a rollback of an older run needs nothing but this index and the node's
// backups, and refuses a backup that no longer holds what was kept.
type NodeBackups struct {
	Node        string `json:"node"`
	Destination string `json:"destination"`
	Port        int    `json:"port,omitempty"`
	Home        string `json:"home,omitempty"`
	// ConnectTimeout and CommandTimeout, in seconds.
	ConnectTimeout int `json:"connectTimeout,omitempty"`
	CommandTimeout int `json:"commandTimeout,omitempty"`
	// Entries, by path.
	Entries []NodeBackupEntry `json:"entries"`
}

// Reasons of a node backup entry: what the run did to the file.
const (
	NodeOverwritten = "overwritten" // replaced; the old bytes kept on the node
	NodeRemoved     = "removed"     // pruned; moved into the node's backups
	NodeCreated     = "created"     // made where nothing was; nothing kept
	NodeModeFixed   = "mode"        // its mode changed, its bytes not
)

// NodeBackupEntry is one file a run changed on a node.
type NodeBackupEntry struct {
	Object string `json:"object"`
	Path   string `json:"path"` // relative to the node's home
	Reason string `json:"reason"`
	// Backup is where the node keeps what the run replaced or removed,
	// relative to its home (overwritten, removed).
	Backup string `json:"backup,omitempty"`
	// SHA256 is what the file held before the run: what Backup holds
	// (overwritten, removed), or the bytes whose mode changed (mode); ""
	// when the node could not say.
	SHA256 string `json:"sha256,omitempty"`
	// Mode is the file's mode before the run (as the run wrote it, for
	// created).
	Mode string `json:"mode"`
	// Wrote is the sha256 of what the run wrote (overwritten, created).
	Wrote string `json:"wrote,omitempty"`
	// Secret: the file held a secret (what the run wrote, or what it
	// replaced): restored 0600 whatever mode it had.
	Secret bool `json:"secret,omitempty"`
}

// KeepNode lists, in the run's index, a change the run made on a node.
func (b *Backups) KeepNode(n observed.RemoteNode, e NodeBackupEntry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.nodes == nil {
		b.nodes = make(map[string]*NodeBackups)
	}
	nb, ok := b.nodes[n.Name]
	if !ok {
		nb = &NodeBackups{Node: n.Name, Destination: n.Destination, Port: n.Port, Home: n.Home,
			ConnectTimeout: int(n.Timeout / time.Second), CommandTimeout: int(n.CommandTimeout / time.Second)}
		b.nodes[n.Name] = nb
	}
	nb.Entries = append(nb.Entries, e)
	one := *nb
	one.Entries = []NodeBackupEntry{e}
	b.nodeFresh = append(b.nodeFresh, one)
}

// journalLine is a line of the run's journal that lists a node change: a
// node and one entry.
type journalLine struct {
	Node *NodeBackups `json:"node,omitempty"`
}

// JournalNodes appends the node changes listed since its last call to the
// run's journal, as Journal does local backups: a node's changes are
// listed once the node confirms them, so a run killed later can still roll
// them back. A plan keeps no journal.
func (b *Backups) JournalNodes(h observed.Host) error {
	if observed.Plans(h) {
		return nil
	}
	b.jmu.Lock()
	defer b.jmu.Unlock()
	b.mu.Lock()
	fresh := b.nodeFresh
	b.nodeFresh = nil
	b.mu.Unlock()
	if len(fresh) == 0 {
		return nil
	}
	var buf []byte
	for i := range fresh {
		line, err := json.Marshal(journalLine{Node: &fresh[i]})
		if err != nil {
			return err
		}
		buf = append(append(buf, line...), '\n')
	}
	return h.AppendFile(path.Join(BackupsDir, b.runID, journalName), buf, 0o600)
}

// addJournalNode merges a journal line's node change into an index.
func addJournalNode(idx *BackupIndex, one *NodeBackups) {
	for i := range idx.Nodes {
		if idx.Nodes[i].Node == one.Node {
			idx.Nodes[i].Entries = append(idx.Nodes[i].Entries, one.Entries...)
			return
		}
	}
	idx.Nodes = append(idx.Nodes, *one)
}

// nodeList is the nodes' entries, by node and path; b.mu is held.
func (b *Backups) nodeList() []NodeBackups {
	out := make([]NodeBackups, 0, len(b.nodes))
	for _, nb := range b.nodes {
		c := *nb
		c.Entries = append([]NodeBackupEntry(nil), nb.Entries...)
		sort.Slice(c.Entries, func(i, j int) bool { return c.Entries[i].Path < c.Entries[j].Path })
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	if len(out) == 0 {
		return nil
	}
	return out
}

// checkNodeIndex accepts the node entries of an index only when each is
// one a run could have made: a named node; a clean path under the node's
// home outside reconcile's state; its backup exactly where the run keeps
// that path on the node; a known reason; a permission mode; sha256s that
// are sha256s. As for local entries, a hand-edited index could otherwise
// make rollback copy any file of the node anywhere.
func checkNodeIndex(idx *BackupIndex) error {
	seen := make(map[string]bool)
	for _, nb := range idx.Nodes {
		if nb.Node == "" || nb.Destination == "" || strings.HasPrefix(nb.Destination, "-") || seen[nb.Node] {
			return fmt.Errorf("backups of %s: %w: node %q: not a node a run records", idx.RunID, ErrTamperedIndex, nb.Node)
		}
		seen[nb.Node] = true
		for i, e := range nb.Entries {
			why := ""
			_, _, modeErr := BackupEntry{Mode: e.Mode}.kept()
			switch {
			case isSystemUnitPath(e.Path) && !strings.HasPrefix(e.Object, v1.KindSystemdUnit+"/"):
				// The one file outside the home a run writes on a node: a
				// system unit's, directly in /etc/systemd/system.
				why = "only a SystemdUnit's file is kept from " + observed.SystemUnitDir
			case !isSystemUnitPath(e.Path) && (e.Path == "" || path.IsAbs(e.Path) || path.Clean(e.Path) != e.Path || e.Path == ".." || strings.HasPrefix(e.Path, "../")):
				why = "its path is not a clean path under the node's home"
			case e.Path == StateDir || strings.HasPrefix(e.Path, StateDir+"/"):
				why = "reconcile writes no file of its state on a node"
			case e.Reason != NodeOverwritten && e.Reason != NodeRemoved && e.Reason != NodeCreated && e.Reason != NodeModeFixed:
				why = fmt.Sprintf("reason %q is not one a run records", e.Reason)
			case (e.Reason == NodeOverwritten || e.Reason == NodeRemoved) && e.Backup != path.Join(observed.RemoteBackupDir(idx.RunID), e.Path):
				why = fmt.Sprintf("its backup %q is not where run %s keeps %s on the node", e.Backup, idx.RunID, e.Path)
			case (e.Reason == NodeCreated || e.Reason == NodeModeFixed) && e.Backup != "":
				why = "a run keeps no backup of a file it " + map[string]string{NodeCreated: "created", NodeModeFixed: "only changed the mode of"}[e.Reason]
			case modeErr != nil || e.Mode == keptLink:
				why = fmt.Sprintf("mode %q is not a file permission", e.Mode)
			case e.SHA256 != "" && !sha256Hex.MatchString(e.SHA256), e.Wrote != "" && !sha256Hex.MatchString(e.Wrote):
				why = "its sha256 is not one"
			}
			if why != "" {
				return fmt.Errorf("backups of %s: %w: node %s entry %d (%s %s): %s", idx.RunID, ErrTamperedIndex, nb.Node, i+1, e.Object, drift.ShowPath(e.Path), why)
			}
		}
	}
	return nil
}

// recordNodeChange lists what one confirmed change did on a node in the
// run's index: d is what the node held before it, old its bytes when they
// were fetched.
func (p *Pass) recordNodeChange(n observed.RemoteNode, w observed.RemoteWrite, object string, d observed.RemoteFile, backup string, old []byte) {
	e := NodeBackupEntry{Object: object, Path: w.Path}
	mode := d.Mode
	if d.State == observed.RemoteRegular && sha256Hex.MatchString(d.SHA256) {
		e.SHA256 = d.SHA256
	}
	switch {
	case w.Op == observed.RemoteRemove:
		e.Reason, e.Backup, e.SHA256 = NodeRemoved, backup, w.SHA256
	case w.Op == observed.RemoteChmod:
		e.Reason = NodeModeFixed
		e.Secret = p.holdsSecret(w.Content)
	case backup != "":
		e.Reason, e.Backup, e.Wrote = NodeOverwritten, backup, digest(w.Content)
		e.Secret = p.holdsSecret(w.Content) || (old != nil && p.holdsSecret(old))
	default:
		e.Reason, e.Wrote, e.SHA256 = NodeCreated, digest(w.Content), ""
		mode = w.Mode
		e.Secret = p.holdsSecret(w.Content)
	}
	if mode.Perm() == 0 {
		mode = 0o644 // the node did not report it
	}
	e.Mode = modeString(mode)
	p.kept.KeepNode(n, e)
}

// NodeRollback is one node's part in a rollback.
type NodeRollback struct {
	Node   string `json:"name"`
	Status string `json:"status"` // restored | unchanged | unreachable | failed | would-restore
	Reason string `json:"reason,omitempty"`
}

// Statuses of a node in a rollback (besides the node statuses of a pass).
const (
	NodeRestored     = "restored"
	NodeWouldRestore = "would-restore"
	NodeAsBefore     = "unchanged"
)

// RollbackNodes restores, on every node a run changed, what the run
// replaced or removed there, from the node's own backups: one connection
// per node (a digest round trip, then every restore in one write), at most
// parallel nodes at once. nodes are the catalog's nodes, when it loads: a
// node it still names is reached as it says now, any other as the run
// recorded. What the run only created is left, as locally.
func (p *Pass) RollbackNodes(ctx context.Context, idx *BackupIndex, nodes map[string]*v1.RemoteNode, parallel int) ([]drift.Change, []NodeRollback) {
	if len(idx.Nodes) == 0 {
		return nil, nil
	}
	if parallel < 1 {
		parallel = DefaultParallelNodes
	}
	changes := make([][]drift.Change, len(idx.Nodes))
	recs := make([]NodeRollback, len(idx.Nodes))
	observed.ForEach(min(parallel, MaxParallelNodes), len(idx.Nodes), func(i int) {
		nb := idx.Nodes[i]
		// A node the catalog no longer names is reached as the run
		// recorded it.
		recorded := &v1.RemoteNode{Spec: v1.RemoteNodeSpec{ConnectTimeout: nb.ConnectTimeout, CommandTimeout: nb.CommandTimeout}}
		node := observed.RemoteNode{Name: nb.Node, Destination: nb.Destination, Port: nb.Port, Home: nb.Home,
			Timeout: time.Duration(recorded.Timeout()) * time.Second, CommandTimeout: time.Duration(recorded.CommandTimeoutSeconds()) * time.Second}
		if n, ok := nodes[nb.Node]; ok {
			node = ObservedNode(n)
		}
		changes[i], recs[i] = p.rollbackNode(ctx, idx.RunID, node, nb)
	})
	var out []drift.Change
	for i, r := range recs {
		out = append(out, changes[i]...)
		if r.Status == NodeUnreachable {
			p.Incomplete = append(p.Incomplete, r.Node)
		}
	}
	return out, recs
}

// rollbackNode restores one node's entries.
func (p *Pass) rollbackNode(ctx context.Context, runID string, node observed.RemoteNode, nb NodeBackups) ([]drift.Change, NodeRollback) {
	rec := NodeRollback{Node: nb.Node}
	summary := drift.Change{Kind: v1.KindRemoteNode, Name: nb.Node, Node: nb.Node, Rollup: true}
	var entries []NodeBackupEntry
	var paths []string
	for _, e := range nb.Entries {
		if e.Reason == NodeCreated {
			continue // as locally: what a run only created stays
		}
		entries = append(entries, e)
		paths = append(paths, e.Path)
		if e.Backup != "" {
			paths = append(paths, e.Backup)
		}
	}
	if len(entries) == 0 {
		rec.Status, rec.Reason = NodeAsBefore, "the run only created files on the node; they stay, as locally"
		summary.Action, summary.Reason, summary.Rollup = drift.Unchanged, rec.Reason, false
		return []drift.Change{summary}, rec
	}
	defer p.Remote.Disconnect(node)
	digests, err := p.Remote.Digests(ctx, node, paths)
	if err != nil {
		rec.Status, rec.Reason = NodeFailed, err.Error()
		switch {
		case errors.Is(err, observed.ErrTimedOut):
			rec.Status = NodeTimedOut
			summary = p.fail(summary, err)
		case errors.Is(err, observed.ErrUnreachable):
			rec.Status = NodeUnreachable
			rec.Reason = strings.TrimPrefix(err.Error(), "unreachable: ") + "; nothing restored there: run the same rollback again once it is back"
			summary.Action, summary.Reason = drift.Unreachable, rec.Reason
		default:
			summary = p.fail(summary, err)
		}
		summary.Rollup = false
		return []drift.Change{summary}, rec
	}
	var changes []drift.Change
	var writes []observed.RemoteWrite
	var sent []int
	var sentE []NodeBackupEntry // each write's entry
	from := " from run " + runID
	for _, e := range entries {
		c := drift.Change{Kind: v1.KindRemoteNode, Name: nb.Node, Node: nb.Node, Path: e.Path}
		d, listed := digests[e.Path]
		if !listed {
			d.State = observed.RemoteUnknown
		}
		perm, _, _ := BackupEntry{Mode: e.Mode}.kept()
		want, _ := drift.WantMode(perm, true, e.Secret, 0)
		holds := d.State == observed.RemoteRegular && e.SHA256 != "" && d.SHA256 == e.SHA256
		switch {
		case e.SHA256 == "":
			c = p.fail(c, fmt.Errorf("%s: the run could not read what it replaced on the node; nothing to verify a restore against", e.Object))
		case holds && d.Mode.Perm() == want:
			c.Action, c.Reason = drift.Unchanged, e.Object+": already as in run "+runID+"'s backup"
		case d.State != observed.RemoteRegular && d.State != observed.RemoteMissing && d.State != observed.RemoteNoDir:
			c = p.fail(c, fmt.Errorf("%s: %s", e.Object, refusal(d.State, e.Path)))
		case holds:
			c.Action = drift.Configured
			c.Reason = fmt.Sprintf("%s: mode %s, restored to %#o%s", e.Object, modeString(d.Mode), want, from)
			writes = append(writes, observed.RemoteWrite{Op: observed.RemoteChmod, Path: e.Path, Mode: want, SHA256: e.SHA256})
			sent, sentE = append(sent, len(changes)), append(sentE, e)
		case e.Reason == NodeModeFixed:
			c.Action, c.Reason = drift.Unmanaged, e.Object+": changed since run "+runID+" set its mode; left in place"
		default:
			b := digests[e.Backup]
			if b.State != observed.RemoteRegular || b.SHA256 != e.SHA256 {
				why := "does not hold what the run kept (sha256 differs)"
				if b.State != observed.RemoteRegular {
					why = "is not there (" + refusal(b.State, e.Backup) + ")"
				}
				c = p.fail(c, fmt.Errorf("%s: backup ~/%s on the node %s; refusing to restore from it", e.Object, e.Backup, why))
				break
			}
			c.Action, c.Reason = drift.Configured, e.Object+": restored"+from
			if d.State != observed.RemoteRegular {
				c.Action = drift.Created
			}
			writes = append(writes, observed.RemoteWrite{Op: observed.RemoteRestore, Path: e.Path, From: e.Backup, SHA256: e.SHA256, Mode: want})
			sent, sentE = append(sent, len(changes)), append(sentE, e)
		}
		changes = append(changes, c)
	}
	// Unit files restored: the node's systemd loads them again (one
	// daemon-reload in the same session) and each unit that runs is
	// restarted (try-restart: one that does not run is left stopped), as
	// local rollback does.
	// Each manager has its own daemon-reload (the system's for the unit
	// files restored in /etc/systemd/system).
	var units []nodeUnitRestore
	reloadAt := map[bool]int{}
	for _, system := range []bool{false, true} {
		var mine []nodeUnitRestore
		for k, w := range writes {
			if w.Op == observed.RemoteRestore && ((!system && isUserUnitPath(w.Path)) || (system && isSystemUnitPath(w.Path))) {
				mine = append(mine, nodeUnitRestore{file: k, object: sentE[k].Object, unit: path.Base(w.Path), system: system})
			}
		}
		if len(mine) == 0 {
			continue
		}
		reloadAt[system] = len(writes)
		writes = append(writes, observed.RemoteWrite{Op: observed.RemoteSystemctl, Args: []string{"daemon-reload"}, Gate: true, System: system})
		for i := range mine {
			mine[i].call = len(writes)
			writes = append(writes, observed.RemoteWrite{Op: observed.RemoteSystemctl, Args: []string{"try-restart", "--", mine[i].unit},
				Needs: []int{mine[i].file}, System: system})
		}
		units = append(units, mine...)
	}
	var unitChanges []drift.Change
	if len(writes) > 0 {
		var reclaimed []NodeOwned
		defer func() { p.reclaimOnNode(nb.Node, reclaimed) }()
		res, err := p.Remote.Write(ctx, node, observed.RemoteBackupDir(p.RunID), writes)
		done := make(map[string]observed.RemoteResult, len(res))
		for _, r := range res {
			done[r.Path] = r
		}
		byIndex := resultsByIndex(res)
		for _, u := range units {
			unitChanges = append(unitChanges, p.nodeUnitRestored(nb.Node, runID, u, byIndex, reloadAt[u.system], err))
		}
		for k, at := range sent {
			c := &changes[at]
			r, ok := done[c.Path]
			switch {
			case ok && r.Status == "ok":
				c.Backup = r.Backup
				if !observed.Plans(p.Remote) {
					p.recordRestore(node, writes[k], sentE[k], digests[c.Path], r.Backup)
					reclaimed = append(reclaimed, NodeOwned{Path: c.Path, Object: sentE[k].Object, SHA256: sentE[k].SHA256, Mode: modeString(writes[k].Mode)})
				}
			case ok && r.Status == "changed":
				*c = p.fail(*c, fmt.Errorf("backup ~/%s on the node does not hold what the run kept (sha256 differs); refusing to restore from it",
					path.Join(observed.RemoteBackupDir(runID), c.Path)))
			case ok && r.Status == "failed" && r.Reason != "":
				*c = p.fail(*c, errors.New(r.Reason))
			case err != nil:
				*c = p.fail(*c, err)
			default:
				*c = p.fail(*c, errors.New("the node did not confirm the restore"))
			}
		}
		_ = p.kept.JournalNodes(p.Host) // as a pass's (reconcileNode)
		if err != nil && errors.Is(err, observed.ErrTimedOut) {
			rec.Status, rec.Reason = NodeTimedOut, err.Error()
			summary = p.fail(summary, err)
			return append(changes, summary), rec
		}
	}
	var failed, restored int
	for _, c := range changes {
		switch c.Action {
		case drift.Failed:
			failed++
		case drift.Created, drift.Configured:
			restored++
		}
	}
	plans := observed.Plans(p.Remote)
	switch {
	case failed > 0:
		rec.Status, rec.Reason = NodeFailed, fmt.Sprintf("%d of %d file(s) not restored", failed, len(changes))
		summary.Action, summary.Error = drift.Failed, rec.Reason
	case restored > 0 && plans:
		rec.Status, rec.Reason = NodeWouldRestore, fmt.Sprintf("%d of %d file(s) to restore", restored, len(changes))
		summary.Action, summary.Reason = drift.Configured, rec.Reason
	case restored > 0:
		rec.Status, rec.Reason = NodeRestored, fmt.Sprintf("%d of %d file(s) restored", restored, len(changes))
		summary.Action, summary.Reason = drift.Configured, rec.Reason
	default:
		rec.Status, rec.Reason = NodeAsBefore, fmt.Sprintf("%d file(s) already as in run %s's backups", len(changes), runID)
		summary.Action, summary.Reason = drift.Unchanged, rec.Reason
	}
	return append(append(changes, unitChanges...), summary), rec
}

// nodeUnitRestore is a unit file a node rollback restores: the index of
// its restore and of its try-restart among the session's writes.
type nodeUnitRestore struct {
	file, call   int
	object, unit string
	system       bool // of the system manager
}

// isSystemUnitPath is whether a path (here or on a node) is a unit file a
// pass writes in /etc/systemd/system: an x.service directly in it, no
// dotfile.
func isSystemUnitPath(p string) bool {
	return path.Dir(p) == observed.SystemUnitDir && path.Clean(p) == p && !strings.HasPrefix(path.Base(p), ".") && strings.HasSuffix(p, ".service")
}

// isNodeSystemUnitOwned says whether a node inventory entry outside the
// node's home is one a pass makes: a SystemdUnit's x.service directly in
// /etc/systemd/system.
func isNodeSystemUnitOwned(e NodeOwned) bool {
	return strings.HasPrefix(e.Object, v1.KindSystemdUnit+"/") && isSystemUnitPath(e.Path)
}

// nodeUnitRestored is what became of a restored unit on the node: loaded
// again and restarted if it ran, or why not.
func (p *Pass) nodeUnitRestored(node, runID string, u nodeUnitRestore, byIndex map[int]observed.RemoteResult, reloadAt int, transferErr error) drift.Change {
	kind, name, _ := strings.Cut(u.object, "/")
	scope, cmd := v1.SystemdScopeUser, "systemctl --user "
	if u.system {
		scope, cmd = v1.SystemdScopeSystem, "systemctl "
	}
	c := drift.Change{Kind: kind, Name: name, Node: node, Target: "systemd:" + scope + "/" + u.unit, Action: drift.Configured,
		Reason: "unit restored from run " + runID + ": daemon-reload; try-restart (restarted if it ran, else left stopped)"}
	for _, step := range []struct {
		at   int
		what string
	}{{u.file, "the restore of its unit file"}, {reloadAt, cmd + "daemon-reload"}, {u.call, cmd + "try-restart -- " + u.unit}} {
		r, ok := byIndex[step.at]
		switch {
		case ok && r.Status == "ok":
			continue
		case ok && r.Reason != "":
			return p.fail(c, fmt.Errorf("%s: %s", step.what, r.Reason))
		case transferErr != nil:
			return p.fail(c, transferErr)
		}
		return p.fail(c, fmt.Errorf("the node did not confirm %s", step.what))
	}
	return c
}

// recordRestore lists what a rollback changed on a node in its own index,
// as a pass's changes are, so that the rollback can be rolled back: d is
// what the node held before, backup where the node kept it, from the
// entry it restored.
func (p *Pass) recordRestore(n observed.RemoteNode, w observed.RemoteWrite, from NodeBackupEntry, d observed.RemoteFile, backup string) {
	mode := d.Mode.Perm()
	e := NodeBackupEntry{Object: from.Object, Path: w.Path, Secret: from.Secret}
	if d.State == observed.RemoteRegular && sha256Hex.MatchString(d.SHA256) {
		e.SHA256 = d.SHA256
	}
	switch {
	case w.Op == observed.RemoteChmod:
		e.Reason = NodeModeFixed
	case backup != "":
		e.Reason, e.Backup, e.Wrote = NodeOverwritten, backup, w.SHA256
	default:
		e.Reason, e.Wrote, e.SHA256 = NodeCreated, w.SHA256, ""
		mode = w.Mode.Perm()
	}
	if mode == 0 {
		mode = 0o644 // a mode the node did not report
	}
	e.Mode = modeString(mode)
	p.kept.KeepNode(n, e)
}

// reclaimOnNode keeps what a rollback restored on a node for its
// inventory (see FinishRollback).
func (p *Pass) reclaimOnNode(node string, owned []NodeOwned) {
	if len(owned) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reclaimed == nil {
		p.reclaimed = make(map[string][]NodeOwned)
	}
	p.reclaimed[node] = append(p.reclaimed[node], owned...)
}

// reclaimNodes puts what a rollback restored on each node back in that
// node's inventory in s, as a local rollback re-claims what it restores:
// the next pass compares a file a target still wants as usual, and prunes
// one no target wants (while it holds what was restored) rather than
// leaving it a stranger. A node the last pass did not record is left out:
// no pass reconciles it any more.
func (p *Pass) reclaimNodes(s *State) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.reclaimed) == 0 {
		return nil
	}
	list := NodeRecordsOf(s)
	for i := range list {
		r := &list[i]
		back := p.reclaimed[r.Name]
		if len(back) == 0 {
			continue
		}
		owned := make(map[string]NodeOwned)
		for _, e := range r.Owned {
			owned[e.Path] = e
		}
		for _, e := range back {
			owned[e.Path] = e
		}
		r.Owned = sortedOwned(owned)
	}
	raw, err := json.Marshal(list)
	if err != nil {
		return err
	}
	if s.Sections == nil {
		s.Sections = make(map[string]json.RawMessage)
	}
	s.Sections[nodesSection] = raw
	return nil
}
