package cli

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/controllers"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
)

// target is what a pass was asked to reach: objects named on the command
// line (Service/voice-agent), a label selector (-l host=vm,tier!=edge),
// remote nodes (--node). Empty: the whole catalog.
type target struct {
	Objects  []string `json:"objects,omitempty"`
	Selector string   `json:"selector,omitempty"`
	Nodes    []string `json:"nodes,omitempty"`
}

func (t target) empty() bool { return len(t.Objects) == 0 && t.Selector == "" && len(t.Nodes) == 0 }

// targetFlags gives a pass's command -l and --node.
func (a *app) targetFlags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&a.target.Selector, "selector", "l", "", "only the objects whose labels match this selector (host=vm,tier!=edge), and what they own")
	cmd.Flags().StringSliceVar(&a.target.Nodes, "node", nil, "these remote nodes too, each with all it receives (repeat, or a comma-separated list); alone, just them")
	_ = cmd.RegisterFlagCompletionFunc("selector", a.completeSelector)
	_ = cmd.RegisterFlagCompletionFunc("node", a.completeNodes)
}

// targetKinds are the kinds an object argument may name.
var targetKinds = []string{v1.KindCalibrationFile, v1.KindLaunchAgent, v1.KindPersonaFile, v1.KindRemoteNode, v1.KindService, v1.KindSystemdUnit}

// objectKind returns the kind an argument KIND/NAME names (case does not
// matter), or "" when its part before the slash is no kind.
func objectKind(arg string) string {
	kind, _, ok := strings.Cut(arg, "/")
	if !ok {
		return ""
	}
	for _, k := range targetKinds {
		if strings.EqualFold(k, kind) {
			return k
		}
	}
	return ""
}

// isPlanFile says whether apply's one argument is a saved plan rather
// than an object: no kind before its slash, and either a file that exists
// or not shaped like Kind/name (a misspelt kind is an object argument, and
// gets its suggestion).
func isPlanFile(arg string) bool {
	if objectKind(arg) != "" {
		return false
	}
	if _, err := os.Stat(arg); err == nil {
		return true
	}
	return !objectShaped.MatchString(arg)
}

var objectShaped = regexp.MustCompile(`^[A-Za-z]+/[^/]+$`)

// parseObjects reads KIND/NAME arguments, the kind spelt as in the
// catalog.
func parseObjects(args []string) ([]string, error) {
	out := make([]string, 0, len(args))
	for _, arg := range args {
		kind, name, ok := strings.Cut(arg, "/")
		if !ok || name == "" || kind == "" {
			return nil, &exitError{ExitError, fmt.Errorf("%q: name an object as KIND/NAME, such as Service/voice-agent (kinds: %s)",
				arg, strings.Join(targetKinds, ", "))}
		}
		k := objectKind(arg)
		if k == "" {
			return nil, &exitError{ExitError, fmt.Errorf("%q: unknown kind %q%s; kinds: %s",
				arg, kind, desired.DidYouMean(kind, targetKinds), strings.Join(targetKinds, ", "))}
		}
		out = append(out, k+"/"+name)
	}
	return out, nil
}

// catalogObject is an object a target may name or select: its id
// (Kind/name) and labels.
type catalogObject struct {
	id     string
	labels map[string]string
}

// catalogObjects are the catalog's objects of every kind a target may
// name, in the catalog's order, kind by kind.
func catalogObjects(cat *desired.Catalog) []catalogObject {
	var all []catalogObject
	add := func(kind string, meta v1.ObjectMeta) {
		all = append(all, catalogObject{kind + "/" + meta.Name, meta.Labels})
	}
	for _, o := range cat.Services {
		add(v1.KindService, o.ObjectMeta)
	}
	for _, o := range cat.Agents {
		add(v1.KindLaunchAgent, o.ObjectMeta)
	}
	for _, o := range cat.Units {
		add(v1.KindSystemdUnit, o.ObjectMeta)
	}
	for _, o := range cat.Personas {
		add(v1.KindPersonaFile, o.ObjectMeta)
	}
	for _, o := range cat.Nodes {
		add(v1.KindRemoteNode, o.ObjectMeta)
	}
	for _, o := range cat.Calibration {
		add(v1.KindCalibrationFile, o.ObjectMeta)
	}
	return all
}

// nodeNamesOf are the names of the catalog's remote nodes.
func nodeNamesOf(cat *desired.Catalog) []string {
	var names []string
	for _, n := range cat.Nodes {
		names = append(names, n.Name)
	}
	return names
}

// resolvedTarget is a target checked against the catalog and the last
// pass: the scope of the pass and how to tell the user about it.
type resolvedTarget struct {
	scope *controllers.Scope
	// picked are the objects in scope (catalog IDs, sorted), gone those
	// named that only the last pass's inventory still knows.
	picked, gone []string
	// total is how many objects the catalog has, in counts how many are
	// in scope (owned agents and nodes reached included), inScope names
	// them.
	total, in int
	inScope   []string
}

