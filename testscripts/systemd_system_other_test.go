//go:build !linux

package testscripts

import (
	"context"
	"errors"
	"os/exec"

	"github.com/rogpeppe/go-internal/testscript"
)

// The systemd --system harness needs Linux namespaces
// (systemd_system_test.go); elsewhere [systemd-system] is false and its
// commands stop the script saying so.

const notLinux = "systemd-system needs Linux (namespaces and systemd)"

func systemdSystemMissing() string { return notLinux }

func cmdSystemdSystem(ts *testscript.TestScript, _ bool, _ []string) { ts.Fatalf("%s", notLinux) }

func cmdInsys(ts *testscript.TestScript, _ bool, _ []string) { ts.Fatalf("%s", notLinux) }

func cmdSysUnitProp(ts *testscript.TestScript, _ bool, _ []string) { ts.Fatalf("%s", notLinux) }

func harnessAlive(string) error { return errors.New(notLinux) }

// nsenterCommand is never reached without systemd-system: a command that
// fails.
func nsenterCommand(ctx context.Context, _, _ string, _ ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "false")
}
