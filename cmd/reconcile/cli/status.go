package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/controllers"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// StatusSchemaVersion is the version of `reconcile status -o json`.
const StatusSchemaVersion = 1

// statusReport is `reconcile status -o json`, documented in the README.
type statusReport struct {
	SchemaVersion int                       `json:"schemaVersion"`
	Time          time.Time                 `json:"time"`
	LastPass      *lastPass                 `json:"lastPass"`
	Health        *controllers.HealthReport `json:"health"`
}

type lastPass struct {
	RunID   string    `json:"runId"`
	Time    time.Time `json:"time"`
	Mode    string    `json:"mode"`
	Changes int       `json:"changes"`
	Failed  int       `json:"failed"`
	// Incomplete names the required nodes the pass could not reach.
	Incomplete []string                 `json:"incomplete"`
	Summary    drift.Summary            `json:"summary"`
	Nodes      []controllers.NodeRecord `json:"nodes"`
}

func (a *app) statusCommand() *cobra.Command {
	var problems, record bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "The last pass from the ledger and the live health of every service",
		Long: `status reads the last pass from ~/.sanctum/state/reconcile.json and probes every
enabled service (readiness, else liveness, else startup probe), dependencies
first. A failed service whose dependency is down is a casualty; one whose
dependencies are up is a root cause. The text lists every enabled service in a
table (name, host, state, probe, for how long, detail); --problems lists only
the failing ones (down and casualty). -o json holds every service either way.
Secret values and token shapes are masked. Exit 0 healthy, 2 degraded, 1 error.

A systemd probe (type: systemd) judges a service by its unit's state, read
with one systemctl --user show for every unit on the host that runs them (vm);
elsewhere it is unprobed. FOR is how long a service has been in its state: a
unit's own time for a systemd probe, else from the health record
~/.sanctum/state/health.json, which only --record writes (status writes
nothing else, and without --record nothing at all).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.output != "text" && a.output != "json" {
				return &exitError{ExitError, fmt.Errorf("-o %q: want text or json", a.output)}
			}
			if _, err := a.localHost(); err != nil {
				return err
			}
			cat, err := a.loadCatalog(cmd.Context(), desired.ResolveSecrets)
			if err != nil {
				return err
			}
			src, closeSources, err := a.healthSources(cat)
			if err != nil {
				return err
			}
			defer closeSources()
			host, recorder, done, err := a.statusHome(record)
			if err != nil {
				return err
			}
			defer done()
			state, err := controllers.LoadState(host)
			if err != nil {
				return &exitError{ExitError, err}
			}
			now := a.cfg.Now()
			rep := statusReport{SchemaVersion: StatusSchemaVersion, Time: now.UTC(),
				Health: controllers.CheckHealthWith(cmd.Context(), cat, src, now)}
			prev, err := controllers.LoadHealthRecord(host)
			if err != nil {
				// A damaged record costs the FOR column, not the status;
				// --record writes a sound one.
				fmt.Fprintf(a.cfg.Stderr, "reconcile: %v (FOR unknown)\n", err)
				prev = controllers.NewHealthRecord()
			}
			next := prev.Durations(rep.Health, now, record)
			if record {
				if err := controllers.WriteHealthRecord(recorder, next); err != nil {
					return &exitError{ExitError, fmt.Errorf("status --record: %w", err)}
				}
			}
			if state.RunID != "" {
				s := state.Summary
				rep.LastPass = &lastPass{RunID: state.RunID, Time: state.Time, Mode: state.Mode,
					Changes: s.Changes(), Failed: s.Failed, Summary: s, Nodes: controllers.NodeRecordsOf(state),
					Incomplete: append([]string{}, state.Incomplete...)}
			}
			a.scrubStatus(&rep)
			if a.output == "json" {
				enc := json.NewEncoder(a.cfg.Stdout)
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return &exitError{ExitError, err}
				}
			} else {
				writeStatus(a.cfg.Stdout, &rep, problems)
			}
			if rep.Health.Overall != "healthy" {
				return &exitError{code: ExitDrift}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&problems, "problems", false, "list only the failing services (down and casualty) in the text table")
	cmd.Flags().BoolVar(&record, "record", false, "write each service's state and since when into ~/.sanctum/state/health.json (the only file status writes), so that FOR is known")
	return cmd
}

// statusHome is the home status reads, read-only; with record, also the
// door through which it writes the health record and nothing else
// (AllowOnlyHost over the read-only guard, as --check --record writes its
// ledger).
func (a *app) statusHome(record bool) (host, recorder observed.Host, done func(), err error) {
	if !record {
		host, done, err := a.readHome()
		return host, nil, done, err
	}
	home, _, err := a.resolveHome()
	if err != nil {
		return nil, nil, nil, err
	}
	real, err := observed.OpenFileHost(home)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil, nil, &exitError{ExitError, fmt.Errorf("status --record: home %s does not exist", home)}
	case err != nil:
		return nil, nil, nil, &exitError{ExitError, err}
	}
	guarded := observed.ReadOnlyHost{Host: real}
	recorder = observed.AllowOnlyHost{Host: guarded, Writer: a.maskLedgers(real), Paths: []string{controllers.HealthRecordFile}}
	return guarded, recorder, func() { real.Close() }, nil
}

// healthSources are what status and graph --health judge services by:
// the prober (--local: nothing past this host), launchd, and on host vm
// the user's systemd, asked once for every unit.
func (a *app) healthSources(cat *desired.Catalog) (controllers.HealthSources, func(), error) {
	localHost, err := a.localHost()
	if err != nil {
		return controllers.HealthSources{}, nil, err
	}
	home, _, err := a.resolveHome()
	if err != nil {
		return controllers.HealthSources{}, nil, err
	}
	src := controllers.HealthSources{Prober: a.prober(), Launchd: observed.NewLaunchctl(), LocalHost: localHost}
	done := func() {}
	switch n := cat.NodeFor(v1.SystemdHostVM); {
	case src.LocalHost == v1.SystemdHostVM:
		src.Units, src.SystemUnits = observed.NewSystemctl(), observed.NewSystemctlSystem()
	case n != nil && !a.local:
		// The units of host vm run on its node: one SSH session asks its
		// systemd for all of them (one more its system manager, when
		// services have system units), over one connection.
		ssh := observed.NewSSH(home)
		node := controllers.ObservedNode(n)
		src.Units, src.UnitsNode, done = observed.NodeUnits{SSH: ssh, Node: node}, n.Name, func() { ssh.Close() }
		src.SystemUnits = observed.NodeUnits{SSH: ssh, Node: node, System: true}
	}
	return src, done, nil
}

// scrubStatus masks secrets and token shapes in every text a status shows.
func (a *app) scrubStatus(rep *statusReport) {
	for i := range rep.Health.Services {
		s := &rep.Health.Services[i]
		s.Detail = a.redactor.Scrub(s.Detail)
		for j := range s.Conditions {
			s.Conditions[j].Message = a.redactor.Scrub(s.Conditions[j].Message)
		}
	}
	if rep.LastPass != nil {
		for i := range rep.LastPass.Nodes {
			n := &rep.LastPass.Nodes[i]
			n.Reason = a.redactor.Scrub(n.Reason)
			for k, f := range n.Files {
				f.Reason = a.redactor.Scrub(f.Reason)
				n.Files[k] = f
			}
		}
	}
}

// writeStatus writes the last pass, the health counts and a table of
// every enabled service, or with problems of only the failing ones. FOR
// is how long the service has been in its state ("-": not known).
func writeStatus(w io.Writer, rep *statusReport, problems bool) {
	if lp := rep.LastPass; lp != nil {
		fmt.Fprintf(w, "last pass: %s (%s) at %s: %d change(s), %d failed\n", lp.RunID, lp.Mode,
			lp.Time.Format("2006-01-02 15:04:05Z"), lp.Changes, lp.Failed)
		if len(lp.Incomplete) > 0 {
			fmt.Fprintf(w, "last pass incomplete: required node(s) %s unreachable\n", strings.Join(lp.Incomplete, ", "))
		}
		var nodes []string
		for _, n := range lp.Nodes {
			nodes = append(nodes, n.Name+" "+n.Status)
		}
		if len(nodes) > 0 {
			fmt.Fprintf(w, "nodes: %s\n", strings.Join(nodes, ", "))
		}
	} else {
		fmt.Fprintln(w, "last pass: none recorded (no reconcile apply yet)")
	}
	h := rep.Health
	fmt.Fprintf(w, "health: %d/%d healthy, overall: %s\n", h.Healthy, h.Total, h.Overall)
	// Per host, out of every enabled service of that host.
	for _, hh := range h.Hosts {
		line := fmt.Sprintf("  %s: %d/%d healthy", hh.Host, hh.Healthy, hh.Total)
		if hh.NotYetRun > 0 {
			line += fmt.Sprintf(", %d not yet run", hh.NotYetRun)
		}
		if hh.Unprobed > 0 {
			line += fmt.Sprintf(", %d unprobed", hh.Unprobed)
		}
		fmt.Fprintln(w, line)
	}
	var rows []controllers.ServiceHealth
	for _, s := range h.Services {
		if !problems || failing(s.State) {
			rows = append(rows, s)
		}
	}
	if len(rows) == 0 {
		if problems {
			fmt.Fprintln(w, "no failing service")
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tHOST\tSTATE\tPROBE\tFOR\tDETAIL")
	for _, s := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cell(s.Name), cell(s.Host), cell(s.State), cell(s.Probe), forOf(s), cell(detailOf(s)))
	}
	tw.Flush()
}

// forOf is the FOR cell: how long the service has been in its state, as
// kubectl writes an age (45s, 12m, 3h4m, 2d3h), "-" when unknown.
func forOf(s controllers.ServiceHealth) string {
	if s.For == nil {
		return "-"
	}
	return duration.HumanDuration(time.Duration(*s.For) * time.Second)
}

// failing: a root cause or a casualty (a job not yet run is not failing).
func failing(state string) bool {
	return state == controllers.HealthDown || state == controllers.HealthCasualty
}

// detailOf is a service's detail as the table shows it: a casualty names
// the root causes it waits on first.
func detailOf(s controllers.ServiceHealth) string {
	d := s.Detail
	if s.State == controllers.HealthCasualty && len(s.DownDeps) > 0 {
		d = "needs " + strings.Join(s.DownDeps, ", ") + ": " + d
	}
	return d
}

// cell keeps a value on one line of one table cell: "-" when empty, tabs
// and line breaks as spaces.
func cell(v string) string {
	if v == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\r':
			return ' '
		}
		return r
	}, v)
}

// prober is the live prober; with --local, one that runs nothing that
// reaches past this host (no ssh, no VM).
func (a *app) prober() observed.Prober {
	if a.local {
		return observed.LocalProber{Prober: observed.NetProber{}}
	}
	return observed.NetProber{}
}
