package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
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

// benchCmd is one command of a measurement and the exit code it must give.
type benchCmd struct {
	mk   func() *exec.Cmd
	code int
}

// timeAll runs every command runs times, interleaved (one run of each in
// turn, so that a noisy moment of a shared machine falls on all of them
// alike), and returns each one's median wall time and peak RSS.
func timeAll(t testing.TB, runs int, cmds ...benchCmd) []measured {
	ds := make([][]time.Duration, len(cmds))
	out := make([]measured, len(cmds))
	for r := 0; r < runs; r++ {
		for i, c := range cmds {
			cmd := c.mk()
			cmd.Stdout, cmd.Stderr = nil, nil
			start := time.Now()
			err := cmd.Run()
			ds[i] = append(ds[i], time.Since(start))
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != c.code {
				t.Fatalf("%v exited %d, want %d", cmd.Args, code, c.code)
			}
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > out[i].rss {
				out[i].rss = ru.Maxrss
			}
		}
	}
	for i := range cmds {
		sort.Slice(ds[i], func(a, b int) bool { return ds[i][a] < ds[i][b] })
		out[i].median = ds[i][len(ds[i])/2]
	}
	return out
}

// floorSrc is the peer floor, built as its own small program so that its
// start-up is that of a program that does only this. "read REF HOME LIST":
// read the rendered desired bytes and the HOME copy of every listed target
// with plain open/read/close on two workers and compare them. "write REF
// HOME BACKUPS LIST": the floor of an apply that keeps what it overwrites:
// read the HOME copy, write it as a new file under a backup folder, replace
// the HOME copy with the desired bytes through a temporary file and a
// rename, two workers, no fsync at all.
const floorSrc = `package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
)

func main() {
	var differ atomic.Int64
	var f func(p string) error
	ref, home := os.Args[2], os.Args[3]
	list := os.Args[len(os.Args)-1]
	switch os.Args[1] {
	case "read":
		f = func(p string) error {
			a, errA := os.ReadFile(filepath.Join(ref, p))
			b, errB := os.ReadFile(filepath.Join(home, p))
			if errA != nil || errB != nil || !bytes.Equal(a, b) {
				differ.Add(1)
			}
			return nil
		}
	case "write":
		backups := os.Args[4]
		f = func(p string) error {
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
		}
	}
	data, err := os.ReadFile(list)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
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
	if first != nil {
		fmt.Fprintln(os.Stderr, first)
		os.Exit(1)
	}
	fmt.Println(differ.Load())
}
`

// benchBins are the programs a bench run times: reconcile as users build
// it (not this test binary, whose start-up is heavier) and the floor.
type benchBins struct{ reconcile, floor string }

func buildBench(t testing.TB, dir string) benchBins {
	b := benchBins{reconcile: filepath.Join(dir, "reconcile"), floor: filepath.Join(dir, "floor")}
	if out, err := exec.Command("go", "build", "-o", b.reconcile, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build reconcile: %v\n%s", err, out)
	}
	src := filepath.Join(dir, "floorsrc")
	must2(t, os.MkdirAll(src, 0o755))
	must2(t, os.WriteFile(filepath.Join(src, "go.mod"), []byte("module floor\n\ngo 1.22\n"), 0o644))
	must2(t, os.WriteFile(filepath.Join(src, "main.go"), []byte(floorSrc), 0o644))
	cmd := exec.Command("go", "build", "-o", b.floor, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build floor: %v\n%s", err, out)
	}
	return b
}

func (b benchBins) rec(args ...string) *exec.Cmd {
	cmd := exec.Command(b.reconcile, args...)
	// As the Mac, the host the shipped haus is for: its VM units are not
	// this machine's systemd's.
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "SANCTUM_HOST=mac")
	return cmd
}

func (b benchBins) lower(ref, home, list string) benchCmd {
	return benchCmd{mk: func() *exec.Cmd { return exec.Command(b.floor, "read", ref, home, list) }}
}

