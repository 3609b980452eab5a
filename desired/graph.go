package desired

import (
	"container/heap"
	"sort"
	"strings"
)

// Graph is a dependency graph: each node maps to the nodes it depends on.
type Graph map[string][]string

// Cycles returns every elementary cycle found by a depth-first search, each
// rotated to start at its smallest name and closed (a, b, c, a), sorted, and
// each reported once. The walk visits nodes in sorted order, so the answer is
// deterministic.
func (g Graph) Cycles() [][]string {
	const (
		white = iota
		grey
		black
	)
	color := make(map[string]int, len(g))
	var stack []string
	onStack := make(map[string]int, len(g))
	seen := make(map[string]bool)
	var cycles [][]string
	var visit func(n string)
	visit = func(n string) {
		color[n] = grey
		onStack[n] = len(stack)
		stack = append(stack, n)
		deps := append([]string(nil), g[n]...)
		sort.Strings(deps)
		for _, d := range deps {
			if _, known := g[d]; !known {
				continue // a dangling edge is reported elsewhere
			}
			switch color[d] {
			case white:
				visit(d)
			case grey:
				cyc := append([]string(nil), stack[onStack[d]:]...)
				cyc = rotateToMin(cyc)
				key := strings.Join(cyc, "\x00")
				if !seen[key] {
					seen[key] = true
					cycles = append(cycles, append(cyc, cyc[0]))
				}
			}
		}
		stack = stack[:len(stack)-1]
		delete(onStack, n)
		color[n] = black
	}
	for _, n := range g.sortedNodes() {
		if color[n] == white {
			visit(n)
		}
	}
	sort.Slice(cycles, func(i, j int) bool { return strings.Join(cycles[i], " ") < strings.Join(cycles[j], " ") })
	return cycles
}

// Order returns the nodes with every dependency before its dependents, ties
// broken by name (Kahn's algorithm over a sorted ready set). Nodes on a cycle
// are left out; validation rejects cycles before anyone asks for an order.
func (g Graph) Order() []string {
	indeg := make(map[string]int, len(g))
	dependents := make(map[string][]string, len(g))
	for n, deps := range g {
		if _, ok := indeg[n]; !ok {
			indeg[n] = 0
		}
		for _, d := range deps {
			if _, known := g[d]; !known {
				continue
			}
			indeg[n]++
			dependents[d] = append(dependents[d], n)
		}
	}
	ready := &nameHeap{}
	for n, d := range indeg {
		if d == 0 {
			ready.StringSlice = append(ready.StringSlice, n)
		}
	}
	heap.Init(ready)
	order := make([]string, 0, len(g))
	for ready.Len() > 0 {
		n := heap.Pop(ready).(string)
		order = append(order, n)
		for _, m := range dependents[n] {
			indeg[m]--
			if indeg[m] == 0 {
				heap.Push(ready, m)
			}
		}
	}
	return order
}

// nameHeap is a min-heap of names: the ready set of Order.
type nameHeap struct{ sort.StringSlice }

func (h *nameHeap) Push(x any) { h.StringSlice = append(h.StringSlice, x.(string)) }
func (h *nameHeap) Pop() any {
	old := h.StringSlice
	x := old[len(old)-1]
	h.StringSlice = old[:len(old)-1]
	return x
}

func (g Graph) sortedNodes() []string {
	nodes := make([]string, 0, len(g))
	for n := range g {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	return nodes
}

func rotateToMin(c []string) []string {
	min := 0
	for i := range c {
		if c[i] < c[min] {
			min = i
		}
	}
	return append(c[min:], c[:min]...)
}
