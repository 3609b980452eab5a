package observed

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Op is a write a DryRunHost recorded instead of doing.
type Op struct {
	Verb string // write, chmod, remove, mkdir
	Path string
	Mode fs.FileMode
}

// DryRunHost is an overlay: it records every write in memory instead of
// doing it, and answers every later read as if the write had been done. A
// dry run therefore sees its own plan (a restartOn input it rewrites reads
// as changed, a backup it keeps exists), and a write apply would refuse (a
// symlink in the way, a directory that leads out of HOME) is refused here
// with the same error, because the overlay asks the host below the same
// questions the real write path asks. Nothing below it is ever written: in
// the wiring it sits on a ReadOnlyHost, which would turn any write that got
// past it into an error.
type DryRunHost struct {
	Host
	mu    sync.Mutex
	ops   []Op
	files map[string]*planned // by clean path
	// children lists the planned paths of each directory, so that a
	// listing costs what that directory holds, not every plan.
	children map[string]map[string]struct{}
	trees    []string // directories removed with everything under them
	now      time.Time
	// replaced maps the host's file at each planned path, by device and
	// inode, to that path: a read that reaches one of them through the
	// host's own symlinks sees the plan, without an lstat per read.
	replaced map[fileID]string
}

// fileID names a file on the host.
type fileID struct{ dev, ino uint64 }

func idOf(info fs.FileInfo) (fileID, bool) {
	if info == nil {
		return fileID{}, false
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{uint64(st.Dev), uint64(st.Ino)}, true
}

var _ Host = (*DryRunHost)(nil)

// planned is what the overlay holds at one path.
type planned struct {
	kind   plannedKind
	data   []byte
	perm   fs.FileMode
	target string // a symlink's
}

type plannedKind int

const (
	plannedFile plannedKind = iota
	plannedLink
	plannedDir
	plannedGone
)

// NewDryRunHost decorates h.
func NewDryRunHost(h Host) *DryRunHost {
	return &DryRunHost{Host: h, files: make(map[string]*planned), children: make(map[string]map[string]struct{}),
		now: time.Now(), replaced: make(map[fileID]string)}
}

func (d *DryRunHost) record(op Op) {
	d.mu.Lock()
	d.ops = append(d.ops, op)
	d.mu.Unlock()
}

// Ops returns the writes recorded so far.
func (d *DryRunHost) Ops() []Op {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Op(nil), d.ops...)
}

// lookup returns what the overlay says of a clean path: an entry, or nil
// when the path is the host's business. A path under a removed tree, or
// under a planned file, is gone.
func (d *DryRunHost) lookup(c string) *planned {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lookupLocked(c)
}

func (d *DryRunHost) lookupLocked(c string) *planned {
	if e, ok := d.files[c]; ok {
		return e
	}
	for _, t := range d.trees {
		if strings.HasPrefix(c, t+"/") {
			return &planned{kind: plannedGone}
		}
	}
	for dir := path.Dir(c); dir != "."; dir = path.Dir(dir) {
		if e, ok := d.files[dir]; ok {
			if e.kind == plannedFile || e.kind == plannedGone {
				return &planned{kind: plannedGone}
			}
			break
		}
	}
	return nil
}

// plan puts e at c (d.mu held).
func (d *DryRunHost) plan(c string, e *planned) {
	d.files[c] = e
	dir := path.Dir(c)
	if d.children[dir] == nil {
		d.children[dir] = make(map[string]struct{})
	}
	d.children[dir][c] = struct{}{}
}

func (d *DryRunHost) set(c string, e *planned) {
	d.mu.Lock()
	_, before := d.files[c]
	d.mu.Unlock()
	var id fileID
	var known bool
	if !before {
		// The first plan for a path: remember the host's file there.
		if info, err := d.Host.Lstat(c); err == nil && info.Mode().IsRegular() {
			id, known = idOf(info)
		}
	}
	d.mu.Lock()
	d.plan(c, e)
	if known {
		d.replaced[id] = c
	}
	d.mu.Unlock()
}

// aliasOf is the planned path whose host file a read of c reached through
// the host's symlinks, if any.
func (d *DryRunHost) aliasOf(info fs.FileInfo, c string) (string, bool) {
	id, ok := idOf(info)
	if !ok {
		return "", false
	}
	d.mu.Lock()
	p, ok := d.replaced[id]
	d.mu.Unlock()
	return p, ok && p != c
}

