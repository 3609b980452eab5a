//go:build linux

package testscripts

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// A real systemd --system for the suites about system units
// (/etc/systemd/system, systemctl without --user), which must never touch
// the machine's own manager or unit directories: the manager runs as PID 1
// of a PID namespace of its own, in a mount namespace of its own where
// /run, /etc/systemd/system and the distribution's unit directory are
// private (tmpfs, or a directory under $WORK holding a few empty targets).
// Everything in it ends with its PID 1, and its mounts with its mount
// namespace. The script's own commands run outside; insys runs a command
// inside (nsenter), as sshd -ns runs its server there.

// systemdSystemBound bounds the manager's start: until systemctl answers.
const systemdSystemBound = 15 * time.Second

// insysBound bounds one insys command (testscript has no per-command
// timeout, and a hung reconcile would block the whole run).
const insysBound = 60 * time.Second

// harnessTargets are the unit files of the namespace's distribution unit
// directory: empty targets, enough for units with default dependencies
// (Requires=sysinit.target, After=basic.target, Conflicts=shutdown.target,
// WantedBy=multi-user.target, timers.target...) to load, be enabled and
// start. The manager boots harness.target, which pulls in nothing, so
// that it runs no unit of the machine's and no unit a script has not
// started.
var harnessTargets = []string{
	"harness", "default", "sysinit", "basic", "shutdown", "multi-user",
	"network", "network-online", "network-pre", "local-fs", "remote-fs",
	"sockets", "timers", "paths", "time-set", "time-sync", "nss-lookup",
}

// nodeUserFirstID is the first uid (and gid) of systemd-system's node
// users: far from Debian's system and login ranges.
const nodeUserFirstID = 60100

