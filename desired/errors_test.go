package desired

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestSplitPath(t *testing.T) {
	tests := []struct {
		path string
		want []string
	}{
		{path: "", want: nil},
		{path: "spec", want: []string{"spec"}},
		{path: "spec.port", want: []string{"spec", "port"}},
		{path: "spec.dependsOn[1]", want: []string{"spec", "dependsOn", "1"}},
		{path: "services[voice_agent].port", want: []string{"services", "voice_agent", "port"}},
		{path: "spec.health.readiness.url", want: []string{"spec", "health", "readiness", "url"}},
		{path: "metadata.labels[app.kubernetes.io/name]", want: []string{"metadata", "labels", "app.kubernetes.io/name"}},
		{path: "a[0][1].b", want: []string{"a", "0", "1", "b"}},
		{path: "[0]", want: []string{"0"}},
		{path: "a[unterminated", want: []string{"a", "unterminated"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, splitPath(tt.path)); diff != "" {
				t.Errorf("splitPath(%q) mismatch (-want +got):\n%s", tt.path, diff)
			}
		})
	}
}

// A service object; line numbers are in the comments of the test table.
const locateService = `apiVersion: sanctum.haus/v1
kind: Service
metadata:
  name: voice-agent
spec:
  host: mac
  port: 1138
  dependsOn: [qwen3-tts, whisper]
  provides:
    - voice
    - speech
  health:
    readiness:
      type: http
      url: "http://127.0.0.1:1138/health"
    startup: {type: port, port: 1138}
`

// An instance.yaml with an alias.
const locateInstance = `instance:
  slug: demo
defaults: &on {enabled: true, port: 1}
services:
  voice_agent:
    enabled: true
    port: 1138
  tts: *on
`

type position struct{ Line, Column int }

func parseYAML(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("parse: %v", err)
	}
	return &doc
}

func TestLocate(t *testing.T) {
	service := parseYAML(t, locateService)
	instance := parseYAML(t, locateInstance)
	tests := []struct {
		name string
		root *yaml.Node
		path string
		want position
	}{
		{name: "root", root: service, path: "", want: position{1, 1}},
		{name: "scalar at its value", root: service, path: "spec.port", want: position{7, 9}},
		{name: "metadata.name", root: service, path: "metadata.name", want: position{4, 9}},
		{name: "block mapping at its key", root: service, path: "spec", want: position{5, 1}},
		{name: "flow list at its bracket", root: service, path: "spec.dependsOn", want: position{8, 14}},
		{name: "flow list element", root: service, path: "spec.dependsOn[1]", want: position{8, 26}},
		{name: "flow list element 0", root: service, path: "spec.dependsOn[0]", want: position{8, 15}},
		{name: "block list at its key", root: service, path: "spec.provides", want: position{9, 3}},
		{name: "block list element", root: service, path: "spec.provides[1]", want: position{11, 7}},
		{name: "nested block scalar", root: service, path: "spec.health.readiness.url", want: position{15, 12}},
		{name: "nested block mapping at its key", root: service, path: "spec.health.readiness", want: position{13, 5}},
		{name: "flow mapping at its brace", root: service, path: "spec.health.startup", want: position{16, 14}},
		{name: "scalar in a flow mapping", root: service, path: "spec.health.startup.port", want: position{16, 33}},
		{name: "missing leaf falls back to its parent", root: service, path: "spec.health.readiness.expectStatus", want: position{13, 5}},
		{name: "missing middle falls back to the deepest existing", root: service, path: "spec.health.liveness.port", want: position{12, 3}},
		{name: "missing top level falls back to the root", root: service, path: "status.conditions", want: position{1, 1}},
		{name: "index out of range", root: service, path: "spec.dependsOn[5]", want: position{8, 14}},
		{name: "index not a number", root: service, path: "spec.dependsOn[x]", want: position{8, 14}},
		{name: "below a scalar", root: service, path: "spec.port.value", want: position{7, 9}},
		{name: "map key in brackets", root: instance, path: "services[voice_agent].port", want: position{7, 11}},
		{name: "map key block at its key", root: instance, path: "services[voice_agent]", want: position{5, 3}},
		{name: "missing map key", root: instance, path: "services[nope].port", want: position{4, 1}},
		{name: "through an alias", root: instance, path: "services[tts].port", want: position{3, 37}},
		{name: "nil root", root: nil, path: "spec.port", want: position{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line, col := locate(tt.root, tt.path)
			if diff := cmp.Diff(tt.want, position{line, col}); diff != "" {
				t.Errorf("locate(%q) mismatch (-want +got):\n%s", tt.path, diff)
			}
		})
	}
}

func TestLocateWithoutDocumentNode(t *testing.T) {
	doc := parseYAML(t, locateService)
	line, col := locate(doc.Content[0], "spec.port")
	if diff := cmp.Diff(position{7, 9}, position{line, col}); diff != "" {
		t.Errorf("locate on the mapping itself (-want +got):\n%s", diff)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{name: "everything", err: &Error{File: "cat/catalog.yaml", Line: 8, Column: 14, Object: "Service/a", Field: "spec.port", Msg: "bad"},
			want: "cat/catalog.yaml:8:14: Service/a: spec.port: bad"},
		{name: "no position", err: &Error{File: "cat/instance.yaml", Msg: "missing"},
			want: "cat/instance.yaml: missing"},
		{name: "no object", err: &Error{File: "cat/instance.yaml", Line: 3, Column: 5, Field: "services[x].port", Msg: "bad"},
			want: "cat/instance.yaml:3:5: services[x].port: bad"},
		{name: "no field", err: &Error{File: "f.yaml", Line: 1, Column: 1, Object: "Widget/x", Msg: "bad"},
			want: "f.yaml:1:1: Widget/x: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.err.Error()); diff != "" {
				t.Errorf("Error() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFieldErrors(t *testing.T) {
	doc := parseYAML(t, locateService)
	errs := field.ErrorList{
		field.Duplicate(field.NewPath("spec", "dependsOn").Index(1), "whisper"),
		field.Required(field.NewPath("spec", "health", "readiness", "expectStatus"), "say which"),
	}
	want := []*Error{
		{File: "cat/catalog.yaml", Line: 8, Column: 26, Object: "Service/voice-agent", Field: "spec.dependsOn[1]", Msg: `Duplicate value: "whisper"`},
		{File: "cat/catalog.yaml", Line: 13, Column: 5, Object: "Service/voice-agent", Field: "spec.health.readiness.expectStatus", Msg: "Required value: say which"},
	}
	got := fieldErrors("cat/catalog.yaml", "Service/voice-agent", nodeLocator{doc}, errs)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fieldErrors mismatch (-want +got):\n%s", diff)
	}
}
