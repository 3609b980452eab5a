package desired

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGraphCycles(t *testing.T) {
	tests := []struct {
		name string
		g    Graph
		want [][]string
	}{
		{name: "empty", g: Graph{}, want: nil},
		{name: "no cycle", g: Graph{"a": {"b"}, "b": {"c"}, "c": nil}, want: nil},
		{name: "diamond is no cycle", g: Graph{"d": {"b", "c"}, "b": {"a"}, "c": {"a"}, "a": nil}, want: nil},
		{name: "self loop", g: Graph{"a": {"a"}}, want: [][]string{{"a", "a"}}},
		{name: "2-cycle", g: Graph{"a": {"b"}, "b": {"a"}}, want: [][]string{{"a", "b", "a"}}},
		{name: "3-cycle reported once", g: Graph{"a": {"b"}, "b": {"c"}, "c": {"a"}},
			want: [][]string{{"a", "b", "c", "a"}}},
		{name: "3-cycle listed backwards by name", g: Graph{"a": {"c"}, "c": {"b"}, "b": {"a"}},
			want: [][]string{{"a", "c", "b", "a"}}},
		{name: "3-cycle entered away from its smallest name is rotated",
			// The walk starts at a, enters the cycle at c and closes it at
			// b -> c: found as [c d b], reported from b.
			g:    Graph{"a": {"c"}, "c": {"d"}, "d": {"b"}, "b": {"c"}},
			want: [][]string{{"b", "c", "d", "b"}}},
		{name: "two disjoint cycles sorted", g: Graph{
			"x": {"y"}, "y": {"z"}, "z": {"x"},
			"b": {"a"}, "a": {"b"},
			"m": {"x"},
		}, want: [][]string{{"a", "b", "a"}, {"x", "y", "z", "x"}}},
		{name: "two cycles sharing a node", g: Graph{"a": {"b"}, "b": {"a", "c"}, "c": {"b"}},
			want: [][]string{{"a", "b", "a"}, {"b", "c", "b"}}},
		{name: "dangling edges ignored", g: Graph{"a": {"ghost", "b"}, "b": {"a", "phantom"}},
			want: [][]string{{"a", "b", "a"}}},
		{name: "only dangling edges", g: Graph{"a": {"ghost"}, "b": {"ghost", "a"}}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.g.Cycles()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Cycles() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGraphCyclesLeavesGraphAlone(t *testing.T) {
	g := Graph{"a": {"c", "b"}, "b": {"a"}, "c": {"a"}}
	want := Graph{"a": {"c", "b"}, "b": {"a"}, "c": {"a"}}
	g.Cycles()
	g.Order()
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("graph changed by Cycles/Order (-want +got):\n%s", diff)
	}
}

func TestGraphOrder(t *testing.T) {
	tests := []struct {
		name string
		g    Graph
		want []string
	}{
		{name: "empty", g: Graph{}, want: []string{}},
		{name: "chain dependencies first", g: Graph{"c": {"b"}, "b": {"a"}, "a": nil}, want: []string{"a", "b", "c"}},
		{name: "chain against name order", g: Graph{"a": {"b"}, "b": {"c"}, "c": nil}, want: []string{"c", "b", "a"}},
		{name: "independent nodes by name", g: Graph{"z": nil, "y": nil, "x": nil}, want: []string{"x", "y", "z"}},
		{name: "diamond", g: Graph{"d": {"b", "c"}, "c": {"a"}, "b": {"a"}, "a": nil}, want: []string{"a", "b", "c", "d"}},
		{name: "released node competes by name with waiting ones",
			// a and c are ready; after a, b becomes ready and comes before c.
			g:    Graph{"a": nil, "b": {"a"}, "c": nil},
			want: []string{"a", "b", "c"}},
		{name: "released node after smaller ready ones",
			g:    Graph{"m": nil, "z": {"m"}, "n": nil, "b": {"y"}, "y": nil},
			want: []string{"m", "n", "y", "b", "z"}},
		{name: "dangling edges ignored", g: Graph{"a": {"ghost"}, "b": {"a", "phantom"}}, want: []string{"a", "b"}},
		{name: "cycle and its dependents left out", g: Graph{"a": {"b"}, "b": {"a"}, "c": nil, "d": {"a"}},
			want: []string{"c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.g.Order()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Order() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGraphOrderDeterministic(t *testing.T) {
	// Map iteration order differs between calls; the answer must not.
	g := Graph{}
	names := []string{"k", "j", "i", "h", "g", "f", "e", "d", "c", "b", "a"}
	for i, n := range names {
		if i%3 == 0 && i > 0 {
			g[n] = []string{names[i-1]}
		} else {
			g[n] = nil
		}
	}
	first := g.Order()
	for i := 0; i < 50; i++ {
		if diff := cmp.Diff(first, g.Order()); diff != "" {
			t.Fatalf("Order() differs from the first call (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([][]string(nil), g.Cycles()); diff != "" {
			t.Fatalf("Cycles() of an acyclic graph (-want +got):\n%s", diff)
		}
	}
}