// cmdSystemdSystem starts a private, real systemd --system for the rest
// of the script (see the comment at the top of this file), killed with
// everything it runs when the script ends. Its log (the manager logs to
// /dev/kmsg, which is this file inside) is $WORK/systemd-system.log. It
// exports SYSTEMD_NS, the host pid of the namespace's PID 1, through which
// insys, sysunitprop and sshd -ns enter it, and UNIT_SUFFIX (unless set
// already, by systemd-user), a suffix for unit names unique to this run.
//
// -user NAME adds a node user that may run anything as root with sudo
// without a password; -nosudo NAME one with no sudo rights at all. Both
// exist only inside the namespace: private copies of /etc/passwd, group,
// shadow and a private /etc/sudoers (under $WORK/systemd-system/etc) are
// mounted over the machine's there. A node user's home is $WORK/users/NAME,
// seen inside the namespace as /home/NAME (the whole of /home there is
// $WORK/users, so that the user can reach it: testscript's work
// directories are closed to other users); its uid and gid are 60100 on,
// the first free; its shell /bin/sh. SYSTEMD_NS_USERS lists them, for sshd
// -ns, which authorizes the test key for them.
//
//	systemd-system [-user NAME]... [-nosudo NAME]...
func cmdSystemdSystem(ts *testscript.TestScript, neg bool, args []string) {
	const usage = "usage: systemd-system [-user NAME]... [-nosudo NAME]..."
	if neg {
		ts.Fatalf(usage)
	}
	var users []nodeUser
	for len(args) > 0 {
		if len(args) < 2 || (args[0] != "-user" && args[0] != "-nosudo") || !validUserName(args[1]) {
			ts.Fatalf("%s (a NAME is lower-case letters, digits and -)", usage)
		}
		users = append(users, nodeUser{name: args[1], sudo: args[0] == "-user"})
		args = args[2:]
	}
	if why := systemdSystemMissing(); why != "" {
		ts.Fatalf("%s", why)
	}
	if ts.Getenv("SYSTEMD_NS") != "" {
		ts.Fatalf("systemd-system: this script runs one already (SYSTEMD_NS=%s)", ts.Getenv("SYSTEMD_NS"))
	}
	work := ts.Getenv("WORK")
	dir := filepath.Join(work, "systemd-system")
	units := filepath.Join(dir, "units")
	ts.Check(os.MkdirAll(units, 0o755))
	for _, t := range harnessTargets {
		ts.Check(os.WriteFile(filepath.Join(units, t+".target"),
			[]byte("[Unit]\nDescription="+t+".target of the test harness (empty)\n"), 0o644))
	}
	logPath := filepath.Join(work, "systemd-system.log")
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	ts.Check(err)
	ts.Defer(func() { log.Close() })

	suffix := ts.Getenv("UNIT_SUFFIX")
	if suffix == "" {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		suffix = hex.EncodeToString(b)
		ts.Setenv("UNIT_SUFFIX", suffix)
	}
	// A cgroup of its own, in each hierarchy systemd uses: the manager
	// takes the cgroup it starts in as its root, puts itself into
	// <root>/init.scope, moves every other process of that cgroup there
	// too, and its units under <root>/system.slice; started in the test's
	// own cgroup, two managers (or the machine's processes) would share
	// those. Its name is random, whatever UNIT_SUFFIX a script chose.
	cgName := make([]byte, 6)
	_, _ = rand.Read(cgName)
	cgroups := harnessCgroups("sanctum-sysns-" + hex.EncodeToString(cgName))
	ts.Defer(func() { removeCgroups(cgroups) })

	var sh strings.Builder
	sh.WriteString("set -e\n")
	// Before any mount: the namespace's mounts must never propagate to
	// the machine's (/ is a shared mount on systemd machines).
	sh.WriteString("mount --make-rprivate /\n")
	sh.WriteString("mount -t proc -o nosuid,nodev,noexec proc /proc\n")
	sh.WriteString("mount -t tmpfs -o mode=0755 tmpfs /run\n")
	// /run/systemd/system tells programs systemd runs the machine;
	// /run/sshd is sshd's privilege separation directory (sshd -ns).
	sh.WriteString("mkdir -p /run/systemd/system\nmkdir -m 0755 /run/sshd\n")
	sh.WriteString("mount -t tmpfs -o mode=0755 tmpfs /etc/systemd/system\n")
	for _, d := range distUnitDirs() {
		fmt.Fprintf(&sh, "mount --bind %s %s\n", shellQuote(units), shellQuote(d))
	}
	fmt.Fprintf(&sh, "mount --bind %s /dev/kmsg\n", shellQuote(logPath))
	if len(users) > 0 {
		etc := filepath.Join(dir, "etc")
		homes := filepath.Join(work, "users")
		ts.Check(writeNodeUsers(etc, homes, users))
		for _, f := range []string{"passwd", "group", "shadow", "sudoers"} {
			fmt.Fprintf(&sh, "mount --bind %s /etc/%s\n", shellQuote(filepath.Join(etc, f)), f)
		}
		fmt.Fprintf(&sh, "mount --bind %s /home\n", shellQuote(homes))
		var names []string
		for _, u := range users {
			names = append(names, u.name)
		}
		ts.Setenv("SYSTEMD_NS_USERS", strings.Join(names, " "))
	}
	for _, cg := range cgroups {
		fmt.Fprintf(&sh, "echo 0 > %s/cgroup.procs || echo 'systemd-system: could not enter %s; the manager shares its parent cgroup' >&2\n",
			shellQuote(cg), cg)
	}
	// container= tells systemd it is a container's init: it then leaves
	// the machine's kernel modules, hostname and console alone.
	sh.WriteString("exec " + systemdBinary + " --system --unit=harness.target --log-target=kmsg\n")

	cmd := exec.Command("/bin/sh", "-c", sh.String())
	cmd.Env = []string{"container=sanctum-harness", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS,
		Setpgid:    true,
		// Should this test process die without its defers (a panic, go
		// test's timeout), the namespace dies with it rather than run on.
		Pdeathsig: syscall.SIGKILL,
	}
	// The kernel sends Pdeathsig when the thread that forked ends, not
	// the process: that thread stays locked to this goroutine (and so
	// alive) until the manager has ended.
	started := make(chan error)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(exited)
	}()
	ts.Check(<-started)
	ts.Defer(func() {
		// SIGKILL to a PID namespace's init ends every process in it;
		// Wait returns once they are all gone.
		_ = cmd.Process.Signal(syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			ts.Logf("systemd-system: pid %d did not end within 10s of SIGKILL", cmd.Process.Pid)
		}
	})
	pid := strconv.Itoa(cmd.Process.Pid)
	ts.Setenv("SYSTEMD_NS", pid)

	// Ready when systemctl answers running (or degraded) within a bound.
	deadline := time.Now().Add(systemdSystemBound)
	var state string
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			ts.Fatalf("systemd --system exited before it answered; see %s:\n%s", logPath, fileTail(logPath))
		default:
		}
		out, err := systemctlSystem(pid, "is-system-running")
		if state, last = strings.TrimSpace(out), err; state == "running" || state == "degraded" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("systemd --system did not answer within %s (last state %q, %v); see %s:\n%s",
		systemdSystemBound, state, last, logPath, fileTail(logPath))
}

