//go:build unix

package observed

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

const testLock = ".sanctum/state/reconcile.lock"

func openHome(t *testing.T) (*os.Root, string) {
	t.Helper()
	home := t.TempDir()
	root, err := os.OpenRoot(home)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root, home
}

func TestAcquireLock(t *testing.T) {
	root, home := openHome(t)
	ctx := context.Background()
	first, err := AcquireLock(ctx, root, testLock, 0, nil)
	if err != nil {
		t.Fatalf("first lock: %v", err)
	}
	waited := false
	if _, err := AcquireLock(ctx, root, testLock, 0, func() { waited = true }); !errors.Is(err, ErrLocked) {
		t.Errorf("second lock with no timeout: error = %v, want errors.Is ErrLocked", err)
	}
	if waited {
		t.Errorf("onWait called although the lock does not wait")
	}
	if err := first.Release(); err != nil {
		t.Fatalf("release: %v", err)
	}
	again, err := AcquireLock(ctx, root, testLock, 0, nil)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	if err := again.Release(); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(home, testLock))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fs.FileMode(0o600), info.Mode().Perm()); diff != "" {
		t.Errorf("lock file mode mismatch (-want +got):\n%s", diff)
	}
}

// A lock that waits gives up when its context ends (a signal), not only
// at its timeout.
func TestAcquireLockCancelled(t *testing.T) {
	root, _ := openHome(t)
	held, err := AcquireLock(context.Background(), root, testLock, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = AcquireLock(ctx, root, testLock, time.Minute, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want the context's", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("waited %s after the context ended", d)
	}
}

// Deleting the lock file while a pass holds the lock does not let a second
// pass run alongside: it creates and locks a new file, but the state
// directory's lock is still held. Two goroutines stand for two processes
// (flocks of separate opens conflict within a process too).
func TestAcquireLockFileDeleted(t *testing.T) {
	root, home := openHome(t)
	ctx := context.Background()
	first, err := AcquireLock(ctx, root, testLock, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(home, testLock)); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		l, err := AcquireLock(ctx, root, testLock, 300*time.Millisecond, nil)
		if l != nil {
			l.Release()
		}
		got <- err
	}()
	if err := <-got; !errors.Is(err, ErrLocked) {
		t.Fatalf("second pass after the lock file was deleted: error = %v, want ErrLocked", err)
	}
	// Once the first lets go, the second gets it (and the file is back).
	first.Release()
	second, err := AcquireLock(ctx, root, testLock, time.Second, nil)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	second.Release()
}

// A lock file replaced while a pass waits for it is not the lock: the
// waiter locks what the path names once it gets the old file. A third party
// holds the old file's flock (as an older reconcile, or lock.txtar's
// holder, does), then the file is replaced and the old one released.
func TestAcquireLockFileReplaced(t *testing.T) {
	root, home := openHome(t)
	lockPath := filepath.Join(home, testLock)
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o700); err != nil {
		t.Fatal(err)
	}
	old, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(old.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{})
	got := make(chan *Lock, 1)
	go func() {
		l, err := AcquireLock(context.Background(), root, testLock, 10*time.Second, func() { close(waiting) })
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	<-waiting
	// Replace the file, then let go of the old one.
	tmp := lockPath + ".new"
	if err := os.WriteFile(tmp, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, lockPath); err != nil {
		t.Fatal(err)
	}
	old.Close()
	l := <-got
	if l == nil {
		t.FailNow()
	}
	defer l.Release()
	// The file the path names now is locked by the waiter.
	cur, err := os.Open(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	if err := unix.Flock(int(cur.Fd()), unix.LOCK_EX|unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Errorf("flock of the file the lock path names: %v, want EWOULDBLOCK (the waiter holds it)", err)
	}
}

// A symlinked lock file or state directory is refused, whether it leads
// out of HOME or not, and nothing is created where it points.
func TestAcquireLockRefusesSymlinks(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T, home, outside string)
	}{
		{"lock file to outside", func(t *testing.T, home, outside string) {
			mkdir(t, filepath.Join(home, ".sanctum/state"))
			symlink(t, filepath.Join(outside, "x"), filepath.Join(home, testLock))
		}},
		{"lock file inside HOME", func(t *testing.T, home, outside string) {
			mkdir(t, filepath.Join(home, ".sanctum/state"))
			symlink(t, "elsewhere", filepath.Join(home, testLock))
		}},
		{"state dir to outside", func(t *testing.T, home, outside string) {
			mkdir(t, filepath.Join(home, ".sanctum"))
			symlink(t, outside, filepath.Join(home, ".sanctum/state"))
		}},
		{".sanctum to outside", func(t *testing.T, home, outside string) {
			symlink(t, outside, filepath.Join(home, ".sanctum"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, home := openHome(t)
			outside := t.TempDir()
			tc.make(t, home, outside)
			l, err := AcquireLock(context.Background(), root, testLock, 0, nil)
			if err == nil {
				l.Release()
				t.Fatal("lock taken through a symlink")
			}
			if !errors.Is(err, ErrSymlink) {
				t.Errorf("error = %v, want errors.Is ErrSymlink", err)
			}
			if entries, _ := os.ReadDir(outside); len(entries) > 0 {
				t.Errorf("made %s outside HOME", entries[0].Name())
			}
			if _, err := os.Lstat(filepath.Join(home, ".sanctum/state/elsewhere")); err == nil {
				t.Errorf("made the symlink's target")
			}
		})
	}
}

// A FIFO at the lock path neither blocks nor is taken for the lock.
func TestAcquireLockRefusesFIFO(t *testing.T) {
	root, home := openHome(t)
	mkdir(t, filepath.Join(home, ".sanctum/state"))
	if err := unix.Mkfifo(filepath.Join(home, testLock), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := AcquireLock(context.Background(), root, testLock, 0, nil)
	if !errors.Is(err, ErrNotRegular) {
		t.Errorf("error = %v, want errors.Is ErrNotRegular", err)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}
