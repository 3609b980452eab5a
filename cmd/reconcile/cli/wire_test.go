package cli

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/sanctum-haus/reconcile/controllers"
	"github.com/sanctum-haus/reconcile/observed"
)

// TestWireReadOnly: the stacks the CLI wires for the read-only modes never
// let a write reach the home. A deliberate write through the read-only
// commands' host is refused by the guard; one through a plan's host lands
// in the overlay only; the --check --record door lets exactly the ledger
// through.
func TestWireReadOnly(t *testing.T) {
	home := t.TempDir()
	a := &app{cfg: &Config{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}, home: home}

	h, done, err := a.readHome()
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	if err := h.WriteFile("x", []byte("x"), 0o644); !errors.Is(err, observed.ErrReadOnly) {
		t.Errorf("read-only command's host: write = %v, want ErrReadOnly", err)
	}
	if err := h.MkdirAll(".sanctum/state", 0o700); !errors.Is(err, observed.ErrReadOnly) {
		t.Errorf("read-only command's host: mkdir = %v, want ErrReadOnly", err)
	}

	for _, mode := range []mode{modeDryRun, modeCheck} {
		w, err := wire(mode, home, false, controllers.LocalHostName())
		if err != nil {
			t.Fatal(err)
		}
		if err := w.host.WriteFile("planned", []byte("p"), 0o644); err != nil {
			t.Errorf("%s: a planned write: %v", mode, err)
		}
		if data, _, err := w.host.ReadFile("planned"); err != nil || string(data) != "p" {
			t.Errorf("%s: the plan does not see its own write: %q, %v", mode, data, err)
		}
		// Under the overlay sits the guard: a write that got past the
		// overlay would be refused, not made.
		d, ok := w.host.(*observed.DryRunHost)
		if !ok {
			t.Fatalf("%s: outermost host is %T, want the overlay", mode, w.host)
		}
		if err := d.Host.WriteFile("planned", []byte("p"), 0o644); !errors.Is(err, observed.ErrReadOnly) {
			t.Errorf("%s: write under the overlay = %v, want ErrReadOnly", mode, err)
		}
		if w.ledgers != nil {
			t.Errorf("%s: a plain plan has a ledger door", mode)
		}
		w.Close()
	}
	if _, err := os.Stat(filepath.Join(home, "planned")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a planned write reached the home: %v", err)
	}

	w, err := wire(modeCheck, home, true, controllers.LocalHostName())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.ledgers.MkdirAll(controllers.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := w.ledgers.WriteFile(controllers.PersonaLedgerFile, []byte("{}"), 0o600); err != nil {
		t.Errorf("--check --record: the ledger: %v", err)
	}
	if err := w.ledgers.WriteFile(controllers.StateFile, []byte("{}"), 0o600); !errors.Is(err, observed.ErrReadOnly) {
		t.Errorf("--check --record: another file = %v, want ErrReadOnly", err)
	}

	// A home that does not exist is read as empty and never made.
	missing := filepath.Join(t.TempDir(), "nohome")
	w2, err := wire(modeCheck, missing, true, controllers.LocalHostName())
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if w2.ledgers != nil {
		t.Errorf("a missing home has a ledger door")
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("wire made the home: %v", err)
	}
}
