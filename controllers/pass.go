// Package controllers holds one controller per kind and the manager that runs
// them. Each controller is level-triggered: it reads everything it needs,
// compares with the catalog, writes only on difference and returns its
// entries of the ChangeSet. The manager runs them in order, keeps going past
// a failing object, prunes through the inventory and records the pass.
package controllers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// Paths under HOME that belong to reconcile itself.
const (
	StateDir   = ".sanctum/state"
	StateFile  = StateDir + "/reconcile.json"
	LockFile   = StateDir + "/reconcile.lock"
	BackupsDir = StateDir + "/backups"
)

// RecordedMode is the mode reconcile.json and the persona ledger name for
// a pass that wrote: only such a pass records its state (a plan's ledger,
// --check --record, says "audit").
const RecordedMode = "apply"

// Pass is what every controller shares during one run: the run's
// identity, the file engine (and through it the host, the inventory and the
// run's backups), launchd and the nodes, and each stateful kind's section.
type Pass struct {
	*FileEngine
	RunID string
	Now   time.Time
	// Ledgers is where the audit ledgers go (apply: Host; --check --record:
	// a door to exactly the ledger files); nil writes none.
	Ledgers observed.Host
	// Launchd is launchd, behind the same decorator as Host; Reload bounds
	// its waits.
	Launchd observed.Launchd
	Reload  observed.ReloadPolicy
	// Systemd is the user's systemd manager, behind the same decorator as
	// Host; LocalHost is the catalog host this machine is (vm on Linux,
	// mac otherwise: see LocalHostName): only units placed on it are
	// reconciled here.
	Systemd observed.Systemd
	// SystemSystemd is the system manager (scope: system units, files in
	// /etc/systemd/system, which Host names absolute when the pass may
	// write them: observed.MountHost); NoSystemd says why it is not asked.
	SystemSystemd observed.Systemd
	LocalHost     string

	mu sync.Mutex
	// sections are the stateful kinds' own state, by key (see Section).
	sections map[string]Section
	disabled map[string]map[string]bool // launchd's disabled labels, by domain
	// unitsPruned: the prune removed a unit file, so systemd reloads.
	unitsPruned bool
	// systemUnitsPruned: the same, of a system unit.
	systemUnitsPruned bool
	// hostNodes names the node that is each catalog host (RemoteNode
	// spec.catalogHost), from the whole catalog (set by Run); scope is a
	// targeted pass's (nil: everything).
	hostNodes map[string]string
	scope     *Scope

	// Indexing, when set, lets an apply leave an index (see saveIndex).
	Indexing *Indexing

	// Remote reaches the nodes; Local (--local) leaves them alone.
	Remote observed.Remote
	Local  bool
	// Progress, when set, is told how each node is doing (a terminal).
	Progress func(node, status string)
	// Incomplete lists the required nodes that could not be reached.
	Incomplete []string
	// ParallelNodes is how many remote nodes the pass reconciles at once
	// (0: DefaultParallelNodes), each over its own connection.
	ParallelNodes int
	// reclaimed is what a rollback restored on each node, for the node's
	// inventory.
	reclaimed map[string][]NodeOwned

	sources       map[string]sourceFile
	personaLedger *PersonaLedger

	// TwinCatalog, when set, loads the twin of the pass's catalog
	// (desired.LoadTwin), once, when a diff first needs it.
	TwinCatalog func(context.Context) (*desired.Catalog, error)
	twin        twinCatalog
}

