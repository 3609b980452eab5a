package controllers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/observed"
)

// Health states of a service.
const (
	HealthHealthy  = "healthy"
	HealthDown     = "down"     // its probe failed and its dependencies are up: a root cause
	HealthCasualty = "casualty" // its probe failed and a dependency is down
	HealthUnprobed = "unprobed" // it declares no probe
	// HealthNotYetRun: a periodic job launchd has loaded but not run since.
	HealthNotYetRun = "not-yet-run"
)

// ProbeLaunchd is the "probe" of a periodic job: launchd's last exit.
const ProbeLaunchd = "launchd"

// ServiceHealth is one service's live health.
type ServiceHealth struct {
	Name     string   `json:"name"`
	Host     string   `json:"host"`
	Probe    string   `json:"probe,omitempty"` // readiness, liveness or startup
	State    string   `json:"state"`
	Detail   string   `json:"detail,omitempty"`
	DownDeps []string `json:"downDependencies,omitempty"`
	Seconds  float64  `json:"seconds"`
	// Unit is the state of the service's systemd unit (or of the unit its
	// systemd probe judges), read on the host that runs it.
	Unit *UnitState `json:"unit,omitempty"`
	// Since is when the service entered its state: the unit's own time
	// for a systemd probe, else from the health record (nil: unknown).
	Since *time.Time `json:"since"`
	// For is how long it has been in it, in seconds (nil: unknown).
	For        *int64             `json:"for"`
	Conditions []metav1.Condition `json:"conditions"`
}

// HostHealth counts one host's enabled services: Total is all of them,
// judged or not.
type HostHealth struct {
	Host      string `json:"host"`
	Healthy   int    `json:"healthy"`
	Total     int    `json:"total"`
	NotYetRun int    `json:"notYetRun"`
	Unprobed  int    `json:"unprobed"`
}

// HealthReport is the haus's health at one moment.
type HealthReport struct {
	Healthy    int      `json:"healthy"`
	Total      int      `json:"total"`
	Overall    string   `json:"overall"` // healthy | degraded
	RootCauses []string `json:"rootCauses"`
	Casualties []string `json:"casualties"`
	// Hosts are the counts per host (mac, vm), by host name.
	Hosts    []HostHealth    `json:"hosts"`
	Services []ServiceHealth `json:"services"`
}

// MaxParallelProbes bounds how many probes run at once.
const MaxParallelProbes = 16

// probeOf picks the probe that says "ready now": readiness, else liveness,
// else startup.
func probeOf(s *v1.Service) (string, *v1.Probe) {
	switch h := s.Spec.Health; {
	case h.Readiness != nil:
		return "readiness", h.Readiness
	case h.Liveness != nil:
		return "liveness", h.Liveness
	case h.Startup != nil:
		return "startup", h.Startup
	}
	return "", nil
}

// periodicAgent is the launch agent of a service that launchd starts and
// lets exit (StartInterval, StartCalendarInterval, a one-shot run at load:
// any agent not kept alive), or nil. Such a job is judged by its last exit,
// not by a probe: between runs no process or port of it exists.
func periodicAgent(s *v1.Service) *v1.LaunchAgentSpec {
	la := s.Spec.LaunchAgent
	if la == nil || la.KeepsAlive() {
		return nil
	}
	return la
}

// judgeByLastExit reads launchd's record of a periodic job: healthy when
// its last run exited 0, not-yet-run before its first run, down with the
// code (or not loaded) otherwise.
func judgeByLastExit(ctx context.Context, l observed.Launchd, s *v1.Service, la *v1.LaunchAgentSpec) (state, detail string) {
	kind := la.Domain
	if kind == "" {
		kind = "gui"
	}
	target := fmt.Sprintf("%s/%d/%s", kind, uid(), s.AgentLabel())
	if err := l.Available(); err != nil {
		return HealthUnprobed, "launchd state unknown: " + err.Error()
	}
	info, err := l.Print(ctx, target)
	switch {
	case errors.Is(err, observed.ErrNotLoaded):
		return HealthDown, target + " is not loaded"
	case err != nil:
		return HealthDown, err.Error()
	}
	code, exited := info.LastExit()
	switch {
	case !exited:
		return HealthNotYetRun, fmt.Sprintf("%s has not exited since it was loaded (runs %d)", target, info.Runs)
	case code == 0:
		return HealthHealthy, fmt.Sprintf("last run exited 0 (runs %d)", info.Runs)
	case info.LastExitCode == "" && info.LastSignal != "":
		return HealthDown, fmt.Sprintf("last run killed: %s (runs %d)", info.LastSignal, info.Runs)
	}
	return HealthDown, fmt.Sprintf("last exit code %s (runs %d)", info.LastExitCode, info.Runs)
}