// fileTail is the end of a log, for a failure's message.
func fileTail(path string) string {
	data, _ := os.ReadFile(path)
	if len(data) > 2048 {
		data = data[len(data)-2048:]
	}
	return string(data)
}

// nodeUser is a user systemd-system adds inside its namespace.
type nodeUser struct {
	name string
	sudo bool // may run anything as root without a password
}

// validUserName keeps node user names to what passwd, sudoers and
// sshd_config take without quoting.
func validUserName(s string) bool {
	if s == "" || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// writeNodeUsers writes into etc the namespace's passwd, group and shadow
// (the machine's, each with the node users added) and sudoers (its own,
// not the machine's: only root and the -user users may use sudo), and
// makes each user's home under homes, owned by the user.
func writeNodeUsers(etc, homes string, users []nodeUser) error {
	if err := os.MkdirAll(etc, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(homes, 0o755); err != nil {
		return err
	}
	files := map[string]string{}
	for _, f := range []string{"passwd", "group", "shadow"} {
		data, err := os.ReadFile(filepath.Join("/etc", f))
		if err != nil {
			return err
		}
		files[f] = string(data)
		if files[f] != "" && !strings.HasSuffix(files[f], "\n") {
			files[f] += "\n"
		}
	}
	taken := func(file string, field int, value string) bool {
		for _, line := range strings.Split(files[file], "\n") {
			if fields := strings.Split(line, ":"); len(fields) > field && fields[field] == value {
				return true
			}
		}
		return false
	}
	sudoers := "# The private sudoers of the test harness's systemd-system namespace.\n" +
		"Defaults\tenv_reset\nDefaults\t!requiretty\n" +
		"Defaults\tsecure_path=\"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"\n" +
		"root\tALL=(ALL:ALL) ALL\n"
	id := nodeUserFirstID
	for _, u := range users {
		if taken("passwd", 0, u.name) || taken("group", 0, u.name) {
			return fmt.Errorf("systemd-system: a user or group %s exists already", u.name)
		}
		for n := 0; taken("passwd", 2, strconv.Itoa(id)) || taken("group", 2, strconv.Itoa(id)); n++ {
			if n >= 1000 {
				return fmt.Errorf("systemd-system: no free uid from %d", nodeUserFirstID)
			}
			id++
		}
		files["passwd"] += fmt.Sprintf("%s:x:%d:%d:test harness node user:/home/%s:/bin/sh\n", u.name, id, id, u.name)
		files["group"] += fmt.Sprintf("%s:x:%d:\n", u.name, id)
		// "*": no password, yet not locked ("!"), which sshd refuses
		// without PAM; no password ageing, which would force a change.
		files["shadow"] += u.name + ":*:19000:0:99999:7:::\n"
		if u.sudo {
			sudoers += u.name + "\tALL=(root) NOPASSWD: ALL\n"
		}
		home := filepath.Join(homes, u.name)
		for _, d := range []string{home, filepath.Join(home, ".ssh")} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return err
			}
			if err := os.Chown(d, id, id); err != nil {
				return err
			}
		}
		if err := os.Chmod(home, 0o755); err != nil {
			return err
		}
		id++
	}
	for f, text := range files {
		// The copies keep the owner and mode of the machine's files
		// (shadow: root:shadow 0640), which programs check.
		info, err := os.Stat(filepath.Join("/etc", f))
		if err != nil {
			return err
		}
		p := filepath.Join(etc, f)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		if err := os.Chown(p, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
		if err := os.Chmod(p, info.Mode().Perm()); err != nil {
			return err
		}
	}
	// sudo insists on a sudoers owned by root and not writable by anyone.
	p := filepath.Join(etc, "sudoers")
	if err := os.WriteFile(p, []byte(sudoers), 0o440); err != nil {
		return err
	}
	return os.Chmod(p, 0o440)
}

// distUnitDirs are the distribution's system unit directories that exist
// here, each once (on a merged-/usr system /lib/systemd/system is
// /usr/lib/systemd/system): systemd-system mounts its targets over them.
func distUnitDirs() []string {
	var dirs []string
	var seen []fs.FileInfo
	for _, d := range []string{"/lib/systemd/system", "/usr/lib/systemd/system", "/usr/local/lib/systemd/system"} {
		info, err := os.Stat(d)
		if err != nil || !info.IsDir() {
			continue
		}
		dup := false
		for _, s := range seen {
			dup = dup || os.SameFile(s, info)
		}
		if !dup {
			seen = append(seen, info)
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// harnessCgroups makes a cgroup called name under this process's own, in
// the cgroup hierarchies systemd uses (the unified one, and the named v1
// systemd one of a hybrid or legacy machine), and returns their
// directories. A hierarchy where that fails is left out: the manager then
// shares it with the test, as a systemd --user does.
func harnessCgroups(name string) []string {
	own := map[string]string{} // "" for the unified hierarchy, "name=systemd"
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && (parts[1] == "" || parts[1] == "name=systemd") {
			own[parts[1]] = parts[2]
		}
	}
	mounts, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer mounts.Close()
	var dirs []string
	sc := bufio.NewScanner(mounts)
	for sc.Scan() {
		// id parent major:minor root mountpoint options... - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 {
			continue
		}
		key := ""
		switch {
		case g[0] == "cgroup2":
		case g[0] == "cgroup" && strings.Contains(","+g[2]+",", ",name=systemd,"):
			key = "name=systemd"
		default:
			continue
		}
		path, ok := own[key]
		if !ok || !strings.HasPrefix(path, f[3]) {
			continue
		}
		d := filepath.Join(f[4], strings.TrimPrefix(path, f[3]), name)
		if err := os.Mkdir(d, 0o755); err == nil {
			dirs = append(dirs, d)
			delete(own, key)
		}
	}
	return dirs
}

// removeCgroups removes the cgroups of harnessCgroups and those the
// manager made in them, deepest first, once their processes are gone (a
// cgroup empties a moment after its last process exits; bounded).
func removeCgroups(dirs []string) {
	for _, top := range dirs {
		for try := 0; try < 40; try++ {
			var all []string
			_ = filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					all = append(all, p)
				}
				return nil
			})
			for i := len(all) - 1; i >= 0; i-- {
				_ = syscall.Rmdir(all[i])
			}
			if _, err := os.Stat(top); errors.Is(err, fs.ErrNotExist) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// nsenterArgs are nsenter's arguments that enter the namespaces of
// systemd-system's PID 1 (host pid): its mounts, its PID namespace (its
// systemctl sees the private manager) and its hostname, in directory wd.
// nsenter forks the program (a PID namespace is entered by a child), and
// killing nsenter leaves it running: whoever bounds one kills its process
// group (Debian 12's nsenter has no --kill-child).
// harnessAlive checks that pid is still systemd-system's manager before
// anything enters its namespaces: a manager that died leaves its pid to
// be reused, and entering another process's (the machine's own) mount
// namespace would let a command write the real /etc/systemd/system.
func harnessAlive(pid string) error {
	env, err := os.ReadFile("/proc/" + pid + "/environ")
	if err != nil || !slices.Contains(strings.Split(string(env), "\x00"), "container=sanctum-harness") {
		return fmt.Errorf("the private manager (pid %s) is gone; see $WORK/systemd-system.log", pid)
	}
	theirs, err1 := os.Readlink("/proc/" + pid + "/ns/mnt")
	ours, err2 := os.Readlink("/proc/self/ns/mnt")
	if err1 != nil || err2 != nil || theirs == ours {
		return fmt.Errorf("pid %s does not run in a mount namespace of its own; refusing to enter it", pid)
	}
	return nil
}

func nsenterArgs(pid, wd string) []string {
	return []string{"-t", pid, "-m", "-p", "-u", "--wd=" + wd, "--"}
}

// nsenterCommand is nsenter running a program inside the namespace of
// systemd-system's PID 1, in a process group of its own, which is killed
// whole when ctx ends.
func nsenterCommand(ctx context.Context, pid, wd string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "nsenter", append(nsenterArgs(pid, wd), args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd
}

// systemctlSystem runs systemctl (the system manager's) inside the
// namespace of systemd-system's PID 1, bounded.
func systemctlSystem(pid string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := nsenterCommand(ctx, pid, "/", append([]string{"systemctl"}, args...)...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && stderr.Len() > 0 {
		err = fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return string(out), err
}

// cmdInsys runs a program inside systemd-system's namespace, as exec runs
// one outside: with the script's environment and directory, its stdout
// and stderr kept for the next stdout/stderr checks, ! insys expecting it
// to fail. It sees the private /etc/systemd/system, /run and (with node
// users) /etc/passwd and /home, and its systemctl talks to the private
// manager; the testscript programs (reconcile) are on its PATH as outside.
// It must end within 60 s (killed, with what it started, at the bound).
// With -exit N it must exit with exactly N, as exitcode checks outside
// (reconcile's 1, 2 and 3 mean different things).
//
//	insys [-exit N] program [args...]
func cmdInsys(ts *testscript.TestScript, neg bool, args []string) {
	want := -1
	if len(args) > 2 && args[0] == "-exit" {
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		if neg {
			ts.Fatalf("usage: ! insys program [args...] (no -exit)")
		}
		want, args = n, args[2:]
	}
	if len(args) < 1 {
		ts.Fatalf("usage: insys [-exit N] program [args...]")
	}
	pid := ts.Getenv("SYSTEMD_NS")
	if pid == "" {
		ts.Fatalf("insys: no SYSTEMD_NS (run systemd-system first)")
	}
	if err := harnessAlive(pid); err != nil {
		ts.Fatalf("insys: %v", err)
	}
	// coreutils timeout kills nsenter and its process group (the program
	// and what it started) at the bound.
	start := time.Now()
	err := ts.Exec("timeout", append(append([]string{"-s", "KILL", strconv.Itoa(int(insysBound.Seconds())), "nsenter"},
		nsenterArgs(pid, ts.MkAbs("."))...), args...)...)
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && (ee.ExitCode() == 137 || ee.ExitCode() == -1) && time.Since(start) >= insysBound:
		ts.Fatalf("insys %s did not end within %s (killed)", args[0], insysBound)
	case err != nil && !errors.As(err, &ee):
		ts.Fatalf("insys %s: %v", args[0], err)
	case want >= 0:
		got := 0
		if err != nil {
			got = ee.ExitCode()
		}
		if got != want {
			ts.Fatalf("insys %s exited %d; want %d", args[0], got, want)
		}
	case err != nil && !neg:
		ts.Fatalf("insys %s: %v", args[0], err)
	case err == nil && neg:
		ts.Fatalf("insys %s: unexpected success", args[0])
	}
}

// cmdSysUnitProp sets $VAR to a property of a unit of systemd-system's
// manager (systemctl show -p PROPERTY --value UNIT inside the namespace).
//
//	sysunitprop UNIT PROPERTY VAR
func cmdSysUnitProp(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: sysunitprop UNIT PROPERTY VAR")
	}
	pid := ts.Getenv("SYSTEMD_NS")
	if pid == "" {
		ts.Fatalf("sysunitprop: no SYSTEMD_NS (run systemd-system first)")
	}
	if err := harnessAlive(pid); err != nil {
		ts.Fatalf("sysunitprop: %v", err)
	}
	out, err := systemctlSystem(pid, "show", "-p", args[1], "--value", "--", args[0])
	ts.Check(err)
	ts.Setenv(args[2], strings.TrimSpace(out))
}

// systemdSystemMissing says why systemd-system cannot run here, "" when
// it can: on Linux, as root, with Debian's systemd package, util-linux's
// mount and nsenter, coreutils' timeout (make deps installs them), where
// this process may make mount and PID namespaces (a container may deny
// it).
func systemdSystemMissing() string {
	if runtime.GOOS != "linux" {
		return "systemd --system runs on Linux only"
	}
	if os.Geteuid() != 0 {
		return "systemd-system needs root (namespaces, mounts)"
	}
	if _, err := os.Stat(systemdBinary); err != nil {
		return "no " + systemdBinary + " (make deps installs the systemd package)"
	}
	for _, tool := range []string{"systemctl", "nsenter", "mount", "timeout"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "no " + tool + " on PATH (make deps)"
		}
	}
	return namespacesMissing()
}

// namespacesMissing tries, once, to start a program in new mount and PID
// namespaces, and says why that failed ("" when it worked).
var namespacesMissing = sync.OnceValue(func() string {
	cmd := exec.Command("/bin/true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS}
	if err := cmd.Run(); err != nil {
		return "cannot make mount and PID namespaces here: " + err.Error()
	}
	return ""
})