// FileEngine makes files and symlinks under HOME hold what the catalog
// says, a batch at a time: it claims each path in the inventory, compares
// (through the last apply's index when it has one), keeps what it
// replaces in the run's backups, writes through the Host, and records what
// it leaves as owned. It knows nothing of kinds.
type FileEngine struct {
	Host observed.Host
	// Diffs asks for unified diffs of changed content (dry-run, apply;
	// the caller decides).
	Diffs bool
	// plans: the host only plans writes (a dry run or a check), so what
	// the pass records of its own effect says "would", never "did".
	plans bool

	secrets [][]byte
	// inv is what reconcile owns (claims, ownership, prune candidates);
	// kept is this run's backups and their index.
	inv  *Inventory
	kept *Backups

	mu       sync.Mutex
	observed map[string]string // sha256 of what a drifted file held

	// Index, when set, is the last apply's index (nil with --full): File
	// skips reading a file whose stat data says it still holds the indexed
	// bytes of its desired digest, and, when IndexInputs says the index
	// was written from this pass's very inputs, skips rendering a target
	// whose file holds the indexed digest: its bytes are needed only when
	// they differ.
	Index       *Index
	IndexInputs bool
	// entries is what this pass leaves right, for the next index.
	entries   map[string]IndexEntry
	indexHits atomic.Int64
	fileReads atomic.Int64
	renders   atomic.Int64
}

// NewFileEngine prepares the file engine of one run.
func NewFileEngine(host observed.Host, inv *Inventory, kept *Backups, secrets []string) *FileEngine {
	fe := &FileEngine{
		Host: host, Diffs: true, plans: observed.Plans(host), inv: inv, kept: kept,
		entries:  make(map[string]IndexEntry),
		observed: make(map[string]string),
	}
	for _, s := range secrets {
		fe.secrets = append(fe.secrets, []byte(s))
	}
	return fe
}

// NewPass prepares a pass.
func NewPass(host observed.Host, launchd observed.Launchd, runID string, now time.Time, secrets []string, prev *State) *Pass {
	p := &Pass{
		FileEngine: NewFileEngine(host, NewInventory(prev.Inventory), NewBackups(runID, now), secrets),
		Launchd:    launchd, Reload: observed.DefaultReloadPolicy, RunID: runID, Now: now,
		sources:  make(map[string]sourceFile),
		disabled: make(map[string]map[string]bool),
	}
	if launchd == nil {
		p.Launchd = observed.NoLaunchd{} // launchd's state unknown, never a nil call
	}
	p.Systemd, p.SystemSystemd, p.LocalHost = observed.NoSystemd{}, observed.NoSystemd{}, LocalHostName()
	// A section that does not load (LoadPassState checked it, so only a
	// State made in memory) starts empty.
	p.sections = make(map[string]Section)
	for key, c := range sectionKeys() {
		sec := c.NewSection()
		if err := sec.Load(prev.Sections[key]); err != nil {
			sec = c.NewSection()
		}
		p.sections[key] = sec
	}
	return p
}

// FileTarget is one file under HOME whose bytes the catalog decides.
type FileTarget struct {
	Kind, Name string
	Path       string // relative to HOME
	Content    []byte
	// Launchd is the service target loaded from this file, if any: a prune
	// boots it out before removing the file.
	Launchd string
	// Systemd is the user unit this file defines, if any: a prune stops
	// and disables it before removing the file.
	Systemd string
	// Perm, when set, is enforced (a helper script is 0755); otherwise a
	// file keeps the mode it has and new files are 0644.
	Perm fs.FileMode
	// Render, when Content is nil, produces it; Files calls it on its
	// workers, so rendering runs in parallel too, and stores the result in
	// Content. With an index of the same inputs it is called only when
	// the file on the host does not hold the indexed digest.
	Render func() ([]byte, error)
	// Twin, when set, renders the target from the twin catalog (every
	// secret as drift.SecretSentinel): the lines where the two renders
	// differ are where secrets went, and its diffs are masked there.
	Twin func() ([]byte, error)
	// SHA256 is the hex sha256 of what the target holds, set by File.
	SHA256 string
	// Secret says the bytes are known to hold a secret (a backup of a
	// secret-bearing target, restored): 0600, whatever they hold now.
	Secret bool
	// Canonical, when set, digests what bytes say to whoever reads them
	// in the form the target is rendered in (PlistCanon: a plist's keys
	// and values, not its layout), so that a render's canonical digest is
	// its own digest; or in a form of its own (UnitCanon, which a unit
	// file's target gets when it has none). A file whose bytes differ
	// from the target's but whose Canonical is the target's digest, or
	// the target's Canonical, says the same: it is left as
	// it is, unchanged, and the pass vouches for its own bytes from then
	// on. The index keeps the target's digest beside the file's, so that a
	// check answered from it judges such a file as the full pass does.
	Canonical func([]byte) string
	// canon is the digest of the render a file left as it is says the
	// same as ("" when the file holds the render itself).
	canon string
}

