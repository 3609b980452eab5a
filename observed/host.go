// Package observed is every contact reconcile has with the host: files under
// a HOME root (and, in later kinds, launchctl and ssh). All of it goes through
// the Host interface, so that --dry-run runs the very code path of apply with
// a decorator that records writes instead of doing them, and --check runs it
// behind a guard that turns any write into a programming error.
package observed

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/observed/regular"
)

// Errors callers decide on.
var (
	// ErrOutsideHome: the path, or a symlink on it, leads out of HOME.
	ErrOutsideHome = errors.New("leads outside HOME")
	// ErrSymlink: a write would replace a symlink.
	ErrSymlink = errors.New("is a symlink")
	// ErrReadOnly: a write was attempted through the read-only guard.
	ErrReadOnly = errors.New("write attempted in a read-only pass")
	// ErrNotRegular: a read found a FIFO, socket, device or directory
	// where a file was to be read; nothing was read (nor waited for).
	ErrNotRegular = regular.ErrNotRegular
	// ErrTooLarge: a read found a file over its limit (Limits); nothing
	// was read.
	ErrTooLarge = regular.ErrTooLarge
)

// Limits bound what a read under HOME may load into memory: a file over
// its limit is refused from its stat, before it is read.
type Limits struct {
	// File bounds every file read under HOME outside State: managed
	// targets, persona sources under ~/, the plists a pass reads.
	File int64
	// State bounds what reconcile keeps for itself under StateDir (its
	// state, caches, history and backups), which grows with the catalog.
	State int64
	// StateDir is the HOME-relative folder State applies to.
	StateDir string
}

// Default limits: DefaultManagedFileBytes is also the default of
// instance.yaml limits.managed_file_bytes.
const (
	DefaultManagedFileBytes = v1.DefaultManagedFileBytes
	DefaultStateFileBytes   = 256 << 20
)

// DefaultLimits bounds a managed file at 16 MiB and reconcile's own state
// files (under .sanctum/state) at 256 MiB.
var DefaultLimits = Limits{File: DefaultManagedFileBytes, State: DefaultStateFileBytes, StateDir: ".sanctum/state"}

// limit is the limit of a clean HOME-relative name.
func (l Limits) limit(name string) int64 {
	if l.StateDir != "" && (name == l.StateDir || strings.HasPrefix(name, l.StateDir+"/")) {
		return l.State
	}
	return l.File
}

// Host is the one door to the machine. Paths are slash-separated and
// relative to HOME.
type Host interface {
	// Home is the absolute HOME this host is rooted at.
	Home() string
	// ReadFile reads a regular file, following symlinks only inside HOME.
	// A missing file gives an error that matches fs.ErrNotExist.
	ReadFile(name string) ([]byte, fs.FileInfo, error)
	// ReadFileUnless is ReadFile, except that it does not read the content
	// when known, given the open file's FileInfo, says it is already known
	// (the index vouches for it); one walk of the path either way.
	ReadFileUnless(name string, known func(fs.FileInfo) bool) (data []byte, info fs.FileInfo, skipped bool, err error)
	// Stat describes a path, following symlinks only inside HOME.
	Stat(name string) (fs.FileInfo, error)
	// Lstat describes a path without following a final symlink.
	Lstat(name string) (fs.FileInfo, error)
	// ReadDir lists a directory; a missing one lists as empty.
	ReadDir(name string) ([]fs.DirEntry, error)
	// WriteFile replaces a file atomically (temp file, fsync, rename) with
	// the given mode, creating parent directories 0755.
	WriteFile(name string, data []byte, perm fs.FileMode) error
	// WriteFiles writes many files as WriteFile does, durably at the end
	// of the call rather than one fsync at a time: errs[i] is the error of
	// writes[i], and every file written without error is on disk, content
	// and name, when it returns. A caller that needs one set of files
	// durable before another is replaced (backups before what they keep)
	// makes two calls.
	WriteFiles(writes []FileWrite) (errs []error)
	// AppendFile appends one record to a log file (O_APPEND: a record
	// written in one call is never interleaved with another's), creating it
	// with the mode.
	AppendFile(name string, data []byte, perm fs.FileMode) error
	// Chmod changes a file's mode.
	Chmod(name string, perm fs.FileMode) error
	// Readlink returns a symlink's target as written.
	Readlink(name string) (string, error)
	// Symlink makes name a symlink to target, atomically replacing a
	// symlink that is there (never a file or directory).
	Symlink(target, name string) error
	// Remove removes a file.
	Remove(name string) error
	// RemoveAll removes a directory tree (pruned backups only).
	RemoveAll(name string) error
	// MkdirAll makes a directory and its parents, and sets its mode.
	MkdirAll(name string, perm fs.FileMode) error
}

