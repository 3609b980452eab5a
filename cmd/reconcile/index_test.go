package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sanctum-haus/reconcile/cmd/reconcile/cli"
)

var (
	indexSteps = flag.Int("index.steps", 250, "TestIndexAgreesWithFull: mutation steps (make test: 250; -index.steps 5000 for a long run)")
	indexSeed  = flag.Int64("index.seed", 1, "TestIndexAgreesWithFull: the seed of the mutations")
)

// run runs reconcile in this process and returns its exit code and stdout.
func run(t *testing.T, args ...string) (int, []byte) {
	t.Helper()
	var out, errb bytes.Buffer
	cfg := &cli.Config{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }, Now: time.Now}
	code := cli.Run(context.Background(), cfg, args)
	if code == 1 && bytes.Contains(errb.Bytes(), []byte("invalid catalog")) {
		t.Fatalf("reconcile %s: %s", strings.Join(args, " "), errb.String())
	}
	return code, out.Bytes()
}

type indexReport struct {
	Index   string `json:"index"`
	Changes []struct {
		Kind, Name, Action, Path, Node, Target, Reason string
	} `json:"changes"`
	Nodes json.RawMessage `json:"nodes"`
}

// answer is a check's answer as the property compares it: the exit code
// and every change (kind, name, where, action, reason) in order.
func answer(code int, out []byte) (string, string) {
	var r indexReport
	if err := json.Unmarshal(out, &r); err != nil {
		return fmt.Sprintf("unparsable: %v", err), ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "exit %d\n", code)
	for _, c := range r.Changes {
		fmt.Fprintf(&b, "%s/%s %s %s %s %s (%s)\n", c.Kind, c.Name, c.Action, c.Node, c.Path, c.Target, c.Reason)
	}
	var nodes any
	_ = json.Unmarshal(r.Nodes, &nodes)
	fmt.Fprintf(&b, "nodes %v\n", nodes)
	return b.String(), r.Index
}

