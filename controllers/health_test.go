package controllers

import (
	"context"
	"fmt"
	"os"
	"path"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/observed"
)

// stubProber answers port probes from a table of open ports and records the
// host each port was probed on.
type stubProber struct {
	up map[int]bool

	mu    sync.Mutex
	hosts map[int]string
}

var _ observed.Prober = (*stubProber)(nil)

func (s *stubProber) Probe(_ context.Context, p *v1.Probe, host string) observed.ProbeResult {
	s.mu.Lock()
	if s.hosts == nil {
		s.hosts = make(map[int]string)
	}
	s.hosts[p.Port] = host
	s.mu.Unlock()
	if s.up[p.Port] {
		return observed.ProbeResult{OK: true, Detail: fmt.Sprintf("port %d open", p.Port), Duration: 1500 * time.Microsecond}
	}
	return observed.ProbeResult{OK: false, Detail: fmt.Sprintf("port %d refused", p.Port)}
}

// healthService is one Service document of a test catalog; probe is a flow
// mapping for spec.health, "" for none.
func healthService(name, host string, deps []string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: sanctum.haus/v1\nkind: Service\nmetadata:\n  name: %s\nspec:\n  host: %s\n", name, host)
	if len(deps) > 0 {
		fmt.Fprintf(&b, "  dependsOn: [%s]\n", strings.Join(deps, ", "))
	}
	for _, e := range extra {
		b.WriteString("  " + e + "\n")
	}
	return b.String()
}

func portProbe(port int) string {
	return fmt.Sprintf("health: {readiness: {type: port, port: %d}}", port)
}

func loadHealthCatalog(t *testing.T, docs ...string) *desired.Catalog {
	t.Helper()
	fsys := fstest.MapFS{
		"instance.yaml": {Data: []byte("instance: {slug: t}\nnetwork: {vm_ip: 10.0.0.2}\n")},
		"catalog.yaml":  {Data: []byte(strings.Join(docs, "---\n"))},
	}
	cat, err := desired.Load(context.Background(), desired.Options{FS: fsys, Name: "test", Home: t.TempDir(), Secrets: desired.PlaceholderSecrets})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cat
}

// healthSummary is what a test compares of a report.
type healthSummary struct {
	Healthy, Total int
	Overall        string
	RootCauses     []string
	Casualties     []string
	States         map[string]string
	DownDeps       map[string][]string
}

func summarize(rep *HealthReport) healthSummary {
	s := healthSummary{Healthy: rep.Healthy, Total: rep.Total, Overall: rep.Overall,
		RootCauses: rep.RootCauses, Casualties: rep.Casualties,
		States: map[string]string{}, DownDeps: map[string][]string{}}
	for _, h := range rep.Services {
		s.States[h.Name] = h.State
		if len(h.DownDeps) > 0 {
			s.DownDeps[h.Name] = h.DownDeps
		}
	}
	return s
}