// FileHost is the real Host, rooted at a HOME directory through os.Root so
// that no path and no symlink can lead out of it.
type FileHost struct {
	home string
	root *os.Root
	// beneath, where the kernel can (Linux openat2), opens a file under
	// HOME in one system call that refuses to leave HOME, rather than one
	// per path component; anything it does not open plainly goes through
	// root, which decides.
	beneath   *os.File
	beneathFD int
	limits    Limits
}

var _ Host = (*FileHost)(nil)

// NewFileHost opens HOME, creating it if it does not exist yet (a fresh
// disposable home): what apply does.
func NewFileHost(home string) (*FileHost, error) {
	if err := os.MkdirAll(home, 0o755); err != nil {
		return nil, fmt.Errorf("home: %w", err)
	}
	return OpenFileHost(home)
}

// OpenFileHost opens a HOME that exists and creates nothing: what every
// read-only command does. A missing HOME gives an error that matches
// fs.ErrNotExist (such a command then reads it as AbsentHome).
func OpenFileHost(home string) (*FileHost, error) {
	root, err := os.OpenRoot(home)
	if err != nil {
		return nil, fmt.Errorf("home: %w", err)
	}
	h := &FileHost{home: home, root: root, limits: DefaultLimits}
	h.beneath, h.beneathFD = openBeneathDir(home)
	return h, nil
}

// Close releases the root.
func (h *FileHost) Close() error {
	if h.beneath != nil {
		h.beneath.Close()
	}
	return h.root.Close()
}

// Home implements Host.
func (h *FileHost) Home() string { return h.home }

// SetLimits replaces the read limits (DefaultLimits until then); call it
// before the host is shared.
func (h *FileHost) SetLimits(l Limits) { h.limits = l }

// Root is the os.Root of HOME, for what must be opened inside it with
// flags of its own (the pass lock).
func (h *FileHost) Root() *os.Root { return h.root }

// clean checks that a name stays inside HOME before any system call.
func clean(name string) (string, error) {
	c := path.Clean(name)
	if path.IsAbs(c) || c == ".." || strings.HasPrefix(c, "../") {
		return "", &fs.PathError{Op: "resolve", Path: name, Err: ErrOutsideHome}
	}
	return c, nil
}

// wrap names an os.Root escape for what it is.
func wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	if strings.Contains(err.Error(), "path escapes from parent") {
		return &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("a symlink on the path %w", ErrOutsideHome)}
	}
	return err
}

// ReadFile implements Host.
func (h *FileHost) ReadFile(name string) ([]byte, fs.FileInfo, error) {
	data, info, _, err := h.ReadFileUnless(name, nil)
	return data, info, err
}

// ReadFileUnless implements Host. The open is non-blocking and the open
// file must be a regular file within its limit, or nothing is read: a FIFO
// at a managed path cannot hold a pass (and its lock) forever, nor a sparse
// giant take all memory.
func (h *FileHost) ReadFileUnless(name string, known func(fs.FileInfo) bool) ([]byte, fs.FileInfo, bool, error) {
	c, err := clean(name)
	if err != nil {
		return nil, nil, false, err
	}
	var f *os.File
	if known != nil {
		// The common answer of a pass with an index, "as recorded", for
		// the cost of an open and an fstat.
		if fd, info := h.statBeneath(c); fd >= 0 {
			if info.Mode().IsRegular() && info.Size() <= h.limits.limit(c) && known(info) {
				closeFD(fd)
				return nil, info, true, nil
			}
			f = os.NewFile(uintptr(fd), filepath.Join(h.home, c))
		}
	}
	if f == nil {
		f = h.openBeneath(c)
	}
	if f == nil {
		if f, err = h.root.OpenFile(c, regular.OpenFlags, 0); err != nil {
			return nil, nil, false, wrap("open", name, err)
		}
	}
	defer f.Close()
	info, err := regular.Check(f, name, h.limits.limit(c))
	if err != nil {
		return nil, info, false, err
	}
	if known != nil && known(info) {
		return nil, info, true, nil
	}
	data, info, err := regular.ReadChecked(f, name, info)
	if err != nil {
		return nil, nil, false, err
	}
	return data, info, false, nil
}

