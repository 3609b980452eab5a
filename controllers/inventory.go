package controllers

import (
	"fmt"
	"path"
	"sort"
	"sync"
)

// Inventory is what reconcile owns, Flux's way: the entries the last pass
// left, the paths this pass wants (each claimed by one object), and what
// this pass owns when it ends. Pruning comes from it alone: what the last
// pass owned and no object wants any more. A failed object keeps what it
// owned, so that it is retried, never forgotten.
type Inventory struct {
	mu    sync.Mutex
	prev  map[string]InventoryEntry
	owned map[string]InventoryEntry
	want  map[string]string // path -> the ID of the object that claimed it
}

// NewInventory starts from the entries the last pass left.
func NewInventory(prev []InventoryEntry) *Inventory {
	inv := &Inventory{
		prev:  make(map[string]InventoryEntry, len(prev)),
		owned: make(map[string]InventoryEntry, len(prev)),
		want:  make(map[string]string, len(prev)),
	}
	for _, e := range prev {
		inv.prev[e.Path] = e
	}
	return inv
}

// Claim marks path as wanted by the object id; a second object that wants
// the same path gets an error naming the first.
func (inv *Inventory) Claim(path, id string) error {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if other, taken := inv.want[path]; taken {
		return fmt.Errorf("%s is already written by %s; two objects cannot own one file", path, other)
	}
	inv.want[path] = id
	return nil
}

// Want marks path as wanted (never pruned, never a stranger) without
// claiming it: a retired agent's plist, a failed object's file.
func (inv *Inventory) Want(path, id string) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if _, taken := inv.want[path]; !taken {
		inv.want[path] = id
	}
}

// Wanted reports whether some object of this pass wants path.
func (inv *Inventory) Wanted(path string) bool {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	_, ok := inv.want[path]
	return ok
}

// Own records what this pass leaves at a path as reconcile's.
func (inv *Inventory) Own(e InventoryEntry) {
	inv.mu.Lock()
	inv.owned[e.Path] = e
	inv.mu.Unlock()
}

// Fail keeps a failed object's path wanted and what the last pass owned
// there owned: a failure never reads as "no longer in the catalog".
func (inv *Inventory) Fail(path, id string) {
	if path == "" {
		return
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if _, taken := inv.want[path]; !taken {
		inv.want[path] = id
	}
	if e, ok := inv.prev[path]; ok {
		inv.owned[path] = e
	}
}

// Previous is what the last pass owned at path.
func (inv *Inventory) Previous(path string) (InventoryEntry, bool) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	e, ok := inv.prev[path]
	return e, ok
}

// Unwanted lists, by path, what the last pass owned and no object of this
// pass wants: the candidates of the prune.
func (inv *Inventory) Unwanted() []InventoryEntry {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	var out []InventoryEntry
	for p, e := range inv.prev {
		if _, wanted := inv.want[p]; !wanted {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Owned lists, by path, what this pass leaves as reconcile's.
func (inv *Inventory) Owned() []InventoryEntry {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	out := make([]InventoryEntry, 0, len(inv.owned))
	for _, e := range inv.owned {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// WantedDirs lists, sorted, the directories of the paths this pass wants:
// where its writes put their temporary files.
func (inv *Inventory) WantedDirs() []string {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	seen := make(map[string]bool)
	var out []string
	for p := range inv.want {
		if d := path.Dir(p); !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}
