package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// Indexing is what the caller that loaded the catalog tells an apply so
// that it can leave an index: what the targets' bytes are a function of,
// and what the pass looked at.
type Indexing struct {
	// Key names the binary, the home and the flags of the pass (IndexKey).
	Key      string
	Catalog  *desired.Catalog
	LoadedAt time.Time
	// Touched is the log of the pass's host (observed.TouchingHost).
	Touched *observed.TouchLog
	// NoReplay, when set, says why a check may not answer from the index
	// alone (launchd is there to ask, nodes are in scope): the index
	// then only spares reads and renders.
	NoReplay string
	// Mask masks every secret in the node records, as the state's.
	Mask func([]byte) []byte
}

// IndexKey is the key of an index besides its inputs.
func IndexKey(binary, home, catalog string, flags ...string) string {
	return strings.Join(append([]string{"v1", binary, home, catalog}, flags...), "\x00")
}

// saveIndex writes the index of this pass (apply only): its entries, its
// inputs, what it looked at as it is now, and the report a check of the
// converged host would give. A pass given no Indexing (a targeted apply)
// leaves none: an index answers for the whole catalog or not at all.
func (p *Pass) saveIndex(cs *drift.ChangeSet) error {
	k := p.Indexing
	if k == nil {
		if err := p.Host.Remove(IndexFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	x := &Index{Key: k.Key, CatalogDigest: k.Catalog.Digest, LoadedAt: k.LoadedAt,
		Catalog: k.Catalog.Inputs(), Secrets: k.Catalog.SecretInputs(), SecretsDigest: desired.SecretsDigest(k.Catalog.SecretValues)}
	p.mu.Lock()
	for _, e := range p.entries {
		x.Entries = append(x.Entries, e)
	}
	p.mu.Unlock()
	sort.Slice(x.Entries, func(i, j int) bool { return x.Entries[i].Path < x.Entries[j].Path })
	p.vouch(x.Entries)
	x.build()
	for _, n := range k.Catalog.Nodes {
		x.CatalogNodes = append(x.CatalogNodes, n.Name)
	}
	x.Replay = k.NoReplay
	if x.Replay == "" {
		x.Replay, x.Report = p.replay(cs, x)
	}
	if x.Replay == "" {
		nodes, err := json.Marshal(p.Nodes())
		if err != nil {
			return err
		}
		if k.Mask != nil {
			nodes = k.Mask(nodes)
		}
		x.Nodes = nodes
		// What the pass looked at is taken once the grain of the last
		// write has passed (the state, just written, included), so that
		// its stat data vouches for it.
		if info, err := p.Host.Stat(StateFile); err == nil {
			// Its last change is the rename that put it in place, which
			// moves the ctime past the mtime of its write.
			last := info.ModTime()
			if key, ok := observed.KeyOf(info); ok {
				last = time.Unix(0, max(key.MtimeNs, key.CtimeNs))
			}
			if wait := time.Until(last.Add(racyGrain + time.Millisecond)); wait > 0 && wait <= vouchWait {
				time.Sleep(wait)
			}
		}
		x.SeenAt = time.Now()
		for _, t := range k.Touched.Touched() {
			if _, ok := x.byPath[t.Name]; ok || ownState(t.Name) {
				continue
			}
			x.Seen = append(x.Seen, observed.Observe(p.Host, t.Look, t.Name))
		}
		// What the pass left for the next one is part of what it answers.
		x.Seen = append(x.Seen, observed.Observe(p.Host, observed.LookRead, StateFile))
	}
	x.Written = time.Now()
	return p.Host.WriteFile(IndexFile, x.Marshal(), 0o600)
}

// vouchWait bounds how long an apply waits for the files it just wrote to
// leave the racy window before it vouches for them.
const vouchWait = 50 * time.Millisecond

// vouch makes the entries of files this pass wrote moments ago (whose stat
// was taken within the clock's grain of their change, so that it vouches
// for nothing) trusted where it can: once the grain has passed, a stat
// that is still the recorded one, taken before a read whose digest is
// still the recorded one, vouches for the bytes from then on. A file
// changed since is left untrusted (and read by the next pass).
func (p *Pass) vouch(entries []IndexEntry) {
	var racy []int
	var last int64
	for i, e := range entries {
		if e.HasKey && !e.Trusted && !e.Link {
			racy = append(racy, i)
			last = max(last, e.Key.MtimeNs, e.Key.CtimeNs)
		}
	}
	if len(racy) == 0 {
		return
	}
	if wait := time.Until(time.Unix(0, last).Add(racyGrain + time.Millisecond)); wait > 0 {
		if wait > vouchWait {
			return // a coarse clock: the next apply vouches for them
		}
		time.Sleep(wait)
	}
	observed.ForEach(min(8, len(racy)), len(racy), func(j int) {
		e := &entries[racy[j]]
		at := time.Now() // before the stat the read takes
		data, info, err := p.Host.ReadFile(e.Path)
		if err != nil || digest(data) != e.SHA256 {
			return
		}
		if key, ok := observed.KeyOf(info); ok && key == e.Key && trusted(key, at) {
			e.Trusted = true
		}
	})
}

// ownState reports whether a path is reconcile's own bookkeeping, which a
// pass reads and writes as it goes (the state is observed on its own).
func ownState(name string) bool { return name == StateDir || strings.HasPrefix(name, StateDir+"/") }

// replay turns an apply's changes into the report a check of the host it
// converged gives: each target unchanged, what was pruned gone, skipped and
// unmanaged findings as they were. A change that no index entry stands for
// and that a check would not repeat (a failure, a launchd or node action)
// leaves no report: a check runs in full until an apply converges all.
func (p *Pass) replay(cs *drift.ChangeSet, x *Index) (string, []IndexLine) {
	if len(p.Incomplete) > 0 {
		return "a required node was unreachable", nil
	}
	out := make([]IndexLine, 0, len(cs.Changes))
	for _, c := range cs.Changes {
		if i, ok := x.byPath[c.Path]; ok && c.Path != "" && c.Node == "" && c.Target == "" {
			e := x.Entries[i]
			if e.Kind == c.Kind && e.Name == c.Name && (c.Action == drift.Created || c.Action == drift.Configured || c.Action == drift.Unchanged) {
				out = append(out, IndexLine{Entry: i + 1})
				continue
			}
		}
		switch c.Action {
		case drift.Deleted:
			if strings.HasPrefix(c.Reason, "disabled by ") {
				// A pass after this one reports the switched-off object as skipped, by the same switch.
				why, _, _ := strings.Cut(c.Reason, "; ")
				out = append(out, IndexLine{Change: drift.Change{Kind: c.Kind, Name: c.Name, Action: drift.Skipped, Node: c.Node, Reason: why}})
			}
			continue
		case drift.Skipped, drift.Unchanged, drift.Unmanaged:
			out = append(out, IndexLine{Change: drift.Change{Kind: c.Kind, Name: c.Name, Action: c.Action, Path: c.Path, Node: c.Node, Target: c.Target, Reason: c.Reason, Rollup: c.Rollup}})
			continue
		}
		return fmt.Sprintf("%s %s/%s", c.Action, c.Kind, c.Name), nil
	}
	return "", out
}

// Verify reports why an index cannot stand for this pass ("" when it can):
// another key, a catalog file or directory changed, a secret changed.
func (x *Index) Verify(key string, catalog fs.FS, home string) string {
	switch {
	case x.Key != key:
		return "another binary, home or flags"
	case catalog != nil && !desired.Unchanged(catalog, x.Catalog, func(k observed.StatKey) bool { return trusted(k, x.LoadedAt) }):
		return "the catalog changed"
	case !desired.SecretsUnchanged(home, x.Secrets, x.SecretsDigest, func(k observed.StatKey) bool { return trusted(k, x.LoadedAt) }):
		return "a secret changed"
	}
	return ""
}

// FastStats says what a check from the index did.
type FastStats struct {
	Hits, Reads int64
}

// errNotFast: a target is in a state the index cannot judge (a directory,
// an unreadable file, a changed symlink): the full pass judges it.
var errNotFast = errors.New("not for the index")

// Check answers a check from the index alone, for a pass whose inputs
// Verify found unchanged: everything the last apply looked at still holds,
// and each target is stat'ed, read only when its stat data moved, and
// compared by digest. It returns the report the full pass would give, or
// why it cannot (and the caller runs the full pass).
func (x *Index) Check(ctx context.Context, h observed.Host) (*drift.ChangeSet, FastStats, string) {
	var st FastStats
	if x.Replay != "" {
		return nil, st, x.Replay
	}
	seenTrust := func(k observed.StatKey) bool { return trusted(k, x.SeenAt) }
	gone := func(name string) bool { _, ok := x.byPath[name]; return ok }
	for _, s := range x.Seen {
		if !s.Holds(h, seenTrust, gone) {
			return nil, st, drift.ShowPath(s.Name) + " changed"
		}
	}
	changes := make([]drift.Change, len(x.Entries))
	var failed atomic.Bool
	var hits, reads atomic.Int64
	observed.ForEach(min(max(8, runtime.GOMAXPROCS(0)*4), max(1, len(x.Entries))), len(x.Entries), func(i int) {
		if failed.Load() || ctx.Err() != nil {
			failed.Store(true)
			return
		}
		c, read, err := x.checkEntry(h, x.Entries[i])
		if err != nil {
			failed.Store(true)
			return
		}
		if read {
			reads.Add(1)
		} else if c.Action == drift.Unchanged {
			hits.Add(1)
		}
		changes[i] = c
	})
	st.Hits, st.Reads = hits.Load(), reads.Load()
	if failed.Load() {
		return nil, st, "a target the index cannot judge"
	}
	cs := &drift.ChangeSet{Changes: make([]drift.Change, 0, len(x.Report))}
	for _, l := range x.Report {
		if l.Entry > 0 {
			cs.Changes = append(cs.Changes, changes[l.Entry-1])
		} else {
			cs.Changes = append(cs.Changes, l.Change)
		}
	}
	return cs, st, ""
}

// checkEntry judges one target as File or Link would in a check.
func (x *Index) checkEntry(h observed.Host, e IndexEntry) (drift.Change, bool, error) {
	c := drift.Change{Kind: e.Kind, Name: e.Name, Path: e.Path, Action: drift.Unchanged}
	if e.Link {
		info, err := h.Lstat(e.Path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			c.Action = drift.Created
			return c, false, nil
		case err != nil || info.Mode()&fs.ModeSymlink == 0:
			return c, false, errNotFast
		}
		cur, err := h.Readlink(e.Path)
		if err != nil || linkDigest(cur) != e.SHA256 {
			return c, false, errNotFast // the reason names both targets: the full pass says it
		}
		return c, false, nil
	}
	modeRight := func(info fs.FileInfo) (string, bool) {
		want, why := drift.WantMode(info.Mode(), true, e.Secret, e.Perm)
		if why != "" {
			return drift.ModeReason(info.Mode(), want, why), false
		}
		return "", true
	}
	var known func(fs.FileInfo) bool
	if e.HasKey && e.Trusted {
		known = func(info fs.FileInfo) bool {
			key, ok := observed.KeyOf(info)
			_, right := modeRight(info)
			return ok && key == e.Key && right
		}
	}
	data, info, skipped, err := h.ReadFileUnless(e.Path, known)
	switch {
	case skipped:
		return c, false, nil
	case errors.Is(err, fs.ErrNotExist):
		c.Action = drift.Created
		return c, false, nil
	case err != nil:
		return c, false, errNotFast
	}
	if digest(data) != e.SHA256 {
		if e.Kind == "CalibrationFile" {
			return c, false, errNotFast // a calibration file's reason says why the host copy is invalid: the full pass says it
		}
		render := e.Canon
		if render == "" {
			render = e.SHA256
		}
		switch {
		case e.Kind == v1.KindLaunchAgent && PlistCanon(data) == render:
			// The same plist in other bytes: unchanged, as the full
			// pass says (FileTarget.Canonical); the mode below.
		case e.Kind == v1.KindSystemdUnit && e.Canon != "":
			// A unit kept in its own layout whose bytes moved: only
			// the full pass, which renders it, can compare what the
			// two say (UnitCanon).
			return c, false, errNotFast
		default:
			c.Action, c.Reason = drift.Configured, "content differs"
			return c, true, nil
		}
	}
	if why, right := modeRight(info); !right {
		c.Action, c.Reason = drift.Configured, why
	}
	return c, true, nil
}

// IndexStats says how many managed files the pass took from the index,
// how many it read, and how many targets it rendered.
func (fe *FileEngine) IndexStats() (hits, reads, rendered int64) {
	return fe.indexHits.Load(), fe.fileReads.Load(), fe.renders.Load()
}
