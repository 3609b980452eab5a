package desired

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/util/validation/field"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
)

// personaDoc is a PersonaFile named windu; spec lines start at line 6.
func personaDoc(spec ...string) string {
	return "apiVersion: sanctum.haus/v1\nkind: PersonaFile\nmetadata:\n  name: windu\nspec:\n" +
		"  " + strings.Join(spec, "\n  ") + "\n"
}

// launchAgentDoc is a standalone LaunchAgent; spec lines start at line 6.
func launchAgentDoc(name string, spec ...string) string {
	return "apiVersion: sanctum.haus/v1\nkind: LaunchAgent\nmetadata:\n  name: " + name + "\nspec:\n" +
		"  " + strings.Join(spec, "\n  ") + "\n"
}

// personaFiles are the four sources of personas/windu-workspace.
func personaFiles(replace map[string]*string) map[string]*string {
	files := map[string]*string{"more.yaml": nil}
	for _, f := range v1.PersonaFileNames {
		files["personas/windu-workspace/"+f] = testString("# " + f + "\nSpeak plainly.\n")
	}
	for k, v := range replace {
		files[k] = v
	}
	return files
}

const (
	pemKey    = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
	apiKey    = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789"
	tokenFile = "tok-catalog-0123456789"
)

// TestLoadCatalogKnowledge: whatever the catalog and the secrets decide on
// their own is an error of Load, located and with its field path, every
// problem at once.
func TestLoadCatalogKnowledge(t *testing.T) {
	const folder = "source: {catalog: personas/windu-workspace}"
	const targets = `targets: ["~/.openclaw/workspace-windu"]`
	tests := []struct {
		name    string
		files   map[string]*string
		secrets map[string]string
		want    []string
	}{
		{
			name:  "missing persona folder",
			files: personaFiles(map[string]*string{"personas.yaml": testString(personaDoc("source: {catalog: personas/ghost-workspace}", targets))}),
			want:  []string{`cat/personas.yaml:6:21: PersonaFile/windu: spec.source.catalog: Not found: "personas/ghost-workspace": no such folder in the catalog`},
		},
		{
			name: "persona folder that is a file",
			files: personaFiles(map[string]*string{"personas.yaml": testString(personaDoc("source: {catalog: personas/windu-workspace/SOUL.md}", targets)),
				"catalog.yaml": nil}),
			want: []string{`cat/personas.yaml:6:21: PersonaFile/windu: spec.source.catalog: Invalid value: "personas/windu-workspace/SOUL.md": not a folder in the catalog`},
		},
		{
			name: "missing default persona files, each named",
			files: personaFiles(map[string]*string{"personas.yaml": testString(personaDoc(folder, targets)),
				"personas/windu-workspace/SOUL.md": nil, "personas/windu-workspace/HEARTBEAT.md": nil}),
			want: []string{
				`cat/personas.yaml:6:21: PersonaFile/windu: spec.source.catalog: Not found: "personas/windu-workspace/SOUL.md": no such file in the catalog`,
				`cat/personas.yaml:6:21: PersonaFile/windu: spec.source.catalog: Not found: "personas/windu-workspace/HEARTBEAT.md": no such file in the catalog`,
			},
		},
		{
			name: "missing listed persona file at its list entry",
			files: personaFiles(map[string]*string{"personas.yaml": testString(personaDoc(folder, "files: [IDENTITY.md, TOOLS.md]", targets)),
				"personas/windu-workspace/TOOLS.md": nil}),
			want: []string{`cat/personas.yaml:7:24: PersonaFile/windu: spec.files[1]: Not found: "personas/windu-workspace/TOOLS.md": no such file in the catalog`},
		},
		{
			name: "persona source with a private key",
			files: personaFiles(map[string]*string{"personas.yaml": testString(personaDoc(folder, targets)),
				"personas/windu-workspace/TOOLS.md": testString("# Tools\n\n" + pemKey)}),
			want: []string{`cat/personas.yaml:6:21: PersonaFile/windu: spec.source.catalog: Forbidden: cat/personas/windu-workspace/TOOLS.md:3 looks like a private key, and persona files travel to other machines (set spec.allowSecrets: true to send it anyway)`},
		},
		{
			name: "persona source with an API key, at its list entry",
			files: personaFiles(map[string]*string{"personas.yaml": testString(personaDoc(folder, "files: [SOUL.md]", targets)),
				"personas/windu-workspace/SOUL.md": testString("# Soul\nkey: " + apiKey + "\n")}),
			want: []string{`cat/personas.yaml:7:11: PersonaFile/windu: spec.files[0]: Forbidden: cat/personas/windu-workspace/SOUL.md:2 looks like an Anthropic API key, and persona files travel to other machines (set spec.allowSecrets: true to send it anyway)`},
		},
		{
			name: "persona source holding a resolved secret, named but never shown",
			files: personaFiles(map[string]*string{
				"personas.yaml":                    testString(personaDoc(folder, targets)),
				"catalog.yaml":                     testString(alphaWith("host: mac", `displayName: '{{ secret "gateway-token" }}'`)),
				"personas/windu-workspace/SOUL.md": testString("# Soul\n\nThe gateway answers to " + tokenFile + ".\n"),
			}),
			secrets: map[string]string{"gateway-token": tokenFile + "\n"},
			want:    []string{`cat/personas.yaml:6:21: PersonaFile/windu: spec.source.catalog: Forbidden: cat/personas/windu-workspace/SOUL.md:3 holds the value of secret "gateway-token", and persona files travel to other machines (set spec.allowSecrets: true to send it anyway)`},
		},
		{
			name: "persona source holding a resolved secret in other spellings, each at its line",
			files: personaFiles(map[string]*string{
				"personas.yaml":                         testString(personaDoc(folder, "files: [SOUL.md, TOOLS.md, HEARTBEAT.md, IDENTITY.md]", targets)),
				"catalog.yaml":                          testString(alphaWith("host: mac", `displayName: '{{ secret "gateway-token" }}'`)),
				"personas/windu-workspace/SOUL.md":      testString("# Soul\n\n<string>p&amp;ss&#34;w&lt;rd&gt; two</string>\n"),
				"personas/windu-workspace/TOOLS.md":     testString("# Tools\n\ncurl 'http://h/?t=p%26ss%22w%3Crd%3E+two'\n"),
				"personas/windu-workspace/HEARTBEAT.md": testString("token: cCZzcyJ3PHJkPiB0d28=\n"),
				"personas/windu-workspace/IDENTITY.md":  testString("# Identity\n"),
			}),
			secrets: map[string]string{"gateway-token": `p&ss"w<rd> two`},
			want: []string{
				`cat/personas.yaml:7:11: PersonaFile/windu: spec.files[0]: Forbidden: cat/personas/windu-workspace/SOUL.md:3 holds the value of secret "gateway-token", and persona files travel to other machines (set spec.allowSecrets: true to send it anyway)`,
				`cat/personas.yaml:7:20: PersonaFile/windu: spec.files[1]: Forbidden: cat/personas/windu-workspace/TOOLS.md:3 holds the value of secret "gateway-token", and persona files travel to other machines (set spec.allowSecrets: true to send it anyway)`,
				`cat/personas.yaml:7:30: PersonaFile/windu: spec.files[2]: Forbidden: cat/personas/windu-workspace/HEARTBEAT.md:1 holds the value of secret "gateway-token", and persona files travel to other machines (set spec.allowSecrets: true to send it anyway)`,
			},
		},
		{
			name: "persona source holding a line of a multi-line secret",
			files: personaFiles(map[string]*string{
				"personas.yaml":                    testString(personaDoc(folder, targets)),
				"catalog.yaml":                     testString(alphaWith("host: mac", `displayName: '{{ secret "gateway-token" }}'`)),
				"personas/windu-workspace/SOUL.md": testString("# Soul\n\nMIIEvQIBADANBgkqhkiG9w0B\n"),
			}),
			secrets: map[string]string{"gateway-token": "-----BEGIN CERT-----\nMIIEvQIBADANBgkqhkiG9w0B\nend\n"},
			want:    []string{`cat/personas.yaml:6:21: PersonaFile/windu: spec.source.catalog: Forbidden: cat/personas/windu-workspace/SOUL.md:3 holds the value of secret "gateway-token", and persona files travel to other machines (set spec.allowSecrets: true to send it anyway)`},
		},
		{
			name: "persona source holding a short secret as a word, and inside a longer word",
			files: personaFiles(map[string]*string{
				"personas.yaml":                     testString(personaDoc(folder, targets)),
				"catalog.yaml":                      testString(alphaWith("host: mac", `displayName: '{{ secret "pin" }}'`)),
				"personas/windu-workspace/SOUL.md":  testString("# Soul\n\nThe door code is Pin77.\n"),
				"personas/windu-workspace/TOOLS.md": testString("# Tools\n\nXPin77X is a part number.\n"),
			}),
			secrets: map[string]string{"pin": "Pin77\n"},
			want:    []string{`cat/personas.yaml:6:21: PersonaFile/windu: spec.source.catalog: Forbidden: cat/personas/windu-workspace/SOUL.md:3 holds the value of secret "pin", and persona files travel to other machines (set spec.allowSecrets: true to send it anyway)`},
		},
		{
			name: "missing helper source",
			files: map[string]*string{"more.yaml": nil, "catalog.yaml": testString(alphaWith("host: mac",
				"helpers: [{name: ok.sh, source: scripts/ok.sh}, {name: notify.sh, source: scripts/notify.sh}]")),
				"scripts/ok.sh": testString("#!/bin/sh\n")},
			want: []string{`cat/catalog.yaml:7:77: Service/alpha: spec.helpers[1].source: Not found: "scripts/notify.sh": no such file in the catalog`},
		},
		{
			name: "helper source that is a folder",
			files: map[string]*string{"more.yaml": nil, "catalog.yaml": testString(alphaWith("host: mac",
				"helpers:", "  - name: notify.sh", "    source: scripts")),
				"scripts/ok.sh": testString("#!/bin/sh\n")},
			want: []string{`cat/catalog.yaml:9:15: Service/alpha: spec.helpers[0].source: Invalid value: "scripts": `},
		},
		{
			name: "helper installed by two enabled services",
			files: map[string]*string{"more.yaml": nil, "scripts/notify.sh": testString("#!/bin/sh\n"),
				"catalog.yaml": testString(alphaWith("host: mac", "helpers: [{name: notify.sh, source: scripts/notify.sh}]") + "---\n" +
					serviceDoc("beta", "host: mac", "helpers:", "  - {name: other.sh, source: scripts/notify.sh}", "  - {name: notify.sh, source: scripts/notify.sh}"))},
			want: []string{`cat/catalog.yaml:17:14: Service/beta: spec.helpers[1].name: Duplicate value: "~/.sanctum/scripts/notify.sh": also installed by enabled Service/alpha`},
		},
		{
			name: "program under ~/.sanctum/bin that no wrapper creates, however spelt",
			files: map[string]*string{"more.yaml": nil, "catalog.yaml": testString(
				alphaWith("host: mac", `launchAgent: {programArguments: ["/Users/neo/.sanctum/bin/sanctum-alpha", "--serve"]}`) + "---\n" +
					launchAgentDoc("beta", `programArguments: ["/Users/neo/.sanctum/../.sanctum/bin/sanctum-beta"]`) + "---\n" +
					launchAgentDoc("gamma", "programArguments:", "  - /Users/neo/.sanctum/bin/tools/gamma"))},
			want: []string{
				`cat/catalog.yaml:7:36: Service/alpha: spec.launchAgent.programArguments[0]: Invalid value: "/Users/neo/.sanctum/bin/sanctum-alpha": no wrapper in the catalog creates ~/.sanctum/bin/sanctum-alpha (a Service's spec.wrapper creates ~/.sanctum/bin/sanctum-<its name>)`,
				`cat/catalog.yaml:14:22: LaunchAgent/beta: spec.programArguments[0]: Invalid value: "/Users/neo/.sanctum/../.sanctum/bin/sanctum-beta": no wrapper in the catalog creates ~/.sanctum/bin/sanctum-beta (a Service's spec.wrapper creates ~/.sanctum/bin/sanctum-<its name>)`,
				`cat/catalog.yaml:22:7: LaunchAgent/gamma: spec.programArguments[0]: Invalid value: "/Users/neo/.sanctum/bin/tools/gamma": no wrapper in the catalog creates ~/.sanctum/bin/tools/gamma (a Service's spec.wrapper creates ~/.sanctum/bin/sanctum-<its name>)`,
			},
		},
		{
			name: "program that is the wrapper of a disabled service",
			files: map[string]*string{"more.yaml": nil, "catalog.yaml": testString(
				alphaWith("host: mac", "enabled: false", "wrapper: {target: /opt/alpha/bin/alpha}") + "---\n" +
					launchAgentDoc("beta", `programArguments: ["/Users/neo/.sanctum/bin/sanctum-alpha"]`))},
			want: []string{`cat/catalog.yaml:15:22: LaunchAgent/beta: spec.programArguments[0]: Invalid value: "/Users/neo/.sanctum/bin/sanctum-alpha": ~/.sanctum/bin/sanctum-alpha is the wrapper of Service/alpha, which is disabled, so nothing creates it`},
		},
		{
			name: "every problem at once, across files",
			files: personaFiles(map[string]*string{
				"personas.yaml":                     testString(personaDoc(folder, targets)),
				"personas/windu-workspace/TOOLS.md": nil,
				"catalog.yaml": testString(alphaWith("host: mac", `launchAgent: {programArguments: ["/Users/neo/.sanctum/bin/sanctum-x"]}`,
					"helpers: [{name: a.sh, source: scripts/a.sh}]")),
			}),
			want: []string{
				`cat/catalog.yaml:7:36: Service/alpha: spec.launchAgent.programArguments[0]: Invalid value: "/Users/neo/.sanctum/bin/sanctum-x": no wrapper`,
				`cat/catalog.yaml:8:34: Service/alpha: spec.helpers[0].source: Not found: "scripts/a.sh": no such file in the catalog`,
				`cat/personas.yaml:6:21: PersonaFile/windu: spec.source.catalog: Not found: "personas/windu-workspace/TOOLS.md": no such file in the catalog`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{FS: testCatalogFS(tt.files), Name: "cat", Home: testHome(t, tt.secrets), Secrets: ResolveSecrets}
			cat, err := Load(context.Background(), opts)
			if err == nil {
				t.Fatalf("Load succeeded with %d services, want an error", len(cat.Services))
			}
			msg := err.Error()
			got := strings.Split(msg, "\n")
			for i := range got {
				if i < len(tt.want) && strings.HasPrefix(got[i], tt.want[i]) {
					got[i] = tt.want[i]
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("error lines (prefixes) mismatch (-want +got):\n%s", diff)
			}
			for _, v := range tt.secrets {
				if strings.Contains(msg, strings.TrimSpace(v)) {
					t.Errorf("error shows a secret value:\n%s", msg)
				}
			}
		})
	}
}

// TestLoadCatalogKnowledgeAllows: what the checks must let through.
func TestLoadCatalogKnowledgeAllows(t *testing.T) {
	const folder = "source: {catalog: personas/windu-workspace}"
	const targets = `targets: ["~/.openclaw/workspace-windu"]`
	tests := []struct {
		name    string
		files   map[string]*string
		secrets map[string]string
	}{
		{
			name: "key material with allowSecrets",
			files: personaFiles(map[string]*string{"personas.yaml": testString(personaDoc(folder, targets, "allowSecrets: true")),
				"personas/windu-workspace/TOOLS.md": testString(pemKey + apiKey + "\n")}),
		},
		{
			name: "a resolved secret with allowSecrets",
			files: personaFiles(map[string]*string{
				"personas.yaml":                    testString(personaDoc(folder, targets, "allowSecrets: true")),
				"catalog.yaml":                     testString(alphaWith("host: mac", `displayName: '{{ secret "gateway-token" }}'`)),
				"personas/windu-workspace/SOUL.md": testString(tokenFile + "\n"),
			}),
			secrets: map[string]string{"gateway-token": tokenFile},
		},
		{
			name: "a short secret only inside longer words, and one too short to be told from prose",
			files: personaFiles(map[string]*string{
				"personas.yaml":                    testString(personaDoc(folder, targets)),
				"catalog.yaml":                     testString(alphaWith("host: mac", `displayName: '{{ secret "pin" }}{{ secret "two" }}'`)),
				"personas/windu-workspace/SOUL.md": testString("Answer within 12345 ms, in 12 steps.\n"),
			}),
			secrets: map[string]string{"pin": "1234", "two": "12"},
		},
		{
			name: "only the listed persona files need to exist",
			files: personaFiles(map[string]*string{"personas.yaml": testString(personaDoc(folder, "files: [IDENTITY.md]", targets)),
				"personas/windu-workspace/SOUL.md": nil}),
		},
		{
			name:  "a persona source under HOME is the host's business",
			files: personaFiles(map[string]*string{"personas.yaml": testString(personaDoc(`source: {path: "~/persona-root/windu"}`, targets))}),
		},
		{
			name: "a helper name shared with a disabled service",
			files: map[string]*string{"more.yaml": nil, "scripts/notify.sh": testString("#!/bin/sh\n"),
				"catalog.yaml": testString(alphaWith("host: mac", "helpers: [{name: notify.sh, source: scripts/notify.sh}]") + "---\n" +
					serviceDoc("beta", "host: mac", "enabled: false", "helpers: [{name: notify.sh, source: scripts/notify.sh}]"))},
		},
		{
			name: "programs run through their wrappers, from every spelling of the bin folder",
			files: map[string]*string{"more.yaml": nil, "catalog.yaml": testString(
				alphaWith("host: mac", "wrapper: {target: /opt/alpha/bin/alpha}",
					`launchAgent: {programArguments: ["/Users/neo/.sanctum/bin/sanctum-alpha"]}`) + "---\n" +
					launchAgentDoc("beta", `programArguments: ["/home/neo/.sanctum/bin/sanctum-alpha", "--once"]`))},
		},
		{
			name: "a disabled agent may name the wrapper of a disabled service",
			files: map[string]*string{"more.yaml": nil, "catalog.yaml": testString(
				alphaWith("host: mac", "enabled: false", "wrapper: {target: /opt/alpha/bin/alpha}",
					`launchAgent: {programArguments: ["/Users/neo/.sanctum/bin/sanctum-alpha"]}`))},
		},
		{
			name: "programs elsewhere are not wrappers",
			files: map[string]*string{"more.yaml": nil, "catalog.yaml": testString(
				launchAgentDoc("beta", `programArguments: ["/opt/homebrew/bin/python3", "/Users/neo/.sanctum/bin/sanctum-x"]`) + "---\n" +
					launchAgentDoc("gamma", `programArguments: ["/Users/neo/.sanctum/bin-old/sanctum-x"]`) + "---\n" +
					launchAgentDoc("delta", "retired: true"))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{FS: testCatalogFS(tt.files), Name: "cat", Home: testHome(t, tt.secrets), Secrets: ResolveSecrets}
			if _, err := Load(context.Background(), opts); err != nil {
				t.Errorf("Load: %v", err)
			}
		})
	}
}

func TestUnderWrapperDir(t *testing.T) {
	type result struct {
		Rel string
		OK  bool
	}
	tests := []struct {
		prog string
		want result
	}{
		{prog: "/Users/neo/.sanctum/bin/sanctum-voice-agent", want: result{".sanctum/bin/sanctum-voice-agent", true}},
		{prog: "~/.sanctum/bin/sanctum-x", want: result{".sanctum/bin/sanctum-x", true}},
		{prog: "$HOME/.sanctum/bin/sanctum-x", want: result{".sanctum/bin/sanctum-x", true}},
		{prog: "${HOME}/.sanctum/bin/sanctum-x", want: result{".sanctum/bin/sanctum-x", true}},
		{prog: "/Users/neo/.sanctum/bin//sanctum-x", want: result{".sanctum/bin/sanctum-x", true}},
		{prog: "/Users/neo/.sanctum/bin/tools/x", want: result{".sanctum/bin/tools/x", true}},
		{prog: "/Users/neo/.sanctum/bin", want: result{"", false}},
		{prog: "/Users/neo/.sanctum/bin-old/x", want: result{"", false}},
		{prog: "/Users/neo/.sanctum/scripts/x.sh", want: result{"", false}},
		{prog: "/opt/homebrew/bin/node", want: result{"", false}},
	}
	for _, tt := range tests {
		t.Run(tt.prog, func(t *testing.T) {
			rel, ok := underWrapperDir(tt.prog)
			if diff := cmp.Diff(tt.want, result{rel, ok}); diff != "" {
				t.Errorf("underWrapperDir(%q) mismatch (-want +got):\n%s", tt.prog, diff)
			}
		})
	}
}

// TestValidateRuntimeWrapperClaims: a wrapper path is claimed once. Through
// the catalog two wrappers cannot meet today (the path follows the
// service's name, and names are unique); the check keeps that true if the
// path ever becomes choosable.
func TestValidateRuntimeWrapperClaims(t *testing.T) {
	doc := parseYAML(t, alphaWith("host: mac", "wrapper: {target: /opt/a}"))
	mk := func(name string, enabled bool) *v1.Service {
		return &v1.Service{ObjectMeta: v1.ObjectMeta{Name: name},
			Spec: v1.ServiceSpec{Enabled: &enabled, Wrapper: &v1.Wrapper{Target: "/opt/" + name}}}
	}
	tests := []struct {
		name     string
		services []*v1.Service
		want     field.ErrorList
	}{
		{name: "two enabled", services: []*v1.Service{mk("alpha", true), mk("alpha", true)},
			want: field.ErrorList{{Type: field.ErrorTypeDuplicate, Field: "spec.wrapper", BadValue: "~/.sanctum/bin/sanctum-alpha", Detail: "also installed by enabled Service/alpha"}}},
		{name: "one disabled", services: []*v1.Service{mk("alpha", false), mk("alpha", true)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &loader{opts: Options{Name: "cat"}, cat: &Catalog{Services: tt.services},
				origin: map[string]origin{"Service/alpha": {file: "catalog.yaml", pos: indexPositions(doc)}}}
			l.validateRuntime()
			want := fieldErrors("cat/catalog.yaml", "Service/alpha", indexPositions(doc), tt.want)
			if diff := cmp.Diff(want, l.errs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
