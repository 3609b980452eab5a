package testscripts

import (
	"errors"
	"os/exec"
	"strconv"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdBounded runs a program that must end within a time bound with a given
// exit status: the hostile suite's guard against a hang, which would
// otherwise block the whole run (testscript has no per-command timeout).
// The program runs under coreutils timeout, killed at the bound; a kill, or
// an exit after the bound, fails the script.
//
//	bounded DURATION N program [args...]
func cmdBounded(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: bounded DURATION N program [args...]")
	}
	bound, err := time.ParseDuration(args[0])
	ts.Check(err)
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	if _, err := exec.LookPath("timeout"); err != nil {
		ts.Fatalf("bounded needs coreutils timeout: %v", err)
	}
	start := time.Now()
	err = ts.Exec("timeout", append([]string{"-s", "KILL", strconv.FormatFloat(bound.Seconds(), 'f', 3, 64), args[2]}, args[3:]...)...)
	took := time.Since(start)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%s: %v", args[2], err)
	}
	if took >= bound || got == 137 || got == -1 {
		ts.Fatalf("%s did not end within %s (killed)", args[2], bound)
	}
	ts.Logf("%s exited %d in %s", args[2], got, took.Round(time.Millisecond))
	if got != want {
		ts.Fatalf("%s exited %d; want %d", args[2], got, want)
	}
}