func TestCheckHealth(t *testing.T) {
	tests := []struct {
		name string
		docs []string
		up   map[int]bool
		want healthSummary
	}{
		{
			name: "all up",
			docs: []string{
				healthService("a", "mac", nil, portProbe(1001)),
				healthService("b", "mac", []string{"a"}, portProbe(1002)),
			},
			up: map[int]bool{1001: true, 1002: true},
			want: healthSummary{Healthy: 2, Total: 2, Overall: "healthy",
				RootCauses: []string{}, Casualties: []string{},
				States:   map[string]string{"a": HealthHealthy, "b": HealthHealthy},
				DownDeps: map[string][]string{}},
		},
		{
			name: "chain all down: base is the root cause",
			docs: []string{
				healthService("base", "mac", nil, portProbe(1001)),
				healthService("mid", "mac", []string{"base"}, portProbe(1002)),
				healthService("top", "mac", []string{"mid"}, portProbe(1003)),
			},
			up: map[int]bool{},
			want: healthSummary{Healthy: 0, Total: 3, Overall: "degraded",
				RootCauses: []string{"base"}, Casualties: []string{"mid", "top"},
				States:   map[string]string{"base": HealthDown, "mid": HealthCasualty, "top": HealthCasualty},
				DownDeps: map[string][]string{"mid": {"base"}, "top": {"base"}}},
		},
		{
			name: "down with its dependency up is a root cause",
			docs: []string{
				healthService("base", "mac", nil, portProbe(1001)),
				healthService("mid", "mac", []string{"base"}, portProbe(1002)),
				healthService("top", "mac", []string{"mid"}, portProbe(1003)),
			},
			up: map[int]bool{1001: true},
			want: healthSummary{Healthy: 1, Total: 3, Overall: "degraded",
				RootCauses: []string{"mid"}, Casualties: []string{"top"},
				States:   map[string]string{"base": HealthHealthy, "mid": HealthDown, "top": HealthCasualty},
				DownDeps: map[string][]string{"top": {"mid"}}},
		},
		{
			name: "two independent roots under one casualty",
			docs: []string{
				healthService("db", "mac", nil, portProbe(1001)),
				healthService("cache", "mac", nil, portProbe(1002)),
				healthService("app", "mac", []string{"db", "cache"}, portProbe(1003)),
			},
			up: map[int]bool{},
			want: healthSummary{Healthy: 0, Total: 3, Overall: "degraded",
				RootCauses: []string{"cache", "db"}, Casualties: []string{"app"},
				States:   map[string]string{"db": HealthDown, "cache": HealthDown, "app": HealthCasualty},
				DownDeps: map[string][]string{"app": {"cache", "db"}}},
		},
		{
			name: "casualty through an unprobed service",
			docs: []string{
				healthService("base", "mac", nil, portProbe(1001)),
				healthService("mid", "mac", []string{"base"}),
				healthService("top", "mac", []string{"mid"}, portProbe(1003)),
			},
			up: map[int]bool{},
			want: healthSummary{Healthy: 0, Total: 2, Overall: "degraded",
				RootCauses: []string{"base"}, Casualties: []string{"top"},
				States:   map[string]string{"base": HealthDown, "mid": HealthUnprobed, "top": HealthCasualty},
				DownDeps: map[string][]string{"top": {"base"}}},
		},
		{
			name: "unprobed service is not counted",
			docs: []string{
				healthService("a", "mac", nil, portProbe(1001)),
				healthService("quiet", "mac", nil),
			},
			up: map[int]bool{1001: true},
			want: healthSummary{Healthy: 1, Total: 1, Overall: "healthy",
				RootCauses: []string{}, Casualties: []string{},
				States:   map[string]string{"a": HealthHealthy, "quiet": HealthUnprobed},
				DownDeps: map[string][]string{}},
		},
		{
			name: "disabled service is absent",
			docs: []string{
				healthService("a", "mac", nil, portProbe(1001)),
				healthService("off", "mac", nil, "enabled: false", portProbe(1002)),
			},
			up: map[int]bool{1001: true},
			want: healthSummary{Healthy: 1, Total: 1, Overall: "healthy",
				RootCauses: []string{}, Casualties: []string{},
				States:   map[string]string{"a": HealthHealthy},
				DownDeps: map[string][]string{}},
		},
		{
			name: "up service depending on a down one stays healthy",
			docs: []string{
				healthService("base", "mac", nil, portProbe(1001)),
				healthService("top", "mac", []string{"base"}, portProbe(1002)),
			},
			up: map[int]bool{1002: true},
			want: healthSummary{Healthy: 1, Total: 2, Overall: "degraded",
				RootCauses: []string{"base"}, Casualties: []string{},
				States:   map[string]string{"base": HealthDown, "top": HealthHealthy},
				DownDeps: map[string][]string{}},
		},
		{
			name: "no services",
			docs: []string{},
			want: healthSummary{Healthy: 0, Total: 0, Overall: "healthy",
				RootCauses: []string{}, Casualties: []string{},
				States: map[string]string{}, DownDeps: map[string][]string{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat := loadHealthCatalog(t, tt.docs...)
			rep := CheckHealth(context.Background(), cat, &stubProber{up: tt.up}, nil, testNow)
			if diff := cmp.Diff(tt.want, summarize(rep)); diff != "" {
				t.Errorf("CheckHealth mismatch (-want +got):\n%s", diff)
			}
			var names []string
			for _, h := range rep.Services {
				names = append(names, h.Name)
			}
			if !sortedStrings(names) {
				t.Errorf("Services not sorted by name: %v", names)
			}
		})
	}
}

func sortedStrings(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] > s[i] {
			return false
		}
	}
	return true
}

