package testscripts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// systemdBinary is the user manager Debian's systemd package installs.
const systemdBinary = "/lib/systemd/systemd"

// cmdSystemdUser starts a private, real `systemd --user` for the rest of
// the script, stopped (with every unit it runs) when the script ends: its
// own runtime directory $WORK/xdg and the script's HOME, so that its units
// are read from $HOME/.config/systemd/user. It exports XDG_RUNTIME_DIR and
// DBUS_SESSION_BUS_ADDRESS, through which systemctl --user (reconcile's
// and the script's) reaches it, and UNIT_SUFFIX, a suffix unique to this
// run for unit names: private managers share cgroup paths
// (/app.slice/<unit>), so two runs must never name the same unit. A
// script guards it with [systemd] (see conditions).
//
// With HOME, the manager is a node user's: that home (a remote node's,
// reached over the test sshd, whose sessions then need the exported
// XDG_RUNTIME_DIR: sshd XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR).
//
//	systemd-user [HOME]
func cmdSystemdUser(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) > 1 {
		ts.Fatalf("usage: systemd-user [HOME]")
	}
	if why := systemdMissing(); why != "" {
		ts.Fatalf("%s", why)
	}
	home := ts.Getenv("HOME")
	if len(args) == 1 {
		home = ts.MkAbs(args[0])
		ts.Check(os.MkdirAll(home, 0o755))
	}
	runtimeDir := filepath.Join(ts.Getenv("WORK"), "xdg")
	ts.Check(os.MkdirAll(runtimeDir, 0o700))
	log, err := os.Create(filepath.Join(ts.Getenv("WORK"), "systemd.log"))
	ts.Check(err)
	cmd := exec.Command(systemdBinary, "--user")
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+runtimeDir, "HOME="+home,
		"DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(runtimeDir, "bus"))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	ts.Check(cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	ts.Defer(func() {
		// SIGTERM makes the manager stop its units and exit; a manager
		// that does not within the bound is killed with its group.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		log.Close()
	})
	ts.Setenv("XDG_RUNTIME_DIR", runtimeDir)
	ts.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(runtimeDir, "bus"))
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	ts.Setenv("UNIT_SUFFIX", hex.EncodeToString(suffix))

	// Ready when systemctl answers running (or degraded: a unit of the
	// host's own failed), within a bound.
	deadline := time.Now().Add(15 * time.Second)
	var state string
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			ts.Fatalf("systemd --user exited before it answered; see $WORK/systemd.log")
		default:
		}
		out, _ := systemctlUser(ts, "is-system-running")
		if state = strings.TrimSpace(out); state == "running" || state == "degraded" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("systemd --user did not answer within 15s (last state %q); see $WORK/systemd.log", state)
}

// systemdMissing says why systemd cannot run as a user manager here, ""
// when it can (the scripts' [systemd] condition): on Linux, with Debian's systemd package (make deps
// installs it) and /run/systemd/system, which systemd --user takes as the
// sign that systemd manages the machine (make deps makes it, as root).
func systemdMissing() string {
	if _, err := os.Stat(systemdBinary); err != nil {
		return "no " + systemdBinary + " (make deps installs the systemd package)"
	}
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		return "no /run/systemd/system: systemd --user refuses to start (make deps makes it, as root)"
	}
	if _, err := exec.LookPath("systemctl"); err != nil {
		return "no systemctl on PATH"
	}
	return ""
}

// systemctlUser runs systemctl --user against the script's manager.
func systemctlUser(ts *testscript.TestScript, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "systemctl", append([]string{"--user"}, args...)...)
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+ts.Getenv("XDG_RUNTIME_DIR"),
		"DBUS_SESSION_BUS_ADDRESS="+ts.Getenv("DBUS_SESSION_BUS_ADDRESS"), "HOME="+ts.Getenv("HOME"))
	out, err := cmd.Output()
	return string(out), err
}

// cmdUnitProp sets $VAR to a property of a unit of the script's systemd
// (systemctl --user show -p PROPERTY --value UNIT).
//
//	unitprop UNIT PROPERTY VAR
func cmdUnitProp(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: unitprop UNIT PROPERTY VAR")
	}
	out, err := systemctlUser(ts, "show", "-p", args[1], "--value", "--", args[0])
	ts.Check(err)
	ts.Setenv(args[2], strings.TrimSpace(out))
}

// cmdHTTPGet fetches a URL until it answers 200 within a bound (a unit's
// server takes a moment to listen) and prints the body; ! httpget expects
// no answer at all within a short bound (nothing listens).
//
//	httpget URL
func cmdHTTPGet(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: httpget URL")
	}
	bound := 10 * time.Second
	if neg {
		bound = time.Second
	}
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(bound)
	var last error
	for time.Now().Before(deadline) {
		resp, err := client.Get(args[0])
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				if neg {
					ts.Fatalf("%s answered", args[0])
				}
				fmt.Fprint(ts.Stdout(), string(body))
				return
			}
			err = errors.Join(rerr, fmt.Errorf("status %d", resp.StatusCode))
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	if !neg {
		ts.Fatalf("%s did not answer within %s: %v", args[0], bound, last)
	}
}
