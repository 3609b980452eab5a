package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var (
	benchHarness = flag.Bool("bench.harness", false, "run the make bench harness (TestBenchHarness)")
	benchSizes   = flag.String("bench.sizes", "200,2000,20000", "managed-file counts of the generated catalogs")
	benchRuns    = flag.Int("bench.runs", 7, "timed runs per measurement (medians are reported)")
	benchDir     = flag.String("bench.dir", "", "keep the generated catalogs and homes here (for profiling)")
)

// benchCatalog generates a catalog of about n managed files, in the mix of a
// real host: 40% service manifests, 40% plists, 20% persona copies (four
// files of each agent into four workspaces). It returns the workspaces to
// create in a home.
func benchCatalog(t testing.TB, dir string, n int) []string {
	copies := n / 5
	agents := max(1, copies/16)
	services := (n - agents*16) / 2
	must2(t, os.MkdirAll(filepath.Join(dir, "personas"), 0o755))
	must2(t, os.WriteFile(filepath.Join(dir, "instance.yaml"), []byte("instance: {slug: bench}\nusers: {mac: {name: neo, uid: 501}}\nnetwork: {vm_ip: 192.168.64.2}\n"), 0o644))
	var b bytes.Buffer
	for i := 0; i < services; i++ {
		dep := ""
		if i > 0 && i%10 != 0 {
			dep = fmt.Sprintf("\n  dependsOn: [svc-%05d]", i-1)
		}
		fmt.Fprintf(&b, "---\napiVersion: sanctum.haus/v1\nkind: Service\nmetadata: {name: svc-%05d}\nspec:\n  displayName: Service %d\n  host: mac\n  port: %d%s\n"+
			"  launchAgent: {programArguments: [/opt/sanctum/bin/svc-%05d, --port, \"%d\"], runAtLoad: true, keepAlive: true}\n"+
			"  health:\n    readiness: {type: http, url: \"http://127.0.0.1:%d/health\", timeout: 5}\n    liveness: {type: port, port: %d, interval: 60}\n"+
			"  remediation: {responsibleAgent: quigon, escalationLevel: 1, maxRestarts: 3, cooldown: 30}\n",
			i, i, 10000+i, dep, i, 10000+i, 10000+i, 10000+i)
	}
	must2(t, os.WriteFile(filepath.Join(dir, "catalog.yaml"), b.Bytes(), 0o644))
	b.Reset()
	var workspaces []string
	for a := 0; a < agents; a++ {
		src := filepath.Join(dir, "personas", fmt.Sprintf("agent%04d", a))
		must2(t, os.MkdirAll(src, 0o755))
		for _, f := range []string{"IDENTITY.md", "SOUL.md", "TOOLS.md", "HEARTBEAT.md"} {
			body := strings.Repeat(fmt.Sprintf("%s of agent %d: a paragraph of persona text that an agent reads.\n", f, a), 20)
			must2(t, os.WriteFile(filepath.Join(src, f), []byte(body), 0o644))
		}
		var targets []string
		for w := 0; w < 4; w++ {
			ws := fmt.Sprintf(".openclaw/workspace-a%04d-%d", a, w)
			workspaces = append(workspaces, ws)
			targets = append(targets, `"~/`+ws+`"`)
		}
		fmt.Fprintf(&b, "---\napiVersion: sanctum.haus/v1\nkind: PersonaFile\nmetadata: {name: agent%04d}\nspec:\n  source: {catalog: personas/agent%04d}\n  targets: [%s]\n",
			a, a, strings.Join(targets, ", "))
	}
	must2(t, os.WriteFile(filepath.Join(dir, "personas.yaml"), b.Bytes(), 0o644))
	return workspaces
}