// TestIndexAgreesWithFull is the index's correctness property (issue 17,
// item 4): whatever happens to the home and the catalog between passes,
// a check answered through the index says exactly what a --full check
// says. Each step mutates (same-size edits with the mtime put back,
// ctime-only changes, replaced inodes, rotated secrets, catalog edits with
// the mtime put back, strangers, removed and added workspaces, repointed
// links, wrong modes, a writer racing the apply's renames) or applies,
// then compares both checks; -index.steps runs longer.
func TestIndexAgreesWithFull(t *testing.T) {
	dir := t.TempDir()
	cat, home := filepath.Join(dir, "catalog"), filepath.Join(dir, "home")
	ws := benchCatalog(t, cat, 40)
	extra := `---
apiVersion: sanctum.haus/v1
kind: Service
metadata: {name: zz-secret}
spec:
  host: mac
  port: 19001
  launchAgent: {programArguments: [/opt/sanctum/bin/zz], environment: {TOKEN: '{{ secret "zz-token" }}'}, runAtLoad: true, keepAlive: true}
---
apiVersion: sanctum.haus/v1
kind: Service
metadata: {name: zz-wrapped}
spec:
  host: mac
  port: 19002
  launchAgent: {programArguments: [/opt/sanctum/zz/bin/serve], runAtLoad: true, keepAlive: true}
  wrapper: {target: /opt/sanctum/zz/bin/serve}
`
	must2(t, os.WriteFile(filepath.Join(cat, "extra.yaml"), []byte(extra), 0o644))
	for _, w := range ws {
		must2(t, os.MkdirAll(filepath.Join(home, w), 0o755))
	}
	secret := filepath.Join(home, ".sanctum/secrets/zz-token")
	must2(t, os.MkdirAll(filepath.Dir(secret), 0o700))
	must2(t, os.WriteFile(secret, []byte("tok-index-0000000001\n"), 0o600))
	base := []string{"--local", "--home", home, "--catalog", cat}
	apply := func() { run(t, append([]string{"apply"}, base...)...) }
	apply()

	rng := rand.New(rand.NewSource(*indexSeed))
	files := func() []string {
		var out []string
		for _, pat := range []string{".sanctum/services/*.yaml", "Library/LaunchAgents/*.plist", ".openclaw/*/*.md"} {
			m, _ := filepath.Glob(filepath.Join(home, pat))
			out = append(out, m...)
		}
		sort.Strings(out)
		return out
	}
	pick := func() string {
		f := files()
		if len(f) == 0 {
			return ""
		}
		return f[rng.Intn(len(f))]
	}
	sameSize := func(p string, keepTimes bool) {
		info, err := os.Stat(p)
		if err != nil {
			return
		}
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			return
		}
		b[rng.Intn(len(b))] ^= 0x01
		must2(t, os.WriteFile(p, b, info.Mode().Perm()))
		if keepTimes {
			must2(t, os.Chtimes(p, info.ModTime(), info.ModTime()))
		}
	}
	catalogFile := filepath.Join(cat, "catalog.yaml")
	type mutation struct {
		name string
		do   func()
	}
	mutations := []mutation{
		{"same-size edit, mtime put back", func() { sameSize(pick(), true) }},
		{"same-size edit", func() { sameSize(pick(), false) }},
		{"ctime only", func() {
			if p := pick(); p != "" {
				info, _ := os.Stat(p)
				must2(t, os.Chmod(p, info.Mode().Perm()))
			}
		}},
		{"replaced inode, same bytes and mtime", func() {
			if p := pick(); p != "" {
				info, _ := os.Stat(p)
				b, _ := os.ReadFile(p)
				must2(t, os.WriteFile(p+".new", b, info.Mode().Perm()))
				must2(t, os.Chtimes(p+".new", info.ModTime(), info.ModTime()))
				must2(t, os.Rename(p+".new", p))
			}
		}},
		{"removed", func() {
			if p := pick(); p != "" {
				must2(t, os.Remove(p))
			}
		}},
		{"wrong mode", func() {
			if p := pick(); p != "" {
				must2(t, os.Chmod(p, 0o640))
			}
		}},
		{"secret rotated", func() {
			must2(t, os.WriteFile(secret, []byte(fmt.Sprintf("tok-index-%010d\n", rng.Intn(1e9))), 0o600))
		}},
		{"secret rewritten, same value", func() {
			b, _ := os.ReadFile(secret)
			must2(t, os.WriteFile(secret, b, 0o600))
		}},
		{"catalog edit, mtime put back", func() {
			info, _ := os.Stat(catalogFile)
			b, _ := os.ReadFile(catalogFile)
			i := bytes.Index(b, []byte("displayName: Service "))
			for n := rng.Intn(20); n > 0 && i >= 0; n-- {
				j := bytes.Index(b[i+1:], []byte("displayName: Service "))
				if j < 0 {
					break
				}
				i += 1 + j
			}
			if i >= 0 {
				k := i + len("displayName: Service ")
				b[k] = "0123456789"[rng.Intn(10)]
			}
			must2(t, os.WriteFile(catalogFile, b, 0o644))
			must2(t, os.Chtimes(catalogFile, info.ModTime(), info.ModTime()))
		}},
		{"stranger in services", func() {
			must2(t, os.WriteFile(filepath.Join(home, ".sanctum/services", fmt.Sprintf("stranger-%d.yaml", rng.Intn(3))), []byte("x: 1\n"), 0o644))
		}},
		{"workspace removed", func() {
			must2(t, os.RemoveAll(filepath.Join(home, ws[rng.Intn(len(ws))])))
		}},
		{"workspaces added back", func() {
			for _, w := range ws {
				must2(t, os.MkdirAll(filepath.Join(home, w), 0o755))
			}
		}},
		{"wrapper repointed", func() {
			p := filepath.Join(home, ".sanctum/bin/sanctum-zz-wrapped")
			_ = os.Remove(p)
			must2(t, os.Symlink("/elsewhere", p))
		}},
		{"state edited", func() {
			p := filepath.Join(home, ".sanctum/state/reconcile.json")
			b, err := os.ReadFile(p)
			if err == nil {
				b = bytes.Replace(b, []byte(`"inventory": [`), []byte(`"inventory": [{"kind":"Service","name":"ghost","path":".sanctum/services/ghost.yaml","sha256":"00"},`), 1)
				must2(t, os.WriteFile(p, b, 0o600))
			}
		}},
		{"apply", apply},
		{"apply, then a writer racing its renames", func() {
			p := pick()
			if p == "" {
				return
			}
			sameSize(p, false) // apply rewrites it
			before, err := os.Stat(p)
			if err != nil {
				return
			}
			ino := before.Sys().(*syscall.Stat_t).Ino
			delay := time.Duration(rng.Intn(4)) * time.Millisecond
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Microsecond) {
					if info, err := os.Stat(p); err == nil && info.Sys().(*syscall.Stat_t).Ino != ino {
						time.Sleep(delay)
						b, _ := os.ReadFile(p)
						if len(b) > 0 {
							b[len(b)/2] ^= 0x02
							_ = os.WriteFile(p, b, info.Mode().Perm())
						}
						return
					}
				}
			}()
			apply()
			wg.Wait()
		}},
	}
	answered, disagreements := 0, 0
	counts, hows := map[string]int{}, map[string]int{}
	for step := 0; step < *indexSteps; step++ {
		m := mutations[rng.Intn(len(mutations))]
		switch rng.Intn(8) {
		case 0: // apply often enough for the index to answer again
			m = mutations[len(mutations)-2]
		case 1:
			m = mutations[slices.IndexFunc(mutations, func(m mutation) bool { return m.name == "workspaces added back" })]
		}
		m.do()
		counts[m.name]++
		modes := []string{"--check"}
		if step%4 == 0 {
			modes = append(modes, "--dry-run")
		}
		for _, mode := range modes {
			code, out := run(t, append([]string{mode, "-o", "json"}, base...)...)
			fcode, fout := run(t, append([]string{mode, "--full", "-o", "json"}, base...)...)
			got, how := answer(code, out)
			want, _ := answer(fcode, fout)
			if how == "answered" {
				answered++
			}
			hows[how]++
			if got != want {
				disagreements++
				if disagreements <= 3 {
					t.Errorf("step %d (%s) %s: the index (%s) and --full disagree:\n--- index\n%s--- full\n%s", step, m.name, mode, how, got, want)
				}
			}
		}
	}
	t.Logf("%d steps, %d checks answered from the index alone, %d disagreements; mutations: %v; index: %v", *indexSteps, answered, disagreements, counts, hows)
	if disagreements > 0 {
		t.Fatalf("%d disagreements in %d steps", disagreements, *indexSteps)
	}
	if *indexSteps >= 100 && answered < *indexSteps/5 {
		t.Errorf("only %d of %d checks were answered from the index: the property tested little", answered, *indexSteps)
	}
}
