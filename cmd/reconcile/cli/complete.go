package cli

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sanctum-haus/reconcile/desired"
)

// Shell completion of what a pass targets (issue 16 item 7): object
// arguments (KIND/NAME), -l label pairs and --node names, all read from
// the catalog that --catalog (or its default) names. Completion reads no
// secret and says nothing when the catalog cannot be loaded: it offers
// nothing instead.

// completionCatalog loads the catalog for a completion, secrets as
// placeholders; nil when it cannot be loaded.
func (a *app) completionCatalog(cmd *cobra.Command) *desired.Catalog {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	cat, err := a.loadCatalog(ctx, desired.PlaceholderSecrets)
	if err != nil {
		return nil
	}
	return cat
}

// completeObjects offers the catalog's objects as KIND/NAME, those not
// already named, the kind's case ignored. The root command offers them
// only after --dry-run or --check (without, its arguments are
// subcommands); apply, whose one argument may be a saved plan, falls back
// to file names.
func (a *app) completeObjects(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	noFiles := cobra.ShellCompDirectiveNoFileComp
	if cmd.Name() == "apply" {
		noFiles = cobra.ShellCompDirectiveDefault
	}
	if !cmd.HasParent() && !cmd.Flags().Changed("dry-run") && !cmd.Flags().Changed("check") {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cat := a.completionCatalog(cmd)
	if cat == nil {
		return nil, noFiles
	}
	named := make(map[string]bool, len(args))
	for _, arg := range args {
		if k := objectKind(arg); k != "" {
			_, name, _ := strings.Cut(arg, "/")
			named[k+"/"+name] = true
		}
	}
	// The kind in any case, as parseObjects takes it; the name as spelt.
	kindPart, namePart, slash := strings.Cut(toComplete, "/")
	var out []string
	for _, o := range catalogObjects(cat) {
		kind, name, _ := strings.Cut(o.id, "/")
		if named[o.id] {
			continue
		}
		if slash && strings.EqualFold(kind, kindPart) && strings.HasPrefix(name, namePart) ||
			!slash && strings.HasPrefix(strings.ToLower(kind), strings.ToLower(kindPart)) {
			out = append(out, o.id)
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, noFiles
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeSelector offers the label pairs (key=value) the catalog's
// objects carry, as the next term of a comma-separated selector.
func (a *app) completeSelector(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	cat := a.completionCatalog(cmd)
	if cat == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	seen := map[string]bool{}
	var pairs []string
	for _, o := range catalogObjects(cat) {
		for k, v := range o.labels {
			if p := k + "=" + v; !seen[p] {
				seen[p] = true
				pairs = append(pairs, p)
			}
		}
	}
	sort.Strings(pairs)
	// A key the selector already constrains is not offered again.
	keyOf := func(term string) string {
		if i := strings.IndexAny(term, "=! "); i >= 0 {
			term = term[:i]
		}
		return term
	}
	return nextTerm(toComplete, pairs, keyOf), cobra.ShellCompDirectiveNoFileComp
}

// completeNodes offers the catalog's remote nodes not already named.
func (a *app) completeNodes(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	cat := a.completionCatalog(cmd)
	if cat == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, n := range nodeNamesOf(cat) {
		if !slices.Contains(a.target.Nodes, n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return nextTerm(toComplete, names, func(n string) string { return n }), cobra.ShellCompDirectiveNoFileComp
}

// nextTerm completes the last term of a comma-separated list: each
// candidate that starts with it and whose key (keyOf) no term before has,
// following those terms.
func nextTerm(toComplete string, candidates []string, keyOf func(string) string) []string {
	before, last := "", toComplete
	if i := strings.LastIndex(toComplete, ","); i >= 0 {
		before, last = toComplete[:i+1], toComplete[i+1:]
	}
	given := map[string]bool{}
	for _, term := range strings.Split(before, ",") {
		if term = strings.TrimSpace(strings.TrimPrefix(term, "!")); term != "" {
			given[keyOf(term)] = true
		}
	}
	var out []string
	for _, c := range candidates {
		if strings.HasPrefix(c, last) && !given[keyOf(c)] {
			out = append(out, before+c)
		}
	}
	return out
}