// Says is the digest of what the file the pass leaves says: the render's
// digest when the file says it in other bytes (Canonical), else its own.
func (t *FileTarget) Says() string {
	if t.canon != "" {
		return t.canon
	}
	return t.SHA256
}

// secretBearing reports whether a target holds a secret, as its render
// says, not by searching its bytes: a target rendered from objects whose
// templates read no secret has no Twin and holds none; one whose did is
// compared with its twin's render (every secret as drift.SecretSentinel),
// and holds one exactly where they differ, whatever the template did to
// the value and however the renderer spelt it. A twin that cannot be
// rendered counts as a secret. Bytes that are no render (a persona or
// helper source, a backup restored; or a pass given no twin) can only be
// searched for every spelling of a secret.
func (fe *FileEngine) secretBearing(t *FileTarget) bool {
	switch {
	case t.Secret:
		return true
	case t.Render != nil && t.Twin == nil:
		return false
	case t.Twin != nil:
		twin, err := t.Twin()
		switch {
		case errors.Is(err, errNoTwin):
			return fe.holdsSecret(t.Content)
		case err != nil:
			return true
		}
		return !bytes.Equal(twin, t.Content)
	}
	return fe.holdsSecret(t.Content)
}

// holdsSecret reports whether content carries a resolved secret value.
func (fe *FileEngine) holdsSecret(content []byte) bool {
	for _, s := range fe.secrets {
		if bytes.Contains(content, s) {
			return true
		}
	}
	return false
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// filesWindow is how many targets Files decides on before it writes what
// they need in one batch: a batch costs a few file-system syncs, and keeps
// a temporary file open per replaced file until it is done.
const filesWindow = 128

// Files reconciles many file targets with bounded parallelism, rendering
// those that carry a Render; results keep the order of targets. Targets are
// read and compared in parallel a window at a time; the window's backups are
// then written in one durable batch, and only after them the new files, in
// another.
func (fe *FileEngine) Files(ctx context.Context, targets []FileTarget) []drift.Change {
	out := make([]drift.Change, len(targets))
	workers := min(max(8, runtime.GOMAXPROCS(0)*4), len(targets))
	for lo := 0; lo < len(targets); lo += filesWindow {
		hi := min(lo+filesWindow, len(targets))
		writes := make([]*fileWrite, hi-lo)
		observed.ForEach(workers, hi-lo, func(j int) {
			out[lo+j], writes[j] = fe.file(ctx, &targets[lo+j])
		})
		var batch []*fileWrite
		var at []int
		for j, w := range writes {
			if w != nil {
				batch = append(batch, w)
				at = append(at, lo+j)
			}
		}
		for j, c := range fe.commit(batch) {
			out[at[j]] = c
		}
	}
	return out
}

// File makes one file hold exactly the target's bytes: created when missing,
// configured (after a backup of what was there) when different, unchanged
// otherwise. A file that holds a secret must be 0600; any other keeps the
// mode it has.
func (fe *FileEngine) File(ctx context.Context, t FileTarget) drift.Change {
	c, w := fe.file(ctx, &t)
	if w != nil {
		c = fe.commit([]*fileWrite{w})[0]
	}
	return c
}

// render produces a target's bytes, and counts it.
func (fe *FileEngine) render(t *FileTarget) error {
	fe.renders.Add(1)
	content, err := t.Render()
	if err != nil {
		return err
	}
	t.Content, t.SHA256 = content, digest(content)
	return nil
}

// fileWrite is a write file decided on: the target's bytes and mode and,
// when it replaces a file, the bytes to back up first. commit carries it
// out and finishes the change.
type fileWrite struct {
	t        *FileTarget
	c        drift.Change
	mode     fs.FileMode
	replaces bool // a file is there: back it up first
	old      []byte
	oldMode  fs.FileMode
	secret   bool
}

// file decides what one target needs; a target that needs a write comes
// back with it, for commit.
func (fe *FileEngine) file(ctx context.Context, t *FileTarget) (drift.Change, *fileWrite) {
	c := drift.Change{Kind: t.Kind, Name: t.Name, Path: t.Path}
	if err := fe.claim(ctx, c); err != nil {
		return fe.fail(c, err), nil
	}
	// What the file should hold: its bytes, or only their digest while an
	// index of the same inputs knows it and nothing needs the bytes.
	var secret bool
	indexed, inIndex := fe.Index.Lookup(t.Path)
	if inIndex && fe.IndexInputs && !indexed.Link && t.Content == nil && t.Render != nil {
		// What the file held last time (a render, or bytes that say the
		// same as the render indexed.Canon).
		t.SHA256, secret, t.canon = indexed.SHA256, indexed.Secret, indexed.Canon
	} else {
		if t.Content == nil && t.Render != nil {
			if err := fe.render(t); err != nil {
				return fe.fail(c, err), nil
			}
		}
		t.SHA256, secret = digest(t.Content), fe.secretBearing(t)
	}
	sha := t.SHA256
	var known func(fs.FileInfo) bool
	if inIndex && indexed.HasKey && indexed.Trusted && !indexed.Link && indexed.SHA256 == sha {
		known = func(info fs.FileInfo) bool {
			key, ok := observed.KeyOf(info)
			return ok && key == indexed.Key && fe.modeRight(info, secret, t.Perm)
		}
	}
	readAt := time.Now()
	current, info, skipped, err := fe.Host.ReadFileUnless(t.Path, known)
	if skipped {
		fe.indexHits.Add(1)
		c.Action = drift.Unchanged
		fe.settled(t, info, readAt, true, secret)
		return c, nil
	}
	var same bool
	if err == nil {
		fe.fileReads.Add(1)
		if t.Content == nil {
			same = digest(current) == sha
		} else {
			same = bytes.Equal(current, t.Content)
		}
	}
	if t.Content == nil && !same && (err == nil || errors.Is(err, fs.ErrNotExist)) {
		// Missing or different: now the bytes are needed. A render that
		// disagrees with the cache wins.
		if rerr := fe.render(t); rerr != nil {
			return fe.fail(c, rerr), nil
		}
		secret = fe.secretBearing(t)
		same = err == nil && bytes.Equal(current, t.Content)
	}
	if !same && err == nil && t.Canonical == nil && t.Systemd != "" && !bytes.HasPrefix(current, []byte(unitHeaderPrefix)) {
		// A unit file reconcile did not write (one adopted): what
		// systemd reads of it, not its layout. One reconcile wrote is
		// held to its bytes: an edit of it is drift, a comment too.
		t.Canonical = UnitCanon
	}
	if !same && err == nil && t.Canonical != nil && t.Content != nil {
		// A render in canonical form is its own canonical digest (a
		// plist); one that is not (a unit, with its generated-by
		// comment) is compared by the canonical digests of both.
		if c := t.Canonical(current); c != "" && (c == t.SHA256 || c == t.Canonical(t.Content)) {
			t.canon = t.SHA256
			t.Content, t.SHA256, same = current, digest(current), true
		}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		mode, _ := drift.WantMode(0, false, secret, t.Perm)
		return c, &fileWrite{t: t, c: c, mode: mode, secret: secret}
	case err != nil:
		return fe.fail(c, err), nil
	case same:
		c.Action = drift.Unchanged
		if want, why := drift.WantMode(info.Mode(), true, secret, t.Perm); why != "" {
			if err := fe.Host.Chmod(t.Path, want); err != nil {
				return fe.fail(c, err), nil
			}
			c.Action = drift.Configured
			c.Reason = drift.ModeReason(info.Mode(), want, why)
		}
		if c.Action == drift.Unchanged {
			fe.settled(t, info, readAt, false, secret)
		} else {
			fe.settled(t, nil, readAt, false, secret) // a chmod: no stat vouches for the bytes
		}
		return c, nil
	}
	fe.mu.Lock()
	fe.observed[t.Path] = digest(current)
	fe.mu.Unlock()
	mode, _ := drift.WantMode(info.Mode(), true, secret, t.Perm)
	return c, &fileWrite{t: t, c: c, mode: mode, secret: secret, replaces: true, old: current, oldMode: info.Mode().Perm()}
}

// settled records a target the pass leaves right: in the inventory and,
// for the next index, with the stat data of exactly its bytes when the
// pass has one (info: the stat taken before they were read or compared,
// or of the file written, at or after `at`; hit: the index vouched for it
// already).
func (fe *FileEngine) settled(t *FileTarget, info fs.FileInfo, at time.Time, hit, secret bool) {
	if !fe.plans {
		e := IndexEntry{Path: t.Path, Kind: t.Kind, Name: t.Name, SHA256: t.SHA256, Secret: secret, Perm: t.Perm, Rendered: t.Render != nil, Canon: t.canon}
		if info != nil {
			if key, ok := observed.KeyOf(info); ok {
				e.Key, e.HasKey = key, true
				e.Trusted = hit || trusted(key, at)
			}
		}
		fe.mu.Lock()
		fe.entries[t.Path] = e
		fe.mu.Unlock()
	}
	fe.own(InventoryEntry{Kind: t.Kind, Name: t.Name, Path: t.Path, SHA256: t.SHA256, Launchd: t.Launchd, Systemd: t.Systemd, Secret: secret})
}

// landed is the stat of a file just written when it still names the bytes
// the write put there (wrote: their stat, from the file's own handle
// before the rename); nil when another write came between, or when the
// host wrote nothing. The rename changed the ctime, so the stat after it
// is the one a later pass compares.
func (fe *FileEngine) landed(name string, wrote fs.FileInfo) (fs.FileInfo, time.Time) {
	at := time.Now()
	if wrote == nil {
		return nil, at
	}
	now, err := fe.Host.Lstat(name)
	if err != nil || !os.SameFile(now, wrote) || now.Size() != wrote.Size() || !now.ModTime().Equal(wrote.ModTime()) {
		return nil, at
	}
	return now, at
}

// commit carries out decided writes in two durable batches, the backups of
// the files they replace first, then the files; a write whose backup failed
// is not made. It returns each write's finished change.
func (fe *FileEngine) commit(ws []*fileWrite) []drift.Change {
	out := make([]drift.Change, len(ws))
	errs := make([]error, len(ws))
	var backups []observed.FileWrite
	var at []int
	for i, w := range ws {
		if w.replaces {
			backups = append(backups, observed.FileWrite{Name: fe.backupName(w.t.Path), Data: w.old, Perm: 0o600, New: true})
			at = append(at, i)
		}
	}
	if len(backups) > 0 {
		for j, err := range fe.Host.WriteFiles(backups) {
			w := ws[at[j]]
			if err != nil {
				errs[at[j]] = fmt.Errorf("backup before overwrite: %w", err)
				continue
			}
			fe.keepBackup(w.t.Kind, w.t.Name, w.t.Path, w.old, w.oldMode, "overwritten", w.secret)
		}
		// The index lists the backups before the files they keep change.
		if err := fe.kept.Journal(fe.Host); err != nil {
			for _, i := range at {
				if errs[i] == nil {
					errs[i] = fmt.Errorf("backup index before overwrite: %w", err)
				}
			}
		}
	}
	var files []observed.FileWrite
	at = at[:0]
	for i, w := range ws {
		if errs[i] == nil {
			files = append(files, observed.FileWrite{Name: w.t.Path, Data: w.t.Content, Perm: w.mode})
			at = append(at, i)
		}
	}
	wrote := make([]fs.FileInfo, len(ws))
	for j, err := range fe.Host.WriteFiles(files) {
		errs[at[j]], wrote[at[j]] = err, files[j].Written
	}
	for i, w := range ws {
		c := w.c
		if errs[i] != nil {
			out[i] = fe.fail(c, errs[i])
			continue
		}
		if w.replaces {
			c.Action, c.Reason, c.Backup = drift.Configured, "content differs", fe.backupName(w.t.Path)
		} else {
			c.Action = drift.Created
		}
		if fe.Diffs {
			c.Diff = fe.diff(w)
		}
		info, at := fe.landed(w.t.Path, wrote[i])
		w.t.canon = "" // it holds the render now
		fe.settled(w.t, info, at, false, w.secret)
		out[i] = c
	}
	return out
}

// diff shows what a write changes. A secret-bearing target, one whose
// render differs from its twin's or whose old or new bytes hold a secret
// value, is masked by position (drift.SecretDiff): no line that held a
// secret, old or new, shows, however it was spelt.
//
// The old bytes held a secret whose place is unknown when the last pass
// wrote a secret-bearing target there (its inventory entry says so: the
// secret may since be rotated, or no longer templated into the target) or
// they hold a value known now: every changed old line is masked then,
// whatever value it held.
func (fe *FileEngine) diff(w *fileWrite) string {
	t := w.t
	secret := w.secret
	oldSecret := w.replaces && (fe.wroteSecret(t.Path) || fe.holdsSecret(w.old))
	var twin []byte
	if t.Twin != nil {
		if b, err := t.Twin(); err == nil {
			twin = b
			secret = secret || !bytes.Equal(b, t.Content)
		}
	}
	switch {
	case !secret && !oldSecret && w.replaces:
		return drift.Diff(t.Path, w.old, t.Content)
	case !secret && !oldSecret:
		return drift.CreatedDiff(t.Path, t.Content)
	case oldSecret:
		if !secret {
			twin = t.Content // the new bytes hold none: they show
		}
		return drift.SecretDiffOld(t.Path, w.old, t.Content, twin)
	case w.replaces:
		return drift.SecretDiff(t.Path, w.old, t.Content, twin)
	}
	return drift.SecretCreatedDiff(t.Path, t.Content, twin)
}

// wroteSecret reports whether the last pass left a secret-bearing target
// at path.
func (fe *FileEngine) wroteSecret(path string) bool {
	e, ok := fe.inv.Previous(path)
	return ok && e.Secret
}

// deletedDiff shows a file about to be removed: masked whole when it may
// hold a secret (see diff), since no render says where.
func (fe *FileEngine) deletedDiff(path string, data []byte) string {
	if fe.wroteSecret(path) || fe.holdsSecret(data) {
		return drift.SecretDeletedDiff(path, data)
	}
	return drift.DeletedDiff(path, data)
}

// modeRight reports whether a file's mode needs no change.
func (fe *FileEngine) modeRight(info fs.FileInfo, secret bool, declared fs.FileMode) bool {
	_, why := drift.WantMode(info.Mode(), true, secret, declared)
	return why == ""
}

// claim marks a path as wanted by one object; a second object that wants
// the same path fails, and so does a cancelled pass.
func (fe *FileEngine) claim(ctx context.Context, c drift.Change) error {
	if err := fe.inv.Claim(c.Path, c.ID()); err != nil {
		return err
	}
	return ctx.Err()
}

// LinkTarget is a symlink under HOME whose target the catalog decides.
type LinkTarget struct {
	Kind, Name string
	Path       string // relative to HOME
	Target     string // what it points to, as written
}

// linkDigest is what the inventory keeps for a symlink.
func linkDigest(target string) string { return digest([]byte("symlink:" + target)) }

// Link makes one symlink point where the catalog says: created when
// missing, repointed when it points elsewhere, and a file in its place is
// backed up first.
func (fe *FileEngine) Link(ctx context.Context, t LinkTarget) drift.Change {
	c := drift.Change{Kind: t.Kind, Name: t.Name, Path: t.Path}
	if err := fe.claim(ctx, c); err != nil {
		return fe.fail(c, err)
	}
	info, err := fe.Host.Lstat(t.Path)
	var cur string // where the link pointed, if it was one
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.Action = drift.Created
	case err != nil:
		return fe.fail(c, err)
	case info.Mode()&fs.ModeSymlink != 0:
		if cur, err = fe.Host.Readlink(t.Path); err != nil {
			return fe.fail(c, err)
		}
		if cur == t.Target {
			c.Action = drift.Unchanged
			break
		}
		c.Action, c.Reason = drift.Configured, "points to "+cur+", want "+t.Target
		backup, err := fe.backupLink(t.Kind, t.Name, t.Path, cur, "overwritten")
		if err != nil {
			return fe.fail(c, err)
		}
		c.Backup = backup
	case info.Mode().IsRegular():
		data, _, err := fe.Host.ReadFile(t.Path)
		if err != nil {
			return fe.fail(c, err)
		}
		backup, err := fe.backup(t.Kind, t.Name, t.Path, data, info.Mode().Perm(), "overwritten")
		if err != nil {
			return fe.fail(c, err)
		}
		if err := fe.Host.Remove(t.Path); err != nil {
			return fe.fail(c, err)
		}
		c.Action, c.Reason, c.Backup = drift.Configured, "a regular file, want a symlink to "+t.Target, backup
		if fe.Diffs {
			c.Diff = drift.Diff(t.Path, data, []byte("-> "+t.Target+"\n"))
		}
	default:
		return fe.fail(c, fmt.Errorf("%s is a directory; want a symlink to %s", t.Path, t.Target))
	}
	if c.Action != drift.Unchanged {
		if fe.Diffs && c.Diff == "" {
			c.Diff = drift.LinkDiff(t.Path, cur, t.Target)
		}
		if err := fe.Host.Symlink(t.Target, t.Path); err != nil {
			return fe.fail(c, err)
		}
	}
	if !fe.plans {
		fe.mu.Lock()
		fe.entries[t.Path] = IndexEntry{Path: t.Path, Kind: t.Kind, Name: t.Name, SHA256: linkDigest(t.Target), Link: true}
		fe.mu.Unlock()
	}
	fe.own(InventoryEntry{Kind: t.Kind, Name: t.Name, Path: t.Path, SHA256: linkDigest(t.Target)})
	return c
}