// TestCheckHealthProbeHost: a VM service's port probe goes to the VM's
// address, a Mac service's to 127.0.0.1.
func TestCheckHealthProbeHost(t *testing.T) {
	cat := loadHealthCatalog(t,
		healthService("on-mac", "mac", nil, portProbe(1001)),
		healthService("on-vm", "vm", nil, portProbe(1002)),
	)
	p := &stubProber{up: map[int]bool{1001: true, 1002: true}}
	rep := CheckHealth(context.Background(), cat, p, nil, testNow)
	if diff := cmp.Diff(map[int]string{1001: "127.0.0.1", 1002: "10.0.0.2"}, p.hosts); diff != "" {
		t.Errorf("probed hosts mismatch (-want +got):\n%s", diff)
	}
	type row struct{ Name, Host, Probe, Detail string }
	var got []row
	for _, h := range rep.Services {
		got = append(got, row{h.Name, h.Host, h.Probe, h.Detail})
	}
	want := []row{
		{"on-mac", "mac", "readiness", "port 1001 open"},
		{"on-vm", "vm", "readiness", "port 1002 open"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("services mismatch (-want +got):\n%s", diff)
	}
}

// TestCheckHealthProbeChoice: readiness, else liveness, else startup.
func TestCheckHealthProbeChoice(t *testing.T) {
	tests := []struct {
		name, health, wantKind string
		wantPort               int
	}{
		{name: "readiness first", wantKind: "readiness", wantPort: 1001,
			health: "health: {startup: {type: port, port: 1003}, liveness: {type: port, port: 1002}, readiness: {type: port, port: 1001}}"},
		{name: "liveness without readiness", wantKind: "liveness", wantPort: 1002,
			health: "health: {startup: {type: port, port: 1003}, liveness: {type: port, port: 1002}}"},
		{name: "startup alone", wantKind: "startup", wantPort: 1003,
			health: "health: {startup: {type: port, port: 1003}}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat := loadHealthCatalog(t, healthService("a", "mac", nil, tt.health))
			p := &stubProber{up: map[int]bool{}}
			rep := CheckHealth(context.Background(), cat, p, nil, testNow)
			if len(rep.Services) != 1 {
				t.Fatalf("got %d services, want 1", len(rep.Services))
			}
			if diff := cmp.Diff(tt.wantKind, rep.Services[0].Probe); diff != "" {
				t.Errorf("probe kind mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[int]string{tt.wantPort: "127.0.0.1"}, p.hosts); diff != "" {
				t.Errorf("probed ports mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCheckHealthConditions: each service gets one Ready condition.
func TestCheckHealthConditions(t *testing.T) {
	cat := loadHealthCatalog(t,
		healthService("base", "mac", nil, portProbe(1001)),
		healthService("mid", "mac", []string{"base"}, portProbe(1002)),
		healthService("ok", "mac", nil, portProbe(1003)),
		healthService("quiet", "mac", nil),
	)
	rep := CheckHealth(context.Background(), cat, &stubProber{up: map[int]bool{1003: true}}, nil, testNow)
	at := metav1.NewTime(testNow)
	want := map[string][]metav1.Condition{
		"base": {{Type: "Ready", Status: metav1.ConditionFalse, Reason: "ProbeFailed",
			Message: "port 1001 refused", LastTransitionTime: at}},
		"mid": {{Type: "Ready", Status: metav1.ConditionFalse, Reason: "DependencyDown",
			Message: "needs base, which is down; port 1002 refused", LastTransitionTime: at}},
		"ok": {{Type: "Ready", Status: metav1.ConditionTrue, Reason: "ProbeSucceeded",
			Message: "port 1003 open", LastTransitionTime: at}},
		"quiet": {{Type: "Ready", Status: metav1.ConditionUnknown, Reason: "NoProbe",
			Message: "the service declares no probe", LastTransitionTime: at}},
	}
	got := map[string][]metav1.Condition{}
	for _, h := range rep.Services {
		got[h.Name] = h.Conditions
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("conditions mismatch (-want +got):\n%s", diff)
	}
	// The catalog's services carry the same conditions.
	for _, s := range cat.Services {
		if diff := cmp.Diff(want[s.Name], s.Status.Conditions); diff != "" {
			t.Errorf("%s: Status.Conditions mismatch (-want +got):\n%s", s.Name, diff)
		}
	}
}

// TestCheckHealthPeriodic: a job launchd does not keep alive is judged by
// its last exit (healthy at 0, not-yet-run before a first run, down with
// the code, down when not loaded, unprobed without launchd), never by its
// process probe; a kept-alive one is still probed. Hosts count every
// enabled service; not-yet-run does not degrade.
func TestCheckHealthPeriodic(t *testing.T) {
	job := func(name string, extra ...string) string {
		return healthService(name, "mac", nil, append([]string{
			"launchAgent: {programArguments: [/opt/" + name + "], startInterval: 300}",
			"health: {liveness: {type: process, process: " + name + "}}"}, extra...)...)
	}
	cat := loadHealthCatalog(t,
		job("ok"), job("fresh"), job("broken"), job("killed"), job("gone"),
		healthService("daemon", "mac", nil, "launchAgent: {programArguments: [/opt/d], keepAlive: true}", portProbe(1001)),
		healthService("after", "mac", []string{"broken"}, portProbe(1002)),
		healthService("remote", "vm", nil, portProbe(1003)),
	)
	prints := map[string]*observed.ServiceInfo{
		"com.sanctum.ok":     {LastExitCode: "0", Runs: 4},
		"com.sanctum.fresh":  {LastExitCode: "(never exited)"},
		"com.sanctum.broken": {LastExitCode: "78: EX_CONFIG", Runs: 27},
		"com.sanctum.killed": {LastSignal: "Killed: 9", Runs: 2},
	}
	l := &fakeLaunchd{PrintFn: func(_ context.Context, target string) (*observed.ServiceInfo, error) {
		if info, ok := prints[path.Base(target)]; ok {
			return info, nil
		}
		return nil, observed.ErrNotLoaded
	}}
	p := &stubProber{up: map[int]bool{1001: true, 1002: true, 1003: true}}
	rep := CheckHealth(context.Background(), cat, p, l, testNow)
	got := map[string]string{}
	for _, s := range rep.Services {
		got[s.Name] = s.State + " " + s.Probe + ": " + s.Detail
	}
	uid := os.Getuid()
	want := map[string]string{
		"ok":     "healthy launchd: last run exited 0 (runs 4)",
		"fresh":  fmt.Sprintf("not-yet-run launchd: gui/%d/com.sanctum.fresh has not exited since it was loaded (runs 0)", uid),
		"broken": "down launchd: last exit code 78: EX_CONFIG (runs 27)",
		"killed": "down launchd: last run killed: Killed: 9 (runs 2)",
		"gone":   fmt.Sprintf("down launchd: gui/%d/com.sanctum.gone is not loaded", uid),
		"daemon": "healthy readiness: port 1001 open",
		"after":  "healthy readiness: port 1002 open",
		"remote": "healthy readiness: port 1003 open",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("states mismatch (-want +got):\n%s", diff)
	}
	if _, probed := p.hosts[0]; probed {
		t.Errorf("a periodic job's process probe was run")
	}
	wantHosts := []HostHealth{{Host: "mac", Healthy: 3, Total: 7, NotYetRun: 1}, {Host: "vm", Healthy: 1, Total: 1}}
	if diff := cmp.Diff(wantHosts, rep.Hosts); diff != "" {
		t.Errorf("hosts mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"broken", "gone", "killed"}, rep.RootCauses); diff != "" {
		t.Errorf("root causes mismatch (-want +got):\n%s", diff)
	}

	// Only fresh has not run: healthy overall.
	prints = map[string]*observed.ServiceInfo{"com.sanctum.ok": {LastExitCode: "0"}, "com.sanctum.fresh": {},
		"com.sanctum.broken": {LastExitCode: "0"}, "com.sanctum.killed": {LastExitCode: "0"}, "com.sanctum.gone": {LastExitCode: "0"}}
	if rep := CheckHealth(context.Background(), cat, p, l, testNow); rep.Overall != "healthy" || rep.Healthy != 7 || rep.Total != 8 {
		t.Errorf("with one job not yet run: overall %s, %d/%d; want healthy, 7/8", rep.Overall, rep.Healthy, rep.Total)
	}

	// Without launchd the jobs are unprobed, not down.
	rep = CheckHealth(context.Background(), cat, p, observed.NoLaunchd{}, testNow)
	for _, s := range rep.Services {
		if s.Probe == ProbeLaunchd && (s.State != HealthUnprobed || !strings.HasPrefix(s.Detail, "launchd state unknown")) {
			t.Errorf("%s without launchd: %s (%s)", s.Name, s.State, s.Detail)
		}
	}
}