// peers are the tools a user would reach for instead, over the same trees
// (the folders reconcile manages, reference copy against home): diff -rq
// and rsync -rnc (checksums, dry run). diff exits 1 when the trees differ.
func peers(ref, home string, dirs []string, differ bool) []benchCmd {
	code := 0
	if differ {
		code = 1
	}
	diff := `r=0; for d in $DIRS; do diff -rq "$REF/$d" "$HOME_/$d" >/dev/null || r=1; done; exit $r`
	rsync := `for d in $DIRS; do rsync -rnc --out-format=%n "$REF/$d/" "$HOME_/$d/" >/dev/null || exit 9; done`
	env := append(os.Environ(), "REF="+ref, "HOME_="+home, "DIRS="+strings.Join(dirs, " "))
	mk := func(script string) func() *exec.Cmd {
		return func() *exec.Cmd {
			cmd := exec.Command("sh", "-c", script)
			cmd.Env = env
			return cmd
		}
	}
	return []benchCmd{{mk: mk(diff), code: code}, {mk: mk(rsync)}}
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

// reported is the set of HOME paths a text --check names.
func reported(out []byte) map[string]bool {
	got := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if i := strings.Index(sc.Text(), " ~/"); i >= 0 {
			got[strings.Fields(sc.Text()[i+3:])[0]] = true
		}
	}
	return got
}

