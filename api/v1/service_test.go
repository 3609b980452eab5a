package v1

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// testFieldErr is what a test asserts of one field.Error: where and what kind.
type testFieldErr struct {
	Type  field.ErrorType
	Field string
}

func testFieldErrs(errs field.ErrorList) []testFieldErr {
	var out []testFieldErr
	for _, fe := range errs {
		out = append(out, testFieldErr{Type: fe.Type, Field: fe.Field})
	}
	return out
}

func testPtr[T any](v T) *T { return &v }

// validService is a Service that passes Validate, with every optional part
// filled in, for cases to break one thing at a time.
func testValidService() *Service {
	return &Service{
		TypeMeta:   TypeMeta{APIVersion: APIVersion, Kind: KindService},
		ObjectMeta: ObjectMeta{Name: "voice-agent", Labels: map[string]string{"host": "mac"}},
		Spec: ServiceSpec{
			DisplayName: "Voice Agent",
			Host:        "mac",
			Type:        "service",
			Provides:    []string{"voice"},
			DependsOn:   []string{"qwen3-tts", "whisper"},
			Port:        1138,
			InstanceKey: "voice_agent",
			LaunchAgent: &LaunchAgentSpec{Label: "com.sanctum.voice-agent", ProgramArguments: []string{"/Users/neo/.sanctum/bin/sanctum-voice-agent"}},
			Health: Health{
				Startup:   &Probe{Type: ProbePort, Port: 1138, Timeout: 120},
				Readiness: &Probe{Type: ProbeHTTP, URL: "http://127.0.0.1:1138/health", ExpectStatus: 200, Headers: map[string]string{"Authorization": "Bearer x"}, Timeout: 10},
				Liveness:  &Probe{Type: ProbeProcess, Process: "voice-agent", Interval: 60},
			},
			Remediation: &Remediation{ResponsibleAgent: "quigon", EscalationLevel: 2, MaxRestarts: 3, Cooldown: 30},
		},
	}
}