// planned reports whether the overlay holds anything.
func (d *DryRunHost) planned() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.files) > 0
}

// notExist is the error a read of a planned removal gets.
func notExist(op, name string) error {
	return &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
}

// outside is the error of a symlink that leads out of HOME, as the real
// host words it.
func outside(op, name string) error {
	return &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("a symlink on the path %w", ErrOutsideHome)}
}

// resolve follows symlinks the overlay is involved in: it returns the clean
// path whose entry (or whose host file) a following read of name sees, and
// the overlay entry there, if any. through reports whether the overlay had
// a part in the answer; when it did not, the caller asks the host with the
// original name so that its errors are the host's own.
func (d *DryRunHost) resolve(op, name, c string) (at string, e *planned, through bool, err error) {
	d.mu.Lock()
	empty := len(d.files) == 0
	d.mu.Unlock()
	if empty {
		return c, nil, false, nil
	}
	for range 40 {
		e = d.lookup(c)
		if e == nil {
			info, lerr := d.Host.Lstat(c)
			if lerr != nil || info.Mode()&fs.ModeSymlink == 0 {
				return c, nil, through, nil
			}
			t, rerr := d.Host.Readlink(c)
			if rerr != nil {
				return c, nil, through, nil
			}
			next, ok := d.linkPath(c, t)
			if !ok || (d.lookup(next) == nil && !through) {
				// The host's own symlink to a path the overlay knows
				// nothing of: the host answers.
				return c, nil, through, nil
			}
			c, through = next, true
			continue
		}
		through = true
		if e.kind != plannedLink {
			return c, e, true, nil
		}
		next, ok := d.linkPath(c, e.target)
		if !ok {
			return "", nil, true, outside(op, name)
		}
		c = next
	}
	return "", nil, true, &fs.PathError{Op: op, Path: name, Err: syscall.ELOOP}
}

// linkPath is where a symlink at c pointing at target leads, relative to
// HOME; false when it leads out.
func (d *DryRunHost) linkPath(c, target string) (string, bool) {
	var p string
	if path.IsAbs(target) {
		home := strings.TrimSuffix(d.Home(), "/")
		if target != home && !strings.HasPrefix(target, home+"/") {
			return "", false
		}
		p = strings.TrimPrefix(strings.TrimPrefix(target, home), "/")
		if p == "" {
			p = "."
		}
	} else {
		p = path.Join(path.Dir(c), target)
	}
	cp, err := clean(p)
	return cp, err == nil
}

// plannedInfo describes an overlay entry.
type plannedInfo struct {
	name string
	e    *planned
	mod  time.Time
}

func (i plannedInfo) Name() string { return i.name }
func (i plannedInfo) Size() int64 {
	if i.e.kind == plannedLink {
		return int64(len(i.e.target))
	}
	return int64(len(i.e.data))
}
func (i plannedInfo) Mode() fs.FileMode {
	switch i.e.kind {
	case plannedLink:
		return fs.ModeSymlink | 0o777
	case plannedDir:
		return fs.ModeDir | i.e.perm
	}
	return i.e.perm
}
func (i plannedInfo) ModTime() time.Time { return i.mod }
func (i plannedInfo) IsDir() bool        { return i.e.kind == plannedDir }
func (i plannedInfo) Sys() any           { return nil }

func (d *DryRunHost) info(c string, e *planned) fs.FileInfo {
	return plannedInfo{name: path.Base(c), e: e, mod: d.now}
}

// ReadFile implements Host.
func (d *DryRunHost) ReadFile(name string) ([]byte, fs.FileInfo, error) {
	data, info, _, err := d.ReadFileUnless(name, nil)
	return data, info, err
}

