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
	var sem map[string]string
	switch k := spec.KeepAlive; {
	case k == nil:
	case k.Always != nil && *k.Always:
		props = append(props, "keepalive")
	case k.Always == nil:
		sem = map[string]string{}
		if k.SuccessfulExit != nil {
			sem["successful exit"] = map[bool]string{true: "1", false: "0"}[*k.SuccessfulExit]
		}
		if k.Crashed != nil {
			sem["after crash"] = map[bool]string{true: "1", false: "0"}[*k.Crashed]
		}
	}
	minimum := 10
	if spec.ThrottleInterval != nil {
		minimum = *spec.ThrottleInterval
	}
	if spec.RunAtLoad {
		props = append(props, "runatload")
	}
	return &observed.ServiceInfo{Definition: true, Shown: shown, Program: spec.ProgramArguments[0],
		Arguments: spec.ProgramArguments, Environment: env, WorkingDirectory: spec.WorkingDirectory,
		StdoutPath: spec.StandardOutPath, StderrPath: spec.StandardErrorPath, Properties: append(props, "inferred program"),
		RunInterval: spec.StartInterval, CalendarIntervals: plistCalendar(spec.StartCalendarInterval),
		SpawnType: spawnTypes[spec.ProcessType], MinimumRuntime: minimum, Semaphores: sem,
		WatchPaths: spec.WatchPaths, QueueDirectories: spec.QueueDirectories,
		SoftLimits: wantLimits(spec.SoftResourceLimits), HardLimits: wantLimits(spec.HardResourceLimits)}
}

func boolp(b bool) *bool    { return &b }
func int64p(n int64) *int64 { return &n }

func TestLoadedDrift(t *testing.T) {
	base := v1.LaunchAgentSpec{ProgramArguments: []string{"/opt/x/bin/x", "--serve"},
		Environment: map[string]string{"MODE": "calm", "TOKEN": "s3cr3t"}, WorkingDirectory: "/var/x",
		StandardOutPath: "/var/x/out.log", RunAtLoad: true, KeepAlive: &v1.KeepAlive{Always: boolp(true)}, ProcessType: "Interactive",
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
				"loaded ThrottleInterval=30, plist says (unset: launchd's default 10)"}},
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

// TestLoadedDriftKeys: the keys of issue 14 item 7 that print shows.
func TestLoadedDriftKeys(t *testing.T) {
	base := v1.LaunchAgentSpec{ProgramArguments: []string{"/opt/x/bin/x"},
		KeepAlive:          &v1.KeepAlive{Conditions: v1.Conditions{SuccessfulExit: boolp(false), Crashed: boolp(true)}},
		WatchPaths:         []string{"/var/x/in", "/var/x/conf"},
		QueueDirectories:   []string{"/var/x/queue"},
		ThrottleInterval:   intp(30),
		Nice:               intp(5),
		SoftResourceLimits: &v1.ResourceLimits{NumberOfFiles: int64p(4096)},
		HardResourceLimits: &v1.ResourceLimits{Core: int64p(1<<63 - 1)},
	}
	tests := []struct {
		name string
		edit func(*observed.ServiceInfo)
		want []string
	}{
		{"in line", func(*observed.ServiceInfo) {}, nil},
		{"watch path order", func(i *observed.ServiceInfo) { i.WatchPaths = []string{"/var/x/conf", "/var/x/in"} }, nil},
		{"keepalive dictionary loaded as true", func(i *observed.ServiceInfo) {
			i.Semaphores, i.Properties = nil, []string{"keepalive"}
		}, []string{"loaded KeepAlive=true, plist says {Crashed=true SuccessfulExit=false}"}},
		{"a condition flipped", func(i *observed.ServiceInfo) { i.Semaphores["successful exit"] = "1" },
			[]string{"loaded KeepAlive={Crashed=true SuccessfulExit=true}, plist says {Crashed=true SuccessfulExit=false}"}},
		{"watch paths and queues", func(i *observed.ServiceInfo) {
			i.WatchPaths, i.QueueDirectories = []string{"/var/x/in"}, nil
		}, []string{"loaded WatchPaths=[/var/x/in], plist says [/var/x/conf /var/x/in]",
			"loaded QueueDirectories=(unset), plist says [/var/x/queue]"}},
		{"throttle", func(i *observed.ServiceInfo) { i.MinimumRuntime = 10 },
			[]string{"loaded ThrottleInterval=10, plist says 30"}},
		{"resource limits", func(i *observed.ServiceInfo) {
			i.SoftLimits = map[string]string{"maxfiles": "256"}
			i.HardLimits = nil
		}, []string{"loaded SoftResourceLimits={maxfiles=256}, plist says {maxfiles=4096}",
			"loaded HardResourceLimits=(unset), plist says {core=(infinity)}"}},
		{"nice where print shows it", func(i *observed.ServiceInfo) { i.Shown["nice"], i.Nice = true, -1 },
			[]string{"loaded Nice=-1, plist says 5"}},
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
