package desired

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"

	"github.com/hashicorp/go-multierror"
)

const fuzzInstance = `instance: {slug: fuzz}
network: {vm_ip: 192.168.64.2}
services:
  voice_agent: {enabled: true, port: 1138}
`

// checkLoadError insists that every rejection is the documented error value:
// a *multierror.Error of located *Error.
func checkLoadError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var me *multierror.Error
	if !errors.As(err, &me) {
		t.Fatalf("Load error is %T, want *multierror.Error: %v", err, err)
	}
	for _, e := range me.Errors {
		var le *Error
		if !errors.As(e, &le) {
			t.Fatalf("Load error element is %T, want *Error: %v", e, e)
		}
	}
}

// FuzzLoad feeds arbitrary bytes as a catalog file: decoding, templating and
// validation must never panic, and must reject with located errors.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("apiVersion: sanctum.haus/v1\nkind: Service\nmetadata: {name: a}\nspec: {host: mac, port: 80}\n"))
	f.Add([]byte("apiVersion: sanctum.haus/v1\nkind: Service\nmetadata: {name: a}\nspec:\n  host: mac\n  dependsOn: [a]\n"))
	f.Add([]byte("apiVersion: sanctum.haus/v1\nkind: LaunchAgent\nmetadata: {name: x}\nspec: {programArguments: [/bin/true], startCalendarInterval: [{hour: 3}]}\n"))
	f.Add([]byte("apiVersion: sanctum.haus/v1\nkind: PersonaFile\nmetadata: {name: w}\nspec: {source: {catalog: p}, targets: [\"~/.openclaw/workspace*\"]}\n"))
	f.Add([]byte("apiVersion: sanctum.haus/v1\nkind: RemoteNode\nmetadata: {name: vm}\nspec: {alias: vm, policy: required}\n"))
	f.Add([]byte("kind: Service\nspec:\n  port: \"{{ .services.voice_agent.port }}\"\n---\n---\n- [\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("apiVersion: sanctum.haus/v1\nkind: LaunchAgent\nmetadata: {name: k}\nspec:\n  programArguments: [/bin/true]\n  keepAlive: &k {successfulExit: false, pathState: {/p: true}}\n  limitLoadToSessionType: [Aqua]\n  softResourceLimits: {numberOfFiles: 9}\n  extra: {A: *k, B: [1, {c: 2.5}], C: null}\n"))
	home := f.TempDir() // one for every input: a temp dir per input would be most of the cost
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"instance.yaml": {Data: []byte(fuzzInstance)},
			"catalog.yaml":  {Data: data},
		}
		cat, err := Load(context.Background(), Options{FS: fsys, Name: "fuzz", Home: home, Secrets: PlaceholderSecrets})
		checkLoadError(t, err)
		if err == nil && cat == nil {
			t.Fatal("nil catalog without an error")
		}
	})
}

// FuzzInstance feeds arbitrary bytes as instance.yaml.
func FuzzInstance(f *testing.F) {
	f.Add([]byte(fuzzInstance))
	f.Add([]byte("instance: {slug: x}\nusers: {501: {name: neo}}\n"))
	f.Add([]byte("instance: {slug: x}\nservices: {a: {enabled: maybe}}\n"))
	home := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"instance.yaml": {Data: data}}
		_, err := Load(context.Background(), Options{FS: fsys, Name: "fuzz", Home: home, Secrets: PlaceholderSecrets})
		checkLoadError(t, err)
	})
}

// FuzzTemplate puts an arbitrary string into a templated field.
func FuzzTemplate(f *testing.F) {
	f.Add("{{ .network.vm_ip }}")
	f.Add("{{ secret \"x\" }}")
	f.Add("{{ .services.voice_agent.port | printf \"%d\" }}")
	f.Add("{{ range .services }}{{ .port }}{{ end }}")
	f.Add("{{ template \"x\" }}")
	f.Add("{{")
	f.Add("{{ range 100000000 }}x{{ end }}")
	home := f.TempDir()
	f.Fuzz(func(t *testing.T, tmpl string) {
		doc := "apiVersion: sanctum.haus/v1\nkind: Service\nmetadata: {name: a}\nspec:\n  host: mac\n  displayName: " + quoteYAML(tmpl) + "\n"
		fsys := fstest.MapFS{
			"instance.yaml": {Data: []byte(fuzzInstance)},
			"catalog.yaml":  {Data: []byte(doc)},
		}
		_, err := Load(context.Background(), Options{FS: fsys, Name: "fuzz", Home: home, Secrets: ResolveSecrets})
		checkLoadError(t, err)
	})
}

func quoteYAML(s string) string {
	out := []byte{'\''}
	for _, r := range s {
		if r == '\'' {
			out = append(out, '\'', '\'')
			continue
		}
		out = append(out, string(r)...)
	}
	return string(append(out, '\''))
}
