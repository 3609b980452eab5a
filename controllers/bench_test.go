package controllers

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// benchFS is a catalog of n services, each with a launch agent.
func benchFS(n int) fstest.MapFS {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "---\napiVersion: sanctum.haus/v1\nkind: Service\nmetadata: {name: svc-%05d}\nspec:\n  host: mac\n  port: %d\n"+
			"  launchAgent: {programArguments: [/opt/bin/svc-%05d], runAtLoad: true, keepAlive: true}\n"+
			"  health:\n    readiness: {type: http, url: \"http://127.0.0.1:%d/health\", timeout: 5}\n", i, 10000+i, i, 10000+i)
	}
	return fstest.MapFS{
		"instance.yaml": {Data: []byte("instance: {slug: bench}\n")},
		"catalog.yaml":  {Data: []byte(b.String())},
	}
}

func benchCatalog(b *testing.B, n int) *desired.Catalog {
	cat, err := desired.Load(context.Background(), desired.Options{FS: benchFS(n), Name: "bench", Home: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	return cat
}

// BenchmarkLoad is decoding, templating and validating a 1,000-service catalog.
func BenchmarkLoad(b *testing.B) {
	fsys := benchFS(1000)
	home := b.TempDir()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := desired.Load(context.Background(), desired.Options{FS: fsys, Name: "bench", Home: home}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidate is one service's own validation.
func BenchmarkValidate(b *testing.B) {
	s := benchCatalog(b, 1).Services[0]
	b.ReportAllocs()
	for b.Loop() {
		if errs := s.Validate(); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

// BenchmarkRenderManifest renders one watchdog manifest.
func BenchmarkRenderManifest(b *testing.B) {
	cat := benchCatalog(b, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RenderManifest(cat.Services[0], cat); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderPlist renders one launch agent plist.
func BenchmarkRenderPlist(b *testing.B) {
	cat := benchCatalog(b, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RenderPlist(cat.Agents[0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompareUnchanged is reading and comparing 1,000 files that are
// already right, through the read-only host of --check.
func BenchmarkCompareUnchanged(b *testing.B) {
	home := b.TempDir()
	real, err := observed.NewFileHost(home)
	if err != nil {
		b.Fatal(err)
	}
	var targets []FileTarget
	for i := 0; i < 1000; i++ {
		p := fmt.Sprintf(".sanctum/services/s%04d.yaml", i)
		content := []byte(strings.Repeat(fmt.Sprintf("line %d\n", i), 60))
		if err := real.WriteFile(p, content, 0o644); err != nil {
			b.Fatal(err)
		}
		targets = append(targets, FileTarget{Kind: "Service", Name: fmt.Sprint(i), Path: p, Content: content})
	}
	host := observed.NewDryRunHost(observed.ReadOnlyHost{Host: real})
	b.ReportAllocs()
	for b.Loop() {
		p := NewPass(host, nil, "r", time.Now(), nil, &State{})
		p.Diffs = false
		for _, c := range p.Files(context.Background(), targets) {
			if c.Action != drift.Unchanged {
				b.Fatal(c)
			}
		}
	}
}

// BenchmarkReport is the text and JSON reports of a 1,000-entry change set.
func BenchmarkReport(b *testing.B) {
	cs := &drift.ChangeSet{}
	for i := 0; i < 1000; i++ {
		cs.Add(drift.Change{Kind: "Service", Name: fmt.Sprintf("svc-%04d", i), Action: drift.Unchanged, Path: fmt.Sprintf(".sanctum/services/svc-%04d.yaml", i)})
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := drift.WriteText(io.Discard, cs, drift.TextOptions{Label: "check"}); err != nil {
			b.Fatal(err)
		}
		if err := drift.WriteJSON(io.Discard, &drift.Report{Changes: cs.Changes}); err != nil {
			b.Fatal(err)
		}
	}
}
