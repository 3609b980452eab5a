package drift

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// SchemaVersion is the version of the JSON report; bumped only on an
// incompatible change.
const SchemaVersion = 1

// Report is the JSON form of one pass (-o json), documented in the README.
type Report struct {
	SchemaVersion int       `json:"schemaVersion"`
	RunID         string    `json:"runId,omitempty"`
	Mode          string    `json:"mode"`
	Time          time.Time `json:"time"`
	Home          string    `json:"home"`
	Catalog       string    `json:"catalog"`
	CatalogDigest string    `json:"catalogDigest"`
	Drift         bool      `json:"drift"`
	Summary       Summary   `json:"summary"`
	Changes       []Change  `json:"changes"`
	Errors        []string  `json:"errors"`
	// Nodes is every remote node's status (a list of objects, see the
	// README); Incomplete names the required nodes that were unreachable.
	Nodes      any      `json:"nodes"`
	Incomplete []string `json:"incomplete"`
	// Index says how the last apply's index served the pass: "answered"
	// (a check answered from it alone: no catalog load, no render),
	// "used" (it spared reads and renders), or "unused: <why>".
	Index string `json:"index"`
	// IndexHits counts the managed files the index vouched for, unread;
	// FilesRead those read and compared.
	IndexHits int64 `json:"indexHits"`
	FilesRead int64 `json:"filesRead"`
	// Rendered counts the targets rendered: every one without an index
	// of the same inputs, else only those whose file did not hold the
	// indexed digest.
	Rendered int64 `json:"rendered"`
	// Target is the scope of a targeted pass; absent for a whole pass.
	Target *Target `json:"target,omitempty"`
}

// Target is what a targeted pass was asked to reach and what it left out.
type Target struct {
	// Objects, Selector and Nodes are as given (objects as Kind/name).
	Objects  []string `json:"objects"`
	Selector string   `json:"selector"`
	Nodes    []string `json:"nodes"`
	// InScope lists the catalog objects the pass reached, by Kind/name,
	// those they own included; Gone the objects named that only the last
	// pass's inventory knew (their files pruned).
	InScope []string `json:"inScope"`
	Gone    []string `json:"gone"`
	// OutOfScope counts the catalog objects neither observed nor changed.
	OutOfScope int `json:"outOfScope"`
}

// WriteJSON writes the report, indented, with a final newline.
func WriteJSON(w io.Writer, r *Report) error {
	if r.Changes == nil {
		r.Changes = []Change{}
	}
	if r.Errors == nil {
		r.Errors = []string{}
	}
	if r.Incomplete == nil {
		r.Incomplete = []string{}
	}
	if r.Nodes == nil {
		r.Nodes = []any{}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// TextOptions shape the text report.
type TextOptions struct {
	Color bool
	// Header is the first line (which pass, catalog, home, nodes in
	// scope); none when empty.
	Header string
	// ChangesOnly leaves out unchanged and skipped entries: what is left is
	// drift, failures and unmanaged findings (the passes' default; -v
	// lists everything).
	ChangesOnly bool
	// Terse shows no diffs and no backups (--check).
	Terse bool
	// Quiet leaves out the content of whole new or removed files (apply:
	// the plan showed them, JSON carries them).
	Quiet bool
	// Label ends the summary line: "dry run", "check", "applied".
	Label string
}

// shown says whether an entry has a line of its own.
func (o TextOptions) shown(c Change) bool {
	return !o.ChangesOnly || (c.Action != Unchanged && c.Action != Skipped)
}

const (
	red     = "\x1b[31m"
	green   = "\x1b[32m"
	yellow  = "\x1b[33m"
	magenta = "\x1b[35m"
	cyan    = "\x1b[36m"
	bold    = "\x1b[1m"
	reset   = "\x1b[0m"
)

func actionColor(a Action) string {
	switch a {
	case Created:
		return green
	case Configured:
		return yellow
	case Deleted, Failed, Unreachable:
		return red
	case Unmanaged:
		return magenta
	}
	return ""
}

// WriteText writes the header, one line per entry shown, each diff under
// its entry, and a summary line that counts every entry, shown or not.
func WriteText(w io.Writer, cs *ChangeSet, o TextOptions) error {
	paint := func(color, s string) string {
		if !o.Color || color == "" {
			return s
		}
		return color + s + reset
	}
	width := 0
	for _, c := range cs.Changes {
		if n := len(c.ID()); n > width && o.shown(c) {
			width = n
		}
	}
	var b strings.Builder
	if o.Header != "" {
		b.WriteString(o.Header + "\n")
	}
	for _, c := range cs.Changes {
		if !o.shown(c) {
			continue
		}
		fmt.Fprintf(&b, "%-*s %s", width, c.ID(), paint(actionColor(c.Action), string(c.Action)))
		switch {
		case c.Path != "" && c.Node != "":
			b.WriteString(" " + c.Node + ":" + ShowPath(c.Path))
		case c.Path != "":
			b.WriteString(" " + ShowPath(c.Path))
		}
		switch {
		case strings.HasPrefix(c.Target, "systemd:") && c.Node != "" && c.Path == "":
			b.WriteString(" " + c.Node + ":" + c.Target) // a unit's systemd on a node
		case strings.HasPrefix(c.Target, "systemd:"):
			b.WriteString(" " + c.Target)
		case c.Target != "":
			b.WriteString(" launchd:" + c.Target)
		}
		var notes []string
		if c.Reason != "" {
			notes = append(notes, c.Reason)
		}
		if c.Backup != "" && !o.Terse {
			notes = append(notes, "backup ~/"+c.Backup)
		}
		if c.Error != "" {
			notes = append(notes, c.Error)
		}
		if len(notes) > 0 {
			b.WriteString(" (" + strings.Join(notes, "; ") + ")")
		}
		b.WriteByte('\n')
		// apply's summary shows what it changed in files that were there;
		// whole new or removed files are the plan's to show (and JSON's).
		wholeFile := (c.Action == Created || c.Action == Deleted) && strings.Contains(c.Diff, "/dev/null\n")
		if c.Diff != "" && !o.Terse && !(o.Quiet && wholeFile) {
			for _, line := range strings.SplitAfter(c.Diff, "\n") {
				if line == "" {
					continue
				}
				switch {
				case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"):
					b.WriteString(paint(bold, strings.TrimSuffix(line, "\n")) + "\n")
				case strings.HasPrefix(line, "@@"):
					b.WriteString(paint(cyan, strings.TrimSuffix(line, "\n")) + "\n")
				case strings.HasPrefix(line, "+"):
					b.WriteString(paint(green, strings.TrimSuffix(line, "\n")) + "\n")
				case strings.HasPrefix(line, "-"):
					b.WriteString(paint(red, strings.TrimSuffix(line, "\n")) + "\n")
				default:
					b.WriteString(line)
				}
			}
		}
	}
	s := cs.Summary()
	fmt.Fprintf(&b, "%d created, %d configured, %d deleted, %d unchanged, %d skipped, %d unmanaged, %d failed",
		s.Created, s.Configured, s.Deleted, s.Unchanged, s.Skipped, s.Unmanaged, s.Failed)
	if s.Unreachable > 0 {
		fmt.Fprintf(&b, ", %d unreachable", s.Unreachable)
	}
	if o.Label != "" {
		b.WriteString(" (" + o.Label + ")")
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// ShowPath is how a report names a file: ~/... for one under HOME (paths
// are HOME-relative), as it is for the one kind outside it (a system
// unit's file under /etc/systemd/system).
func ShowPath(p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return "~/" + p
}