// Stat implements Host.
func (h *FileHost) Stat(name string) (fs.FileInfo, error) {
	c, err := clean(name)
	if err != nil {
		return nil, err
	}
	info, err := h.root.Stat(c)
	return info, wrap("stat", name, err)
}

// Readlink implements Host.
func (h *FileHost) Readlink(name string) (string, error) {
	c, err := clean(name)
	if err != nil {
		return "", err
	}
	t, err := h.root.Readlink(c)
	return t, wrap("readlink", name, err)
}

// Symlink implements Host: a temporary link beside the target, renamed over
// it, so the name always points somewhere.
func (h *FileHost) Symlink(target, name string) error {
	c, err := clean(name)
	if err != nil {
		return err
	}
	if info, err := h.root.Lstat(c); err == nil && info.Mode()&fs.ModeSymlink == 0 {
		return &fs.PathError{Op: "symlink", Path: name, Err: errors.New("exists and is not a symlink")}
	}
	if dir := path.Dir(c); dir != "." {
		if err := h.root.MkdirAll(dir, 0o755); err != nil {
			return wrap("mkdir", dir, err)
		}
	}
	tmp := path.Join(path.Dir(c), tempName(path.Base(c)))
	if err := h.root.Symlink(target, tmp); err != nil {
		return wrap("symlink", name, err)
	}
	if err := h.root.Rename(tmp, c); err != nil {
		_ = h.root.Remove(tmp)
		return wrap("symlink", name, err)
	}
	return nil
}

// Lstat implements Host.
func (h *FileHost) Lstat(name string) (fs.FileInfo, error) {
	c, err := clean(name)
	if err != nil {
		return nil, err
	}
	info, err := h.root.Lstat(c)
	return info, wrap("lstat", name, err)
}

// ReadDir implements Host.
func (h *FileHost) ReadDir(name string) ([]fs.DirEntry, error) {
	c, err := clean(name)
	if err != nil {
		return nil, err
	}
	entries, err := fs.ReadDir(h.root.FS(), c)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return entries, wrap("readdir", name, err)
}

// FileWrite is one file of a WriteFiles batch.
type FileWrite struct {
	Name string
	Data []byte
	Perm fs.FileMode
	// New says the file must not exist yet (a backup under its run's own
	// folder): it is created in place, no temporary file and no rename,
	// and an existing file is an error, never replaced. Until the batch's
	// sync a crash can leave it short, which is why a batch of backups is
	// durable before anything they keep is replaced.
	New bool
	// Written is set by the write (FileHost.WriteFiles): the stat of the
	// bytes it wrote, taken from the file's own handle after its last
	// write and before the rename put it in place (or, for a New file,
	// before it was closed). What a stat of the path says later is what
	// reconcile wrote only when it names the same file (os.SameFile: a
	// file renamed over it is another inode) with this size and
	// modification time; the rename itself changes the ctime. Its
	// ModTime is the moment of the write, against which a later stat is
	// judged racy-clean. Left nil by a host that writes nothing (a plan)
	// and on error.
	Written fs.FileInfo
}

// tempMark is in the name of every temporary file reconcile makes under
// HOME, next to the file it is about to replace: .<name>.reconcile-tmp-<hex>.
// A write killed before its rename leaves one; the next pass removes
// what it finds (IsTemp), and nothing else has such a name.
const tempMark = ".reconcile-tmp-"

var tempPattern = regexp.MustCompile(`^\..+\.reconcile-tmp-[0-9a-f]{12}$`)

// IsTemp reports whether a file name is one of reconcile's temporary
// files.
func IsTemp(name string) bool { return tempPattern.MatchString(name) }

// tempName is a fresh temporary name for a file named base.
func tempName(base string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "." + base + tempMark + hex.EncodeToString(b[:])
}

// pendingFile is a temporary file written next to its target, waiting for
// the rename that replaces the target with it.
type pendingFile struct {
	root      *os.Root
	f         *os.File
	tmp, base string
	done      bool
}

// replace makes the file durable (its own fsync; after a batch's syncfs
// there is nothing left to write), takes its stat from its handle, and
// renames it over the target.
func (p *pendingFile) replace() (fs.FileInfo, error) {
	err := p.f.Sync()
	var info fs.FileInfo
	if err == nil {
		info, err = p.f.Stat()
	}
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = p.root.Rename(p.tmp, p.base)
	}
	if err != nil {
		_ = p.root.Remove(p.tmp)
		p.done = true
		return nil, err
	}
	p.done = true
	return info, nil
}