// CheckHealth probes every enabled service, dependencies first and
// independent services of one depth in parallel, then separates root
// causes from casualties along the dependency graph. A periodic job is
// judged by launchd's record of its last exit instead (launchd may be
// observed.NoLaunchd: then it is unprobed). Each service gets a Ready
// condition.
func CheckHealth(ctx context.Context, cat *desired.Catalog, prober observed.Prober, launchd observed.Launchd, now time.Time) *HealthReport {
	return CheckHealthWith(ctx, cat, HealthSources{Prober: prober, Launchd: launchd, LocalHost: LocalHostName()}, now)
}

// CheckHealthWith is CheckHealth reading from src: a systemd probe (and
// the unit state of a service that runs under systemd) from one
// `systemctl show` for every unit, on the host that runs them; elsewhere
// such a probe is unprobed, with the reason.
func CheckHealthWith(ctx context.Context, cat *desired.Catalog, src HealthSources, now time.Time) *HealthReport {
	launchd, prober := src.Launchd, src.Prober
	if launchd == nil {
		launchd = observed.NoLaunchd{}
	}
	byName := make(map[string]*v1.Service)
	for _, s := range cat.Services {
		if s.IsEnabled() {
			byName[s.Name] = s
		}
	}
	g := cat.ServiceGraph()
	depth := make(map[string]int)
	for _, n := range g.Order() {
		for _, d := range g[n] {
			if depth[d]+1 > depth[n] {
				depth[n] = depth[d] + 1
			}
		}
	}
	levels := map[int][]string{}
	maxDepth := 0
	for n := range byName {
		levels[depth[n]] = append(levels[depth[n]], n)
		maxDepth = max(maxDepth, depth[n])
	}
	results := make(map[string]*ServiceHealth, len(byName))
	units, unitErrs := unitsOfServices(ctx, byName, src)
	var mu sync.Mutex
	vmHost := cat.Instance.Network.VMIP
	for lv := 0; lv <= maxDepth; lv++ {
		observed.ForEach(MaxParallelProbes, len(levels[lv]), func(i int) {
			s := byName[levels[lv][i]]
			h := &ServiceHealth{Name: s.Name, Host: s.Spec.Host}
			kind, p := probeOf(s)
			if la := periodicAgent(s); la != nil {
				start := time.Now()
				h.Probe = ProbeLaunchd
				h.State, h.Detail = judgeByLastExit(ctx, launchd, s, la)
				h.Seconds = time.Since(start).Round(time.Millisecond).Seconds()
			} else if p == nil {
				h.State = HealthUnprobed
			} else if p.Type == v1.ProbeSystemd {
				h.Probe = kind
				h.State, h.Detail, h.Since = judgeByUnit(s, p, units, unitErrs)
			} else {
				host := "127.0.0.1"
				if s.Spec.Host == "vm" && vmHost != "" {
					host = vmHost
				}
				r := prober.Probe(ctx, p, host)
				h.Probe, h.Detail, h.Seconds = kind, r.Detail, r.Duration.Round(time.Millisecond).Seconds()
				switch {
				case r.Skipped:
					h.State = HealthUnprobed
				case r.OK:
					h.State = HealthHealthy
				default:
					h.State = HealthDown
				}
			}
			// The unit's state beside what the probe says: the service's
			// own unit, else the one its systemd probe judges.
			switch u := s.UnitName(); {
			case u != "" && units[managedUnit(s, u)] != nil && (p == nil || p.Type != v1.ProbeSystemd || s.ProbeUnit(p) == u):
				st := units[managedUnit(s, u)]
				h.Unit = unitStateOf(st)
				switch {
				case h.State == HealthUnprobed && h.Detail == "":
					h.Detail = describeUnit(st)
				case p != nil && p.Type != v1.ProbeSystemd && periodicAgent(s) == nil:
					h.Detail += "; " + describeUnit(st)
				}
			case p != nil && p.Type == v1.ProbeSystemd && units[managedUnit(s, s.ProbeUnit(p))] != nil:
				h.Unit = unitStateOf(units[managedUnit(s, s.ProbeUnit(p))])
			}
			mu.Lock()
			results[s.Name] = h
			mu.Unlock()
		})
	}
	rep := &HealthReport{RootCauses: []string{}, Casualties: []string{}}
	for _, name := range g.Order() {
		h, ok := results[name]
		if !ok {
			continue
		}
		if h.State == HealthDown {
			h.DownDeps = downDependencies(g, results, name)
			if len(h.DownDeps) > 0 {
				h.State = HealthCasualty
			}
		}
	}
	for _, h := range results {
		cond := metav1.Condition{Type: "Ready", LastTransitionTime: metav1.NewTime(now.UTC()), Message: h.Detail}
		switch h.State {
		case HealthHealthy:
			cond.Status, cond.Reason = metav1.ConditionTrue, "ProbeSucceeded"
		case HealthDown:
			cond.Status, cond.Reason = metav1.ConditionFalse, "ProbeFailed"
		case HealthCasualty:
			cond.Status, cond.Reason = metav1.ConditionFalse, "DependencyDown"
			cond.Message = "needs " + strings.Join(h.DownDeps, ", ") + ", which is down; " + h.Detail
		case HealthNotYetRun:
			cond.Status, cond.Reason = metav1.ConditionUnknown, "NotYetRun"
		default:
			cond.Status, cond.Reason = metav1.ConditionUnknown, "NoProbe"
			if cond.Message == "" {
				cond.Message = "the service declares no probe"
			}
		}
		s := byName[h.Name]
		meta.SetStatusCondition(&s.Status.Conditions, cond)
		h.Conditions = s.Status.Conditions
		if h.State != HealthUnprobed {
			rep.Total++
		}
		switch h.State {
		case HealthHealthy:
			rep.Healthy++
		case HealthDown:
			rep.RootCauses = append(rep.RootCauses, h.Name)
		case HealthCasualty:
			rep.Casualties = append(rep.Casualties, h.Name)
		}
		rep.Services = append(rep.Services, *h)
	}
	sort.Strings(rep.RootCauses)
	sort.Strings(rep.Casualties)
	sort.Slice(rep.Services, func(i, j int) bool { return rep.Services[i].Name < rep.Services[j].Name })
	rep.Hosts = hostCounts(rep.Services)
	// A job that has not run yet is not a failure: degraded means a root
	// cause or a casualty.
	rep.Overall = "healthy"
	if len(rep.RootCauses)+len(rep.Casualties) > 0 {
		rep.Overall = "degraded"
	}
	return rep
}

