package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

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
}

func (a *app) graphCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "graph",
		Short: "The service dependency graph: -o dot (default), mermaid or json",
		Long: `graph prints the services of the catalog, grouped by host, with their launch
agents and ports, and an edge from each service to each service it depends on.
-o dot renders with Graphviz (reconcile graph | dot -Tsvg > haus.svg); -o
mermaid is a Mermaid flowchart; -o json lists nodes and edges.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat, err := a.loadCatalog(cmd.Context(), desired.PlaceholderSecrets)
			if err != nil {
				return err
			}
			nodes := graphNodes(cat)
			switch a.output {
			case "dot":
				writeDOT(a.cfg.Stdout, nodes)
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
			default:
				return &exitError{ExitError, fmt.Errorf("-o %q: want dot, mermaid or json", a.output)}
			}
			return nil
		},
	}
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

// writeDOT writes a Graphviz digraph, one cluster per host.
func writeDOT(w io.Writer, nodes []graphNode) {
	q := strconv.Quote
	fmt.Fprintln(w, "digraph sanctum {")
	fmt.Fprintln(w, "  rankdir=LR;")
	fmt.Fprintln(w, "  node [shape=box, style=rounded, fontname=Helvetica];")
	hosts, groups := byHost(nodes)
	for _, h := range hosts {
		fmt.Fprintf(w, "  subgraph %s {\n    label=%s;\n", q("cluster_"+h), q(h))
		for _, n := range groups[h] {
			style := ""
			switch {
			case !n.Enabled:
				style = ", style=\"rounded,dashed\", fontcolor=gray"
			case n.Type == "network":
				style = ", shape=ellipse"
			}
			fmt.Fprintf(w, "    %s [label=%s%s];\n", q(n.Name), q(nodeLabel(n, "\n")), style)
		}
		fmt.Fprintln(w, "  }")
	}
	for _, n := range nodes {
		for _, d := range n.DependsOn {
			fmt.Fprintf(w, "  %s -> %s;\n", q(n.Name), q(d))
		}
	}
	fmt.Fprintln(w, "}")
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
}
