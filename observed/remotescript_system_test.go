package observed

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sysNode is a node whose scripts run in /bin/sh here, as a node user
// who is not root (an id on PATH says uid 1000): its home, a directory
// standing for /etc/systemd/system (never the real one), and a sudo on
// PATH that logs each command it runs, then runs it, or refuses as sudo
// -n refuses a user without rights.
type sysNode struct {
	n         RemoteNode
	home, sys string
	bin, log  string
}

func newSysNode(t *testing.T) *sysNode {
	t.Helper()
	x := &sysNode{home: t.TempDir(), bin: t.TempDir()}
	sys, err := filepath.EvalSymlinks(t.TempDir()) // walk wants it physically itself
	if err != nil {
		t.Fatal(err)
	}
	x.sys, x.log = sys, filepath.Join(x.bin, "sudo.log")
	x.n = RemoteNode{Home: x.home, sysDir: sys}
	for name, body := range map[string]string{
		"id": "#!/bin/sh\necho 1000\n",
		"sudo": "#!/bin/sh\necho \"$*\" >> \"$SUDO_LOG\"\n" +
			"if [ -n \"$SUDO_REFUSE\" ]; then echo 'sudo: a password is required' >&2; exit 1; fi\n" +
			"[ \"$1\" = -n ] || { echo 'sudo: not -n' >&2; exit 1; }\nshift\nexec \"$@\"\n",
		"systemctl": "#!/bin/sh\necho \"systemctl $*\" >> \"$SUDO_LOG.calls\"\n",
	} {
		if err := os.WriteFile(filepath.Join(x.bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

// run runs a script as the node does, refused: sudo -n refuses.
func (x *sysNode) run(t *testing.T, script string, refused bool) []byte {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-s")
	cmd.Stdin = strings.NewReader(script)
	cmd.Env = append(os.Environ(), "PATH="+x.bin+":/usr/bin:/bin", "SUDO_LOG="+x.log)
	if refused {
		cmd.Env = append(cmd.Env, "SUDO_REFUSE=1")
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("script: %v\n%s", err, out)
	}
	return out
}

func (x *sysNode) write(t *testing.T, refused bool, ops ...RemoteWrite) []RemoteResult {
	t.Helper()
	out := x.run(t, writeScript(x.n, "bk", ops), refused)
	res, err := parseWrites(out, "bk", ops)
	if err != nil {
		t.Fatalf("parse %q: %v", out, err)
	}
	return res
}

func permOf(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

// TestWriteScriptSystemUnits carries out a system unit's life on a node
// whose user is not root: written (0600, its secret never an argument of
// any command), its manager called through sudo -n, rewritten with the
// old file backed up in the home (the user's own 0600 file), removed into
// the backups, restored from them; every change in the unit directory
// went through sudo -n.
func TestWriteScriptSystemUnits(t *testing.T) {
	x := newSysNode(t)
	unit := filepath.Join(x.sys, "x.service")
	v1 := []byte("[Service]\nEnvironment=TOKEN=s3cret-%'\\\nExecStart=/bin/true\n")
	v2 := []byte("[Service]\nExecStart=/bin/false\n")
	reload := RemoteWrite{Op: RemoteSystemctl, Args: []string{"daemon-reload"}, Gate: true, System: true}
	res := x.write(t, false,
		RemoteWrite{Path: unit, Content: v1, Mode: 0o600, MkDir: true},
		reload,
		RemoteWrite{Op: RemoteSystemctl, Args: []string{"enable", "--", "x.service"}, System: true, Needs: []int{0}})
	want := []RemoteResult{
		{Index: 0, Path: unit, Status: "ok"},
		{Index: 1, Path: "systemctl daemon-reload", Status: "ok"},
		{Index: 2, Path: "systemctl enable -- x.service", Status: "ok"},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Fatalf("first write (-want +got):\n%s", diff)
	}
	if got, _ := os.ReadFile(unit); string(got) != string(v1) {
		t.Errorf("unit = %q, want %q", got, v1)
	}
	if m := permOf(t, unit); m != 0o600 {
		t.Errorf("unit mode %v, want 0600", m)
	}
	calls, _ := os.ReadFile(x.log + ".calls")
	if want := "systemctl --no-pager --no-ask-password daemon-reload\nsystemctl --no-pager --no-ask-password enable -- x.service\n"; string(calls) != want {
		t.Errorf("systemctl calls %q, want %q", calls, want)
	}

	// A new content: the old one backed up in the home, the user's 0600
	// file; a mode fixed alone.
	res = x.write(t, false, RemoteWrite{Path: unit, Content: v2, Mode: 0o644, MkDir: true},
		RemoteWrite{Op: RemoteChmod, Path: unit, Mode: 0o640})
	backup := filepath.Join(x.home, "bk", x.sys, "x.service")
	want = []RemoteResult{{Index: 0, Path: unit, Status: "ok", Backup: filepath.Join("bk", x.sys, "x.service")}, {Index: 1, Path: unit, Status: "ok"}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Fatalf("rewrite (-want +got):\n%s", diff)
	}
	if got, _ := os.ReadFile(backup); string(got) != string(v1) {
		t.Errorf("backup = %q, want %q", got, v1)
	}
	if m := permOf(t, backup); m != 0o600 {
		t.Errorf("backup mode %v, want 0600", m)
	}
	if m := permOf(t, unit); m != 0o640 {
		t.Errorf("unit mode %v after chmod, want 0640", m)
	}

	// Removed while it holds what was written (else left, CHANGED), then
	// restored from the backup that holds v1.
	if err := os.RemoveAll(filepath.Join(x.home, "bk")); err != nil {
		t.Fatal(err)
	}
	res = x.write(t, false, RemoteWrite{Op: RemoteRemove, Path: unit, SHA256: sum(v1)})
	if res[0].Status != "changed" {
		t.Errorf("remove of another content: %+v, want changed", res[0])
	}
	res = x.write(t, false, RemoteWrite{Op: RemoteRemove, Path: unit, SHA256: sum(v2)})
	if res[0].Status != "ok" || res[0].Backup == "" {
		t.Fatalf("remove: %+v", res[0])
	}
	if _, err := os.Lstat(unit); !os.IsNotExist(err) {
		t.Errorf("unit still there after the removal: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(x.home, res[0].Backup)); string(got) != string(v2) {
		t.Errorf("removed unit's backup = %q, want %q", got, v2)
	}
	res = x.write(t, false, RemoteWrite{Op: RemoteRestore, Path: unit, From: res[0].Backup, SHA256: sum(v1), Mode: 0o644})
	if res[0].Status != "changed" {
		t.Errorf("restore from a backup of another content: %+v, want changed", res[0])
	}
	if _, err := os.Lstat(unit); !os.IsNotExist(err) {
		t.Errorf("a refused restore left %s: %v", unit, err)
	}
	res = x.write(t, false, RemoteWrite{Op: RemoteRestore, Path: unit, From: filepath.Join("bk", x.sys, "x.service"), SHA256: sum(v2), Mode: 0o644})
	if res[0].Status != "ok" {
		t.Fatalf("restore: %+v", res[0])
	}
	if got, _ := os.ReadFile(unit); string(got) != string(v2) || permOf(t, unit) != 0o644 {
		t.Errorf("restored unit = %q, mode %v", got, permOf(t, unit))
	}
	entries, _ := os.ReadDir(x.sys)
	if len(entries) != 1 {
		t.Errorf("the unit directory holds %v: a temporary file left", entries)
	}

	// Every change in the unit directory went through sudo -n; no
	// content ever was an argument.
	log, _ := os.ReadFile(x.log)
	for _, want := range []string{"-n sh -c ", "-n mv -f -- .x.service.reconcile-tmp ./x.service", "-n chmod -- 0640 ./x.service",
		"-n rm -f -- " + unit, "-n systemctl --no-pager --no-ask-password daemon-reload"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("sudo log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(string(log), "s3cret") || strings.Contains(string(log), "/bin/false") {
		t.Errorf("a unit's content was an argument of a command:\n%s", log)
	}
}

// TestWriteScriptSystemRefused: a node user sudo -n refuses gets every
// system op failed with sudo's reason (asked once), later system calls
// not run; the home's writes and the unit directory are untouched by it.
func TestWriteScriptSystemRefused(t *testing.T) {
	x := newSysNode(t)
	unit := filepath.Join(x.sys, "x.service")
	res := x.write(t, true,
		RemoteWrite{Path: "a.txt", Content: []byte("a\n"), Mode: 0o644},
		RemoteWrite{Path: unit, Content: []byte("[Service]\n"), Mode: 0o644, MkDir: true},
		RemoteWrite{Op: RemoteSystemctl, Args: []string{"daemon-reload"}, Gate: true, System: true},
		RemoteWrite{Op: RemoteSystemctl, Args: []string{"start", "--", "x.service"}, System: true, Needs: []int{1}})
	refused := "sudo -n: sudo: a password is required" + sudoRefused
	want := []RemoteResult{
		{Index: 0, Path: "a.txt", Status: "ok"},
		{Index: 1, Path: unit, Status: "failed", Reason: refused},
		{Index: 2, Path: "systemctl daemon-reload", Status: "failed", Reason: refused},
		{Index: 3, Path: "systemctl start -- x.service", Status: "failed", Reason: "not run: a step before it failed"},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("refused (-want +got):\n%s", diff)
	}
	if entries, _ := os.ReadDir(x.sys); len(entries) != 0 {
		t.Errorf("the unit directory holds %v", entries)
	}
	if log, _ := os.ReadFile(x.log); string(log) != "-n true\n" {
		t.Errorf("sudo asked %q, want once, for true", log)
	}
}

// TestSystemDirConfined: only the files directly in the system's unit
// directory are named outside the home: a directory that is not
// physically itself (a symlink), one below it, or any other absolute
// directory is an escape, refused before anything is read or written.
func TestSystemDirConfined(t *testing.T) {
	x := newSysNode(t)
	if err := os.Mkdir(filepath.Join(x.sys, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(x.sys, "x.service"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(x.sys, link); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	paths := []string{filepath.Join(x.sys, "x.service"), filepath.Join(x.sys, "sub", "y.service"), filepath.Join(other, "z.service")}
	res, err := ParseDigests(x.run(t, digestScript(x.n, paths, nil), false), paths)
	if err != nil {
		t.Fatal(err)
	}
	v := []byte("x\n")
	want := map[string]RemoteFile{paths[0]: {State: RemoteRegular, SHA256: sum(v), Mode: 0o644}, paths[1]: {State: RemoteEscape}, paths[2]: {State: RemoteEscape}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("digests (-want +got):\n%s", diff)
	}
	// The same directory reached through a symlink is not itself.
	linked := x.n
	linked.sysDir = link
	res2 := x.write(t, false, RemoteWrite{Path: filepath.Join(other, "z.service"), Content: v, Mode: 0o644, MkDir: true})
	x.n = linked
	res2 = append(res2, x.write(t, false, RemoteWrite{Path: filepath.Join(link, "w.service"), Content: v, Mode: 0o644, MkDir: true})...)
	for _, r := range res2 {
		if r.Status != "failed" || r.Reason != systemWriteFailures["escape"] {
			t.Errorf("%s: %+v, want refused as an escape", r.Path, r)
		}
	}
	if _, err := os.Lstat(filepath.Join(x.sys, "w.service")); !os.IsNotExist(err) {
		t.Errorf("written through a symlinked unit directory: %v", err)
	}
	if entries, _ := os.ReadDir(other); len(entries) != 0 {
		t.Errorf("written outside: %v", entries)
	}
}

// TestParseObservationSystemUnits reads the system manager's show riding
// before the user's, and each one's failure apart from the other's.
func TestParseObservationSystemUnits(t *testing.T) {
	digests := "file\t0\nHASHES\n" + strings.Repeat("ab", 32) + "  a\nMODES\n644 a\n"
	sys := "SYSUNITS\nId=s.service\nLoadState=loaded\nActiveState=active\nMainPID=7\n\nSYSUNITSEXIT\t0\t\n"
	user := "UNITS\nId=x.service\nLoadState=loaded\nActiveState=active\nMainPID=42\n\nUNITSEXIT\t0\t\nHOME\t/home/n\nEND\n"
	q := RemoteQuery{Paths: []string{"a"}, Units: []string{"x.service"}, SystemUnits: []string{"s.service"}}
	o, err := ParseObservation([]byte(digests+sys+user), q)
	if err != nil {
		t.Fatal(err)
	}
	if o.Units["x.service"].MainPID != 42 || o.SystemUnits["s.service"].MainPID != 7 || o.Files["a"].State != RemoteRegular || o.Home != "/home/n" {
		t.Errorf("observation %+v", o)
	}
	// Only system units: the user's section answers the home alone.
	q2 := RemoteQuery{Paths: []string{"a"}, SystemUnits: []string{"s.service"}}
	o, err = ParseObservation([]byte(digests+sys+"UNITS\n\nUNITSEXIT\t0\t\nHOME\t/home/n\nEND\n"), q2)
	if err != nil || o.SystemUnits["s.service"].MainPID != 7 || o.Units != nil || o.UnitsErr != nil || o.Home != "/home/n" {
		t.Errorf("system units alone: %+v, %v", o, err)
	}
	// The system manager not there: its error, the user's answer stands.
	down := "SYSUNITS\n\nSYSUNITSEXIT\t1\tSystem has not been booted with systemd as init system (PID 1). Can't operate.\n"
	o, err = ParseObservation([]byte(digests+down+user), q)
	if err != nil {
		t.Fatal(err)
	}
	if o.SystemUnitsErr == nil || !strings.HasPrefix(o.SystemUnitsErr.Error(), "systemctl show (1 units): exit 1: System has not been booted") ||
		o.UnitsErr != nil || o.Units["x.service"] == nil {
		t.Errorf("system manager down: %v; user %v, %v", o.SystemUnitsErr, o.Units, o.UnitsErr)
	}
	if _, err := ParseObservation([]byte(digests+"SYSUNITS\nId=s.service\n"), q); err == nil {
		t.Error("an answer cut short in the system show was read")
	}
}

// TestObserveScriptSystemShow runs the observation script: the system
// manager asked once, without --user and without sudo.
func TestObserveScriptSystemShow(t *testing.T) {
	x := newSysNode(t)
	q := RemoteQuery{Paths: []string{"a"}, SystemUnits: []string{"s.service"}}
	if _, err := ParseObservation(x.run(t, observeScript(x.n, q), false), q); err != nil {
		t.Fatal(err)
	}
	calls, _ := os.ReadFile(x.log + ".calls")
	if !strings.HasPrefix(string(calls), "systemctl --no-pager --no-ask-password show --property=") || strings.Count(string(calls), "\n") != 1 {
		t.Errorf("systemctl calls %q, want one show of the system manager", calls)
	}
	if _, err := os.Stat(x.log); !os.IsNotExist(err) {
		t.Errorf("the observation used sudo: %v", err)
	}
}
