// Package testscripts drives the real reconcile entry point through
// testscript suites (*.txtar), each in a disposable HOME under $WORK.
package testscripts

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofrs/flock"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/sanctum-haus/reconcile/cmd/reconcile/cli"
)

func TestMain(m *testing.M) {
	testscript.Main(withDouble{m}, map[string]func(){
		"reconcile": func() { os.Exit(cli.Main(os.Args[1:])) },
		"sshcut":    func() { os.Exit(sshcut()) },
	})
}

// withDouble builds the launchctl double (./launchctld, a small program of
// its own: a pass makes dozens of launchctl calls, and each would otherwise
// start this test binary) once, before the tests, and puts it on PATH as
// launchctl-double. testscript.Main calls Run only in the test process,
// never in the commands it runs.
type withDouble struct{ m *testing.M }

func (w withDouble) Run() int {
	dir, err := os.MkdirTemp("", "launchctld-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "launchctl-double"), "./launchctld")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the launchctl double: %v\n%s", err, out)
		return 1
	}
	os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return w.m.Run()
}

// TestScripts runs every *.txtar here. UPDATE_GOLDEN=1 rewrites the golden
// files inside the archives from what the commands printed.
func TestScripts(t *testing.T) {
	testscript.Run(t, params(t, "."))
}

// benchRemote runs the bench suites (make bench), not part of the tests.
var benchRemote = flag.Bool("bench.remote", false, "run the remote bench suite in bench/ (make bench)")

// TestBenchRemote is make bench's remote row: the suites in bench/ time
// passes against the real sshd and print their figures.
func TestBenchRemote(t *testing.T) {
	if !*benchRemote {
		t.Skip("make bench runs this (-bench.remote)")
	}
	testscript.Run(t, params(t, "bench"))
}

// params are the suites' settings: a disposable HOME, the shipped catalog
// under $WORK/sanctum, and the custom commands.
func params(t *testing.T, dir string) testscript.Params {
	catalog, err := filepath.Abs("../sanctum")
	if err != nil {
		t.Fatal(err)
	}
	return testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       os.Getenv("UPDATE_GOLDEN") != "",
		Condition:           condition,
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, "home")
			if err := os.MkdirAll(home, 0o755); err != nil {
				return err
			}
			env.Setenv("HOME", home)
			env.Setenv("NO_COLOR", "1")
			env.Setenv("UID", strconv.Itoa(os.Getuid()))
			env.Setenv("SANCTUM_CATALOG", "")
			// The suites run as the Mac, the host the shipped catalog is
			// for: its host: vm units are the VM node's, never this
			// machine's systemd. A script about the Linux host itself
			// says env SANCTUM_HOST=vm (systemd.txtar).
			env.Setenv("SANCTUM_HOST", "mac")
			bin := filepath.Join(env.WorkDir, "bin")
			if err := os.MkdirAll(bin, 0o755); err != nil {
				return err
			}
			env.Setenv("PATH", bin+string(os.PathListSeparator)+env.Getenv("PATH"))
			// The shipped catalog, copied under $WORK/sanctum so that a
			// script may edit it; files the archive brings win.
			return copyMissing(catalog, filepath.Join(env.WorkDir, "sanctum"))
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"snapshot":       cmdSnapshot,
			"lock":           cmdLock,
			"unlock":         cmdUnlock,
			"backupof":       cmdBackupOf,
			"perm":           cmdPerm,
			"exitcode":       cmdExitCode,
			"bounded":        cmdBounded, // hostile_test.go
			"dropobj":        cmdDropObject,
			"mocklaunchctl":  cmdMockLaunchctl,
			"plistcheck":     cmdPlistCheck,
			"sshd":           cmdSSHD,
			"sshalias":       cmdSSHAlias,
			"sshd-resetlog":  cmdSSHDResetLog,
			"sshd-fleet":     cmdSSHDFleet,
			"listen":         cmdListen,
			"systemd-user":   cmdSystemdUser, // systemd_test.go
			"unitprop":       cmdUnitProp,
			"systemd-system": cmdSystemdSystem, // systemd_system_test.go
			"insys":          cmdInsys,
			"sysunitprop":    cmdSysUnitProp,
			"httpget":        cmdHTTPGet,
			"mermaidcheck":   cmdMermaidCheck,
			"benchremote":    cmdBenchRemote,
			"benchfleet":     cmdBenchFleet,
		},
	}
}

