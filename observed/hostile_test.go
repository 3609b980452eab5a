//go:build unix

package observed

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A read of anything but a regular file within its limit is refused at
// once, by the openat2 fast path and by the root alike, naming the path:
// a FIFO does not block the open, a sparse giant is refused from its stat.
func TestFileHostReadRefusesHostileFiles(t *testing.T) {
	h, home := newTestHost(t)
	h.SetLimits(Limits{File: 1 << 20, State: 4 << 20, StateDir: ".sanctum/state"})
	mkdir(t, filepath.Join(home, ".sanctum/services"))
	mkdir(t, filepath.Join(home, ".sanctum/state"))
	if err := unix.Mkfifo(filepath.Join(home, ".sanctum/services/fifo.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	sparse := func(name string, size int64) {
		f, err := os.Create(filepath.Join(home, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	sparse(".sanctum/services/giant.yaml", 64<<30)
	sparse(".sanctum/services/two-mib.yaml", 2<<20) // over File
	sparse(".sanctum/state/index", 2<<20)           // under State
	sparse(".sanctum/state/huge", 5<<20)            // over State
	// A symlink inside HOME to the FIFO goes through the root as well.
	symlink(t, "fifo.yaml", filepath.Join(home, ".sanctum/services/link.yaml"))
	for _, tc := range []struct {
		name    string
		want    error
		message string
	}{
		{".sanctum/services/fifo.yaml", ErrNotRegular, ".sanctum/services/fifo.yaml: not a regular file (a FIFO)"},
		{".sanctum/services/link.yaml", ErrNotRegular, "not a regular file (a FIFO)"},
		{".sanctum/services", ErrNotRegular, "not a regular file (a directory)"},
		{".sanctum/services/giant.yaml", ErrTooLarge, ".sanctum/services/giant.yaml: file too large: 68719476736 bytes, the limit is 1 MiB"},
		{".sanctum/services/two-mib.yaml", ErrTooLarge, "the limit is 1 MiB"},
		{".sanctum/state/index", nil, ""},
		{".sanctum/state/huge", ErrTooLarge, "the limit is 4 MiB"},
	} {
		for _, beneath := range []bool{true, false} {
			saved := h.beneath
			if !beneath {
				h.beneath = nil
			}
			start := time.Now()
			_, _, err := h.ReadFile(tc.name)
			h.beneath = saved
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("ReadFile(%s) took %s", tc.name, d)
			}
			if tc.want == nil {
				if err != nil {
					t.Errorf("ReadFile(%s): %v", tc.name, err)
				}
				continue
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.message) {
				t.Errorf("ReadFile(%s) (openat2 %v): error = %v, want errors.Is %v and %q", tc.name, beneath, err, tc.want, tc.message)
			}
			// The stat cache's question is not asked of what is refused.
			_, _, skipped, err := h.ReadFileUnless(tc.name, func(os.FileInfo) bool { return true })
			if skipped || !errors.Is(err, tc.want) {
				t.Errorf("ReadFileUnless(%s): skipped %v, error %v", tc.name, skipped, err)
			}
		}
	}
}

// A worker's panic comes back on the caller's goroutine, where the CLI
// can recover it, rather than killing the process.
func TestForEachRaisesWorkerPanicOnCaller(t *testing.T) {
	defer func() {
		v := recover()
		p, ok := v.(*WorkerPanic)
		if !ok || p.Value != "boom" || !strings.Contains(p.Error(), "boom") {
			t.Errorf("recovered %#v, want a *WorkerPanic of \"boom\"", v)
		}
	}()
	ForEach(4, 16, func(i int) {
		if i == 7 {
			panic("boom")
		}
	})
	t.Error("ForEach returned after a worker panicked")
}
