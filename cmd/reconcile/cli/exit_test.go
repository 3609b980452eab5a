package cli

import (
	"bytes"
	"context"
	"strings"
	"syscall"
	"testing"
	"time"
)

// panicWriter panics on the first write: a stand-in for any bug.
type panicWriter struct{}

func (panicWriter) Write([]byte) (int, error) { panic("boom in a writer") }

// A panic anywhere under Run is exit 1 with a message, never the
// runtime's exit 2 (which means drift).
func TestRunRecoversPanic(t *testing.T) {
	var stderr bytes.Buffer
	cfg := &Config{Stdout: panicWriter{}, Stderr: &stderr, Getenv: func(string) string { return "" }, Now: time.Now}
	code := Run(context.Background(), cfg, []string{"version"})
	if code != ExitError {
		t.Errorf("exit %d, want %d", code, ExitError)
	}
	if !strings.Contains(stderr.String(), "reconcile: internal error: boom in a writer") {
		t.Errorf("stderr = %q, want the panic named", stderr.String())
	}
}

// The first SIGTERM cancels the context; a second one exits at once; with
// no second, the grace period runs out and exits.
func TestOnSignal(t *testing.T) {
	for _, second := range []bool{true, false} {
		exited := make(chan struct{})
		var stderr bytes.Buffer
		grace := time.Hour
		if !second {
			grace = 50 * time.Millisecond
		}
		ctx, stop := onSignal(&stderr, grace, func() { close(exited) })
		if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
			t.Fatal("SIGTERM did not cancel the context")
		}
		if second {
			if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case <-exited:
		case <-time.After(2 * time.Second):
			t.Fatalf("second signal %v: no exit", second)
		}
		stop()
		want := "still running"
		if second {
			want = "again: exiting now"
		}
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr = %q, want %q", stderr.String(), want)
		}
	}
}
