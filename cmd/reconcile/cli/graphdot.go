package cli

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/sanctum-haus/reconcile/controllers"
)

// hostPalette gives each host cluster (in host order) a fill and a border,
// light enough that node fills and black text stay readable on them.
var hostPalette = [][2]string{
	{"#eef4fb", "#7f9fc6"}, // blue
	{"#f4effa", "#9c86c2"}, // violet
	{"#eef7ef", "#7fae86"}, // green
	{"#fbf4ea", "#c4a070"}, // sand
}

// healthFill is the fill of a node in each health state (graph --health),
// in the order the legend lists them.
var healthFill = []struct{ state, fill, legend string }{
	{controllers.HealthHealthy, "#b9e4bf", "healthy"},
	{controllers.HealthDown, "#f4a6a6", "down (root cause)"},
	{controllers.HealthCasualty, "#fbd29c", "casualty\n(a dependency is down)"},
	{controllers.HealthNotYetRun, "#fff3a8", "not yet run"},
	{controllers.HealthUnprobed, "#e4e4e4", "unprobed (no probe)"},
}

func healthColour(state string) string {
	for _, h := range healthFill {
		if h.state == state {
			return h.fill
		}
	}
	return "white"
}

// depths is, for every node, the length of the longest chain of
// dependents above it: 0 for a node nothing depends on. dot ranks a
// dependent above its dependencies the same way.
func depths(nodes []graphNode) map[string]int {
	dependents := map[string][]string{}
	for _, n := range nodes {
		for _, d := range n.DependsOn {
			dependents[d] = append(dependents[d], n.Name)
		}
	}
	depth := map[string]int{}
	var visit func(string, int) int
	visit = func(name string, guard int) int {
		if d, ok := depth[name]; ok {
			return d
		}
		d := 0
		if guard < len(nodes) { // a cycle (validation refuses them) ends here
			for _, p := range dependents[name] {
				d = max(d, visit(p, guard+1)+1)
			}
		}
		depth[name] = d
		return d
	}
	for _, n := range nodes {
		visit(n.Name, 0)
	}
	return depth
}

// gridColumns is how many columns the services of a host that neither
// need nor are needed by another take: a grid a little taller than wide
// (for 28 services, 5 columns of 6), which with the dependency graph above
// it keeps the whole picture near a screen's shape.
func gridColumns(free int) int {
	return max(1, int(math.Ceil(math.Sqrt(float64(free)*0.8))))
}

// dotLabel is a node's label: its name, then the port it listens on and
// its launch agent's label when that is not the usual com.sanctum.<name>.
func dotLabel(n graphNode) string {
	lines := []string{n.Name}
	var second []string
	if n.Port != 0 {
		second = append(second, ":"+strconv.Itoa(n.Port))
	}
	if n.LaunchAgent != "" && n.LaunchAgent != "com.sanctum."+n.Name {
		second = append(second, n.LaunchAgent)
	}
	if !n.Enabled {
		second = append(second, "disabled")
	}
	if len(second) > 0 {
		lines = append(lines, strings.Join(second, " "))
	}
	return strings.Join(lines, "\n")
}

// dotAttrs is a node's look: rounded box for a service, ellipse for a
// network; solid border when a launch agent runs it, dashed when something
// else does (an app, the VM, another job); grey when disabled; the fill
// is its health when health is known.
func dotAttrs(n graphNode, health map[string]string) string {
	style := []string{"rounded", "filled"}
	if n.LaunchAgent == "" {
		style = append(style, "dashed")
	}
	attrs := []string{"label=" + strconv.Quote(dotLabel(n))}
	if n.Type == "network" {
		attrs = append(attrs, "shape=ellipse", `margin="0.03,0.02"`)
		style = style[1:]
	}
	attrs = append(attrs, "style="+strconv.Quote(strings.Join(style, ",")))
	switch {
	case !n.Enabled:
		attrs = append(attrs, "color=gray60", "fontcolor=gray45")
	case health != nil:
		attrs = append(attrs, "fillcolor="+strconv.Quote(healthColour(health[n.Name])))
	}
	return strings.Join(attrs, ", ")
}