// cleanup removes the temporary file unless it replaced its target.
func (p *pendingFile) cleanup() {
	if p.done {
		return
	}
	_ = p.f.Close()
	_ = p.root.Remove(p.tmp)
	p.done = true
}

// dirs holds the directories of a batch of writes open, each made and
// opened once however many files go into it.
type dirs struct {
	h    *FileHost
	mu   sync.Mutex
	open map[string]*os.Root
}

func (h *FileHost) dirs() *dirs { return &dirs{h: h, open: map[string]*os.Root{}} }

// get makes a directory (and its parents, 0755) and opens it as a root.
func (d *dirs) get(dir string) (*os.Root, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r, ok := d.open[dir]; ok {
		return r, nil
	}
	if dir != "." {
		if err := d.h.root.MkdirAll(dir, 0o755); err != nil {
			return nil, wrap("mkdir", dir, err)
		}
	}
	r, err := d.h.root.OpenRoot(dir)
	if err != nil {
		return nil, wrap("open", dir, err)
	}
	d.open[dir] = r
	return r, nil
}

func (d *dirs) close() {
	for _, r := range d.open {
		_ = r.Close()
	}
}

// target cleans a name and returns its directory, made and opened, and its
// base name there.
func (d *dirs) target(name string) (*os.Root, string, error) {
	c, err := clean(name)
	if err != nil {
		return nil, "", err
	}
	sub, err := d.get(path.Dir(c))
	return sub, path.Base(c), err
}

// stage does what WriteFile does up to the fsync: the checks, the parent
// directories, and the temporary file next to the target with the bytes.
func (h *FileHost) stage(d *dirs, name string, data []byte, perm fs.FileMode) (*pendingFile, error) {
	// The target's own directory: the temporary file sits next to the
	// target, named as IsTemp knows, so a crash leaves debris nowhere
	// else and the next pass recognises it.
	sub, base, err := d.target(name)
	if err != nil {
		return nil, err
	}
	if info, err := sub.Lstat(base); err == nil && info.Mode()&fs.ModeSymlink != 0 {
		target, _ := sub.Readlink(base)
		return nil, &fs.PathError{Op: "write", Path: name, Err: fmt.Errorf("%w (-> %s); refusing to replace it", ErrSymlink, target)}
	}
	tmp := tempName(base)
	f, err := sub.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return nil, wrap("write", name, err)
	}
	p := &pendingFile{root: sub, f: f, tmp: tmp, base: base}
	_, err = f.Write(data)
	if err == nil {
		// The exact mode, whatever the umask took and whatever mode the
		// file it replaces has: a file that now holds a secret becomes
		// 0600 in the same rename.
		err = f.Chmod(perm)
	}
	if err != nil {
		p.cleanup()
		return nil, wrap("write", name, err)
	}
	return p, nil
}

// create writes a New file in place: O_EXCL, the bytes, the exact mode,
// and, where there is no syncfs to come, its own fsync.
func (h *FileHost) create(d *dirs, name string, data []byte, perm fs.FileMode) (fs.FileInfo, error) {
	sub, base, err := d.target(name)
	if err != nil {
		return nil, err
	}
	f, err := sub.OpenFile(base, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return nil, wrap("create", name, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm) // the umask may have taken bits
	}
	if err == nil && !haveSyncAll {
		err = f.Sync()
	}
	var info fs.FileInfo
	if err == nil {
		info, err = f.Stat()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = sub.Remove(base)
		return nil, wrap("write", name, err)
	}
	return info, nil
}

// WriteFile implements Host: a temporary file, its fsync, and the rename.
func (h *FileHost) WriteFile(name string, data []byte, perm fs.FileMode) error {
	d := h.dirs()
	defer d.close()
	f, err := h.stage(d, name, data, perm)
	if err != nil {
		return err
	}
	defer f.cleanup()
	_, err = f.replace()
	return wrap("write", name, err)
}