// ReadFileUnless implements Host.
func (d *DryRunHost) ReadFileUnless(name string, known func(fs.FileInfo) bool) ([]byte, fs.FileInfo, bool, error) {
	c, err := clean(name)
	if err != nil {
		return nil, nil, false, err
	}
	if d.lookup(c) == nil {
		// The host's business, unless it leads to a planned path: through
		// one of the host's symlinks to a file the plan replaced (found by
		// its inode), or to one the plan made (the host says missing).
		data, info, skipped, err := d.Host.ReadFileUnless(name, known)
		if p, ok := d.aliasOf(info, c); ok && err == nil {
			return d.ReadFileUnless(p, nil)
		}
		if err == nil || !errors.Is(err, fs.ErrNotExist) || !d.planned() {
			return data, info, skipped, err
		}
	}
	at, e, through, err := d.resolve("open", name, c)
	switch {
	case err != nil:
		return nil, nil, false, err
	case e == nil && !through:
		return d.Host.ReadFileUnless(name, known)
	case e == nil:
		data, info, err := d.Host.ReadFile(at)
		return data, info, false, err
	case e.kind == plannedGone:
		return nil, nil, false, notExist("open", name)
	case e.kind != plannedFile:
		return nil, d.info(at, e), false, &fs.PathError{Op: "read", Path: name, Err: errors.New("not a regular file")}
	}
	return append([]byte(nil), e.data...), d.info(at, e), false, nil
}

// Stat implements Host.
func (d *DryRunHost) Stat(name string) (fs.FileInfo, error) {
	c, err := clean(name)
	if err != nil {
		return nil, err
	}
	if d.lookup(c) == nil {
		info, err := d.Host.Stat(name)
		if p, ok := d.aliasOf(info, c); ok && err == nil {
			return d.Stat(p)
		}
		if err == nil || !errors.Is(err, fs.ErrNotExist) || !d.planned() {
			return info, err
		}
	}
	at, e, through, err := d.resolve("stat", name, c)
	switch {
	case err != nil:
		return nil, err
	case e == nil && !through:
		return d.Host.Stat(name)
	case e == nil:
		return d.Host.Stat(at)
	case e.kind == plannedGone:
		return nil, notExist("stat", name)
	}
	return d.info(at, e), nil
}

// Lstat implements Host.
func (d *DryRunHost) Lstat(name string) (fs.FileInfo, error) {
	c, err := clean(name)
	if err != nil {
		return nil, err
	}
	switch e := d.lookup(c); {
	case e == nil:
		return d.Host.Lstat(name)
	case e.kind == plannedGone:
		return nil, notExist("lstat", name)
	default:
		return d.info(c, e), nil
	}
}

// Readlink implements Host.
func (d *DryRunHost) Readlink(name string) (string, error) {
	c, err := clean(name)
	if err != nil {
		return "", err
	}
	switch e := d.lookup(c); {
	case e == nil:
		return d.Host.Readlink(name)
	case e.kind == plannedGone:
		return "", notExist("readlink", name)
	case e.kind != plannedLink:
		return "", &fs.PathError{Op: "readlink", Path: name, Err: syscall.EINVAL}
	default:
		return e.target, nil
	}
}