// writeDOT writes a Graphviz digraph meant to be looked at: dependents
// above their dependencies (rankdir TB, an edge from a service to what it
// needs), one shaded cluster per host, the services that neither need nor
// are needed by another laid out as a grid under their host's graph, and a
// legend. health, when not nil, colours each service by its state.
func writeDOT(w io.Writer, nodes []graphNode, health map[string]string) {
	q := strconv.Quote
	linked := map[string]bool{}
	for _, n := range nodes {
		for _, d := range n.DependsOn {
			linked[n.Name], linked[d] = true, true
		}
	}
	depth := depths(nodes)
	fmt.Fprintln(w, "digraph sanctum {")
	fmt.Fprintln(w, `  graph [rankdir=TB, newrank=true, fontname="Helvetica", fontsize=13, nodesep=0.18, ranksep=0.32, pad=0.2];`)
	fmt.Fprintln(w, `  node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica", fontsize=11, height=0.36, margin="0.1,0.04"];`)
	fmt.Fprintln(w, `  edge [color="#444444", arrowsize=0.6];`)
	hosts, groups := byHost(nodes)
	var bottom []string // per host, the lowest node: the legend goes under them all
	for i, h := range hosts {
		pal := hostPalette[i%len(hostPalette)]
		fmt.Fprintf(w, "  subgraph %s {\n", q("cluster_"+h))
		fmt.Fprintf(w, "    label=%s; labeljust=l; style=\"rounded,filled\"; fillcolor=%s; color=%s;\n", q(h), q(pal[0]), q(pal[1]))
		var free []graphNode
		lowest := ""
		for _, n := range groups[h] {
			if !linked[n.Name] {
				free = append(free, n)
				continue
			}
			fmt.Fprintf(w, "    %s [%s];\n", q(n.Name), dotAttrs(n, health))
			if lowest == "" || depth[n.Name] > depth[lowest] {
				lowest = n.Name
			}
		}
		if len(free) > 0 {
			cols := gridColumns(len(free))
			var rows [][]graphNode
			for len(free) > 0 {
				k := min(cols, len(free))
				rows = append(rows, free[:k])
				free = free[k:]
			}
			fmt.Fprintf(w, "    subgraph %s {\n      label=\"\"; style=invis;\n", q("cluster_"+h+"_standalone"))
			for _, row := range rows {
				names := make([]string, len(row))
				for j, n := range row {
					fmt.Fprintf(w, "      %s [%s];\n", q(n.Name), dotAttrs(n, health))
					names[j] = q(n.Name)
				}
				fmt.Fprintf(w, "      { rank=same; %s; }\n", strings.Join(names, "; "))
				for j := 1; j < len(names); j++ { // keep the row in name order
					fmt.Fprintf(w, "      %s -> %s [style=invis];\n", names[j-1], names[j])
				}
			}
			fmt.Fprintln(w, "    }")
			// Invisible edges: the grid under the host's graph, each
			// column under the one above.
			if lowest != "" {
				fmt.Fprintf(w, "    %s -> %s [style=invis];\n", q(lowest), q(rows[0][0].Name))
			}
			for r := 1; r < len(rows); r++ {
				for j := range rows[r] {
					fmt.Fprintf(w, "    %s -> %s [style=invis];\n", q(rows[r-1][j].Name), q(rows[r][j].Name))
				}
			}
			lowest = rows[len(rows)-1][0].Name
		}
		bottom = append(bottom, lowest)
		fmt.Fprintln(w, "  }")
	}
	for _, n := range nodes {
		for _, d := range n.DependsOn {
			fmt.Fprintf(w, "  %s -> %s;\n", q(n.Name), q(d))
		}
	}
	writeLegend(w, hosts, health != nil, bottom)
	fmt.Fprintln(w, "}")
}

// writeLegend writes the legend: a cluster of sample nodes in two rows
// under everything else, the dependency sample drawn as in the graph.
func writeLegend(w io.Writer, hosts []string, health bool, above []string) {
	q := strconv.Quote
	type entry struct{ id, attrs string }
	host := "host"
	if len(hosts) > 0 {
		host += "\n(" + strings.Join(hosts, ", ") + ")"
	}
	top := []entry{
		{"legend_host", fmt.Sprintf(`label=%s, shape=box, style="filled", fillcolor=%s, color=%s`,
			q(host), q(hostPalette[0][0]), q(hostPalette[0][1]))},
		{"legend_agent", `label="service run by a launch agent\n(com.sanctum.<name>)"`},
		{"legend_other", `label="service with no launch agent\n(an app, the VM, another job)", style="rounded,filled,dashed"`},
		{"legend_network", `label="network\n(bridge, tunnel)", shape=ellipse, style=filled, margin="0.03,0.02"`},
		{"legend_dependent", `label="A depends on B"`},
	}
	bottom := []entry{{"legend_port", `label="name\n:port it listens on"`}}
	if health {
		for _, h := range healthFill {
			bottom = append(bottom, entry{"legend_health_" + strings.ReplaceAll(h.state, "-", "_"), fmt.Sprintf("label=%s, fillcolor=%s", q(h.legend), q(h.fill))})
		}
	}
	bottom = append(bottom, entry{"legend_dependency", `label="B"`})
	fmt.Fprintln(w, "  subgraph cluster_legend {")
	fmt.Fprintln(w, `    label="legend"; labeljust=l; style="rounded"; color=gray70; fontsize=11;`)
	fmt.Fprintln(w, `    node [fontsize=10, height=0.3];`)
	for _, row := range [][]entry{top, bottom} {
		ids := make([]string, len(row))
		for i, e := range row {
			fmt.Fprintf(w, "    %s [%s];\n", e.id, e.attrs)
			ids[i] = e.id
		}
		fmt.Fprintf(w, "    { rank=same; %s; }\n", strings.Join(ids, "; "))
		// Invisible edges keep the row in this order, left to right.
		for i := 1; i < len(ids); i++ {
			fmt.Fprintf(w, "    %s -> %s [style=invis];\n", ids[i-1], ids[i])
		}
	}
	fmt.Fprintln(w, "    legend_host -> legend_port [style=invis];")
	fmt.Fprintln(w, "    legend_dependent -> legend_dependency;")
	fmt.Fprintln(w, "  }")
	for _, b := range above {
		fmt.Fprintf(w, "  %s -> legend_host [style=invis];\n", q(b))
	}
}
