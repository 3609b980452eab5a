// Package drift is the vocabulary of differences between desired and observed
// state: a ChangeSet of "Kind/name action" entries with content diffs, its
// text and JSON renderings, and the masking of secret values in all of them.
package drift

import (
	"fmt"
	"sort"
	"strings"

	udiff "github.com/aymanbagabas/go-udiff"
)

// Action is what a pass did, or would do, to one object.
type Action string

// Actions, as Flux's ssa names them, plus failed.
const (
	Created    Action = "created"
	Configured Action = "configured"
	Unchanged  Action = "unchanged"
	Deleted    Action = "deleted"
	Skipped    Action = "skipped"
	Unmanaged  Action = "unmanaged"
	Failed     Action = "failed"
	// Cleaned is debris removed: a temporary file an interrupted write
	// left next to a target.
	Cleaned Action = "cleaned"
	// Unreachable is a required remote node that could not be reached:
	// nothing was checked there, so the pass is incomplete (exit 3). An
	// opportunistic node that is away is Skipped.
	Unreachable Action = "unreachable"
)

// IsDrift reports whether the action means the host differs from the catalog.
// Skipped and unmanaged objects are reported but are not drift: reconcile
// has nothing it may do about them.
func (a Action) IsDrift() bool {
	return a == Created || a == Configured || a == Deleted || a == Cleaned
}

// Change is one entry of a ChangeSet.
type Change struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Action Action `json:"action"`
	// Path is the affected file relative to HOME, when there is one.
	Path string `json:"path,omitempty"`
	// Node is the remote node a Path is on; "" for this host.
	Node string `json:"node,omitempty"`
	// Target is a non-file target, such as a launchd service
	// (gui/501/com.sanctum.x).
	Target string `json:"target,omitempty"`
	// Reason says why, in words: "content differs", "mode 0644, want 0600".
	Reason string `json:"reason,omitempty"`
	// Diff is a unified diff of the content, secrets masked.
	Diff string `json:"diff,omitempty"`
	// Backup is where the previous bytes were kept, relative to HOME.
	Backup string `json:"backup,omitempty"`
	// Error is set when Action is Failed.
	Error string `json:"error,omitempty"`
	// Rollup marks an entry that sums up others of the same object (a
	// node's "2 of 6 file(s) written" over its files' own entries): shown,
	// but not counted again in the summary.
	Rollup bool `json:"rollup,omitempty"`
	// Err is the failure itself, typed, for callers that decide on it
	// (errors.Is a symlink refusal, a path outside HOME, an unreachable
	// node); Error is its text as reports show it.
	Err error `json:"-"`
}

// Failure is the error of a failed entry, naming the object: typed when
// the entry carries its Err.
func (c Change) Failure() error {
	if c.Err != nil {
		return fmt.Errorf("%s: %w", c.ID(), c.Err)
	}
	return fmt.Errorf("%s: %s", c.ID(), c.Error)
}

// ID is "Kind/name".
func (c Change) ID() string { return c.Kind + "/" + c.Name }

// ChangeSet is the one result of both a plan and an apply.
type ChangeSet struct {
	Changes []Change
}

// Add appends changes.
func (cs *ChangeSet) Add(c ...Change) { cs.Changes = append(cs.Changes, c...) }

// Sort orders entries by kind rank, then name, then path.
func (cs *ChangeSet) Sort(kindRank func(string) int) {
	sort.SliceStable(cs.Changes, func(i, j int) bool {
		a, b := cs.Changes[i], cs.Changes[j]
		if ra, rb := kindRank(a.Kind), kindRank(b.Kind); ra != rb {
			return ra < rb
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		// A file before what runs from it (a plist before its launchd entry).
		if (a.Path == "") != (b.Path == "") {
			return a.Path != ""
		}
		return a.Path < b.Path
	})
}

// HasDrift reports whether any entry is drift.
func (cs *ChangeSet) HasDrift() bool {
	for _, c := range cs.Changes {
		if c.Action.IsDrift() {
			return true
		}
	}
	return false
}

// Failed reports the failed entries.
func (cs *ChangeSet) Failed() []Change {
	var out []Change
	for _, c := range cs.Changes {
		if c.Action == Failed {
			out = append(out, c)
		}
	}
	return out
}

// Summary counts entries per action.
type Summary struct {
	Created    int `json:"created"`
	Configured int `json:"configured"`
	Unchanged  int `json:"unchanged"`
	Deleted    int `json:"deleted"`
	Skipped    int `json:"skipped"`
	Unmanaged  int `json:"unmanaged"`
	Failed     int `json:"failed"`
	Cleaned    int `json:"cleaned,omitempty"`
	// Unreachable counts the required nodes that could not be reached.
	Unreachable int `json:"unreachable,omitempty"`
}

// Changes counts the entries that are drift: what a pass acts on.
func (s Summary) Changes() int { return s.Created + s.Configured + s.Deleted + s.Cleaned }

// Summary counts the ChangeSet's objects: a roll-up of changes counted on
// their own (a node's files written) is not counted again.
func (cs *ChangeSet) Summary() Summary {
	var s Summary
	for _, c := range cs.Changes {
		if c.Rollup {
			continue
		}
		switch c.Action {
		case Created:
			s.Created++
		case Configured:
			s.Configured++
		case Unchanged:
			s.Unchanged++
		case Deleted:
			s.Deleted++
		case Skipped:
			s.Skipped++
		case Unmanaged:
			s.Unmanaged++
		case Failed:
			s.Failed++
		case Cleaned:
			s.Cleaned++
		case Unreachable:
			s.Unreachable++
		}
	}
	return s
}

// Diff returns a unified diff from old to new, labelled a/path and b/path,
// or "" when they are equal.
func Diff(path string, old, new []byte) string {
	if string(old) == string(new) {
		return ""
	}
	d := udiff.Unified(side("a", path), side("b", path), string(old), string(new))
	if d == "" {
		return ""
	}
	if !strings.HasSuffix(d, "\n") {
		d += "\n"
	}
	return d
}

// CreatedDiff shows a new file's whole content, as a diff from /dev/null.
func CreatedDiff(path string, content []byte) string {
	return unified("/dev/null", side("b", path), "", string(content))
}

// DeletedDiff shows a removed file's whole content, as a diff to /dev/null.
func DeletedDiff(path string, content []byte) string {
	return unified(side("a", path), "/dev/null", string(content), "")
}

// LinkDiff shows a symlink's target as "-> target": old "" is a new link
// (from /dev/null), new "" a removed one (to /dev/null).
func LinkDiff(path, old, new string) string {
	from, to := side("a", path), side("b", path)
	var o, n string
	if old == "" {
		from = "/dev/null"
	} else {
		o = "-> " + old + "\n"
	}
	if new == "" {
		to = "/dev/null"
	} else {
		n = "-> " + new + "\n"
	}
	return unified(from, to, o, n)
}

func unified(from, to, old, new string) string {
	if old == new {
		return ""
	}
	d := udiff.Unified(from, to, old, new)
	if d != "" && !strings.HasSuffix(d, "\n") {
		d += "\n"
	}
	return d
}

// side names a file in a diff header as git does: a/ or b/ and its path
// (HOME-relative, or absolute for a system unit's file: a/etc/...).
func side(prefix, p string) string { return prefix + "/" + strings.TrimPrefix(p, "/") }
