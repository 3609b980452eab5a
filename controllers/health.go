package controllers

import (
	"context"
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
)

// ServiceHealth is one service's live health.
type ServiceHealth struct {
	Name       string             `json:"name"`
	Host       string             `json:"host"`
	Probe      string             `json:"probe,omitempty"` // readiness, liveness or startup
	State      string             `json:"state"`
	Detail     string             `json:"detail,omitempty"`
	DownDeps   []string           `json:"downDependencies,omitempty"`
	Seconds    float64            `json:"seconds"`
	Conditions []metav1.Condition `json:"conditions"`
}

// HealthReport is the haus's health at one moment.
type HealthReport struct {
	Healthy    int             `json:"healthy"`
	Total      int             `json:"total"`
	Overall    string          `json:"overall"` // healthy | degraded
	RootCauses []string        `json:"rootCauses"`
	Casualties []string        `json:"casualties"`
	Services   []ServiceHealth `json:"services"`
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

// CheckHealth probes every enabled service, dependencies first and
// independent services of one depth in parallel, then separates root
// causes from casualties along the dependency graph. Each service gets a
// Ready condition.
func CheckHealth(ctx context.Context, cat *desired.Catalog, prober observed.Prober, now time.Time) *HealthReport {
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
	var mu sync.Mutex
	vmHost := cat.Instance.Network.VMIP
	for lv := 0; lv <= maxDepth; lv++ {
		observed.ForEach(MaxParallelProbes, len(levels[lv]), func(i int) {
			s := byName[levels[lv][i]]
			h := &ServiceHealth{Name: s.Name, Host: s.Spec.Host}
			kind, p := probeOf(s)
			if p == nil {
				h.State = HealthUnprobed
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
		default:
			cond.Status, cond.Reason, cond.Message = metav1.ConditionUnknown, "NoProbe", "the service declares no probe"
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
	rep.Overall = "healthy"
	if rep.Healthy < rep.Total {
		rep.Overall = "degraded"
	}
	return rep
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