func TestServiceValidate(t *testing.T) {
	const (
		invalid      = field.ErrorTypeInvalid
		required     = field.ErrorTypeRequired
		notSupported = field.ErrorTypeNotSupported
		duplicate    = field.ErrorTypeDuplicate
		forbidden    = field.ErrorTypeForbidden
	)
	tests := []struct {
		name   string
		mutate func(s *Service)
		want   []testFieldErr
	}{
		{name: "valid service", mutate: func(*Service) {}},
		{name: "minimal valid service", mutate: func(s *Service) {
			*s = Service{TypeMeta: TypeMeta{APIVersion: APIVersion, Kind: KindService}, ObjectMeta: ObjectMeta{Name: "a"}, Spec: ServiceSpec{Host: "vm"}}
		}},
		{name: "type network", mutate: func(s *Service) { s.Spec.Type = "network" }},
		{name: "type empty defaults", mutate: func(s *Service) { s.Spec.Type = "" }},
		{name: "bad host", mutate: func(s *Service) { s.Spec.Host = "linux" },
			want: []testFieldErr{{notSupported, "spec.host"}}},
		{name: "missing host", mutate: func(s *Service) { s.Spec.Host = "" },
			want: []testFieldErr{{required, "spec.host"}}},
		{name: "bad type", mutate: func(s *Service) { s.Spec.Type = "daemon" },
			want: []testFieldErr{{notSupported, "spec.type"}}},
		{name: "port 0 means none", mutate: func(s *Service) { s.Spec.Port = 0 }},
		{name: "port 1 ok", mutate: func(s *Service) { s.Spec.Port = 1 }},
		{name: "port 65535 ok", mutate: func(s *Service) { s.Spec.Port = 65535 }},
		{name: "port 65536 bad", mutate: func(s *Service) { s.Spec.Port = 65536 },
			want: []testFieldErr{{invalid, "spec.port"}}},
		{name: "port 70000 bad", mutate: func(s *Service) { s.Spec.Port = 70000 },
			want: []testFieldErr{{invalid, "spec.port"}}},
		{name: "port negative bad", mutate: func(s *Service) { s.Spec.Port = -1 },
			want: []testFieldErr{{invalid, "spec.port"}}},
		{name: "enabled and instanceKey both set", mutate: func(s *Service) { s.Spec.Enabled = testPtr(true) },
			want: []testFieldErr{{invalid, "spec.enabled"}}},
		{name: "enabled false and instanceKey both set", mutate: func(s *Service) { s.Spec.Enabled = testPtr(false) },
			want: []testFieldErr{{invalid, "spec.enabled"}}},
		{name: "enabled without instanceKey", mutate: func(s *Service) { s.Spec.InstanceKey = ""; s.Spec.Enabled = testPtr(false) }},
		{name: "self dependency", mutate: func(s *Service) { s.Spec.DependsOn = []string{"qwen3-tts", "voice-agent"} },
			want: []testFieldErr{{invalid, "spec.dependsOn[1]"}}},
		{name: "duplicate dependsOn", mutate: func(s *Service) { s.Spec.DependsOn = []string{"qwen3-tts", "qwen3-tts"} },
			want: []testFieldErr{{duplicate, "spec.dependsOn[1]"}}},
		{name: "duplicate dependsOn reported at each repeat", mutate: func(s *Service) { s.Spec.DependsOn = []string{"a", "b", "a", "a"} },
			want: []testFieldErr{{duplicate, "spec.dependsOn[2]"}, {duplicate, "spec.dependsOn[3]"}}},
		{name: "self dependency twice is invalid both times", mutate: func(s *Service) { s.Spec.DependsOn = []string{"voice-agent", "voice-agent"} },
			want: []testFieldErr{{invalid, "spec.dependsOn[0]"}, {invalid, "spec.dependsOn[1]"}}},
		{name: "empty provides entry", mutate: func(s *Service) { s.Spec.Provides = []string{"voice", ""} },
			want: []testFieldErr{{required, "spec.provides[1]"}}},
		{name: "launchAgent without program", mutate: func(s *Service) { s.Spec.LaunchAgent = &LaunchAgentSpec{} },
			want: []testFieldErr{{required, "spec.launchAgent.programArguments"}}},
		{name: "launchAgent with a relative program", mutate: func(s *Service) {
			s.Spec.LaunchAgent = &LaunchAgentSpec{ProgramArguments: []string{"sanctum-voice-agent", "~/x"}}
		},
			want: []testFieldErr{{invalid, "spec.launchAgent.programArguments[0]"}, {invalid, "spec.launchAgent.programArguments[1]"}}},
		{name: "port probe missing port", mutate: func(s *Service) { s.Spec.Health.Startup = &Probe{Type: ProbePort} },
			want: []testFieldErr{{invalid, "spec.health.startup.port"}}},
		{name: "port probe port out of range", mutate: func(s *Service) { s.Spec.Health.Startup = &Probe{Type: ProbePort, Port: 70000} },
			want: []testFieldErr{{invalid, "spec.health.startup.port"}}},
		{name: "http probe missing url", mutate: func(s *Service) { s.Spec.Health.Readiness = &Probe{Type: ProbeHTTP} },
			want: []testFieldErr{{required, "spec.health.readiness.url"}}},
		{name: "http probe relative url", mutate: func(s *Service) { s.Spec.Health.Readiness = &Probe{Type: ProbeHTTP, URL: "/health"} },
			want: []testFieldErr{{invalid, "spec.health.readiness.url"}}},
		{name: "http probe non-http scheme", mutate: func(s *Service) { s.Spec.Health.Readiness = &Probe{Type: ProbeHTTP, URL: "ftp://host/x"} },
			want: []testFieldErr{{invalid, "spec.health.readiness.url"}}},
		{name: "http probe https ok", mutate: func(s *Service) { s.Spec.Health.Readiness = &Probe{Type: ProbeHTTP, URL: "https://host:8443/x"} }},
		{name: "http probe bad expectStatus", mutate: func(s *Service) { s.Spec.Health.Readiness.ExpectStatus = 700 },
			want: []testFieldErr{{invalid, "spec.health.readiness.expectStatus"}}},
		{name: "command probe missing command", mutate: func(s *Service) { s.Spec.Health.Liveness = &Probe{Type: ProbeCommand} },
			want: []testFieldErr{{required, "spec.health.liveness.command"}}},
		{name: "command probe ok", mutate: func(s *Service) { s.Spec.Health.Liveness = &Probe{Type: ProbeCommand, Command: "true"} }},
		{name: "process probe missing process", mutate: func(s *Service) { s.Spec.Health.Liveness = &Probe{Type: ProbeProcess} },
			want: []testFieldErr{{required, "spec.health.liveness.process"}}},
		{name: "interface probe missing interface", mutate: func(s *Service) { s.Spec.Health.Liveness = &Probe{Type: ProbeInterface} },
			want: []testFieldErr{{required, "spec.health.liveness.interface"}}},
		{name: "interface probe ok", mutate: func(s *Service) { s.Spec.Health.Liveness = &Probe{Type: ProbeInterface, Interface: "bridge100"} }},
		{name: "unknown probe type", mutate: func(s *Service) { s.Spec.Health.Startup = &Probe{Type: "tcp", Port: 1} },
			want: []testFieldErr{{notSupported, "spec.health.startup.type"}}},
		{name: "probe without type", mutate: func(s *Service) { s.Spec.Health.Startup = &Probe{} },
			want: []testFieldErr{{required, "spec.health.startup.type"}}},
		{name: "headers on a port probe", mutate: func(s *Service) { s.Spec.Health.Startup.Headers = map[string]string{"X": "y"} },
			want: []testFieldErr{{forbidden, "spec.health.startup.headers"}}},
		{name: "expectStatus on a process probe", mutate: func(s *Service) { s.Spec.Health.Liveness.ExpectStatus = 200 },
			want: []testFieldErr{{forbidden, "spec.health.liveness.headers"}}},
		{name: "negative timeout", mutate: func(s *Service) { s.Spec.Health.Readiness.Timeout = -1 },
			want: []testFieldErr{{invalid, "spec.health.readiness.timeout"}}},
		{name: "negative interval", mutate: func(s *Service) { s.Spec.Health.Liveness.Interval = -5 },
			want: []testFieldErr{{invalid, "spec.health.liveness.interval"}}},
		{name: "negative remediation values", mutate: func(s *Service) {
			s.Spec.Remediation = &Remediation{EscalationLevel: -1, MaxRestarts: -1, Cooldown: -1}
		}, want: []testFieldErr{
			{invalid, "spec.remediation.escalationLevel"},
			{invalid, "spec.remediation.maxRestarts"},
			{invalid, "spec.remediation.cooldown"},
		}},
		{name: "name uppercase", mutate: func(s *Service) { s.Name = "Voice-Agent" },
			want: []testFieldErr{{invalid, "metadata.name"}}},
		{name: "name underscore", mutate: func(s *Service) { s.Name = "voice_agent" },
			want: []testFieldErr{{invalid, "metadata.name"}}},
		{name: "name too long", mutate: func(s *Service) { s.Name = "a123456789012345678901234567890123456789012345678901234567890123" },
			want: []testFieldErr{{invalid, "metadata.name"}}},
		{name: "name missing", mutate: func(s *Service) { s.Name = "" },
			want: []testFieldErr{{required, "metadata.name"}}},
		{name: "bad label key", mutate: func(s *Service) { s.Labels = map[string]string{"bad key": "mac"} },
			want: []testFieldErr{{invalid, "metadata.labels[bad key]"}}},
		{name: "bad label value", mutate: func(s *Service) { s.Labels = map[string]string{"host": "not a value"} },
			want: []testFieldErr{{invalid, "metadata.labels[host]"}}},
		{name: "bad apiVersion", mutate: func(s *Service) { s.APIVersion = "sanctum.haus/v2" },
			want: []testFieldErr{{notSupported, "apiVersion"}}},
		{name: "missing apiVersion", mutate: func(s *Service) { s.APIVersion = "" },
			want: []testFieldErr{{notSupported, "apiVersion"}}},
		{name: "several problems in field order", mutate: func(s *Service) {
			s.APIVersion = "v1"
			s.Name = "Bad_Name"
			s.Spec.Host = "pi"
			s.Spec.Port = 0
			s.Spec.Health.Startup = &Probe{Type: ProbePort, Port: 99999, Timeout: -1}
			s.Spec.Health.Readiness = &Probe{Type: ProbeHTTP}
			s.Spec.Health.Liveness = nil
		}, want: []testFieldErr{
			{notSupported, "apiVersion"},
			{invalid, "metadata.name"},
			{notSupported, "spec.host"},
			{invalid, "spec.health.startup.port"},
			{invalid, "spec.health.startup.timeout"},
			{required, "spec.health.readiness.url"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testValidService()
			tt.mutate(s)
			got := testFieldErrs(s.Validate())
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate() field errors mismatch (-want +got):\n%s\nall errors: %v", diff, s.Validate())
			}
		})
	}
}

func TestServiceValidateBadValues(t *testing.T) {
	// The value an error quotes is the offending one, so that a reader of
	// "spec.dependsOn[1]: Duplicate value" sees which name.
	tests := []struct {
		name      string
		dependsOn []string
		want      []any
	}{
		{name: "duplicate", dependsOn: []string{"a", "a"}, want: []any{"a"}},
		{name: "self", dependsOn: []string{"voice-agent"}, want: []any{"voice-agent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testValidService()
			s.Spec.DependsOn = tt.dependsOn
			var got []any
			for _, fe := range s.Validate() {
				got = append(got, fe.BadValue)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("BadValue mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServiceIsEnabled(t *testing.T) {
	tests := []struct {
		name    string
		enabled *bool
		want    bool
	}{
		{name: "unset means enabled", enabled: nil, want: true},
		{name: "true", enabled: testPtr(true), want: true},
		{name: "false", enabled: testPtr(false), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Service{Spec: ServiceSpec{Enabled: tt.enabled}}
			if diff := cmp.Diff(tt.want, s.IsEnabled()); diff != "" {
				t.Errorf("IsEnabled() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
