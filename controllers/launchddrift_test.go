package controllers

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/observed"
)

func intp(n int) *int { return &n }

// printed is what a full print shows of an agent loaded from spec.
func printed(spec v1.LaunchAgentSpec) *observed.ServiceInfo {
	shown := map[string]bool{"program": true, "arguments": true, "environment": true, "properties": true,
		"spawn type": true, "minimum runtime": true}
	env := map[string]string{"XPC_SERVICE_NAME": "com.sanctum.x", "OSLogRateLimit": "64"}
	for k, v := range spec.Environment {
		env[k] = v
	}
	var props []string
	if spec.KeepAlive {
		props = append(props, "keepalive")
	}
	if spec.RunAtLoad {
		props = append(props, "runatload")
	}
	return &observed.ServiceInfo{Definition: true, Shown: shown, Program: spec.ProgramArguments[0],
		Arguments: spec.ProgramArguments, Environment: env, WorkingDirectory: spec.WorkingDirectory,
		StdoutPath: spec.StandardOutPath, StderrPath: spec.StandardErrorPath, Properties: append(props, "inferred program"),
		RunInterval: spec.StartInterval, CalendarIntervals: plistCalendar(spec.StartCalendarInterval),
		SpawnType: spawnTypes[spec.ProcessType], MinimumRuntime: 10}
}

func TestLoadedDrift(t *testing.T) {
	base := v1.LaunchAgentSpec{ProgramArguments: []string{"/opt/x/bin/x", "--serve"},
		Environment: map[string]string{"MODE": "calm", "TOKEN": "s3cr3t"}, WorkingDirectory: "/var/x",
		StandardOutPath: "/var/x/out.log", RunAtLoad: true, KeepAlive: true, ProcessType: "Interactive",
		StartCalendarInterval: []v1.CalendarInterval{{Hour: intp(7), Minute: intp(30)}, {Hour: intp(19)}}}
	tests := []struct {
		name string
		edit func(*observed.ServiceInfo)
		want []string
	}{
		{"in line", func(*observed.ServiceInfo) {}, nil},
		{"launchd's own variables", func(i *observed.ServiceInfo) { delete(i.Environment, "OSLogRateLimit") }, nil},
		{"calendar order", func(i *observed.ServiceInfo) {
			i.CalendarIntervals[0], i.CalendarIntervals[1] = i.CalendarIntervals[1], i.CalendarIntervals[0]
		}, nil},
		{"keepalive off", func(i *observed.ServiceInfo) { i.Properties = []string{"runatload"} },
			[]string{"loaded KeepAlive=false, plist says true"}},
		{"environment, never a value", func(i *observed.ServiceInfo) {
			i.Environment["TOKEN"] = "old"
			i.Environment["EXTRA"] = "1"
			delete(i.Environment, "MODE")
		}, []string{"loaded EnvironmentVariables sets EXTRA, plist does not",
			"loaded EnvironmentVariables lacks MODE, plist sets it",
			"loaded EnvironmentVariables TOKEN differs from the plist's"}},
		{"paths and schedule", func(i *observed.ServiceInfo) {
			i.WorkingDirectory, i.StdoutPath, i.StderrPath = "", "/tmp/o", "/tmp/e"
			i.RunInterval = 60
			i.CalendarIntervals = nil
		}, []string{"loaded WorkingDirectory=(unset), plist says /var/x",
			"loaded StandardOutPath=/tmp/o, plist says /var/x/out.log",
			"loaded StandardErrorPath=/tmp/e, plist says (unset)",
			"loaded StartInterval=60, plist says (unset)",
			"loaded StartCalendarInterval=(unset), plist says [Hour=19 Hour=7,Minute=30]"}},
		{"process type and throttle", func(i *observed.ServiceInfo) { i.SpawnType, i.MinimumRuntime = "daemon", 30 },
			[]string{"loaded ProcessType=Standard, plist says Interactive",
				"loaded ThrottleInterval=30, plist says 10 (launchd's default)"}},
		{"program and arguments", func(i *observed.ServiceInfo) {
			i.Program, i.Arguments = "/opt/old/x", []string{"/opt/old/x"}
		}, []string{"loaded Program=/opt/old/x, plist says /opt/x/bin/x",
			"loaded ProgramArguments (1) differ from the plist's (2)"}},
		{"a key print does not show is not compared", func(i *observed.ServiceInfo) {
			i.Properties, i.SpawnType = nil, "background"
			delete(i.Shown, "properties")
			delete(i.Shown, "spawn type")
		}, nil},
		{"a partial answer (no Definition) compares only what it shows", func(i *observed.ServiceInfo) {
			i.Definition, i.WorkingDirectory, i.CalendarIntervals = false, "", nil
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &v1.LaunchAgent{ObjectMeta: v1.ObjectMeta{Name: "x"}, Spec: base}
			info := printed(base)
			tt.edit(info)
			if diff := cmp.Diff(tt.want, loadedDrift(a, info)); diff != "" {
				t.Errorf("loadedDrift mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