// backupLink keeps a symlink about to be repointed or removed, as a
// symlink under the run's backups.
func (fe *FileEngine) backupLink(kind, name, target, points, reason string) (string, error) {
	dst := fe.kept.Path(target)
	if err := fe.Host.Symlink(points, dst); err != nil {
		return "", fmt.Errorf("backup before %s: %w", reason, err)
	}
	fe.kept.KeepLink(kind, name, target, points, reason)
	if err := fe.kept.Journal(fe.Host); err != nil {
		return "", fmt.Errorf("backup index before %s: %w", reason, err)
	}
	return dst, nil
}

// ObservedDigest is the sha256 of what a file held before this pass
// changed it, or "" when it was missing or already right.
func (fe *FileEngine) ObservedDigest(path string) string {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	return fe.observed[path]
}

// fail records a failed object; what it owned before stays owned, so that a
// later pass still knows about it.
func (fe *FileEngine) fail(c drift.Change, err error) drift.Change {
	c.Action = drift.Failed
	c.Error, c.Err = err.Error(), err
	fe.inv.Fail(c.Path, c.ID())
	return c
}

func (fe *FileEngine) own(e InventoryEntry) { fe.inv.Own(e) }

// backupName is where this run keeps a file's old bytes.
func (fe *FileEngine) backupName(target string) string { return fe.kept.Path(target) }

// backup keeps bytes about to be overwritten or removed under
// backups/<run-id>/<path>, 0600, and remembers them for the run's index.
func (fe *FileEngine) backup(kind, name, target string, data []byte, mode fs.FileMode, reason string) (string, error) {
	dst := fe.backupName(target)
	if err := fe.Host.WriteFile(dst, data, 0o600); err != nil {
		return "", fmt.Errorf("backup before overwrite: %w", err)
	}
	fe.keepBackup(kind, name, target, data, mode, reason, false)
	if err := fe.kept.Journal(fe.Host); err != nil {
		return "", fmt.Errorf("backup index before %s: %w", reason, err)
	}
	return dst, nil
}

// keepBackup lists a written backup in the run's index; it is
// secret-bearing when the target is now or was when the last pass wrote it.
func (fe *FileEngine) keepBackup(kind, name, target string, data []byte, mode fs.FileMode, reason string, secret bool) {
	fe.kept.Keep(kind, name, target, data, mode, reason, secret || fe.wroteSecret(target))
}
