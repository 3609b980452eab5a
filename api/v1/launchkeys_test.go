package v1

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func testAgent(edit func(*LaunchAgentSpec)) *LaunchAgent {
	a := &LaunchAgent{
		TypeMeta:   TypeMeta{APIVersion: APIVersion, Kind: KindLaunchAgent},
		ObjectMeta: ObjectMeta{Name: "inbox"},
		Spec: LaunchAgentSpec{
			ProgramArguments:       []string{"/opt/inbox/bin/inbox"},
			KeepAlive:              &KeepAlive{Conditions: Conditions{SuccessfulExit: testPtr(false), PathState: map[string]bool{"/var/x/.ready": true}}},
			WatchPaths:             []string{"/var/x/conf.yaml"},
			QueueDirectories:       []string{"/var/x/queue"},
			ThrottleInterval:       testPtr(30),
			LimitLoadToSessionType: StringList{"Aqua", "Background"},
			Nice:                   testPtr(-5),
			SoftResourceLimits:     &ResourceLimits{NumberOfFiles: testPtr(int64(4096))},
			Extra:                  map[string]PlistValue{"LowPriorityIO": {true}, "ExitTimeOut": {int64(20)}},
		},
	}
	if edit != nil {
		edit(&a.Spec)
	}
	return a
}