// ReadDir implements Host: the host's listing with the plan laid over it.
func (d *DryRunHost) ReadDir(name string) ([]fs.DirEntry, error) {
	c, err := clean(name)
	if err != nil {
		return nil, err
	}
	at, e, _, err := d.resolve("readdir", name, c)
	if err != nil {
		return nil, err
	}
	if e != nil && e.kind != plannedDir {
		return nil, nil
	}
	entries, err := d.Host.ReadDir(at) // a missing directory lists as empty
	if err != nil && e == nil {
		return nil, err
	}
	byName := make(map[string]fs.DirEntry, len(entries))
	for _, de := range entries {
		byName[de.Name()] = de
	}
	d.mu.Lock()
	for p := range d.children[at] {
		if pe := d.files[p]; p != at {
			if pe.kind == plannedGone {
				delete(byName, path.Base(p))
			} else {
				byName[path.Base(p)] = fs.FileInfoToDirEntry(d.info(p, pe))
			}
		}
	}
	for _, t := range d.trees {
		if path.Dir(t) == at {
			delete(byName, path.Base(t))
		}
	}
	d.mu.Unlock()
	out := make([]fs.DirEntry, 0, len(byName))
	for _, de := range byName {
		out = append(out, de)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// checkParents asks what making name's directory would: every directory on
// the way exists as a directory inside HOME or can be made.
func (d *DryRunHost) checkParents(c string) error {
	parent := path.Dir(c)
	for dir := parent; dir != "."; dir = path.Dir(dir) {
		info, err := d.Stat(dir)
		switch {
		case errors.Is(err, ErrOutsideHome):
			return outside("mkdir", parent)
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return &fs.PathError{Op: "mkdir", Path: parent, Err: err}
		case !info.IsDir():
			return &fs.PathError{Op: "mkdir", Path: parent, Err: syscall.ENOTDIR}
		}
		return nil
	}
	return nil
}

// makeParents plans the directories a write makes on its way (0755, as
// the real host makes them).
func (d *DryRunHost) makeParents(c string) {
	for dir := path.Dir(c); dir != "."; dir = path.Dir(dir) {
		if info, err := d.Stat(dir); err == nil && info.IsDir() {
			return
		}
		d.set(dir, &planned{kind: plannedDir, perm: 0o755})
	}
}

// checkWrite asks what the real write path asks before it writes a file.
func (d *DryRunHost) checkWrite(name string) (string, error) {
	c, err := clean(name)
	if err != nil {
		return "", err
	}
	if err := d.checkParents(c); err != nil {
		return "", err
	}
	if info, err := d.Lstat(c); err == nil && info.Mode()&fs.ModeSymlink != 0 {
		target, _ := d.Readlink(c)
		return "", &fs.PathError{Op: "write", Path: name, Err: fmt.Errorf("%w (-> %s); refusing to replace it", ErrSymlink, target)}
	} else if err == nil && info.IsDir() {
		return "", &fs.PathError{Op: "write", Path: name, Err: syscall.EISDIR}
	}
	return c, nil
}

// WriteFile implements Host.
func (d *DryRunHost) WriteFile(name string, data []byte, perm fs.FileMode) error {
	c, err := d.checkWrite(name)
	if err != nil {
		return err
	}
	d.makeParents(c)
	d.set(c, &planned{kind: plannedFile, data: append([]byte(nil), data...), perm: perm.Perm()})
	d.record(Op{Verb: "write", Path: name, Mode: perm})
	return nil
}

// WriteFiles implements Host.
// A planned write has no stat of what it wrote: Written stays nil.
func (d *DryRunHost) WriteFiles(writes []FileWrite) []error {
	errs := make([]error, len(writes))
	for i, w := range writes {
		writes[i].Written = nil
		if w.New {
			if _, err := d.Lstat(w.Name); err == nil {
				errs[i] = &fs.PathError{Op: "create", Path: w.Name, Err: fs.ErrExist}
				continue
			}
		}
		errs[i] = d.WriteFile(w.Name, w.Data, w.Perm)
	}
	return errs
}

// AppendFile implements Host.
func (d *DryRunHost) AppendFile(name string, data []byte, perm fs.FileMode) error {
	c, err := clean(name)
	if err != nil {
		return err
	}
	if err := d.checkParents(c); err != nil {
		return err
	}
	old, info, err := d.ReadFile(name)
	switch {
	case err == nil:
		perm = info.Mode().Perm()
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	d.makeParents(c)
	d.set(c, &planned{kind: plannedFile, data: append(old, data...), perm: perm.Perm()})
	d.record(Op{Verb: "append", Path: name, Mode: perm})
	return nil
}

// Symlink implements Host.
func (d *DryRunHost) Symlink(target, name string) error {
	c, err := clean(name)
	if err != nil {
		return err
	}
	if info, err := d.Lstat(c); err == nil && info.Mode()&fs.ModeSymlink == 0 {
		return &fs.PathError{Op: "symlink", Path: name, Err: errors.New("exists and is not a symlink")}
	}
	if err := d.checkParents(c); err != nil {
		return err
	}
	d.makeParents(c)
	d.set(c, &planned{kind: plannedLink, target: target})
	d.record(Op{Verb: "symlink " + target, Path: name})
	return nil
}

// Chmod implements Host.
func (d *DryRunHost) Chmod(name string, perm fs.FileMode) error {
	c, err := clean(name)
	if err != nil {
		return err
	}
	at, e, _, err := d.resolve("chmod", name, c)
	if err != nil {
		return err
	}
	switch {
	case e == nil:
		data, info, err := d.Host.ReadFile(at)
		if err != nil {
			if info != nil && info.IsDir() {
				d.set(at, &planned{kind: plannedDir, perm: perm.Perm()})
				break
			}
			return err
		}
		d.set(at, &planned{kind: plannedFile, data: data, perm: perm.Perm()})
	case e.kind == plannedGone:
		return notExist("chmod", name)
	default:
		cp := *e
		cp.perm = perm.Perm()
		d.set(at, &cp)
	}
	d.record(Op{Verb: "chmod", Path: name, Mode: perm})
	return nil
}

// Remove implements Host.
func (d *DryRunHost) Remove(name string) error {
	c, err := clean(name)
	if err != nil {
		return err
	}
	if _, err := d.Lstat(c); err != nil {
		return err
	}
	d.set(c, &planned{kind: plannedGone})
	d.record(Op{Verb: "remove", Path: name})
	return nil
}

// RemoveAll implements Host.
func (d *DryRunHost) RemoveAll(name string) error {
	c, err := clean(name)
	if err != nil {
		return err
	}
	if c == "." {
		return &fs.PathError{Op: "removeall", Path: name, Err: errors.New("refusing to remove HOME")}
	}
	d.mu.Lock()
	for p := range d.files {
		if strings.HasPrefix(p, c+"/") {
			delete(d.files, p)
			delete(d.children[path.Dir(p)], p)
		}
	}
	d.plan(c, &planned{kind: plannedGone})
	d.trees = append(d.trees, c)
	d.mu.Unlock()
	d.record(Op{Verb: "removeall", Path: name})
	return nil
}

// MkdirAll implements Host.
func (d *DryRunHost) MkdirAll(name string, perm fs.FileMode) error {
	c, err := clean(name)
	if err != nil {
		return err
	}
	if c == "." {
		return nil
	}
	if err := d.checkParents(path.Join(c, "x")); err != nil {
		return err
	}
	for dir := c; dir != "."; dir = path.Dir(dir) {
		if info, err := d.Stat(dir); err == nil && info.IsDir() {
			break
		}
		p := perm.Perm()
		if dir != c {
			p = 0o755
		}
		d.set(dir, &planned{kind: plannedDir, perm: p})
	}
	d.record(Op{Verb: "mkdir", Path: name, Mode: perm})
	return nil
}

// ReadOnlyHost lets reads through and refuses every write: under it, a
// write is a bug in reconcile, never something to do.
type ReadOnlyHost struct{ Host }

var _ Host = ReadOnlyHost{}

func readOnly(verb, name string) error {
	return fmt.Errorf("%s %s: %w", verb, name, ErrReadOnly)
}

// WriteFile implements Host.
func (r ReadOnlyHost) WriteFile(name string, _ []byte, _ fs.FileMode) error {
	return readOnly("write", name)
}

// WriteFiles implements Host.
func (r ReadOnlyHost) WriteFiles(writes []FileWrite) []error {
	errs := make([]error, len(writes))
	for i, w := range writes {
		errs[i] = readOnly("write", w.Name)
	}
	return errs
}

// AppendFile implements Host.
func (r ReadOnlyHost) AppendFile(name string, _ []byte, _ fs.FileMode) error {
	return readOnly("append", name)
}

// Symlink implements Host.
func (r ReadOnlyHost) Symlink(_, name string) error { return readOnly("symlink", name) }

// Chmod implements Host.
func (r ReadOnlyHost) Chmod(name string, _ fs.FileMode) error { return readOnly("chmod", name) }

// Remove implements Host.
func (r ReadOnlyHost) Remove(name string) error { return readOnly("remove", name) }

// RemoveAll implements Host.
func (r ReadOnlyHost) RemoveAll(name string) error { return readOnly("removeall", name) }

// MkdirAll implements Host.
func (r ReadOnlyHost) MkdirAll(name string, _ fs.FileMode) error { return readOnly("mkdir", name) }

// AllowOnlyHost lets writes to exactly the named paths (and the making of
// their directories) through to Writer, and hands every other call to the
// Host it decorates: `--check --record` writes its audit ledger and
// nothing else.
type AllowOnlyHost struct {
	Host
	Writer Host
	Paths  []string // clean paths relative to HOME
}

var _ Host = AllowOnlyHost{}

func (a AllowOnlyHost) allowed(name string) bool {
	c, err := clean(name)
	if err != nil {
		return false
	}
	for _, p := range a.Paths {
		if c == p {
			return true
		}
	}
	return false
}

func (a AllowOnlyHost) allowedDir(name string) bool {
	c, err := clean(name)
	if err != nil {
		return false
	}
	for _, p := range a.Paths {
		if strings.HasPrefix(p, c+"/") {
			return true
		}
	}
	return false
}

// WriteFile implements Host.
func (a AllowOnlyHost) WriteFile(name string, data []byte, perm fs.FileMode) error {
	if a.allowed(name) {
		return a.Writer.WriteFile(name, data, perm)
	}
	return a.Host.WriteFile(name, data, perm)
}

// WriteFiles implements Host.
func (a AllowOnlyHost) WriteFiles(writes []FileWrite) []error {
	errs := make([]error, len(writes))
	for i, w := range writes {
		errs[i] = a.WriteFile(w.Name, w.Data, w.Perm)
	}
	return errs
}

// MkdirAll implements Host.
func (a AllowOnlyHost) MkdirAll(name string, perm fs.FileMode) error {
	if a.allowedDir(name) {
		return a.Writer.MkdirAll(name, perm)
	}
	return a.Host.MkdirAll(name, perm)
}

// AbsentHome is the Host of a HOME that does not exist: every read finds
// nothing, and it has nowhere to write. A read-only pass against it plans
// every target as created and makes nothing.
type AbsentHome struct{ Dir string }

var _ Host = AbsentHome{}

// Home implements Host.
func (a AbsentHome) Home() string { return a.Dir }

// ReadFile implements Host.
func (a AbsentHome) ReadFile(name string) ([]byte, fs.FileInfo, error) {
	return nil, nil, notExist("open", name)
}

// ReadFileUnless implements Host.
func (a AbsentHome) ReadFileUnless(name string, _ func(fs.FileInfo) bool) ([]byte, fs.FileInfo, bool, error) {
	return nil, nil, false, notExist("open", name)
}

// Stat implements Host.
func (a AbsentHome) Stat(name string) (fs.FileInfo, error) { return nil, notExist("stat", name) }

// Lstat implements Host.
func (a AbsentHome) Lstat(name string) (fs.FileInfo, error) { return nil, notExist("lstat", name) }

// ReadDir implements Host.
func (a AbsentHome) ReadDir(string) ([]fs.DirEntry, error) { return nil, nil }

// Readlink implements Host.
func (a AbsentHome) Readlink(name string) (string, error) { return "", notExist("readlink", name) }

// WriteFile implements Host.
func (a AbsentHome) WriteFile(name string, _ []byte, _ fs.FileMode) error {
	return readOnly("write", name)
}

// WriteFiles implements Host.
func (a AbsentHome) WriteFiles(writes []FileWrite) []error { return ReadOnlyHost{a}.WriteFiles(writes) }

// AppendFile implements Host.
func (a AbsentHome) AppendFile(name string, _ []byte, _ fs.FileMode) error {
	return readOnly("append", name)
}

// Chmod implements Host.
func (a AbsentHome) Chmod(name string, _ fs.FileMode) error { return readOnly("chmod", name) }

// Symlink implements Host.
func (a AbsentHome) Symlink(_, name string) error { return readOnly("symlink", name) }

// Remove implements Host.
func (a AbsentHome) Remove(name string) error { return readOnly("remove", name) }

// RemoveAll implements Host.
func (a AbsentHome) RemoveAll(name string) error { return readOnly("removeall", name) }

// MkdirAll implements Host.
func (a AbsentHome) MkdirAll(name string, _ fs.FileMode) error { return readOnly("mkdir", name) }

// planner is a decorator that plans writes instead of making them.
type planner interface{ Plans() bool }

// Plans reports whether writes through h (a Host, a Launchd or a Remote)
// are only planned, as in a dry run or a check: what a pass records of
// its own effect (a ledger's "in sync" or "drifted") follows from the
// stack it was given, never from a mode flag.
func Plans(h any) bool {
	p, ok := h.(planner)
	return ok && p.Plans()
}

// Plans implements planner.
func (d *DryRunHost) Plans() bool { return true }
