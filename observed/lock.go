package observed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
)

// ErrLocked: another pass holds the lock.
var ErrLocked = errors.New("another reconcile pass holds the lock")

// Lock is a held pass lock. The kernel drops a flock when its holder dies,
// so a lock left by a killed process never blocks the next pass.
type Lock struct{ f *flock.Flock }

// AcquireLock takes an exclusive flock on path, waiting up to timeout (zero:
// do not wait). onWait is called once if the lock is busy at first try.
func AcquireLock(ctx context.Context, path string, timeout time.Duration, onWait func()) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	f := flock.New(path, flock.SetPermissions(0o600))
	ok, err := f.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if ok {
		return &Lock{f: f}, nil
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("%s: %w", path, ErrLocked)
	}
	if onWait != nil {
		onWait()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ok, err = f.TryLockContext(ctx, 50*time.Millisecond)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !ok {
		return nil, fmt.Errorf("%s: %w (waited %s)", path, ErrLocked, timeout)
	}
	return &Lock{f: f}, nil
}

// Release drops the lock.
func (l *Lock) Release() error { return l.f.Unlock() }
