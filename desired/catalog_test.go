package desired

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-multierror"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
)

const testInstanceYAML = `instance:
  slug: demo
  name: "Demo & <Haus>"
users:
  mac: {name: neo, uid: 501}
network:
  vm_ip: 192.168.64.2
services:
  voice_agent: {enabled: true, port: 1138}
  tts: {enabled: false, port: 1139}
secrets:
  keychain_account: sanctum
`

// The .instance.json of testInstanceYAML: keys sorted, two-space indent,
// no HTML escaping, a final newline.
const testInstanceJSON = `{
  "instance": {
    "name": "Demo & <Haus>",
    "slug": "demo"
  },
  "network": {
    "vm_ip": "192.168.64.2"
  },
  "secrets": {
    "keychain_account": "sanctum"
  },
  "services": {
    "tts": {
      "enabled": false,
      "port": 1139
    },
    "voice_agent": {
      "enabled": true,
      "port": 1138
    }
  },
  "users": {
    "mac": {
      "name": "neo",
      "uid": 501
    }
  }
}
`

const testCapabilitiesYAML = "agents:\n  windu: {can: [read, audit]}\n"

const testCatalogYAML = `# three services, one disabled through instance.yaml
apiVersion: sanctum.haus/v1
kind: Service
metadata:
  name: voice-agent
spec:
  host: mac
  instanceKey: voice_agent
  dependsOn: [tts-engine]
  health:
    startup: {type: port, port: "{{ .services.voice_agent.port }}"}
    readiness: {type: http, url: "http://{{ .network.vm_ip }}:{{ .services.voice_agent.port }}/health"}
---
---
apiVersion: sanctum.haus/v1
kind: Service
metadata:
  name: tts-engine
spec:
  host: vm
  port: 2000
---
apiVersion: sanctum.haus/v1
kind: Service
metadata:
  name: alpha
spec:
  host: mac
  instanceKey: tts
`

const testMoreYAML = `apiVersion: sanctum.haus/v1
kind: Service
metadata:
  name: beta
spec:
  host: vm
  enabled: false
  port: 2000
`

func testBool(b bool) *bool { return &b }

// testCatalogFS is a valid catalog; files maps names to replace (nil
// content removes the file).
func testCatalogFS(files map[string]*string) fstest.MapFS {
	fsys := fstest.MapFS{
		"instance.yaml":           {Data: []byte(testInstanceYAML)},
		"agent_capabilities.yaml": {Data: []byte(testCapabilitiesYAML)},
		"catalog.yaml":            {Data: []byte(testCatalogYAML)},
		"more.yaml":               {Data: []byte(testMoreYAML)},
		"README.md":               {Data: []byte("not an object file\n")},
		"services/alpha.yaml":     {Data: []byte("rendered: manifests are not objects\n")},
	}
	for name, content := range files {
		if content == nil {
			delete(fsys, name)
			continue
		}
		fsys[name] = &fstest.MapFile{Data: []byte(*content)}
	}
	return fsys
}

func testString(s string) *string { return &s }