// TestLaunchAgentKeysValidate: each key of issue 14 item 7 is checked, and
// a bad value names its field.
func TestLaunchAgentKeysValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*LaunchAgentSpec)
		want []testFieldErr
	}{
		{"valid", nil, nil},
		{"relative watch path and queue", func(s *LaunchAgentSpec) {
			s.WatchPaths, s.QueueDirectories = []string{"/ok", "conf.yaml"}, []string{"~/q"}
		}, []testFieldErr{{field.ErrorTypeInvalid, "spec.watchPaths[1]"}, {field.ErrorTypeInvalid, "spec.queueDirectories[0]"}}},
		{"negative throttle", func(s *LaunchAgentSpec) { s.ThrottleInterval = testPtr(-1) },
			[]testFieldErr{{field.ErrorTypeInvalid, "spec.throttleInterval"}}},
		{"empty KeepAlive dictionary", func(s *LaunchAgentSpec) { s.KeepAlive = &KeepAlive{} },
			[]testFieldErr{{field.ErrorTypeRequired, "spec.keepAlive"}}},
		{"KeepAlive conditions", func(s *LaunchAgentSpec) {
			s.KeepAlive = &KeepAlive{Conditions: Conditions{PathState: map[string]bool{"x": true}, OtherJobEnabled: map[string]bool{"a b": true}}}
		}, []testFieldErr{{field.ErrorTypeInvalid, "spec.keepAlive.pathState[x]"}, {field.ErrorTypeInvalid, "spec.keepAlive.otherJobEnabled[a b]"}}},
		{"KeepAlive false", func(s *LaunchAgentSpec) { s.KeepAlive = &KeepAlive{Always: testPtr(false)} }, nil},
		{"session types", func(s *LaunchAgentSpec) { s.LimitLoadToSessionType = StringList{"Aqua", "System", "Aqua", "X11"} },
			[]testFieldErr{{field.ErrorTypeInvalid, "spec.limitLoadToSessionType[1]"}, {field.ErrorTypeDuplicate, "spec.limitLoadToSessionType[2]"},
				{field.ErrorTypeNotSupported, "spec.limitLoadToSessionType[3]"}}},
		{"session type the domain is not", func(s *LaunchAgentSpec) { s.LimitLoadToSessionType = StringList{"Background"} },
			[]testFieldErr{{field.ErrorTypeInvalid, "spec.limitLoadToSessionType"}}},
		{"Background in the user domain", func(s *LaunchAgentSpec) {
			s.LimitLoadToSessionType, s.Domain = StringList{"Background"}, "user"
		}, nil},
		{"nice out of range", func(s *LaunchAgentSpec) { s.Nice = testPtr(21) }, []testFieldErr{{field.ErrorTypeInvalid, "spec.nice"}}},
		{"limits", func(s *LaunchAgentSpec) {
			s.SoftResourceLimits, s.HardResourceLimits = &ResourceLimits{}, &ResourceLimits{Stack: testPtr(int64(-1))}
		}, []testFieldErr{{field.ErrorTypeRequired, "spec.softResourceLimits"}, {field.ErrorTypeInvalid, "spec.hardResourceLimits.stack"}}},
		{"userName refused", func(s *LaunchAgentSpec) { s.UserName = "root" }, []testFieldErr{{field.ErrorTypeForbidden, "spec.userName"}}},
		{"extra: typed, refused, null, nested null", func(s *LaunchAgentSpec) {
			s.Extra = map[string]PlistValue{"Nice": {int64(1)}, "GroupName": {"wheel"}, "Null": {},
				"Deep": {[]PlistValue{{map[string]PlistValue{"x": {}}}}}}
		}, []testFieldErr{{field.ErrorTypeRequired, "spec.extra[Deep][0][x]"}, {field.ErrorTypeForbidden, "spec.extra[GroupName]"},
			{field.ErrorTypeForbidden, "spec.extra[Nice]"}, {field.ErrorTypeRequired, "spec.extra[Null]"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := testFieldErrs(testAgent(tt.edit).Validate())
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestKeepAliveYAML: KeepAlive reads and writes either shape.
func TestKeepAliveYAML(t *testing.T) {
	tests := []struct {
		in, out string
		keeps   bool
	}{
		{"true", "true\n", true},
		{"false", "false\n", false},
		{"{successfulExit: false}", "successfulExit: false\n", false},
		{"{successfulExit: true}", "successfulExit: true\n", true},
		{"{crashed: true}", "crashed: true\n", false},
		{"{pathState: {/x: true}}", "pathState:\n    /x: true\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var k KeepAlive
			if err := yaml.Unmarshal([]byte(tt.in), &k); err != nil {
				t.Fatal(err)
			}
			out, err := yaml.Marshal(k)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.out, string(out)); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			s := LaunchAgentSpec{KeepAlive: &k}
			if got := s.KeepsAlive(); got != tt.keeps {
				t.Errorf("KeepsAlive() = %v, want %v", got, tt.keeps)
			}
		})
	}
}

// TestPlistValueYAML: extra's values keep their plist types.
func TestPlistValueYAML(t *testing.T) {
	var m map[string]PlistValue
	if err := yaml.Unmarshal([]byte(`{s: "20", i: 20, f: 2.5, b: true, l: [a, 1], d: {k: false}}`), &m); err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for k, v := range m {
		got[k] = v.Plist()
	}
	want := map[string]any{"s": "20", "i": int64(20), "f": 2.5, "b": true, "l": []any{"a", int64(1)}, "d": map[string]any{"k": false}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Plist mismatch (-want +got):\n%s", diff)
	}
	back, ok := PlistValueOf(map[string]any{"l": []any{uint64(3), "x"}})
	if !ok || !cmp.Equal(back.Plist(), map[string]any{"l": []any{int64(3), "x"}}) {
		t.Errorf("PlistValueOf = %v, %v", back.Plist(), ok)
	}
	if _, ok := PlistValueOf([]byte("data")); ok {
		t.Errorf("PlistValueOf took data, which the catalog cannot write")
	}
}

// TestLaunchKeysJSON: reports and ledgers write the keys as the catalog
// does.
func TestLaunchKeysJSON(t *testing.T) {
	s := LaunchAgentSpec{KeepAlive: &KeepAlive{Always: testPtr(true)},
		Extra: map[string]PlistValue{"A": {[]PlistValue{{int64(1)}, {"x"}}}}}
	got, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"keepAlive":true,"extra":{"A":[1,"x"]}}`; string(got) != want {
		t.Errorf("json = %s, want %s", got, want)
	}
	s.KeepAlive = &KeepAlive{Conditions: Conditions{SuccessfulExit: testPtr(false)}}
	got, _ = json.Marshal(s.KeepAlive)
	if want := `{"successfulExit":false}`; string(got) != want {
		t.Errorf("json = %s, want %s", got, want)
	}
}