// conditions are the scripts' own conditions ([systemd], [!systemd-system]),
// each a func saying why it does not hold here ("" when it does).
var conditions = map[string]func() string{
	"systemd":        systemdMissing,       // a private systemd --user can start
	"systemd-system": systemdSystemMissing, // a private systemd --system can start
}

// condition answers the scripts' own conditions (testscript answers its
// built-in ones, such as [linux] and [exec:prog], itself).
func condition(cond string) (bool, error) {
	missing, ok := conditions[cond]
	if !ok {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	return missing() == "", nil
}

func copyMissing(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if strings.HasSuffix(p, ".go") {
			return nil
		}
		if _, err := os.Lstat(target); err == nil {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// cmdSnapshot writes one line per file under dir (path, type, mode, size,
// mtime in ns, sha256) into out, so that two snapshots compare with cmp.
//
//	snapshot [-exclude relprefix]... dir out
func cmdSnapshot(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! snapshot")
	}
	var excludes []string
	for len(args) >= 2 && args[0] == "-exclude" {
		excludes = append(excludes, filepath.FromSlash(args[1]))
		args = args[2:]
	}
	if len(args) != 2 {
		ts.Fatalf("usage: snapshot [-exclude relprefix]... dir out")
	}
	dir := ts.MkAbs(args[0])
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		for _, ex := range excludes {
			if rel == ex || strings.HasPrefix(rel, ex+string(filepath.Separator)) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %s %d %d", filepath.ToSlash(rel), info.Mode(), info.Size(), info.ModTime().UnixNano())
		switch {
		case info.Mode().IsRegular() && info.Size() > snapshotHashed:
			// A hostile suite's sparse giant: its size and mtime say enough.
			line += " (not hashed)"
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			line += " " + hex.EncodeToString(sum[:])
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		}
		lines = append(lines, line)
		return nil
	})
	ts.Check(err)
	sort.Strings(lines)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
}

// snapshotHashed bounds the files snapshot hashes.
const snapshotHashed = 64 << 20

// Locks held by scripts, by absolute path.
var (
	locksMu sync.Mutex
	locks   = map[string]*flock.Flock{}
)

// cmdLock holds an exclusive flock on a file, as a running pass would; with
// a duration it lets go after that long, otherwise at unlock or script end.
//
//	lock file [duration]
func cmdLock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: lock file [duration]")
	}
	p := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(filepath.Dir(p), 0o700))
	f := flock.New(p)
	ok, err := f.TryLock()
	ts.Check(err)
	if !ok {
		ts.Fatalf("lock %s: already held", p)
	}
	locksMu.Lock()
	locks[p] = f
	locksMu.Unlock()
	ts.Defer(func() { _ = f.Unlock() })
	if len(args) == 2 {
		d, err := time.ParseDuration(args[1])
		ts.Check(err)
		time.AfterFunc(d, func() { _ = f.Unlock() })
	}
}

// cmdUnlock releases a lock taken by lock.
//
//	unlock file
func cmdUnlock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: unlock file")
	}
	p := ts.MkAbs(args[0])
	locksMu.Lock()
	f := locks[p]
	delete(locks, p)
	locksMu.Unlock()
	if f == nil {
		ts.Fatalf("unlock %s: not locked by this script", p)
	}
	ts.Check(f.Unlock())
}

// cmdBackupOf checks that some run's backup of a HOME-relative path holds
// exactly the bytes of a file.
//
//	backupof home relpath want
func cmdBackupOf(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: backupof home relpath want")
	}
	want, err := os.ReadFile(ts.MkAbs(args[2]))
	ts.Check(err)
	matches, err := filepath.Glob(filepath.Join(ts.MkAbs(args[0]), ".sanctum/state/backups/*", filepath.FromSlash(args[1])))
	ts.Check(err)
	found := false
	for _, m := range matches {
		if got, err := os.ReadFile(m); err == nil && string(got) == string(want) {
			found = true
		}
	}
	switch {
	case neg && found:
		ts.Fatalf("a backup of %s holds the bytes of %s", args[1], args[2])
	case !neg && !found:
		ts.Fatalf("no backup of %s holds the bytes of %s (%d backups of that path)", args[1], args[2], len(matches))
	}
}