// testHome makes a home holding the given secrets.
func testHome(t *testing.T, secrets map[string]string) string {
	t.Helper()
	home := t.TempDir()
	if len(secrets) == 0 {
		return home
	}
	dir := filepath.Join(home, filepath.FromSlash(SecretDir))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, value := range secrets {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

func TestLoadValidCatalog(t *testing.T) {
	cat, err := Load(context.Background(), Options{FS: testCatalogFS(nil), Name: "cat", Home: t.TempDir(), Secrets: ResolveSecrets})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	wantServices := []*v1.Service{
		{
			TypeMeta:   v1.TypeMeta{APIVersion: v1.APIVersion, Kind: v1.KindService},
			ObjectMeta: v1.ObjectMeta{Name: "alpha"},
			// instanceKey: enabled and port come from services.tts
			Spec: v1.ServiceSpec{Host: "mac", InstanceKey: "tts", Enabled: testBool(false), Port: 1139},
		},
		{
			TypeMeta:   v1.TypeMeta{APIVersion: v1.APIVersion, Kind: v1.KindService},
			ObjectMeta: v1.ObjectMeta{Name: "beta"},
			Spec:       v1.ServiceSpec{Host: "vm", Enabled: testBool(false), Port: 2000},
		},
		{
			TypeMeta:   v1.TypeMeta{APIVersion: v1.APIVersion, Kind: v1.KindService},
			ObjectMeta: v1.ObjectMeta{Name: "tts-engine"},
			Spec:       v1.ServiceSpec{Host: "vm", Port: 2000},
		},
		{
			TypeMeta:   v1.TypeMeta{APIVersion: v1.APIVersion, Kind: v1.KindService},
			ObjectMeta: v1.ObjectMeta{Name: "voice-agent"},
			Spec: v1.ServiceSpec{
				Host: "mac", InstanceKey: "voice_agent", Enabled: testBool(true), Port: 1138,
				DependsOn: []string{"tts-engine"},
				Health: v1.Health{
					// a templated port is an integer
					Startup:   &v1.Probe{Type: v1.ProbePort, Port: 1138},
					Readiness: &v1.Probe{Type: v1.ProbeHTTP, URL: "http://192.168.64.2:1138/health"},
				},
			},
		},
	}
	if diff := cmp.Diff(wantServices, cat.Services); diff != "" {
		t.Errorf("Services mismatch (-want +got):\n%s", diff)
	}
	wantSources := map[string]string{
		"Service/alpha":       "catalog.yaml",
		"Service/beta":        "more.yaml",
		"Service/tts-engine":  "catalog.yaml",
		"Service/voice-agent": "catalog.yaml",
	}
	if diff := cmp.Diff(wantSources, cat.Sources); diff != "" {
		t.Errorf("Sources mismatch (-want +got):\n%s", diff)
	}
	type calibration struct{ Name, Path, Source, Content string }
	var gotCal []calibration
	for _, c := range cat.Calibration {
		if diff := cmp.Diff(v1.TypeMeta{APIVersion: v1.APIVersion, Kind: v1.KindCalibrationFile}, c.TypeMeta); diff != "" {
			t.Errorf("calibration %s TypeMeta mismatch (-want +got):\n%s", c.Name, diff)
		}
		gotCal = append(gotCal, calibration{c.Name, c.Spec.Path, c.Spec.Source, string(c.Spec.Content)})
	}
	wantCal := []calibration{
		{"instance-json", ".sanctum/.instance.json", "instance.yaml", testInstanceJSON},
		{"agent-capabilities", ".sanctum/config/agent-capabilities.yaml", "agent_capabilities.yaml", testCapabilitiesYAML},
	}
	if diff := cmp.Diff(wantCal, gotCal); diff != "" {
		t.Errorf("Calibration mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("cat", cat.Name); diff != "" {
		t.Errorf("Name mismatch (-want +got):\n%s", diff)
	}
	if len(cat.SecretValues) != 0 {
		t.Errorf("SecretValues = %q, want none", cat.SecretValues)
	}
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(cat.Digest) {
		t.Errorf("Digest = %q, want sha256:<64 hex>", cat.Digest)
	}
	if diff := cmp.Diff("demo", cat.Instance.Instance.Slug); diff != "" {
		t.Errorf("Instance.Instance.Slug mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadWithoutCapabilities(t *testing.T) {
	fsys := testCatalogFS(map[string]*string{"agent_capabilities.yaml": nil})
	cat, err := Load(context.Background(), Options{FS: fsys, Name: "cat", Home: t.TempDir()})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	var names []string
	for _, c := range cat.Calibration {
		names = append(names, c.Name)
	}
	if diff := cmp.Diff([]string{"instance-json"}, names); diff != "" {
		t.Errorf("calibration files mismatch (-want +got):\n%s", diff)
	}
}

// A service object named alpha; spec lines start at line 6, column 3.
func alphaWith(spec ...string) string {
	return "apiVersion: sanctum.haus/v1\nkind: Service\nmetadata:\n  name: alpha\nspec:\n" +
		"  " + strings.Join(spec, "\n  ") + "\n"
}

func serviceDoc(name string, spec ...string) string {
	return "apiVersion: sanctum.haus/v1\nkind: Service\nmetadata:\n  name: " + name + "\nspec:\n" +
		"  " + strings.Join(spec, "\n  ") + "\n"
}

func TestLoadSucceeds(t *testing.T) {
	tests := []struct {
		name    string
		catalog string
	}{
		{name: "port shared with a disabled service", catalog: alphaWith("host: mac", "port: 1200") + "---\n" +
			serviceDoc("beta", "host: mac", "port: 1200", "enabled: false")},
		{name: "port shared with a service disabled through instanceKey", catalog: alphaWith("host: mac", "port: 1139") + "---\n" +
			serviceDoc("beta", "host: mac", "instanceKey: tts")},
		{name: "explicit port wins over the instance port", catalog: alphaWith("host: mac", "instanceKey: voice_agent", "port: 4000") + "---\n" +
			serviceDoc("beta", "host: mac", "port: 1138")},
		{name: "empty documents", catalog: "---\n---\n" + alphaWith("host: mac") + "---\n"},
		{name: "comments only", catalog: "# nothing here yet\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := testCatalogFS(map[string]*string{"catalog.yaml": &tt.catalog, "more.yaml": nil})
			if _, err := Load(context.Background(), Options{FS: fsys, Name: "cat", Home: t.TempDir()}); err != nil {
				t.Errorf("Load: %v", err)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	const secret = "s3cr3t-value"
	tests := []struct {
		name     string
		files    map[string]*string // replaces catalog files; more.yaml is always removed
		secrets  map[string]string
		mode     SecretMode
		want     []string // prefix of each line of the error, in order
		contains []string
		absent   []string
	}{
		{
			name:  "unknown field",
			files: map[string]*string{"catalog.yaml": testString(alphaWith("host: mac", "dependson: [beta]"))},
			want:  []string{`cat/catalog.yaml:7:3: Service/alpha: spec.dependson: unknown field "dependson" (did you mean "dependsOn"?) (known: `},
			// the known names include the right spelling
			contains: []string{"dependsOn"},
		},
		{
			name:  "unknown nested field",
			files: map[string]*string{"catalog.yaml": testString(alphaWith("host: mac", "health:", "  startup: {type: port, prot: 80}"))},
			want:  []string{`cat/catalog.yaml:8:27: Service/alpha: spec.health.startup.prot: unknown field "prot"`},
		},
		{
			name:  "wrong type integer",
			files: map[string]*string{"catalog.yaml": testString(alphaWith("host: mac", "port: eighty"))},
			want:  []string{`cat/catalog.yaml:7:9: Service/alpha: spec.port: expected an integer, got str "eighty"`},
		},
		{
			name:  "wrong type list",
			files: map[string]*string{"catalog.yaml": testString(alphaWith("host: mac", "dependsOn: beta"))},
			want:  []string{`cat/catalog.yaml:7:14: Service/alpha: spec.dependsOn: expected a list, got str "beta"`},
		},
		{
			name:  "wrong type bool",
			files: map[string]*string{"catalog.yaml": testString(alphaWith("host: mac", "enabled: yes"))},
			want:  []string{`cat/catalog.yaml:7:12: Service/alpha: spec.enabled: expected true or false, got str "yes"`},
		},
		{
			name:  "unknown kind",
			files: map[string]*string{"catalog.yaml": testString("apiVersion: sanctum.haus/v1\nkind: Widget\nmetadata:\n  name: alpha\n")},
			want:  []string{`cat/catalog.yaml:2:7: Widget/alpha: kind: Unsupported value: unknown kind "Widget" (known: `},
		},
		{
			name:  "missing kind",
			files: map[string]*string{"catalog.yaml": testString("apiVersion: sanctum.haus/v1\nmetadata:\n  name: alpha\n")},
			want:  []string{`cat/catalog.yaml:1:1: kind: Required value: every object needs a kind`},
		},
		{
			name:  "not a mapping",
			files: map[string]*string{"catalog.yaml": testString("- a\n- b\n")},
			want:  []string{`cat/catalog.yaml:1:1: an object must be a mapping`},
		},
		{
			name:  "invalid YAML",
			files: map[string]*string{"catalog.yaml": testString("apiVersion: sanctum.haus/v1\nkind: Service\nspec: {host: [\n")},
			want:  []string{`cat/catalog.yaml:3:`},
			// positioned by yaml.v3's line
			contains: []string{"invalid YAML: "},
		},
		{
			name: "duplicate name",
			files: map[string]*string{"catalog.yaml": testString(alphaWith("host: mac") + "---\n" +
				serviceDoc("alpha", "host: vm"))},
			want: []string{`cat/catalog.yaml:11:9: Service/alpha: metadata.name: Duplicate value: "alpha" (first declared at cat/catalog.yaml:4)`},
		},
		{
			name: "duplicate name across files",
			files: map[string]*string{
				"catalog.yaml": testString(alphaWith("host: mac")),
				"z.yaml":       testString("# second\n" + serviceDoc("alpha", "host: vm")),
			},
			want: []string{`cat/z.yaml:5:9: Service/alpha: metadata.name: Duplicate value: "alpha" (first declared at cat/catalog.yaml:4)`},
		},
		{
			name: "port shared by two enabled services",
			files: map[string]*string{"catalog.yaml": testString(serviceDoc("beta", "host: mac", "port: 1200") + "---\n" +
				alphaWith("host: mac", "port: 1200"))},
			want: []string{`cat/catalog.yaml:7:9: Service/beta: spec.port: Duplicate value: 1200 (also the port of enabled Service/alpha)`},
		},
		{
			name: "port shared with an instance port",
			files: map[string]*string{"catalog.yaml": testString(alphaWith("host: mac", "instanceKey: voice_agent") + "---\n" +
				serviceDoc("beta", "host: mac", "port: 1138"))},
			want: []string{`cat/catalog.yaml:15:9: Service/beta: spec.port: Duplicate value: 1138 (also the port of enabled Service/alpha)`},
		},
		{
			name:  "dangling dependsOn",
			files: map[string]*string{"catalog.yaml": testString(alphaWith("host: mac", "dependsOn: [ghost]"))},
			want:  []string{`cat/catalog.yaml:7:15: Service/alpha: spec.dependsOn[0]: Not found: "ghost"`},
		},
		{
			name: "dependency that failed to decode is not also dangling",
			files: map[string]*string{"catalog.yaml": testString(alphaWith("host: mac", "dependsOn: [beta]") + "---\n" +
				serviceDoc("beta", "host: mac", "colour: red"))},
			want: []string{`cat/catalog.yaml:15:3: Service/beta: spec.colour: unknown field "colour"`},
		},
		{
			name: "cycle",
			files: map[string]*string{"catalog.yaml": testString(alphaWith("host: mac", "dependsOn: [beta]") + "---\n" +
				serviceDoc("beta", "host: mac", "dependsOn: [gamma]") + "---\n" +
				serviceDoc("gamma", "host: mac", "dependsOn: [alpha]"))},
			want: []string{`cat/catalog.yaml:7:15: Service/alpha: spec.dependsOn[0]: Invalid value: "beta": dependency cycle: alpha -> beta -> gamma -> alpha`},
		},
		{
			name: "cycle reported at the edge that closes it",
			files: map[string]*string{"catalog.yaml": testString(alphaWith("host: mac", "dependsOn: [zeta, beta]") + "---\n" +
				serviceDoc("beta", "host: mac", "dependsOn: [alpha]") + "---\n" +
				serviceDoc("zeta", "host: mac"))},
			want: []string{`cat/catalog.yaml:7:21: Service/alpha: spec.dependsOn[1]: Invalid value: "beta": dependency cycle: alpha -> beta -> alpha`},
		},
		{
			name:     "missing template key",
			files:    map[string]*string{"catalog.yaml": testString(alphaWith("host: mac", `port: "{{ .services.nope.port }}"`))},
			want:     []string{`cat/catalog.yaml:7:9: Service/alpha: spec.port: template: `},
			contains: []string{`map has no entry for key "nope"`},
			absent:   []string{"template: Service/alpha:1:"},
		},
		{
			name:  "template syntax error",
			files: map[string]*string{"catalog.yaml": testString(alphaWith("host: mac", `displayName: "{{ .network.vm_ip "`))},
			want:  []string{`cat/catalog.yaml:7:16: Service/alpha: spec.displayName: template: `},
		},
		{
			name:  "missing secret",
			files: map[string]*string{"catalog.yaml": testString(alphaWith("host: mac", `displayName: '{{ secret "api-token" }}'`))},
			want:  []string{`cat/catalog.yaml:7:16: Service/alpha: spec.displayName: secret "api-token" not found: no file ~/.sanctum/secrets/api-token`},
		},
		{
			name:  "secret name that would leave the secrets folder",
			files: map[string]*string{"catalog.yaml": testString(alphaWith("host: mac", `displayName: '{{ secret "../../.ssh/id_ed25519" }}'`))},
			want:  []string{`cat/catalog.yaml:7:16: Service/alpha: spec.displayName: secret name "../../.ssh/id_ed25519": use letters, digits`},
		},
		{
			name:    "empty secret",
			files:   map[string]*string{"catalog.yaml": testString(alphaWith("host: mac", `displayName: '{{ secret "api-token" }}'`))},
			secrets: map[string]string{"api-token": "\n"},
			want:    []string{`cat/catalog.yaml:7:16: Service/alpha: spec.displayName: secret "api-token" is empty`},
		},
		{
			name:    "secret quoted in a decoding error is masked",
			files:   map[string]*string{"catalog.yaml": testString(alphaWith("host: mac", `port: '{{ secret "api-token" }}'`))},
			secrets: map[string]string{"api-token": secret + "\n"},
			want:    []string{`cat/catalog.yaml:7:9: Service/alpha: spec.port: expected an integer, got str "***"`},
			absent:  []string{secret},
		},
		{
			name: "secret quoted in a validation error is masked",
			files: map[string]*string{"catalog.yaml": testString(alphaWith("host: mac", "health:",
				`  readiness: {type: http, url: '{{ secret "api-token" }}'}`))},
			secrets: map[string]string{"api-token": secret},
			want:    []string{`cat/catalog.yaml:8:34: Service/alpha: spec.health.readiness.url: Invalid value: "***": must be an absolute http or https URL`},
			absent:  []string{secret},
		},
		{
			name:  "validation error located",
			files: map[string]*string{"catalog.yaml": testString(alphaWith("host: pi"))},
			want:  []string{`cat/catalog.yaml:6:9: Service/alpha: spec.host: Unsupported value: "pi"`},
		},
		{
			name:  "unknown instanceKey",
			files: map[string]*string{"catalog.yaml": testString(alphaWith("host: mac", "instanceKey: nokey"))},
			want:  []string{`cat/catalog.yaml:7:16: Service/alpha: spec.instanceKey: Not found: "nokey (no services.nokey in instance.yaml)"`},
		},
		{
			name: "every problem at once, sorted by file and position",
			files: map[string]*string{
				"catalog.yaml": testString(alphaWith("host: mac", "dependsOn: [ghost]", "port: 99999")),
				"a.yaml":       testString("apiVersion: sanctum.haus/v1\nkind: Widget\nmetadata:\n  name: w\n"),
				"b.yaml":       testString(serviceDoc("beta", "host: mac", "dependsOn: [alpha, nobody]")),
			},
			want: []string{
				`cat/a.yaml:2:7: Widget/w: kind: Unsupported value`,
				`cat/b.yaml:7:22: Service/beta: spec.dependsOn[1]: Not found: "nobody"`,
				`cat/catalog.yaml:8:9: Service/alpha: spec.port: Invalid value: 99999: must be between 1 and 65535`,
			},
		},
		{
			name:     "missing instance.yaml",
			files:    map[string]*string{"instance.yaml": nil},
			want:     []string{`cat/instance.yaml: `},
			contains: []string{"cat/instance.yaml: missing"},
		},
		{
			name:  "empty instance.yaml",
			files: map[string]*string{"instance.yaml": testString("")},
			want:  []string{`cat/instance.yaml: empty: instance.slug is required`},
		},
		{
			name:  "instance.yaml without slug",
			files: map[string]*string{"instance.yaml": testString("services: {}\n")},
			want:  []string{`cat/instance.yaml:1:1: instance.slug: Required value`},
		},
		{
			name:  "instance.yaml wrong type",
			files: map[string]*string{"instance.yaml": testString("instance:\n  slug: demo\nservices:\n  voice_agent: {enabled: yes, port: 1138}\n")},
			want:  []string{`cat/instance.yaml:4:26: services[voice_agent].enabled: expected true or false, got str "yes"`},
		},
		{
			name:  "instance.yaml port out of range",
			files: map[string]*string{"instance.yaml": testString("instance:\n  slug: demo\nservices:\n  voice_agent: {enabled: true, port: 70000}\n")},
			want:  []string{`cat/instance.yaml:4:38: services[voice_agent].port: Invalid value: 70000: must be between 1 and 65535`},
		},
		{
			name:  "instance.yaml unknown field",
			files: map[string]*string{"instance.yaml": testString("instance:\n  slug: demo\n  colour: red\n")},
			want:  []string{`cat/instance.yaml:3:3: instance.colour: unknown field "colour"`},
		},
		{
			name:  "agent_capabilities.yaml not YAML",
			files: map[string]*string{"agent_capabilities.yaml": testString("agents: [\n")},
			want:  []string{`cat/agent_capabilities.yaml:`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]*string{"more.yaml": nil}
			for k, v := range tt.files {
				files[k] = v
			}
			opts := Options{FS: testCatalogFS(files), Name: "cat", Home: testHome(t, tt.secrets), Secrets: tt.mode}
			cat, err := Load(context.Background(), opts)
			if err == nil {
				t.Fatalf("Load succeeded with %d services, want an error", len(cat.Services))
			}
			var merr *multierror.Error
			if !errors.As(err, &merr) {
				t.Fatalf("Load error is %T, want *multierror.Error: %v", err, err)
			}
			for _, e := range merr.Errors {
				var de *Error
				if !errors.As(e, &de) {
					t.Errorf("wrapped error %T, want *desired.Error: %v", e, e)
				}
			}
			msg := err.Error()
			lines := strings.Split(msg, "\n")
			got := make([]string, len(lines))
			for i, line := range lines {
				got[i] = line
				if i < len(tt.want) && len(line) > len(tt.want[i]) {
					got[i] = line[:len(tt.want[i])]
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("error lines (prefixes) mismatch (-want +got):\n%s\nfull error:\n%s", diff, msg)
			}
			for _, s := range tt.contains {
				if !strings.Contains(msg, s) {
					t.Errorf("error does not contain %q:\n%s", s, msg)
				}
			}
			for _, s := range tt.absent {
				if strings.Contains(msg, s) {
					t.Errorf("error contains %q:\n%s", s, msg)
				}
			}
		})
	}
}

func TestLoadSecrets(t *testing.T) {
	const catalog = `apiVersion: sanctum.haus/v1
kind: Service
metadata:
  name: alpha
spec:
  host: mac
  displayName: 'Alpha {{ secret "api-token" }}'
  health:
    readiness: {type: http, url: "http://127.0.0.1:1/", headers: {Authorization: 'Bearer {{ secret "api-token" }}', X-Other: '{{ secret "other.key" }}'}}
`
	tests := []struct {
		name        string
		mode        SecretMode
		secrets     map[string]string
		wantDisplay string
		wantHeaders map[string]string
		wantValues  []string
	}{
		{
			name:        "resolved from the home, trailing newline dropped, each value listed once",
			mode:        ResolveSecrets,
			secrets:     map[string]string{"api-token": "tok-123\n", "other.key": "k-9\r\n"},
			wantDisplay: "Alpha tok-123",
			wantHeaders: map[string]string{"Authorization": "Bearer tok-123", "X-Other": "k-9"},
			wantValues:  []string{"tok-123", "k-9"},
		},
		{
			name:        "placeholders, no secret needed",
			mode:        PlaceholderSecrets,
			wantDisplay: "Alpha <secret:api-token>",
			wantHeaders: map[string]string{"Authorization": "Bearer <secret:api-token>", "X-Other": "<secret:other.key>"},
		},
		{
			name:        "placeholders even when the secret exists",
			mode:        PlaceholderSecrets,
			secrets:     map[string]string{"api-token": "tok-123\n", "other.key": "k-9"},
			wantDisplay: "Alpha <secret:api-token>",
			wantHeaders: map[string]string{"Authorization": "Bearer <secret:api-token>", "X-Other": "<secret:other.key>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := testCatalogFS(map[string]*string{"catalog.yaml": testString(catalog), "more.yaml": nil})
			cat, err := Load(context.Background(), Options{FS: fsys, Name: "cat", Home: testHome(t, tt.secrets), Secrets: tt.mode})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			s := cat.Services[0]
			if diff := cmp.Diff(tt.wantDisplay, s.Spec.DisplayName); diff != "" {
				t.Errorf("DisplayName mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantHeaders, s.Spec.Health.Readiness.Headers); diff != "" {
				t.Errorf("Headers mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantValues, cat.SecretValues); diff != "" {
				t.Errorf("SecretValues mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadLongSecretMaskedInError(t *testing.T) {
	long := "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN" // 50 bytes
	fsys := testCatalogFS(map[string]*string{
		"catalog.yaml": testString(alphaWith("host: mac", `port: '{{ secret "api-token" }}'`)),
		"more.yaml":    nil,
	})
	_, err := Load(context.Background(), Options{FS: fsys, Name: "cat", Home: testHome(t, map[string]string{"api-token": long}), Secrets: ResolveSecrets})
	if err == nil {
		t.Fatal("Load succeeded, want an error")
	}
	if strings.Contains(err.Error(), long[:20]) {
		t.Errorf("error shows part of the secret:\n%s", err)
	}
}

func TestLoadInstanceJSONWithNumericKeys(t *testing.T) {
	inst := "instance:\n  slug: demo\nusers:\n  501: {name: neo}\n"
	fsys := testCatalogFS(map[string]*string{"instance.yaml": &inst, "catalog.yaml": nil, "more.yaml": nil})
	cat, err := Load(context.Background(), Options{FS: fsys, Name: "cat", Home: t.TempDir()})
	if err != nil {
		// An error naming the key would be a fine answer too.
		return
	}
	want := "{\n  \"instance\": {\n    \"slug\": \"demo\"\n  },\n  \"users\": {\n    \"501\": {\n      \"name\": \"neo\"\n    }\n  }\n}\n"
	if diff := cmp.Diff(want, string(cat.Calibration[0].Spec.Content)); diff != "" {
		t.Errorf(".instance.json mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadDigest(t *testing.T) {
	load := func(t *testing.T, fsys fstest.MapFS) string {
		t.Helper()
		cat, err := Load(context.Background(), Options{FS: fsys, Name: "cat", Home: t.TempDir()})
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		return cat.Digest
	}
	base := load(t, testCatalogFS(nil))
	if diff := cmp.Diff(base, load(t, testCatalogFS(nil))); diff != "" {
		t.Errorf("Digest differs between two loads of the same catalog (-want +got):\n%s", diff)
	}
	flip := func(s string, i int) *string {
		b := []byte(s)
		b[i] ^= 0x01 // "spec" -> "rpec" would break decoding; change a comment or value byte
		return testString(string(b))
	}
	tests := []struct {
		name  string
		files map[string]*string
	}{
		{name: "one byte of an object file", files: map[string]*string{"catalog.yaml": flip(testCatalogYAML, 2)}},
		{name: "one byte of instance.yaml", files: map[string]*string{"instance.yaml": testString(strings.Replace(testInstanceYAML, "Demo &", "Demo +", 1))}},
		{name: "one byte of agent_capabilities.yaml", files: map[string]*string{"agent_capabilities.yaml": testString(strings.Replace(testCapabilitiesYAML, "read", "reae", 1))}},
		{name: "a trailing newline more", files: map[string]*string{"more.yaml": testString(testMoreYAML + "\n")}},
		{name: "an object file fewer", files: map[string]*string{"more.yaml": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := load(t, testCatalogFS(tt.files)); got == base {
				t.Errorf("Digest unchanged (%s) after changing the catalog", got)
			}
		})
	}
}

// The loader records which fields of which object took a value from
// secret (names only), in every secret mode, and a compiled agent knows
// those of its service's launchAgent: the pass decides secret-bearing
// targets by them and the twin, never by searching the render.
func TestLoadSecretFields(t *testing.T) {
	const catalog = `apiVersion: sanctum.haus/v1
kind: Service
metadata:
  name: alpha
spec:
  host: mac
  launchAgent:
    programArguments: ["/opt/alpha", '--token={{ slice (secret "api-token") 2 }}']
  health:
    readiness: {type: http, url: "http://127.0.0.1:1/", headers: {Authorization: 'Bearer {{ secret "api-token" }}'}}
---
apiVersion: sanctum.haus/v1
kind: Service
metadata:
  name: beta
spec:
  host: mac
  displayName: '{{ .instance.slug }}'
  launchAgent:
    programArguments: ["/opt/beta"]
`
	for _, mode := range []SecretMode{ResolveSecrets, PlaceholderSecrets, SentinelSecrets} {
		fsys := testCatalogFS(map[string]*string{"catalog.yaml": testString(catalog), "more.yaml": nil})
		cat, err := Load(context.Background(), Options{FS: fsys, Name: "cat", Home: testHome(t, map[string]string{"api-token": "tok-123"}), Secrets: mode})
		if err != nil {
			t.Fatalf("mode %d: Load: %v", mode, err)
		}
		want := map[string][]string{
			"Service/alpha":     {"spec.launchAgent.programArguments[1]", "spec.health.readiness.headers.Authorization"},
			"LaunchAgent/alpha": {"spec.programArguments[1]"},
		}
		if diff := cmp.Diff(want, cat.SecretFields); diff != "" {
			t.Errorf("mode %d: SecretFields (-want +got):\n%s", mode, diff)
		}
		for _, tt := range []struct {
			kind, name string
			want       bool
		}{{"Service", "alpha", true}, {"LaunchAgent", "alpha", true}, {"Service", "beta", false}, {"LaunchAgent", "beta", false}} {
			if got := cat.TookSecret(tt.kind, tt.name); got != tt.want {
				t.Errorf("mode %d: TookSecret(%s/%s) = %v, want %v", mode, tt.kind, tt.name, got, tt.want)
			}
		}
	}
}

// Where a secret may not go: what a name or a path holds is kept where no
// file mode protects it.
func TestSecretFieldRefused(t *testing.T) {
	tests := []struct {
		kind, path, want string
	}{
		{"Service", "metadata.labels.team", "a name"},
		{"Service", "spec.wrapper.target", "a symlink's target"},
		{"Service", "spec.helpers[3].name", "a path"},
		{"Service", "spec.helpers[0].source", "a path"},
		{"Service", "spec.dependsOn[1]", "a name"},
		{"Service", "spec.launchAgent.label", "a name"},
		{"Service", "spec.launchAgent.fileName", "a name"},
		{"Service", "spec.launchAgent.workingDirectory", "a path"},
		{"Service", "spec.launchAgent.standardErrorPath", "a path"},
		{"Service", "spec.launchAgent.restartOn[0]", "a path"},
		{"LaunchAgent", "spec.standardOutPath", "a path"},
		{"LaunchAgent", "spec.label", "a name"},
		{"PersonaFile", "spec.source.path", "a path"},
		{"PersonaFile", "spec.nodes[0]", "a name"},
		{"RemoteNode", "spec.alias", "a name"},
		{"RemoteNode", "spec.home", "a path"},
		// What only a file holds.
		{"Service", "spec.displayName", ""},
		{"Service", "spec.health.readiness.headers.Authorization", ""},
		{"Service", "spec.health.liveness.command", ""},
		{"Service", "spec.health.readiness.url", ""},
		{"Service", "spec.launchAgent.programArguments[2]", ""},
		{"Service", "spec.launchAgent.environment.TOKEN", ""},
		{"Service", "spec.launchAgent.environment.spec.wrapper", ""},
		{"Service", "spec.remediation.restartCommand", ""},
		{"LaunchAgent", "spec.environment.TOKEN", ""},
		{"LaunchAgent", "spec.programArguments[0]", ""},
	}
	for _, tt := range tests {
		if got := secretFieldRefused(tt.kind, tt.path); got != tt.want {
			t.Errorf("secretFieldRefused(%s, %s) = %q, want %q", tt.kind, tt.path, got, tt.want)
		}
	}
}