// hostCounts counts every enabled service per host, sorted by host.
func hostCounts(services []ServiceHealth) []HostHealth {
	byHost := map[string]*HostHealth{}
	for _, s := range services {
		h := byHost[s.Host]
		if h == nil {
			h = &HostHealth{Host: s.Host}
			byHost[s.Host] = h
		}
		h.Total++
		switch s.State {
		case HealthHealthy:
			h.Healthy++
		case HealthNotYetRun:
			h.NotYetRun++
		case HealthUnprobed:
			h.Unprobed++
		}
	}
	out := make([]HostHealth, 0, len(byHost))
	for _, h := range byHost {
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Host < out[j].Host })
	return out
}

// downDependencies are the root causes below a service: the down services
// among its transitive dependencies whose own dependencies are up.
func downDependencies(g desired.Graph, res map[string]*ServiceHealth, name string) []string {
	seen := map[string]bool{}
	var roots []string
	var walk func(n string)
	walk = func(n string) {
		for _, d := range g[n] {
			if seen[d] {
				continue
			}
			seen[d] = true
			if h, ok := res[d]; ok && (h.State == HealthDown || h.State == HealthCasualty) {
				if len(h.DownDeps) == 0 {
					roots = append(roots, d)
				}
			}
			walk(d)
		}
	}
	walk(name)
	sort.Strings(roots)
	return roots
}
