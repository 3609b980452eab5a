package observed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sanctum-haus/reconcile/observed/regular"
)

// ErrLocked: another pass holds the lock.
var ErrLocked = errors.New("another reconcile pass holds the lock")

// Lock is a held pass lock. The kernel drops a flock when its holder dies,
// so a lock left by a killed process never blocks the next pass.
type Lock struct{ dir, file *os.File }

// lockPoll is how often a waiting pass tries the lock again.
const lockPoll = 50 * time.Millisecond

// AcquireLock takes the pass lock of the HOME that root opens: an exclusive
// flock of name (HOME-relative, such as .sanctum/state/reconcile.lock),
// taken while holding a flock of its directory, waiting up to timeout
// (zero: do not wait). onWait is called once if the lock is busy at first
// try.
//
// Both are opened through root, so nothing is made or opened outside HOME,
// and neither may be a symlink (nor any folder on the way): a symlinked lock
// file or state directory is refused. After locking, each must still be
// the inode its path names, or it is unlocked and taken again: a lock file
// replaced while this pass waited is not the lock. The directory's flock is
// what makes deleting the lock file harmless: a pass that then creates and
// locks a new file still waits for the directory. Other holders (an older
// reconcile, a tool) that flock only the file are still waited for.
func AcquireLock(ctx context.Context, root *os.Root, name string, timeout time.Duration, onWait func()) (*Lock, error) {
	name = path.Clean(name)
	dir := path.Dir(name)
	if err := refuseSymlinks(root, dir); err != nil {
		return nil, err
	}
	if err := root.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock: %w", wrap("mkdir", dir, err))
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	waited := false
	// wait is called when a lock is busy: it says whether to try again.
	wait := func() (bool, error) {
		if timeout <= 0 || !time.Now().Before(deadline) {
			return false, nil
		}
		if !waited && onWait != nil {
			onWait()
		}
		waited = true
		t := time.NewTimer(lockPoll)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("lock ~/%s: %w", name, ctx.Err())
		case <-t.C:
			return true, nil
		}
	}
	busy := func() error {
		held := ""
		if h, ok := ReadLockHolder(root, name); ok {
			held = ": " + h.String()
		}
		if waited {
			return fmt.Errorf("~/%s: %w%s (waited %s)", name, ErrLocked, held, timeout)
		}
		return fmt.Errorf("~/%s: %w%s", name, ErrLocked, held)
	}
	d, err := lockAt(root, dir, true, wait)
	if err != nil || d == nil {
		if err == nil {
			err = busy()
		}
		return nil, err
	}
	f, err := lockAt(root, name, false, wait)
	if err != nil || f == nil {
		d.Close()
		if err == nil {
			err = busy()
		}
		return nil, err
	}
	return &Lock{dir: d, file: f}, nil
}

// lockAt opens name through root (a directory, or the lock file, created
// 0600) and flocks it, trying again while wait says so; nil, nil when wait
// gave up. What it locked is still what name names when it returns.
func lockAt(root *os.Root, name string, isDir bool, wait func() (bool, error)) (*os.File, error) {
	for {
		f, err := openLock(root, name, isDir)
		if err != nil {
			return nil, err
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			if same, err := names(root, name, f); err != nil {
				f.Close()
				return nil, err
			} else if same {
				return f, nil
			}
			f.Close() // replaced while we waited: lock what is there now
			continue
		case errors.Is(err, unix.EWOULDBLOCK) || errors.Is(err, unix.EINTR):
			f.Close()
			again, werr := wait()
			if werr != nil || !again {
				return nil, werr
			}
		default:
			f.Close()
			return nil, fmt.Errorf("lock ~/%s: %w", name, err)
		}
	}
}

// openLock opens the directory, or the lock file (creating it), refusing a
// symlink and anything that is not what it must be.
func openLock(root *os.Root, name string, isDir bool) (*os.File, error) {
	if info, err := root.Lstat(name); err == nil && info.Mode()&fs.ModeSymlink != 0 {
		return nil, symlinkRefused(root, name)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("lock: %w", wrap("lstat", name, err))
	}
	var f *os.File
	var err error
	if isDir {
		f, err = root.OpenFile(name, os.O_RDONLY|unix.O_DIRECTORY, 0)
	} else {
		f, err = root.OpenFile(name, os.O_RDWR|os.O_CREATE|unix.O_NONBLOCK, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("lock: %w", wrap("open", name, err))
	}
	if !isDir {
		if _, err := regular.Check(f, "~/"+name, 0); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock: %w", err)
		}
	}
	return f, nil
}

