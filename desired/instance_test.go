package desired

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

const homeInstance = "instance: {slug: t}\n" +
	"users: {mac: {name: neo, uid: 501, home: /Users/neo}}\n" +
	"paths: {bin: ~/.sanctum/bin, logs: ~/.sanctum/logs, node: /opt/homebrew/bin/node}\n"

func loadHome(t *testing.T, opts Options, objects string) (*Catalog, error) {
	t.Helper()
	opts.FS = fstest.MapFS{
		"instance.yaml": {Data: []byte(homeInstance)},
		"catalog.yaml":  {Data: []byte(objects)},
		"scripts/x.sh":  {Data: []byte("#!/bin/sh\n")},
	}
	opts.Name, opts.Secrets = "cat", PlaceholderSecrets
	return Load(context.Background(), opts)
}

const homeService = `apiVersion: sanctum.haus/v1
kind: Service
metadata: {name: x}
spec:
  host: mac
  launchAgent:
    programArguments: ["{{ .paths.bin }}/sanctum-x", "--data", "{{ .home }}/data", "{{ .paths.node }}"]
    standardOutPath: "{{ .paths.logs }}/x.log"
  wrapper: {target: /opt/x/bin/x}
  helpers: [{name: x.sh, source: scripts/x.sh}]
`

// TestTemplateHome: {{ .home }} and paths written ~/... are the home being
// reconciled (or, for render, the haus's own); .instance.json keeps the
// settings as written.
func TestTemplateHome(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts Options
		home string
	}{
		{"the home reconciled", Options{Home: "/tmp/h1"}, "/tmp/h1"},
		{"another home", Options{Home: "/home/ada"}, "/home/ada"},
		{"render: the haus's own", Options{Home: "/tmp/h1", ReferenceHome: true}, "/Users/neo"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cat, err := loadHome(t, tt.opts, homeService)
			if err != nil {
				t.Fatal(err)
			}
			a := cat.Agents[0].Spec
			want := []string{tt.home + "/.sanctum/bin/sanctum-x", "--data", tt.home + "/data", "/opt/homebrew/bin/node"}
			if diff := cmp.Diff(want, a.ProgramArguments); diff != "" {
				t.Errorf("programArguments (-want +got):\n%s", diff)
			}
			if got := a.StandardOutPath; got != tt.home+"/.sanctum/logs/x.log" {
				t.Errorf("standardOutPath = %q", got)
			}
			var inst struct{ Paths map[string]string }
			if err := json.Unmarshal(cat.Calibration[0].Spec.Content, &inst); err != nil {
				t.Fatal(err)
			}
			if inst.Paths["bin"] != "~/.sanctum/bin" {
				t.Errorf(".instance.json paths.bin = %q, want it as written", inst.Paths["bin"])
			}
			if string(cat.InstanceCopy.Spec.Content) != homeInstance {
				t.Errorf("instance.yaml copy = %q", cat.InstanceCopy.Spec.Content)
			}
		})
	}
}

// TestProgramUnderHome: a plist's program under the home being reconciled
// must be one the catalog installs (a wrapper or a helper); one outside it
// is the catalog's to name.
func TestProgramUnderHome(t *testing.T) {
	agent := func(prog string) string {
		return "---\napiVersion: sanctum.haus/v1\nkind: LaunchAgent\nmetadata: {name: y}\nspec:\n  programArguments: [\"" + prog + "\"]\n"
	}
	for _, tt := range []struct {
		prog, err string
	}{
		{"{{ .paths.bin }}/sanctum-x", ""},
		{"{{ .home }}/.sanctum/scripts/x.sh", ""},
		{"/usr/bin/true", ""},
		{"{{ .home }}/bin/tool", `cat/catalog.yaml:16:22: LaunchAgent/y: spec.programArguments[0]: Invalid value: "/tmp/h1/bin/tool": ` +
			"a program under the home must be one the catalog installs (a Service's spec.wrapper or spec.helpers); nothing creates ~/bin/tool"},
		{"{{ .home }}/.sanctum/scripts/missing.sh", "nothing creates ~/.sanctum/scripts/missing.sh"},
		{"{{ .paths.bin }}/sanctum-nope", "no wrapper in the catalog creates ~/.sanctum/bin/sanctum-nope"},
	} {
		t.Run(tt.prog, func(t *testing.T) {
			_, err := loadHome(t, Options{Home: "/tmp/h1"}, homeService+agent(tt.prog))
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("error = %v, want one containing %q", err, tt.err)
			}
		})
	}
}

// TestParseInstance: the host's copy is checked as the catalog's is, with
// located errors under the name given.
func TestParseInstance(t *testing.T) {
	if err := ParseInstance("~/.sanctum", []byte(homeInstance)); err != nil {
		t.Errorf("valid settings: %v", err)
	}
	err := ParseInstance("~/.sanctum", []byte("instance: {slug: t}\nservices: {a: {enabled: true, port: 70000}}\n"))
	want := "~/.sanctum/instance.yaml:2:37: services[a].port: Invalid value: 70000: must be between 1 and 65535"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want one containing %q", err, want)
	}
	if err := ParseInstance("~/.sanctum", []byte("\xff")); err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("invalid UTF-8: %v", err)
	}
}