func sameSet(t testing.TB, what string, got, want map[string]bool) {
	t.Helper()
	for p := range want {
		if !got[p] {
			t.Errorf("%s: drift in %s not reported", what, p)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d reported, %d drifted or missing", what, len(got), len(want))
	}
}

func ms(d time.Duration) string { return d.Round(100 * time.Microsecond).String() }

func ratio(a, b measured) string { return fmt.Sprintf("%.2fx", float64(a.median)/float64(b.median)) }

// TestBenchHarness is make bench: catalogs of 200, 2,000 and 20,000
// managed files; homes with 5% drifted (same length, other bytes) and 1%
// missing files after an apply, the same drift in a home reconcile never
// saw (no index), and the homes converged and left alone; the shipped
// haus. reconcile --check against the read-and-compare lower bound and
// against diff -rq and rsync -rnc over the same trees, in one run.
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
	bins := buildBench(t, work)
	dirs := []string{".sanctum/services", "Library/LaunchAgents", ".openclaw"}
	rng := rand.New(rand.NewSource(1))
	fmt.Printf("machine: %s/%s, %d CPUs, %s; medians of %d interleaved runs\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), *benchRuns)
	coldRows := map[int]string{} // printed after the warm table
	results := map[int]measured{}
	const cols = "%8s %8s %10s %10s %8s %10s %10s %8s"
	fmt.Printf("\nafter an apply, 5%% drifted and 1%% missing (the index in place; target: check at most 0.6x the lower bound)\n")
	fmt.Printf(cols+" %10s %8s\n", "files", "drifted", "check", "lower", "ck/lower", "diff -rq", "rsync -rnc", "RSS", "apply", "apply/ck")
	for _, n := range sizes {
		dir := filepath.Join(work, fmt.Sprint(n))
		cat := filepath.Join(dir, "catalog")
		ws := benchCatalog(t, cat, n)
		ref, home := filepath.Join(dir, "ref"), filepath.Join(dir, "home")
		for _, h := range []string{ref, home} {
			for _, w := range ws {
				must2(t, os.MkdirAll(filepath.Join(h, w), 0o755))
			}
			if out, err := bins.rec("apply", "--local", "--home", h, "--catalog", cat).CombinedOutput(); err != nil {
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
		// The same drift in a home reconcile never saw: no index, no state.
		cold := filepath.Join(dir, "cold")
		must2(t, exec.Command("cp", "-a", home, cold).Run())
		must2(t, os.RemoveAll(filepath.Join(cold, ".sanctum", "state")))
		// Every drifted and missing file is reported, nothing else, warm
		// and cold.
		for _, h := range []string{home, cold} {
			out, _ := bins.rec("--check", "--local", "--home", h, "--catalog", cat).Output()
			sameSet(t, fmt.Sprintf("%d files, %s", n, filepath.Base(h)), reported(out), want)
		}
		check := func(h string) benchCmd {
			return benchCmd{mk: func() *exec.Cmd { return bins.rec("--check", "--local", "--home", h, "--catalog", cat) }, code: 2}
		}
		m := timeAll(t, *benchRuns, append([]benchCmd{check(home), bins.lower(ref, home, list)}, peers(ref, home, dirs, true)...)...)
		c := timeAll(t, *benchRuns, append([]benchCmd{check(cold), bins.lower(ref, cold, list)}, peers(ref, cold, dirs, true)...)...)
		results[n] = m[0]
		// apply on a fully drifted home, against its check and against the
		// floor of writing a backup and a replacement per file (2,000 only).
		applyCol, ratioCol, floorLine := "-", "-", ""
		if n == 2000 {
			var ac, cc, wc []time.Duration
			for i := 0; i < 3; i++ {
				drifted := driftedCopy(t, ref, filepath.Join(dir, fmt.Sprintf("drifted%d", i)), files)
				cc = append(cc, timeAll(t, 1, benchCmd{mk: func() *exec.Cmd {
					return bins.rec("--check", "--local", "--home", drifted, "--catalog", cat)
				}, code: 2})[0].median)
				ac = append(ac, timeAll(t, 1, benchCmd{mk: func() *exec.Cmd {
					return bins.rec("apply", "--local", "--home", drifted, "--catalog", cat)
				}})[0].median)
				floor := driftedCopy(t, ref, filepath.Join(dir, fmt.Sprintf("floor%d", i)), files)
				wc = append(wc, timeAll(t, 1, benchCmd{mk: func() *exec.Cmd {
					return exec.Command(bins.floor, "write", ref, floor, filepath.Join(floor, "backups"), list)
				}})[0].median)
				must2(t, os.RemoveAll(floor))
			}
			for _, s := range [][]time.Duration{ac, cc, wc} {
				sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
			}
			applyCol = ac[1].Round(time.Millisecond).String()
			ratioCol = fmt.Sprintf("%.2fx", float64(ac[1])/float64(cc[1]))
			floorLine = fmt.Sprintf("apply of the fully drifted 2,000-file home: %s; the floor of backing up and replacing every file "+
				"(plain writes, no fsync, two workers): %s; apply / floor = %.2fx\n",
				ac[1].Round(time.Millisecond), wc[1].Round(time.Millisecond), float64(ac[1])/float64(wc[1]))
		}
		fmt.Printf(cols+" %10s %8s\n", fmt.Sprint(len(files)), fmt.Sprint(len(want)), ms(m[0].median), ms(m[1].median), ratio(m[0], m[1]),
			ms(m[2].median), ms(m[3].median), fmt.Sprintf("%d MB", m[0].rss/1024), applyCol, ratioCol)
		fmt.Print(floorLine)
		coldRows[n] = fmt.Sprintf(cols+"\n", fmt.Sprint(len(files)), fmt.Sprint(len(want)), ms(c[0].median), ms(c[1].median), ratio(c[0], c[1]),
			ms(c[2].median), ms(c[3].median), fmt.Sprintf("%d MB", c[0].rss/1024))
	}
	if a, b := results[2000], results[20000]; a.median > 0 && b.median > 0 {
		fmt.Printf("linearity: 20,000 / 2,000 = %.1fx (target at most 11x)\n", float64(b.median)/float64(a.median))
	}
	fmt.Printf("\nthe same drift in a home reconcile never saw, no index (target: at most 1.5x at 2,000, 1.25x at 20,000)\n")
	fmt.Printf(cols+"\n", "files", "drifted", "check", "lower", "ck/lower", "diff -rq", "rsync -rnc", "RSS")
	for _, n := range sizes {
		fmt.Print(coldRows[n])
	}
	// The same homes converged and left alone: the index of the last apply
	// vouches for every file, so a check reads none of them.
	fmt.Printf("\nunchanged home after apply (target: at most 0.5x the lower bound)\n")
	fmt.Printf("%8s %10s %12s %10s %8s %10s %10s %8s\n", "files", "check", "check --full", "lower", "ck/lower", "diff -rq", "rsync -rnc", "RSS")
	for _, n := range sizes {
		dir := filepath.Join(work, fmt.Sprint(n))
		cat, ref, home := filepath.Join(dir, "catalog"), filepath.Join(dir, "ref"), filepath.Join(dir, "home")
		// Two applies, the second past the racy window of the first's
		// writes, as the launchd schedule leaves a home.
		for i := 0; i < 2; i++ {
			if out, err := bins.rec("apply", "--local", "--home", home, "--catalog", cat).CombinedOutput(); err != nil {
				t.Fatalf("apply: %v\n%s", err, out)
			}
			if i == 0 {
				time.Sleep(2500 * time.Millisecond)
			}
		}
		out, _ := bins.rec("--check", "--local", "--home", home, "--catalog", cat, "-o", "json").Output()
		if !bytes.Contains(out, []byte(`"filesRead": 0,`)) {
			t.Errorf("%d files: the check of an unchanged home read files:\n%s", n, out[max(0, len(out)-300):])
		}
		m := timeAll(t, *benchRuns, append([]benchCmd{
			{mk: func() *exec.Cmd { return bins.rec("--check", "--local", "--home", home, "--catalog", cat) }},
			{mk: func() *exec.Cmd { return bins.rec("--check", "--full", "--local", "--home", home, "--catalog", cat) }},
			bins.lower(ref, home, filepath.Join(dir, "files.txt")),
		}, peers(ref, home, dirs, false)...)...)
		fmt.Printf("%8d %10s %12s %10s %8s %10s %10s %5d MB\n", len(managedFiles(t, home)), ms(m[0].median), ms(m[1].median), ms(m[2].median),
			ratio(m[0], m[2]), ms(m[3].median), ms(m[4].median), m[0].rss/1024)
	}
	benchShipped(t, bins, work)
}

// benchShipped times --check --local on the shipped catalog, applied to a
// home as make demo makes one, against the lower bound over its files, and
// reconcile --version with its package initialisation (inittrace).
func benchShipped(t *testing.T, bins benchBins, work string) {
	cat, err := filepath.Abs("../../sanctum")
	must2(t, err)
	home, ref := filepath.Join(work, "shipped", "home"), filepath.Join(work, "shipped", "ref")
	must2(t, os.MkdirAll(filepath.Join(home, ".sanctum", "secrets"), 0o700))
	must2(t, os.WriteFile(filepath.Join(home, ".sanctum", "secrets", "openclaw-gateway-token"), []byte("bench-0123456789abcdef\n"), 0o600))
	for _, w := range []string{"workspace", "workspace-quigon", "workspace-windu", "workspace-cilghal", "workspace-tommy"} {
		must2(t, os.MkdirAll(filepath.Join(home, ".openclaw", w), 0o755))
	}
	for i := 0; i < 2; i++ {
		if out, err := bins.rec("apply", "--local", "--home", home, "--catalog", cat).CombinedOutput(); err != nil {
			t.Fatalf("apply: %v\n%s", err, out)
		}
		if i == 0 {
			time.Sleep(2500 * time.Millisecond)
		}
	}
	must2(t, exec.Command("cp", "-a", home, ref).Run())
	var files []string
	must2(t, filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(home, p)
		if d.IsDir() && (rel == ".sanctum/state" || rel == ".sanctum/secrets") {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			files = append(files, rel)
		}
		return nil
	}))
	list := filepath.Join(work, "shipped", "files.txt")
	must2(t, os.WriteFile(list, []byte(strings.Join(files, "\n")+"\n"), 0o644))
	m := timeAll(t, *benchRuns*3,
		benchCmd{mk: func() *exec.Cmd { return bins.rec("--check", "--local", "--home", home, "--catalog", cat) }},
		benchCmd{mk: func() *exec.Cmd { return bins.rec("--check", "--local", "--full", "--home", home, "--catalog", cat) }},
		bins.lower(ref, home, list),
		benchCmd{mk: func() *exec.Cmd { return bins.rec("--version") }})
	fmt.Printf("\nshipped haus (%d files; target: --check --local at most 1.5x the lower bound)\n", len(files))
	fmt.Printf("--check --local %s, --full %s, lower bound %s: %s; reconcile --version %s\n",
		ms(m[0].median), ms(m[1].median), ms(m[2].median), ratio(m[0], m[2]), ms(m[3].median))
	// Package initialisation of the binary, as GODEBUG=inittrace=1 reports it.
	cmd := bins.rec("--version")
	cmd.Env = append(cmd.Env, "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	must2(t, err)
	type pkgInit struct {
		name  string
		clock float64
	}
	var inits []pkgInit
	var total float64
	for _, line := range strings.Split(string(out), "\n") {
		var name string
		var at, clock float64
		if n, _ := fmt.Sscanf(line, "init %s @%f ms, %f ms clock", &name, &at, &clock); n == 3 {
			inits = append(inits, pkgInit{name, clock})
			total += clock
		}
	}
	sort.Slice(inits, func(i, j int) bool { return inits[i].clock > inits[j].clock })
	var top []string
	for _, p := range inits[:min(4, len(inits))] {
		top = append(top, fmt.Sprintf("%s %.2f ms", p.name, p.clock))
	}
	fmt.Printf("package initialisation (inittrace): %d packages, %.2f ms; the largest: %s\n", len(inits), total, strings.Join(top, ", "))
}
