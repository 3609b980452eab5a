package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

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
	var problems bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "The last pass from the ledger and the live health of every service",
		Long: `status reads the last pass from ~/.sanctum/state/reconcile.json and probes every
enabled service (readiness, else liveness, else startup probe), dependencies
first. A failed service whose dependency is down is a casualty; one whose
dependencies are up is a root cause. The text lists every enabled service in a
table (name, host, state, probe, for how long, detail); --problems lists only
the failing ones (down and casualty). -o json holds every service either way.
Secret values and token shapes are masked. Exit 0 healthy, 2 degraded, 1 error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.output != "text" && a.output != "json" {
				return &exitError{ExitError, fmt.Errorf("-o %q: want text or json", a.output)}
			}
			cat, err := a.loadCatalog(cmd.Context(), desired.ResolveSecrets)
			if err != nil {
				return err
			}
			host, done, err := a.readHome()
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
				Health: controllers.CheckHealth(cmd.Context(), cat, a.prober(), observed.NewLaunchctl(), now)}
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
	return cmd
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
// every enabled service, or with problems of only the failing ones.
//
// The table's FOR column (how long the service has been in its state) is
// "-": launchctl print shows no start or exit time, the ledger records
// passes and not health, and status writes nothing, so when a state began
// is not known.
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cell(s.Name), cell(s.Host), cell(s.State), cell(s.Probe), "-", cell(detailOf(s)))
	}
	tw.Flush()
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