// names says whether name still names the open file f (not a symlink, not
// a file put in its place).
func names(root *os.Root, name string, f *os.File) (bool, error) {
	held, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("lock ~/%s: %w", name, err)
	}
	now, err := root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lock: %w", wrap("lstat", name, err))
	}
	if now.Mode()&fs.ModeSymlink != 0 {
		return false, symlinkRefused(root, name)
	}
	return os.SameFile(held, now), nil
}

// refuseSymlinks refuses a symlink at any folder of dir (HOME-relative).
func refuseSymlinks(root *os.Root, dir string) error {
	if dir == "." {
		return nil
	}
	parts := strings.Split(dir, "/")
	for i := range parts {
		p := path.Join(parts[:i+1]...)
		info, err := root.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // made by MkdirAll, as a folder
		}
		if err != nil {
			return fmt.Errorf("lock: %w", wrap("lstat", p, err))
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			return symlinkRefused(root, p)
		}
	}
	return nil
}

func symlinkRefused(root *os.Root, name string) error {
	target, _ := root.Readlink(name)
	return fmt.Errorf("lock: %w", &fs.PathError{Op: "lock", Path: "~/" + name,
		Err: fmt.Errorf("%w (-> %s); the pass lock must be a file in HOME, not a link", ErrSymlink, target)})
}

// Release drops the lock: the file's, then the directory's.
func (l *Lock) Release() error {
	err := l.file.Close() // closing the last descriptor drops the flock
	if derr := l.dir.Close(); err == nil {
		err = derr
	}
	return err
}

// LockHolder is who holds the pass lock, as its holder wrote it into the
// lock file: a pass that finds the lock busy can say by whom.
type LockHolder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"` // reconcile apply, reconcile rollback
	RunID   string    `json:"runId,omitempty"`
	Since   time.Time `json:"since"`
}

// String is "held by pid N (reconcile apply, run R, since 15:04:05)".
func (h LockHolder) String() string {
	var what []string
	if h.Command != "" {
		what = append(what, h.Command)
	}
	if h.RunID != "" {
		what = append(what, "run "+h.RunID)
	}
	if !h.Since.IsZero() {
		what = append(what, "since "+h.Since.Local().Format(time.TimeOnly))
	}
	s := "held by pid " + strconv.Itoa(h.PID)
	if len(what) > 0 {
		s += " (" + strings.Join(what, ", ") + ")"
	}
	return s
}

// maxHolderBytes bounds what is read of a lock file: a holder is one line.
const maxHolderBytes = 4 << 10

// Record writes who holds the lock into the lock file, in place of what
// the last holder wrote. The lock is held: nobody else writes the file.
func (l *Lock) Record(h LockHolder) error {
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := l.file.Truncate(0); err != nil {
		return fmt.Errorf("lock: record holder: %w", err)
	}
	if _, err := l.file.WriteAt(append(data, '\n'), 0); err != nil {
		return fmt.Errorf("lock: record holder: %w", err)
	}
	return nil
}

// ReadLockHolder reads who holds the lock at name (HOME-relative) from the
// lock file, without locking it; false when the file says nobody (an
// older reconcile, or another tool, holds it) or names a process that is
// gone.
func ReadLockHolder(root *os.Root, name string) (LockHolder, bool) {
	data, _, err := regular.ReadFileIn(root, name, maxHolderBytes)
	if err != nil {
		return LockHolder{}, false
	}
	var h LockHolder
	if json.Unmarshal(data, &h) != nil || h.PID <= 0 {
		return LockHolder{}, false
	}
	if err := unix.Kill(h.PID, 0); errors.Is(err, unix.ESRCH) {
		return LockHolder{}, false // the holder wrote it and is gone
	}
	return h, true
}