// cmdPerm checks a file's permission bits.
//
//	perm path 0600
func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: perm path mode")
	}
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	info, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	got := info.Mode().Perm()
	if (got == fs.FileMode(want)) == neg {
		ts.Fatalf("%s has mode %#o; want %s%#o", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// cmdExitCode runs a program like exec, keeping its stdout and stderr for
// the next stdout/stderr checks, and checks its exact exit status (exec
// only tells zero from non-zero, and reconcile's 1, 2 and 3 mean different
// things).
//
//	exitcode N program [args...]
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited %d; want %d", args[1], got, want)
	}
}

// cmdDropObject removes the YAML document of one object from a catalog file,
// as a user deleting it from the catalog would.
//
//	dropobj file Kind name
func cmdDropObject(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: dropobj file Kind name")
	}
	p := ts.MkAbs(args[0])
	data, err := os.ReadFile(p)
	ts.Check(err)
	docs := strings.Split(string(data), "\n---\n")
	kept := docs[:0]
	dropped := 0
	for _, d := range docs {
		if strings.Contains(d, "\nkind: "+args[1]+"\n") && strings.Contains(d, "\n  name: "+args[2]+"\n") {
			dropped++
			continue
		}
		kept = append(kept, d)
	}
	if dropped != 1 {
		ts.Fatalf("%s: found %d documents of %s/%s; want 1", args[0], dropped, args[1], args[2])
	}
	ts.Check(os.WriteFile(p, []byte(strings.Join(kept, "\n---\n")), 0o644))
}

// cmdMermaidCheck checks that a file (or stdout) is a Mermaid flowchart in
// the subset reconcile writes: a header, subgraph/end blocks, node
// declarations with quoted labels, edges between declared nodes, classDef
// and class lines.
//
//	mermaidcheck file|stdout
func cmdMermaidCheck(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mermaidcheck file|stdout")
	}
	text := ts.ReadFile(args[0])
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) == 0 || !regexp.MustCompile(`^flowchart (LR|RL|TB|TD|BT)$`).MatchString(lines[0]) {
		ts.Fatalf("first line %q is not a flowchart header", lines[0])
	}
	node := regexp.MustCompile(`^\s+([A-Za-z][A-Za-z0-9_]*)(\["[^"]*"\]|\(\["[^"]*"\]\))$`)
	edge := regexp.MustCompile(`^\s+([A-Za-z][A-Za-z0-9_]*) --> ([A-Za-z][A-Za-z0-9_]*)$`)
	sub := regexp.MustCompile(`^\s+subgraph [A-Za-z][A-Za-z0-9_]*\["[^"]*"\]$`)
	other := regexp.MustCompile(`^\s+(end|classDef [A-Za-z]+ .+|class [A-Za-z0-9_,]+ [A-Za-z]+)$`)
	declared := map[string]bool{}
	depth := 0
	for i, l := range lines[1:] {
		switch {
		case sub.MatchString(l):
			depth++
		case strings.TrimSpace(l) == "end":
			depth--
			if depth < 0 {
				ts.Fatalf("line %d: end without subgraph", i+2)
			}
		case node.MatchString(l):
			declared[node.FindStringSubmatch(l)[1]] = true
		case edge.MatchString(l):
			m := edge.FindStringSubmatch(l)
			if !declared[m[1]] || !declared[m[2]] {
				ts.Fatalf("line %d: edge between undeclared nodes: %q", i+2, l)
			}
		case other.MatchString(l):
		default:
			ts.Fatalf("line %d: not flowchart syntax: %q", i+2, l)
		}
	}
	if depth != 0 {
		ts.Fatalf("%d subgraph(s) not closed", depth)
	}
}
