//go:build unix

package observed

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLockHolder: the holder records who it is; a pass that finds the lock
// busy names it; a shorter record replaces a longer one whole; a holder
// that is gone, or a file that says nobody, names nobody.
func TestLockHolder(t *testing.T) {
	root, home := openHome(t)
	ctx := context.Background()
	held, err := AcquireLock(ctx, root, testLock, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	since := time.Date(2026, 12, 1, 10, 0, 0, 0, time.Local)
	long := LockHolder{PID: os.Getpid(), Command: "reconcile schedule install", RunID: "20261201T100000.000000Z-abcd", Since: since}
	if err := held.Record(long); err != nil {
		t.Fatal(err)
	}
	me := LockHolder{PID: os.Getpid(), Command: "reconcile apply", RunID: "r2", Since: since}
	if err := held.Record(me); err != nil {
		t.Fatal(err)
	}
	got, ok := ReadLockHolder(root, testLock)
	if !ok || got.PID != me.PID || got.Command != me.Command || got.RunID != me.RunID || !got.Since.Equal(since) {
		t.Fatalf("ReadLockHolder = %+v, %t; want %+v", got, ok, me)
	}
	_, err = AcquireLock(ctx, root, testLock, 0, nil)
	want := "held by pid " + strconv.Itoa(os.Getpid()) + " (reconcile apply, run r2, since 10:00:00)"
	if !errors.Is(err, ErrLocked) || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("busy lock: %v; want ErrLocked ending %q", err, want)
	}

	for name, content := range map[string]string{
		"gone":   `{"pid":2147483646,"command":"reconcile apply"}`,
		"nobody": "",
		"junk":   "not json",
	} {
		if err := os.WriteFile(filepath.Join(home, testLock), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if h, ok := ReadLockHolder(root, testLock); ok {
			t.Errorf("%s: ReadLockHolder = %+v; want nobody", name, h)
		}
	}
}
