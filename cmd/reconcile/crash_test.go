package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sanctum-haus/reconcile/cmd/reconcile/cli"
	"github.com/sanctum-haus/reconcile/controllers"
	"github.com/sanctum-haus/reconcile/observed"
)

var (
	crashTrials   = flag.Int("crash.trials", 15, "SIGKILL trials of TestCrashSafety")
	crashSeed     = flag.Int64("crash.seed", 1, "seed of the kill moments and hand edits")
	crashServices = flag.Int("crash.services", 300, "services of the generated catalog (each: a manifest and a plist)")
)

// TestMain lets the test binary be reconcile itself, so that a trial kills
// exactly what users run.
func TestMain(m *testing.M) {
	if os.Getenv("RECONCILE_TEST_AS_MAIN") == "1" {
		os.Exit(cli.Main(os.Args[1:]))
	}
	flag.Parse()
	os.Exit(m.Run())
}

func reconcileCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "RECONCILE_TEST_AS_MAIN=1", "NO_COLOR=1")
	return cmd
}

// genCatalog writes a catalog of n services, each with a launch agent; the
// variant changes every rendered byte.
func genCatalog(t *testing.T, dir string, n int, variant string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(dir, "instance.yaml"), []byte("instance: {slug: crash}\nusers: {mac: {name: neo, uid: 501}}\nbackups: {keep: 100000, max_age_days: 3650}\n"), 0o644))
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "---\napiVersion: sanctum.haus/v1\nkind: Service\nmetadata: {name: svc-%04d}\nspec:\n  displayName: Service %d %s\n  host: mac\n  port: %d\n"+
			"  launchAgent: {programArguments: [/opt/%s/svc-%04d], runAtLoad: true}\n  health:\n    liveness: {type: port, port: %d, interval: 60}\n",
			i, i, variant, 10000+i, variant, i, 10000+i)
	}
	must(t, os.WriteFile(filepath.Join(dir, "catalog.yaml"), b.Bytes(), 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// managed lists the managed files of a home: manifests and plists.
func managed(t *testing.T, home string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, dir := range []string{".sanctum/services", "Library/LaunchAgents"} {
		entries, err := os.ReadDir(filepath.Join(home, dir))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		must(t, err)
		for _, e := range entries {
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
				data, err := os.ReadFile(filepath.Join(home, dir, e.Name()))
				must(t, err)
				out[filepath.Join(dir, e.Name())] = data
			}
		}
	}
	return out
}

// TestCrashSafety kills apply with SIGKILL at random moments, alternating
// between two catalogs that differ in every byte, with hand edits planted
// before each trial. After every kill: no managed file is anything but a
// whole version (old, new or the hand edit), the ledgers parse, the next
// apply converges to zero drift, and every hand edit is still somewhere (in
// place or in a backup).
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("crash trials take a while; -short skips them")
	}
	work := t.TempDir()
	catA, catB := filepath.Join(work, "catA"), filepath.Join(work, "catB")
	genCatalog(t, catA, *crashServices, "alpha")
	genCatalog(t, catB, *crashServices, "beta")
	// Reference contents of both variants.
	refs := map[string]map[string][]byte{}
	for name, cat := range map[string]string{"A": catA, "B": catB} {
		home := filepath.Join(work, "ref"+name)
		start := time.Now()
		out, err := reconcileCmd("apply", "--local", "--home", home, "--catalog", cat).CombinedOutput()
		if err != nil {
			t.Fatalf("reference apply: %v\n%s", err, out)
		}
		t.Logf("reference apply %s: %d files in %s", name, len(managed(t, home)), time.Since(start))
		refs[name] = managed(t, home)
	}
	// How long a full apply that rewrites everything takes: kills land
	// anywhere inside it.
	home := filepath.Join(work, "home")
	must(t, reconcileCmd("apply", "--local", "--home", home, "--catalog", catA).Run())
	start := time.Now()
	must(t, reconcileCmd("apply", "--local", "--home", home, "--catalog", catB).Run())
	full := time.Since(start)
	t.Logf("full rewrite: %s; %d trials, seed %d", full, *crashTrials, *crashSeed)

	rng := rand.New(rand.NewSource(*crashSeed))
	deadline := time.Now().Add(5 * time.Minute)
	edits := map[string]string{} // marker -> path
	debrisSeen := 0
	variant := "B"
	for trial := 0; trial < *crashTrials; trial++ {
		if time.Now().After(deadline) {
			t.Fatalf("trials exceeded their time bound after %d", trial)
		}
		cur := managed(t, home)
		// Plant hand edits in three files.
		var paths []string
		for p := range cur {
			paths = append(paths, p)
		}
		for i := 0; i < 3 && len(paths) > 0; i++ {
			p := paths[rng.Intn(len(paths))]
			marker := fmt.Sprintf("hand-edit-%d-%d", trial, i)
			f, err := os.OpenFile(filepath.Join(home, p), os.O_APPEND|os.O_WRONLY, 0)
			must(t, err)
			_, err = fmt.Fprintf(f, "<!-- %s -->\n", marker)
			must(t, err)
			must(t, f.Close())
			edits[marker] = p
		}
		edited := managed(t, home)
		if variant == "B" {
			variant = "A"
		} else {
			variant = "B"
		}
		cat := map[string]string{"A": catA, "B": catB}[variant]
		cmd := reconcileCmd("apply", "--local", "--home", home, "--catalog", cat)
		must(t, cmd.Start())
		time.Sleep(time.Duration(rng.Int63n(int64(full) + 1)))
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()

		// Every managed file is whole: the old bytes, the hand edit, or
		// either variant's bytes.
		for p, data := range managed(t, home) {
			ok := bytes.Equal(data, edited[p]) || bytes.Equal(data, refs["A"][p]) || bytes.Equal(data, refs["B"][p])
			if !ok {
				t.Fatalf("trial %d: %s is neither its old nor a new version (%d bytes)", trial, p, len(data))
			}
		}
		// The ledgers parse.
		if data, err := os.ReadFile(filepath.Join(home, filepath.FromSlash(controllers.StateFile))); err == nil {
			if _, err := controllers.ParseState(data); err != nil {
				t.Fatalf("trial %d: %v", trial, err)
			}
		}
		// The next apply converges, removing every temporary file the kill
		// left and reporting each as cleaned; then there is no drift.
		left := debris(t, home)
		debrisSeen += len(left)
		out, err := reconcileCmd("apply", "--local", "--home", home, "--catalog", cat).CombinedOutput()
		if err != nil {
			t.Fatalf("trial %d: apply after the kill: %v\n%s", trial, err, out)
		}
		for _, p := range left {
			if !bytes.Contains(out, []byte("cleaned ~/"+filepath.ToSlash(p)+" ")) {
				t.Fatalf("trial %d: the apply after the kill does not report %s cleaned:\n%s", trial, p, out)
			}
		}
		if still := debris(t, home); len(still) > 0 {
			t.Fatalf("trial %d: debris left after the converging apply: %v", trial, still)
		}
		if out, err := reconcileCmd("--check", "--local", "--home", home, "--catalog", cat).CombinedOutput(); err != nil {
			t.Fatalf("trial %d: drift after the converging apply: %v\n%s", trial, err, out)
		}
	}
	// Nothing lost: every hand edit is still in its file or in a backup.
	backups := map[string]bool{}
	must(t, filepath.WalkDir(filepath.Join(home, ".sanctum", "state", "backups"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for marker := range edits {
			if bytes.Contains(data, []byte(marker)) {
				backups[marker] = true
			}
		}
		return nil
	}))
	lost := 0
	for marker, p := range edits {
		data, _ := os.ReadFile(filepath.Join(home, p))
		if !backups[marker] && !bytes.Contains(data, []byte(marker)) {
			t.Errorf("hand edit %s of %s is lost: in neither the file nor any backup", marker, p)
			lost++
		}
	}
	t.Logf("%d trials survived; %d hand edits, %d lost; %d temporary files left by kills, all cleaned", *crashTrials, len(edits), lost, debrisSeen)
}

// debris lists the temporary files (observed.IsTemp) under home, outside
// the backups, relative to home.
func debris(t *testing.T, home string) []string {
	t.Helper()
	var out []string
	must(t, filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "backups" {
			return filepath.SkipDir
		}
		if !d.IsDir() && observed.IsTemp(d.Name()) {
			rel, err := filepath.Rel(home, p)
			must(t, err)
			out = append(out, rel)
		}
		return nil
	}))
	return out
}
