package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sanctum-haus/reconcile/controllers"
	"github.com/sanctum-haus/reconcile/desired"
)

// graphNode is one service in `reconcile graph -o json`.
type graphNode struct {
	Name        string   `json:"name"`
	Host        string   `json:"host"`
	Type        string   `json:"type"`
	Port        int      `json:"port,omitempty"`
	Enabled     bool     `json:"enabled"`
	LaunchAgent string   `json:"launchAgent,omitempty"`
	DependsOn   []string `json:"dependsOn"`
	// Health is the service's state under --health (controllers.Health*).
	Health string `json:"health,omitempty"`
}

func (a *app) graphCommand() *cobra.Command {
	var health bool
	cmd := &cobra.Command{
		Use:   "graph",
		Short: "The service dependency graph: -o dot (default), svg, png, mermaid or json",
		Long: `graph prints the services of the catalog, one cluster per host, with an edge
from each service to each service it depends on, dependents above their
dependencies; the services with no edge stand in a grid under their host's
graph, and a legend says what shapes and colours mean.

-o dot is Graphviz source; -o svg and -o png render it with Graphviz's dot,
which must be on PATH (macOS: brew install graphviz; Debian, Ubuntu: apt-get
install graphviz); -o mermaid is a Mermaid flowchart; -o json lists nodes,
edges and the order (dependencies first).

--health probes every enabled service as reconcile status does (status keeps
no record of its own) and colours each one by its state: healthy, down,
casualty (a dependency is down), not yet run, unprobed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.output == "svg" || a.output == "png" {
				// Before any probe: without dot there is nothing to draw.
				if _, err := exec.LookPath("dot"); err != nil {
					return &exitError{ExitError, fmt.Errorf("-o %s renders with Graphviz, whose dot is not on PATH: install it "+
						"(macOS: brew install graphviz; Debian, Ubuntu: apt-get install graphviz), or print the source "+
						"with -o dot and render it elsewhere", a.output)}
				}
			}
			secrets := desired.PlaceholderSecrets
			if health {
				secrets = desired.ResolveSecrets // probes may need them; nothing of them is drawn
			}
			cat, err := a.loadCatalog(cmd.Context(), secrets)
			if err != nil {
				return err
			}
			nodes := graphNodes(cat)
			var states map[string]string
			if health {
				src, closeSources, err := a.healthSources(cat)
				if err != nil {
					return err
				}
				defer closeSources()
				rep := controllers.CheckHealthWith(cmd.Context(), cat, src, a.cfg.Now())
				states = make(map[string]string, len(rep.Services))
				for _, s := range rep.Services {
					states[s.Name] = s.State
				}
				for i := range nodes {
					nodes[i].Health = states[nodes[i].Name]
				}
			}
			switch a.output {
			case "dot":
				writeDOT(a.cfg.Stdout, nodes, states)
			case "svg", "png":
				var src bytes.Buffer
				writeDOT(&src, nodes, states)
				return renderDOT(cmd.Context(), a.cfg.Stdout, a.output, &src)
			case "mermaid":
				writeMermaid(a.cfg.Stdout, nodes)
			case "json":
				var edges [][2]string
				for _, n := range nodes {
					for _, d := range n.DependsOn {
						edges = append(edges, [2]string{n.Name, d})
					}
				}
				if edges == nil {
					edges = [][2]string{}
				}
				enc := json.NewEncoder(a.cfg.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Nodes []graphNode `json:"nodes"`
					Edges [][2]string `json:"edges"` // [dependent, dependency]
					Order []string    `json:"order"` // dependencies first
				}{nodes, edges, cat.ServiceGraph().Order()})
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&health, "health", false, "probe every enabled service, as status does, and colour it by its health")
	return cmd
}

// renderDOT runs Graphviz's dot on src, writing the picture to w; dot's
// own complaint, if any, is the error.
func renderDOT(ctx context.Context, w io.Writer, format string, src io.Reader) error {
	var stderr bytes.Buffer
	c := exec.CommandContext(ctx, "dot", "-T"+format)
	c.Stdin, c.Stdout, c.Stderr = src, w, &stderr
	if err := c.Run(); err != nil {
		return &exitError{ExitError, fmt.Errorf("dot -T%s: %w: %s", format, err, strings.TrimSpace(stderr.String()))}
	}
	return nil
}

func graphNodes(cat *desired.Catalog) []graphNode {
	out := make([]graphNode, 0, len(cat.Services))
	for _, s := range cat.Services {
		t := s.Spec.Type
		if t == "" {
			t = "service"
		}
		deps := append([]string{}, s.Spec.DependsOn...)
		sort.Strings(deps)
		out = append(out, graphNode{Name: s.Name, Host: s.Spec.Host, Type: t, Port: s.Spec.Port, Enabled: s.IsEnabled(),
			LaunchAgent: s.AgentLabel(), DependsOn: deps})
	}
	return out
}

func byHost(nodes []graphNode) ([]string, map[string][]graphNode) {
	groups := map[string][]graphNode{}
	for _, n := range nodes {
		groups[n.Host] = append(groups[n.Host], n)
	}
	hosts := make([]string, 0, len(groups))
	for h := range groups {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	return hosts, groups
}

func nodeLabel(n graphNode, sep string) string {
	parts := []string{n.Name}
	if n.LaunchAgent != "" {
		parts = append(parts, n.LaunchAgent)
	}
	if n.Port != 0 {
		parts = append(parts, ":"+strconv.Itoa(n.Port))
	}
	if !n.Enabled {
		parts = append(parts, "(disabled)")
	}
	return strings.Join(parts, sep)
}

// mermaidID makes a Mermaid node id: letters, digits and underscores.
func mermaidID(name string) string {
	return "n_" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, name)
}

// writeMermaid writes a Mermaid flowchart, one subgraph per host.
func writeMermaid(w io.Writer, nodes []graphNode) {
	fmt.Fprintln(w, "flowchart LR")
	hosts, groups := byHost(nodes)
	for _, h := range hosts {
		fmt.Fprintf(w, "  subgraph host_%s[\"%s\"]\n", mermaidID(h)[2:], h)
		for _, n := range groups[h] {
			open, close := "[", "]"
			if n.Type == "network" {
				open, close = "([", "])"
			}
			label := strings.ReplaceAll(nodeLabel(n, "<br/>"), `"`, "#quot;")
			fmt.Fprintf(w, "    %s%s\"%s\"%s\n", mermaidID(n.Name), open, label, close)
		}
		fmt.Fprintln(w, "  end")
	}
	for _, n := range nodes {
		for _, d := range n.DependsOn {
			fmt.Fprintf(w, "  %s --> %s\n", mermaidID(n.Name), mermaidID(d))
		}
	}
	var disabled []string
	for _, n := range nodes {
		if !n.Enabled {
			disabled = append(disabled, mermaidID(n.Name))
		}
	}
	if len(disabled) > 0 {
		fmt.Fprintln(w, "  classDef disabled stroke-dasharray: 5 5,color:#888")
		fmt.Fprintf(w, "  class %s disabled\n", strings.Join(disabled, ","))
	}
	// Under --health, a class per state, filled as the DOT picture is.
	for _, h := range healthFill {
		var ids []string
		for _, n := range nodes {
			if n.Health == h.state {
				ids = append(ids, mermaidID(n.Name))
			}
		}
		if len(ids) > 0 {
			class := strings.ReplaceAll(h.state, "-", "")
			fmt.Fprintf(w, "  classDef %s fill:%s\n", class, h.fill)
			fmt.Fprintf(w, "  class %s %s\n", strings.Join(ids, ","), class)
		}
	}
}
