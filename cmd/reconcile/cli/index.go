package cli

import (
	"context"
	"encoding/json"
	"runtime/debug"
	"strconv"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/controllers"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/observed"
)

// indexKey is the key of the index a pass over this home and catalog, by
// this binary with these flags, reads and leaves.
func (a *app) indexKey(home string) (string, error) {
	_, where, err := a.catalogIdentity()
	if err != nil {
		return "", err
	}
	launchd := "launchd"
	if observed.NewLaunchctl().Available() != nil {
		launchd = "no-launchd"
	}
	host, err := a.localHost()
	if err != nil {
		return "", err
	}
	return controllers.IndexKey(binaryID(), home, where, "local="+strconv.FormatBool(a.local), launchd, "host="+host), nil
}

// noReplay says why a check cannot answer from an index this apply
// leaves, "" when it can: launchd and the nodes are asked by every pass.
func (a *app) noReplay(cat *desired.Catalog) string {
	switch {
	case observed.NewLaunchctl().Available() == nil && len(cat.Agents) > 0:
		return "launchd is asked by every pass"
	case a.unitsHere(cat):
		return "systemd is asked by every pass"
	case !a.local && len(cat.Nodes) > 0:
		return "nodes are asked by every pass"
	}
	return ""
}

// passFacts is what a report says of the pass besides its changes.
type passFacts struct {
	nodes       any
	incomplete  []string
	hits, reads int64
	rendered    int64
	index       string
}

func factsOf(pass *controllers.Pass, index string) passFacts {
	f := passFacts{nodes: pass.Nodes(), incomplete: pass.Incomplete, index: index}
	f.hits, f.reads, f.rendered = pass.IndexStats()
	return f
}

// fastCheck is a check (or a dry run that finds nothing to show) answered
// from the last apply's index alone, as git status answers from its
// index: the inputs are verified unchanged by their stat data, every
// target is stat'ed and read only when its stat moved, and nothing of the
// catalog is decoded or rendered. It reports and returns true, or returns
// false (and why) when the full pass must answer.
func (a *app) fastCheck(ctx context.Context, mode mode, home string) (bool, string, error) {
	fh, err := observed.OpenFileHost(home)
	if err != nil {
		return false, "no home", nil
	}
	defer fh.Close()
	// What this path keeps is the index (about 1 KB a target) and the
	// changes; the lazy collection that suits a full pass (GOGC 400) would
	// let its garbage double the peak.
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	host := observed.ReadOnlyHost{Host: fh}
	x, err := controllers.ReadIndex(host)
	if err != nil {
		return false, err.Error(), nil
	}
	key, err := a.indexKey(home)
	if err != nil {
		return false, err.Error(), nil
	}
	fsys, name, err := a.catalogFS()
	if err != nil {
		return false, "no catalog", nil
	}
	if why := x.Verify(key, fsys, home); why != "" {
		return false, why, nil
	}
	cs, st, why := x.Check(ctx, host)
	if why != "" {
		return false, why, nil
	}
	if mode != modeCheck && cs.HasDrift() {
		return false, "drift to show", nil // a dry run shows it with diffs
	}
	cat := &desired.Catalog{Name: name, Digest: x.CatalogDigest}
	for _, n := range x.CatalogNodes {
		cat.Nodes = append(cat.Nodes, &v1.RemoteNode{ObjectMeta: v1.ObjectMeta{Name: n}})
	}
	var nodes any = json.RawMessage(x.Nodes)
	if len(x.Nodes) == 0 {
		nodes = nil
	}
	now := a.cfg.Now()
	if err := a.report(mode, newRunID(now), now, home, cat, cs, nil,
		passFacts{nodes: nodes, hits: st.Hits, reads: st.Reads, index: "answered"}); err != nil {
		return true, "", &exitError{ExitError, err}
	}
	if cs.HasDrift() {
		return true, "", &exitError{code: ExitDrift}
	}
	return true, "", nil
}

// useIndex gives a full pass the index the last apply left: it spares
// reading files whose stat says they hold their desired bytes, and, when
// it was written from these very inputs, rendering targets whose file
// holds the indexed digest.
func useIndex(pass *controllers.Pass, x *controllers.Index, key string, cat *desired.Catalog) string {
	if x == nil {
		return "unused: no index"
	}
	pass.Index = x
	pass.IndexInputs = x.Key == key && x.CatalogDigest == cat.Digest && x.SecretsDigest == desired.SecretsDigest(cat.SecretValues)
	if !pass.IndexInputs {
		return "used: stat data only (the inputs changed)"
	}
	return "used"
}

// unitsHere says whether this host's own systemd has units of the catalog
// (those of another host are skipped, or are a node's).
func (a *app) unitsHere(cat *desired.Catalog) bool {
	host, err := a.localHost()
	if err != nil {
		return true
	}
	for _, u := range cat.Units {
		if u.HostName() == host {
			return true
		}
	}
	return false
}