// WriteFiles implements Host. Every temporary file is written first; then
// one sync of the file system makes all of them durable, so that the fsync
// each rename still does (renameio's) finds nothing left to write; then one
// more sync makes the new names durable. Where there is no syncfs(2) (the
// Mac), each file's own fsync does the work, as WriteFile's does.
func (h *FileHost) WriteFiles(writes []FileWrite) []error {
	errs := make([]error, len(writes))
	pending := make([]*pendingFile, len(writes))
	d := h.dirs()
	defer d.close()
	defer func() {
		for _, f := range pending {
			if f != nil {
				f.cleanup() // a no-op once it replaced its target
			}
		}
	}()
	byDir := groupByDir(writes)
	inParallel(byDir, func(i int) {
		w := &writes[i]
		w.Written = nil
		if w.New {
			w.Written, errs[i] = h.create(d, w.Name, w.Data, w.Perm)
			return
		}
		pending[i], errs[i] = h.stage(d, w.Name, w.Data, w.Perm)
	})
	// Nothing is durable when the sync fails: every write of the batch
	// fails, New files included (they stay, unlisted), and no temporary
	// file replaces anything.
	failAll := func(err error) {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = wrap("write", writes[i].Name, err)
			}
		}
	}
	if err := h.syncAll(); err != nil {
		failAll(err)
		return errs
	}
	// Each rename's own fsync still asks the disk to flush its cache;
	// issued together, the block layer merges those flushes.
	inParallel(byDir, func(i int) {
		if f := pending[i]; f != nil && errs[i] == nil {
			info, err := f.replace()
			errs[i] = wrap("write", writes[i].Name, err)
			writes[i].Written = info
		}
	})
	if err := h.syncAll(); err != nil {
		failAll(err)
	}
	for i := range writes {
		if errs[i] != nil {
			writes[i].Written = nil
		}
	}
	return errs
}

// writeWorkers bounds the system calls a batch of writes has in flight:
// they wait on the disk more than on a core.
const writeWorkers = 8

// groupByDir gathers the indexes of writes by target directory, in order.
func groupByDir(writes []FileWrite) [][]int {
	at := map[string]int{}
	var groups [][]int
	for i, w := range writes {
		dir := path.Dir(path.Clean(w.Name))
		g, ok := at[dir]
		if !ok {
			g = len(groups)
			at[dir] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// inParallel calls f for every index of groups: the groups on up to
// writeWorkers goroutines, the indexes of one group one after the other.
// A group is one directory: creating and renaming files in one directory
// take its lock, and parallel callers there only spin on it.
func inParallel(groups [][]int, f func(i int)) {
	ForEach(writeWorkers, len(groups), func(g int) {
		for _, i := range groups[g] {
			f(i)
		}
	})
}

// AppendFile implements Host.
func (h *FileHost) AppendFile(name string, data []byte, perm fs.FileMode) error {
	c, err := clean(name)
	if err != nil {
		return err
	}
	if dir := path.Dir(c); dir != "." {
		if err := h.root.MkdirAll(dir, 0o755); err != nil {
			return wrap("mkdir", dir, err)
		}
	}
	// Non-blocking, as every read: a FIFO planted where a ledger goes
	// (history.jsonl) fails the open (no reader) or the check below,
	// instead of blocking the pass while it holds the lock.
	f, err := h.root.OpenFile(c, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NONBLOCK|syscall.O_NOCTTY, perm)
	if err != nil {
		if errors.Is(err, syscall.ENXIO) {
			err = &fs.PathError{Op: "append", Path: name, Err: regular.ErrNotRegular}
		}
		return wrap("open", name, err)
	}
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = &fs.PathError{Op: "append", Path: name, Err: regular.ErrNotRegular}
		}
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Chmod implements Host.
func (h *FileHost) Chmod(name string, perm fs.FileMode) error {
	c, err := clean(name)
	if err != nil {
		return err
	}
	return wrap("chmod", name, h.root.Chmod(c, perm))
}

// Remove implements Host.
func (h *FileHost) Remove(name string) error {
	c, err := clean(name)
	if err != nil {
		return err
	}
	return wrap("remove", name, h.root.Remove(c))
}

// RemoveAll implements Host.
func (h *FileHost) RemoveAll(name string) error {
	c, err := clean(name)
	if err != nil {
		return err
	}
	if c == "." {
		return &fs.PathError{Op: "removeall", Path: name, Err: errors.New("refusing to remove HOME")}
	}
	return wrap("removeall", name, h.root.RemoveAll(c))
}

// MkdirAll implements Host.
func (h *FileHost) MkdirAll(name string, perm fs.FileMode) error {
	c, err := clean(name)
	if err != nil {
		return err
	}
	if err := h.root.MkdirAll(c, perm); err != nil {
		return wrap("mkdir", name, err)
	}
	return wrap("chmod", name, h.root.Chmod(c, perm|fs.ModeDir))
}