func must2(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// managedFiles lists every managed file of a converged home.
func managedFiles(t testing.TB, home string) []string {
	var out []string
	for _, pat := range []string{".sanctum/services/*.yaml", "Library/LaunchAgents/*.plist", ".openclaw/*/*.md"} {
		m, err := filepath.Glob(filepath.Join(home, pat))
		must2(t, err)
		for _, p := range m {
			rel, _ := filepath.Rel(home, p)
			out = append(out, rel)
		}
	}
	sort.Strings(out)
	return out
}

type measured struct {
	median time.Duration
	rss    int64 // KiB
}

// timeCmd runs a command runs times and returns the median wall time and
// the peak RSS.
func timeCmd(t testing.TB, runs int, mk func() *exec.Cmd, wantCode int) measured {
	var ds []time.Duration
	var rss int64
	for i := 0; i < runs; i++ {
		cmd := mk()
		cmd.Stdout, cmd.Stderr = nil, nil
		start := time.Now()
		err := cmd.Run()
		ds = append(ds, time.Since(start))
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != wantCode {
			t.Fatalf("%v exited %d, want %d", cmd.Args, code, wantCode)
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > rss {
			rss = ru.Maxrss
		}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return measured{median: ds[len(ds)/2], rss: rss}
}

// lowerBound is the peer floor: read the rendered desired bytes and the
// HOME copy of every target with plain open/read/close on two workers and
// compare them. It runs as its own process, start-up included.
func lowerBound(ref, home, list string) int {
	var differ atomic.Int64
	err := onTwoWorkers(list, func(p string) error {
		a, errA := os.ReadFile(filepath.Join(ref, p))
		b, errB := os.ReadFile(filepath.Join(home, p))
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			differ.Add(1)
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(differ.Load())
	return 0
}

// onTwoWorkers calls f for every path of a list file on two goroutines and
// returns the first error.
func onTwoWorkers(list string, f func(p string) error) error {
	data, err := os.ReadFile(list)
	if err != nil {
		return err
	}
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	next := make(chan string, 64)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range next {
				if err := f(p); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for _, p := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		next <- p
	}
	close(next)
	wg.Wait()
	return first
}

// boundCmd runs this test binary as one of the bound programs.
func boundCmd(env string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), env+"=1")
	return cmd
}

// driftedCopy copies a converged home and changes one byte in the middle of
// every managed file; then it syncs, so that the copy's dirty pages are not
// flushed inside the timings that follow.
func driftedCopy(t testing.TB, src, dst string, files []string) string {
	must2(t, exec.Command("cp", "-a", src, dst).Run())
	for _, f := range files {
		p := filepath.Join(dst, f)
		b, err := os.ReadFile(p)
		must2(t, err)
		b[len(b)/2] ^= 0x20
		must2(t, os.WriteFile(p, b, 0o644))
	}
	must2(t, exec.Command("sync").Run())
	return dst
}

// writeBound is the floor of an apply that keeps what it overwrites: for
// every target, read the HOME copy, write it as a new file under a backup
// folder, and replace the HOME copy with the desired bytes through a
// temporary file and a rename, on two workers, with no fsync at all. It
// runs as its own process, start-up included.
func writeBound(ref, home, backups, list string) int {
	err := onTwoWorkers(list, func(p string) error {
		want, err := os.ReadFile(filepath.Join(ref, p))
		if err != nil {
			return err
		}
		target := filepath.Join(home, p)
		old, err := os.ReadFile(target)
		if err != nil {
			return err
		}
		b := filepath.Join(backups, p)
		if err := os.MkdirAll(filepath.Dir(b), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(b, old, 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(target+".tmp", want, 0o644); err != nil {
			return err
		}
		return os.Rename(target+".tmp", target)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestBenchHarness is make bench: catalogs of 200, 2,000 and 20,000
// managed files, homes with 5% drifted (same length, other bytes) and 1%
// missing files; reconcile --check against the lower bound, in one run.
func TestBenchHarness(t *testing.T) {
	if !*benchHarness {
		t.Skip("make bench runs this (-bench.harness)")
	}
	var sizes []int
	for _, s := range strings.Split(*benchSizes, ",") {
		var n int
		fmt.Sscan(s, &n)
		sizes = append(sizes, n)
	}
	work := *benchDir
	if work == "" {
		work = t.TempDir()
	}
	rng := rand.New(rand.NewSource(1))
	fmt.Printf("machine: %s/%s, %d CPUs, %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	fmt.Printf("%8s %8s %10s %10s %7s %10s %10s %8s\n", "files", "drifted", "check", "lower", "ratio", "check RSS", "apply", "apply/ck")
	results := map[int]measured{}
	for _, n := range sizes {
		dir := filepath.Join(work, fmt.Sprint(n))
		cat := filepath.Join(dir, "catalog")
		ws := benchCatalog(t, cat, n)
		ref, home := filepath.Join(dir, "ref"), filepath.Join(dir, "home")
		for _, h := range []string{ref, home} {
			for _, w := range ws {
				must2(t, os.MkdirAll(filepath.Join(h, w), 0o755))
			}
			if out, err := reconcileCmd("apply", "--local", "--home", h, "--catalog", cat).CombinedOutput(); err != nil {
				t.Fatalf("apply: %v\n%s", err, out)
			}
		}
		files := managedFiles(t, ref)
		list := filepath.Join(dir, "files.txt")
		must2(t, os.WriteFile(list, []byte(strings.Join(files, "\n")+"\n"), 0o644))
		// 5% drifted (same length), 1% missing.
		want := map[string]bool{}
		perm := rng.Perm(len(files))
		nd, nm := len(files)*5/100, len(files)/100
		for _, i := range perm[:nd] {
			p := filepath.Join(home, files[i])
			b, err := os.ReadFile(p)
			must2(t, err)
			b[len(b)/2] ^= 0x20
			must2(t, os.WriteFile(p, b, 0o644))
			want[files[i]] = true
		}
		for _, i := range perm[nd : nd+nm] {
			must2(t, os.Remove(filepath.Join(home, files[i])))
			want[files[i]] = true
		}
		// Every drifted and missing file is reported, nothing else.
		out, _ := reconcileCmd("--check", "--local", "--home", home, "--catalog", cat).Output()
		got := map[string]bool{}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if i := strings.Index(sc.Text(), " ~/"); i >= 0 {
				got[strings.Fields(sc.Text()[i+3:])[0]] = true
			}
		}
		for p := range want {
			if !got[p] {
				t.Errorf("%d files: drift in %s not reported", n, p)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%d files: %d reported, %d drifted or missing", n, len(got), len(want))
		}
		check := timeCmd(t, *benchRuns, func() *exec.Cmd {
			return reconcileCmd("--check", "--local", "--home", home, "--catalog", cat)
		}, 2)
		lower := timeCmd(t, *benchRuns, func() *exec.Cmd {
			return boundCmd("RECONCILE_TEST_LOWER_BOUND", ref, home, list)
		}, 0)
		results[n] = check
		// apply on a fully drifted home, against its check and against the
		// floor of writing a backup and a replacement per file (2,000 only).
		applyCol, ratioCol, floorLine := "-", "-", ""
		if n == 2000 {
			var ac, cc, wc []time.Duration
			for i := 0; i < 3; i++ {
				drifted := driftedCopy(t, ref, filepath.Join(dir, fmt.Sprintf("drifted%d", i)), files)
				cc = append(cc, timeCmd(t, 1, func() *exec.Cmd {
					return reconcileCmd("--check", "--local", "--home", drifted, "--catalog", cat)
				}, 2).median)
				ac = append(ac, timeCmd(t, 1, func() *exec.Cmd {
					return reconcileCmd("apply", "--local", "--home", drifted, "--catalog", cat)
				}, 0).median)
				floor := driftedCopy(t, ref, filepath.Join(dir, fmt.Sprintf("floor%d", i)), files)
				wc = append(wc, timeCmd(t, 1, func() *exec.Cmd {
					return boundCmd("RECONCILE_TEST_WRITE_BOUND", ref, floor, filepath.Join(floor, "backups"), list)
				}, 0).median)
				must2(t, os.RemoveAll(floor))
			}
			sort.Slice(wc, func(i, j int) bool { return wc[i] < wc[j] })

			sort.Slice(ac, func(i, j int) bool { return ac[i] < ac[j] })
			sort.Slice(cc, func(i, j int) bool { return cc[i] < cc[j] })
			applyCol = ac[1].Round(time.Millisecond).String()
			ratioCol = fmt.Sprintf("%.2fx", float64(ac[1])/float64(cc[1]))
			floorLine = fmt.Sprintf("apply of the fully drifted 2,000-file home: %s; the floor of backing up and replacing every file "+
				"(plain writes, no fsync, two workers): %s; apply / floor = %.2fx\n",
				ac[1].Round(time.Millisecond), wc[1].Round(time.Millisecond), float64(ac[1])/float64(wc[1]))
		}
		fmt.Printf("%8d %8d %10s %10s %6.2fx %7d MB %10s %8s\n", len(files), len(want), check.median.Round(100*time.Microsecond),
			lower.median.Round(100*time.Microsecond), float64(check.median)/float64(lower.median), check.rss/1024, applyCol, ratioCol)
		fmt.Print(floorLine)
	}
	if a, b := results[2000], results[20000]; a.median > 0 && b.median > 0 {
		fmt.Printf("linearity: 20,000 / 2,000 = %.1fx (target at most 11x)\n", float64(b.median)/float64(a.median))
	}
	// The same homes converged and left alone: the stat cache of the last
	// apply vouches for every file, so a check reads none of them.
	fmt.Printf("\nunchanged home, stat cache (target: at most 0.5x the lower bound)\n")
	fmt.Printf("%8s %12s %12s %10s %9s\n", "files", "check", "check --full", "lower", "ck/lower")
	for _, n := range sizes {
		dir := filepath.Join(work, fmt.Sprint(n))
		cat, ref, home := filepath.Join(dir, "catalog"), filepath.Join(dir, "ref"), filepath.Join(dir, "home")
		// Two applies, the second past the racy window of the first's
		// writes, as the launchd schedule leaves a home.
		for i := 0; i < 2; i++ {
			if out, err := reconcileCmd("apply", "--local", "--home", home, "--catalog", cat).CombinedOutput(); err != nil {
				t.Fatalf("apply: %v\n%s", err, out)
			}
			if i == 0 {
				time.Sleep(2500 * time.Millisecond)
			}
		}
		out, _ := reconcileCmd("--check", "--local", "--home", home, "--catalog", cat, "-o", "json").Output()
		if !bytes.Contains(out, []byte(`"filesRead": 0,`)) {
			t.Errorf("%d files: the check of an unchanged home read files:\n%s", n, out[max(0, len(out)-300):])
		}
		cached := timeCmd(t, *benchRuns, func() *exec.Cmd {
			return reconcileCmd("--check", "--local", "--home", home, "--catalog", cat)
		}, 0)
		full := timeCmd(t, *benchRuns, func() *exec.Cmd {
			return reconcileCmd("--check", "--full", "--local", "--home", home, "--catalog", cat)
		}, 0)
		lower := timeCmd(t, *benchRuns, func() *exec.Cmd {
			return boundCmd("RECONCILE_TEST_LOWER_BOUND", ref, home, filepath.Join(dir, "files.txt"))
		}, 0)
		fmt.Printf("%8d %12s %12s %10s %8.2fx\n", len(managedFiles(t, home)), cached.median.Round(100*time.Microsecond),
			full.median.Round(100*time.Microsecond), lower.median.Round(100*time.Microsecond), float64(cached.median)/float64(lower.median))
	}
}