// report is the target as the JSON report has it.
func (r *resolvedTarget) report(t target) *drift.Target {
	out := &drift.Target{Objects: orEmpty(t.Objects), Selector: t.Selector, Nodes: orEmpty(t.Nodes),
		InScope: orEmpty(r.inScope), Gone: orEmpty(r.gone), OutOfScope: r.total - r.in}
	return out
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// resolve checks t against the catalog and the last pass's inventory: an
// unknown object or node is an error with a suggestion, a selector that
// picks nothing too. nil, nil when t is empty.
func (t target) resolve(cat *desired.Catalog, inventory []controllers.InventoryEntry, local bool) (*resolvedTarget, error) {
	if t.empty() {
		return nil, nil
	}
	fail := func(format string, args ...any) error { return &exitError{ExitError, fmt.Errorf(format, args...)} }
	if local && len(t.Nodes) > 0 {
		return nil, fail("--node and --local do not go together: --local reaches no node")
	}
	if len(t.Objects) > 0 && t.Selector != "" {
		return nil, fail("name objects or select them with -l, not both")
	}
	all := catalogObjects(cat)
	nodeNames := nodeNamesOf(cat)
	for _, n := range t.Nodes {
		if !slices.Contains(nodeNames, n) {
			return nil, fail("unknown node %q%s; the catalog's nodes: %s", n, desired.DidYouMean(n, nodeNames), joinOrNone(nodeNames))
		}
	}

	r := &resolvedTarget{total: len(all)}
	switch {
	case len(t.Objects) > 0:
		known := make(map[string]bool, len(all))
		for _, o := range all {
			known[o.id] = true
		}
		owned := make(map[string]bool) // Kind/name (persona: agent) in the last pass's inventory
		for _, e := range inventory {
			name := e.Name
			if e.Kind == v1.KindPersonaFile {
				name, _, _ = strings.Cut(name, "/")
			}
			owned[e.Kind+"/"+name] = true
		}
		var errs []error
		for _, id := range t.Objects {
			switch {
			case known[id]:
				r.picked = append(r.picked, id)
			case owned[id]:
				// Out of the catalog: what it left is pruned, its launch
				// agent's too (a service's agent has the service's name).
				r.gone = append(r.gone, id)
				if kind, name, _ := strings.Cut(id, "/"); kind == v1.KindService {
					for _, owns := range []string{v1.KindLaunchAgent, v1.KindSystemdUnit} {
						if o := owns + "/" + name; owned[o] && !known[o] {
							r.gone = append(r.gone, o)
						}
					}
				}
			default:
				kind, name, _ := strings.Cut(id, "/")
				var same []string
				for _, o := range all {
					if k, n, _ := strings.Cut(o.id, "/"); k == kind {
						same = append(same, n)
					}
				}
				msg := fmt.Sprintf("unknown object %s: the catalog has no %s named %q", id, kind, name)
				if s := desired.Suggest(name, same); s != "" {
					msg += fmt.Sprintf(" (did you mean %s/%s?)", kind, s)
				}
				errs = append(errs, errors.New(msg))
			}
		}
		if len(errs) > 0 {
			return nil, &exitError{ExitError, errors.Join(errs...)}
		}
	case t.Selector != "":
		sel, err := labels.Parse(t.Selector)
		if err != nil {
			return nil, fail("-l %s: %w", t.Selector, err)
		}
		for _, o := range all {
			if sel.Matches(labels.Set(o.labels)) {
				r.picked = append(r.picked, o.id)
			}
		}
		if len(r.picked) == 0 {
			return nil, fail("-l %s: no object of the catalog has labels that match", t.Selector)
		}
	}
	// --node adds the nodes themselves, each with all it receives (alone:
	// just them).
	for _, n := range t.Nodes {
		if id := v1.KindRemoteNode + "/" + n; !slices.Contains(r.picked, id) {
			r.picked = append(r.picked, id)
		}
	}
	sort.Strings(r.picked)
	r.scope = controllers.NewScope(cat, r.picked, r.gone)
	for _, o := range all {
		kind, name, _ := strings.Cut(o.id, "/")
		if r.scope.Has(kind, name) || (kind == v1.KindPersonaFile && slices.Contains(r.picked, o.id)) {
			r.in++
			r.inScope = append(r.inScope, o.id)
		}
	}
	return r, nil
}

// describe is the header's account of the scope: what was asked, and how
// much of the catalog that leaves out.
func (r *resolvedTarget) describe(t target) string {
	var asked []string
	if len(t.Objects) > 0 {
		asked = append(asked, strings.Join(t.Objects, " "))
	}
	if t.Selector != "" {
		asked = append(asked, "-l "+t.Selector)
	}
	if len(t.Nodes) > 0 {
		asked = append(asked, "--node "+strings.Join(t.Nodes, ","))
	}
	s := fmt.Sprintf("target: %s (%d of %d objects; %d out of scope, neither observed nor changed",
		strings.Join(asked, " "), r.in, r.total, r.total-r.in)
	if len(r.gone) > 0 {
		s += "; no longer in the catalog, pruned: " + strings.Join(r.gone, ", ")
	}
	return s + ")"
}

func joinOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
