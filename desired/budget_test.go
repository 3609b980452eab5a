package desired

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Each hostile catalog ends quickly as one located error; without the
// budgets the first spins forever, the second allocates gigabytes and the
// third loads (and renders a 2.4 GB manifest at apply).
func TestLoadBudgets(t *testing.T) {
	nested := []string{`{{ $a := "0123456789" }}`}
	prev := "$a"
	for i := range 9 {
		v := "$v" + string(rune('a'+i))
		nested = append(nested, "{{ "+v+" := printf \""+strings.Repeat("%s", 10)+"\""+strings.Repeat(" "+prev, 10)+" }}")
		prev = v
	}
	big := strings.Repeat("x", 8<<20)
	var aliases strings.Builder
	for range 300 {
		aliases.WriteString("    - *big\n")
	}
	tests := []struct {
		name    string
		catalog string
		want    string
	}{
		{
			name:    "range over a huge int",
			catalog: alphaWith("host: mac", `displayName: "{{ range $i := 100000000000 }}{{ end }}x"`),
			want:    `cat/catalog.yaml:7:16: Service/alpha: spec.displayName: template: repeats more than 100000 times (range iterations and template calls per object)`,
		},
		{
			name:    "nested loops",
			catalog: alphaWith("host: mac", `displayName: "{{ range 1000 }}{{ range 1000 }}{{ end }}{{ end }}x"`),
			want:    `cat/catalog.yaml:7:16: Service/alpha: spec.displayName: template: repeats more than 100000 times (range iterations and template calls per object)`,
		},
		{
			name:    "recursion through define",
			catalog: alphaWith("host: mac", `displayName: '{{ define "a" }}{{ template "a" }}{{ template "a" }}{{ end }}{{ template "a" }}x'`),
			want:    `cat/catalog.yaml:7:16: Service/alpha: spec.displayName: template: repeats more than 100000 times (range iterations and template calls per object)`,
		},
		{
			name:    "a doubling variable that prints nothing big",
			catalog: alphaWith("host: mac", `displayName: '`+strings.Join(nested, "")+`{{ len $vi }}'`),
			want:    `cat/catalog.yaml:7:16: Service/alpha: spec.displayName: template: builds a string of more than 1024 KiB`,
		},
		{
			name:    "output over the value budget",
			catalog: alphaWith("host: mac", `displayName: "{{ range 2000000 }}x{{ end }}"`),
			want:    `cat/catalog.yaml:7:16: Service/alpha: spec.displayName: template: repeats more than 100000 times (range iterations and template calls per object)`,
		},
		{
			name:    "an 8 MB string aliased 300 times",
			catalog: alphaWith("host: mac", "displayName: &big "+big, "env:", "  BIG: *big", "args:\n"+aliases.String()),
			want:    `cat/catalog.yaml:9:10: Service/alpha: spec.env.BIG: the object expands to more than 16 MiB (YAML aliases counted in bytes)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := testCatalogFS(map[string]*string{"catalog.yaml": &tt.catalog, "more.yaml": nil})
			start := time.Now()
			_, err := Load(context.Background(), Options{FS: fsys, Name: "cat", Home: t.TempDir()})
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("Load took %v", d)
			}
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// Templates a catalog writes still work: loops, printf, define.
func TestLoadTemplatesWithinBudget(t *testing.T) {
	catalog := alphaWith("host: mac",
		`displayName: '{{ define "n" }}{{ . }}{{ end }}{{ range $i := 3 }}{{ template "n" $i }}{{ end }}-{{ printf "%s-%d" "a" 7 }}{{ html "<" }}'`)
	fsys := testCatalogFS(map[string]*string{"catalog.yaml": &catalog, "more.yaml": nil})
	c, err := Load(context.Background(), Options{FS: fsys, Name: "cat", Home: t.TempDir()})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if diff := cmp.Diff("012-a-7&lt;", c.Services[0].Spec.DisplayName); diff != "" {
		t.Errorf("displayName (-want +got):\n%s", diff)
	}
}

// The time backstop and cancellation end a step, on an injected clock.
func TestBudgetTimeAndCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	b := newBudget(ctx)
	now := time.Unix(0, 0)
	b.now = func() time.Time { return now }
	b.object()
	if _, err := b.step(); err != nil {
		t.Fatalf("step within budget: %v", err)
	}
	now = now.Add(MaxTemplateTime + time.Millisecond)
	var be *BudgetError
	if _, err := b.step(); !errors.As(err, &be) {
		t.Errorf("step after the deadline: %v, want a *BudgetError", err)
	}
	b.object()
	cancel()
	if _, err := b.step(); !errors.Is(err, context.Canceled) {
		t.Errorf("step after cancel: %v, want context.Canceled", err)
	}
}
