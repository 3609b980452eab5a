package controllers

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"howett.net/plist"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

// LaunchAgentsDir is where launchd reads user agents, relative to HOME.
const LaunchAgentsDir = "Library/LaunchAgents"

// SchedulePlist is the agent of the scheduled pass (reconcile schedule
// install); it belongs to no catalog and is never reported as a stranger.
const SchedulePlist = LaunchAgentsDir + "/com.sanctum.reconcile.plist"

// AgentRecord is what the state keeps about an agent reconcile loaded: the
// digests of its plist and restartOn inputs at that moment. A reload is due
// only when one of them changed.
type AgentRecord struct {
	Name      string            `json:"name"`
	Target    string            `json:"target"` // gui/501/com.sanctum.x
	PlistPath string            `json:"plistPath"`
	PlistSHA  string            `json:"plistSha256"`
	RestartOn map[string]string `json:"restartOn,omitempty"` // ~/path -> sha256, "" when absent
}

// LaunchAgentController renders plists and keeps launchd's loaded state in
// line with them, reloading only with a reason.
type LaunchAgentController struct{}

// Kind implements Controller.
func (LaunchAgentController) Kind() string { return v1.KindLaunchAgent }

// PlistPath is an agent's plist, relative to HOME.
func PlistPath(a *v1.LaunchAgent) string { return path.Join(LaunchAgentsDir, a.PlistName()) }

// Domain is the launchd domain an agent of this user loads into.
func Domain(a *v1.LaunchAgent) string { return fmt.Sprintf("%s/%d", a.DomainKind(), uid()) }

// uid is the user whose launchd domains the agents load into.
func uid() int { return os.Getuid() }

// abs is a HOME-relative path as launchctl needs it.
func (p *Pass) abs(rel string) string {
	if path.IsAbs(rel) { // a system unit's file (observed.MountHost)
		return rel
	}
	return filepath.Join(p.Host.Home(), filepath.FromSlash(rel))
}

// plistLabel reads a plist's Label, or "".
func plistLabel(data []byte) string {
	var v struct{ Label string }
	if _, err := plist.Unmarshal(data, &v); err != nil {
		return ""
	}
	return v.Label
}

// RenderPlist renders an agent's XML plist, byte for byte deterministic:
// keys in the canonical order (sorted, as plutil and launchd write them),
// tab-indented. spec.extra's keys are rendered among them as written.
func RenderPlist(a *v1.LaunchAgent) ([]byte, error) {
	out, err := plist.MarshalIndent(PlistDict(a), plist.XMLFormat, "\t")
	if err != nil {
		return nil, fmt.Errorf("render plist: %w", err)
	}
	return append(out, '\n'), nil
}

// PlistDict is the plist an agent's spec stands for, as a dictionary of
// plain values (the renderer sorts its keys).
func PlistDict(a *v1.LaunchAgent) map[string]any {
	s := a.Spec
	d := make(map[string]any, len(s.Extra)+8)
	for k, v := range s.Extra {
		d[k] = v.Plist()
	}
	d["Label"] = a.LabelName()
	d["ProgramArguments"] = s.ProgramArguments
	if len(s.Environment) > 0 {
		d["EnvironmentVariables"] = s.Environment
	}
	for k, v := range map[string]string{"WorkingDirectory": s.WorkingDirectory, "StandardOutPath": s.StandardOutPath,
		"StandardErrorPath": s.StandardErrorPath, "ProcessType": s.ProcessType} {
		if v != "" {
			d[k] = v
		}
	}
	if s.RunAtLoad {
		d["RunAtLoad"] = true
	}
	if s.KeepAlive != nil {
		d["KeepAlive"] = s.KeepAlive.Plist()
	}
	if s.StartInterval > 0 {
		d["StartInterval"] = s.StartInterval
	}
	if len(s.StartCalendarInterval) > 0 {
		d["StartCalendarInterval"] = plistCalendar(s.StartCalendarInterval)
	}
	if len(s.WatchPaths) > 0 {
		d["WatchPaths"] = s.WatchPaths
	}
	if len(s.QueueDirectories) > 0 {
		d["QueueDirectories"] = s.QueueDirectories
	}
	if s.ThrottleInterval != nil {
		d["ThrottleInterval"] = *s.ThrottleInterval
	}
	if len(s.LimitLoadToSessionType) > 0 {
		d["LimitLoadToSessionType"] = s.LimitLoadToSessionType.Plist()
	}
	if s.Nice != nil {
		d["Nice"] = *s.Nice
	}
	if l := s.SoftResourceLimits.Plist(); len(l) > 0 {
		d["SoftResourceLimits"] = l
	}
	if l := s.HardResourceLimits.Plist(); len(l) > 0 {
		d["HardResourceLimits"] = l
	}
	return d
}

// PlistCanon is the sha256 of what a plist says to launchd: its keys and
// values re-encoded as RenderPlist encodes them, whatever their layout (key
// order, indentation, comments, XML or binary; one calendar interval for a
// list of one, a list of one session type for the type, which launchd
// reads alike). The form is RenderPlist's, so that a rendered plist's
// canonical digest is its own digest: nothing is computed for the plists
// reconcile writes, only for bytes that differ from them. An <integer> and
// a <real> stay apart: launchd reads some keys as one type only. "" when
// the bytes are no plist dictionary.
func PlistCanon(data []byte) string {
	if !bytes.HasPrefix(data, []byte("bplist")) && !wellFormedPlist(data) {
		return "" // the decoder forgives what launchd's does not
	}
	var d map[string]any
	if _, err := plist.Unmarshal(data, &d); err != nil || d == nil {
		return ""
	}
	if v, ok := d["StartCalendarInterval"].(map[string]any); ok {
		d["StartCalendarInterval"] = []any{v}
	}
	if v, ok := d["LimitLoadToSessionType"].([]any); ok && len(v) == 1 {
		d["LimitLoadToSessionType"] = v[0]
	}
	out, err := plist.MarshalIndent(d, plist.XMLFormat, "\t")
	if err != nil {
		return ""
	}
	return digest(append(out, '\n'))
}

// plistElements are the elements of an XML property list.
var plistElements = map[string]bool{"plist": true, "dict": true, "array": true, "key": true, "string": true,
	"integer": true, "real": true, "true": true, "false": true, "date": true, "data": true}

// plistLeaves are the elements that hold text.
var plistLeaves = map[string]bool{"key": true, "string": true, "integer": true, "real": true, "date": true, "data": true}

// wellFormedPlist reports whether data is an XML property list as
// launchd's parser takes it: well-formed XML (strict: every tag closed in
// order), one plist element, only plist elements, text only inside the
// elements that hold it, nothing but whitespace and comments around them.
// The plist decoder is more forgiving (a stray character between two
// elements, a damaged closing </plist>, text after it): bytes it would
// read the same could be a plist launchd refuses to load.
func wellFormedPlist(data []byte) bool {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var stack []string
	roots := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return roots == 1 && len(stack) == 0
		}
		if err != nil {
			return false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if !plistElements[t.Name.Local] || t.Name.Space != "" || (len(stack) == 0) != (t.Name.Local == "plist") {
				return false
			}
			if len(stack) == 0 {
				roots++
			}
			stack = append(stack, t.Name.Local)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if (len(stack) == 0 || !plistLeaves[stack[len(stack)-1]]) && len(bytes.TrimSpace(t)) > 0 {
				return false
			}
		}
	}
}

// SamePlist reports whether bytes say what a rendered plist says: their
// PlistCanon is the rendered bytes' digest. A plist on the host that reads
// as the one the catalog wants is left as it is.
func SamePlist(current, rendered []byte) bool {
	c := PlistCanon(current)
	return c != "" && c == digest(rendered)
}

// Reconcile implements Controller.
func (LaunchAgentController) Reconcile(ctx context.Context, p *Pass, cat *desired.Catalog) []drift.Change {
	if len(cat.Agents) == 0 {
		return nil
	}
	byName := make(map[string]*v1.LaunchAgent, len(cat.Agents))
	for _, a := range cat.Agents {
		byName[a.Name] = a
	}
	var changes []drift.Change
	var targets []FileTarget
	var active []*v1.LaunchAgent
	retired := make(map[string]bool)
	for _, name := range cat.AgentGraph().Order() {
		a := byName[name]
		switch {
		case a.Spec.Retired:
			retired[PlistPath(a)] = true
		case !a.IsEnabled():
			changes = append(changes, drift.Change{Kind: v1.KindLaunchAgent, Name: a.Name, Action: drift.Skipped,
				Reason: "disabled" + ownerNote(a)})
		default:
			targets = append(targets, FileTarget{Kind: v1.KindLaunchAgent, Name: a.Name, Path: PlistPath(a),
				Render: func() ([]byte, error) { return RenderPlist(a) }, Twin: p.agentTwin(ctx, a.Name),
				Launchd: Domain(a) + "/" + a.LabelName(), Canonical: PlistCanon})
			active = append(active, a)
		}
	}
	files := p.Files(ctx, targets)
	changes = append(changes, files...)
	// launchd's side, one agent at a time in dependency order: an agent is
	// (re)started only after the agents it depends on.
	for i, a := range active {
		changes = append(changes, p.agentRuntime(ctx, a, targets[i], files[i]))
	}
	for _, name := range cat.AgentGraph().Order() {
		if a := byName[name]; a.Spec.Retired {
			changes = append(changes, p.retire(ctx, a))
		}
	}
	var strangers []drift.Change
	for _, c := range p.strangers(LaunchAgentsDir, ".plist", v1.KindLaunchAgent, targets) {
		if strings.HasPrefix(path.Base(c.Path), "com.sanctum.") && !retired[c.Path] && c.Path != SchedulePlist && c.Path != HealthSchedulePlist {
			strangers = append(strangers, c)
		}
	}
	return append(changes, strangers...)
}

func ownerNote(a *v1.LaunchAgent) string {
	if a.Spec.Owner != "" {
		return " with " + a.Spec.Owner
	}
	return ""
}

// restartInputs digests the restartOn files as they are now ("" if absent).
func (p *Pass) restartInputs(a *v1.LaunchAgent) (map[string]string, error) {
	return p.inputDigests(v1.KindLaunchAgent, a.Spec.RestartOn)
}

// inputDigests digests restartOn files of an object of kind as they are
// now ("" if absent).
func (p *Pass) inputDigests(kind string, restartOn []string) (map[string]string, error) {
	if len(restartOn) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(restartOn))
	for _, r := range restartOn {
		rel, _ := v1.HomePath(r)
		// A wrapper is a symlink, often to a path outside HOME: what it
		// points to is the input, not the bytes behind it.
		if info, err := p.Host.Lstat(rel); err == nil && info.Mode()&fs.ModeSymlink != 0 {
			target, err := p.Host.Readlink(rel)
			if err != nil {
				return nil, fmt.Errorf("restartOn %s: %w", r, err)
			}
			out[r] = p.afterPrune(kind, rel, linkDigest(target))
			continue
		}
		data, _, err := p.Host.ReadFile(rel)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			out[r] = ""
		case err != nil:
			return nil, fmt.Errorf("restartOn %s: %w", r, err)
		default:
			out[r] = p.afterPrune(kind, rel, digest(data))
		}
	}
	return out, nil
}

// afterPrune is what a restartOn input will hold when this pass ends: ""
// when the prune at the end of the pass removes it (a file an earlier
// kind than the one restarted owned, that no object wants any more and
// that still holds what reconcile wrote), else what it holds now. Without
// it an agent whose input is pruned in the same pass would read as
// changed on the next one.
func (p *Pass) afterPrune(kind, rel, now string) string {
	e, owned := p.inv.Previous(rel)
	if owned && !p.inv.Wanted(rel) && KindRank(e.Kind) < KindRank(kind) && e.SHA256 == now {
		return ""
	}
	return now
}

// agentRuntime compares what launchd has loaded with the plist and acts:
// enable when disabled, bootstrap when not loaded, reload when the plist or a
// restartOn input changed since it was loaded, nothing otherwise.
func (p *Pass) agentRuntime(ctx context.Context, a *v1.LaunchAgent, t FileTarget, file drift.Change) drift.Change {
	c := drift.Change{Kind: v1.KindLaunchAgent, Name: a.Name, Target: t.Launchd}
	if err := p.Launchd.Available(); err != nil {
		c.Action, c.Reason = drift.Skipped, "launchd state unknown: "+err.Error()
		return c
	}
	if file.Action == drift.Failed {
		c.Action, c.Reason = drift.Skipped, "plist not reconciled; launchd left as it is"
		return p.keepAgent(c, a)
	}
	inputs, err := p.restartInputs(a)
	if err != nil {
		return p.keepAgent(p.fail(c, err), a)
	}
	domain := Domain(a)
	plistAbs := p.abs(t.Path)
	// What the plist says, not its layout: another layout of the same
	// plist is no reason to reload.
	rec := AgentRecord{Name: a.Name, Target: t.Launchd, PlistPath: t.Path, PlistSHA: t.Says(), RestartOn: inputs}

	disabled, err := p.disabledIn(ctx, domain)
	if err != nil {
		return p.keepAgent(p.fail(c, err), a)
	}
	info, err := p.Launchd.Print(ctx, t.Launchd)
	loaded := err == nil
	if err != nil && !errors.Is(err, observed.ErrNotLoaded) {
		return p.keepAgent(p.fail(c, err), a)
	}
	var steps []string
	if disabled[a.LabelName()] {
		if err := p.Launchd.Enable(ctx, t.Launchd); err != nil {
			return p.keepAgent(p.fail(c, err), a)
		}
		steps = append(steps, "disabled in launchd: enable")
	}
	reason := ""
	if loaded {
		reason = p.reloadReason(a, info, plistAbs, rec, file)
		if reason == "" {
			c.Action = drift.Unchanged
			if len(steps) > 0 {
				c.Action, c.Reason = drift.Configured, strings.Join(steps, "; ")
			}
			p.recordAgent(rec)
			return c
		}
		steps = append(steps, reason+": reload")
		c.Action = drift.Configured
	} else {
		steps = append(steps, "not loaded: bootstrap")
		c.Action = drift.Created
	}
	tries, err := observed.Reload(ctx, p.Launchd, t.Launchd, domain, plistAbs, loaded, p.Reload)
	if tries > 1 {
		steps = append(steps, fmt.Sprintf("bootstrap took %d tries", tries))
	}
	c.Reason = strings.Join(steps, "; ")
	if err != nil {
		return p.keepAgent(p.fail(c, err), a)
	}
	p.recordAgent(rec)
	return c
}

// disabledIn asks launchd once per pass and domain which labels are
// disabled.
func (p *Pass) disabledIn(ctx context.Context, domain string) (map[string]bool, error) {
	p.mu.Lock()
	d, ok := p.disabled[domain]
	p.mu.Unlock()
	if ok {
		return d, nil
	}
	d, err := p.Launchd.Disabled(ctx, domain)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.disabled[domain] = d
	p.mu.Unlock()
	return d, nil
}

// reloadReason says why a loaded agent must be reloaded, or "".
func (p *Pass) reloadReason(a *v1.LaunchAgent, info *observed.ServiceInfo, plistAbs string, rec AgentRecord, file drift.Change) string {
	prev, known := p.agentSection().prev[a.Name]
	if known && prev.Target == rec.Target {
		if prev.PlistSHA != rec.PlistSHA {
			return "plist changed since it was loaded"
		}
		for _, r := range a.Spec.RestartOn {
			if prev.RestartOn[r] != rec.RestartOn[r] {
				return "restartOn " + r + " changed since it was loaded"
			}
		}
	} else if file.Action == drift.Created || file.Action == drift.Configured {
		return "plist written while loaded"
	}
	if info.Path != "" && info.Path != plistAbs {
		return "loaded from " + info.Path + ", not from the plist"
	}
	return strings.Join(loadedDrift(a, info), "; ")
}

func (p *Pass) recordAgent(r AgentRecord) { p.agentSection().record(r) }

// keepAgent carries an agent's previous record over a failure, so that the
// reason to reload is not forgotten.
func (p *Pass) keepAgent(c drift.Change, a *v1.LaunchAgent) drift.Change {
	if prev, ok := p.agentSection().prev[a.Name]; ok {
		p.recordAgent(prev)
	}
	return c
}

// agentsSection is the key of the launch agents' section in reconcile.json.
const agentsSection = "agents"

// SectionKey implements Stateful.
func (LaunchAgentController) SectionKey() string { return agentsSection }

// NewSection implements Stateful.
func (LaunchAgentController) NewSection() Section {
	return &agentSection{newRecords(func(a AgentRecord) string { return a.Name },
		func(a, b AgentRecord) bool { return a.Name < b.Name })}
}

// agentSection is what the launch agents remember between passes: each
// agent's plist and restartOn digests as reconcile last loaded it, by
// name.
type agentSection struct{ *records[AgentRecord] }

func (p *Pass) agentSection() *agentSection { return sectionOf[*agentSection](p, agentsSection) }

// retire makes a retired agent gone: booted out if loaded, its plist moved
// into the run's backups.
func (p *Pass) retire(ctx context.Context, a *v1.LaunchAgent) drift.Change {
	rel := PlistPath(a)
	target := Domain(a) + "/" + a.LabelName()
	c := drift.Change{Kind: v1.KindLaunchAgent, Name: a.Name, Path: rel, Target: target, Action: drift.Unchanged, Reason: "retired"}
	p.inv.Want(rel, c.ID()) // never pruned or reported as a stranger
	var steps []string
	if err := p.Launchd.Available(); err == nil {
		was, err := observed.Unload(ctx, p.Launchd, target, p.Reload)
		if err != nil {
			return p.fail(c, err)
		}
		if was {
			steps = append(steps, "retired: booted out")
		}
	}
	data, info, err := p.Host.ReadFile(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return p.fail(c, err)
	default:
		backup, err := p.backup(c.Kind, c.Name, rel, data, info.Mode().Perm(), "removed")
		if err != nil {
			return p.fail(c, err)
		}
		if err := p.Host.Remove(rel); err != nil {
			return p.fail(c, err)
		}
		c.Backup = backup
		if p.Diffs {
			c.Diff = p.deletedDiff(rel, data)
		}
		steps = append(steps, "retired: plist moved to backups")
	}
	if len(steps) > 0 {
		c.Action, c.Reason = drift.Deleted, strings.Join(steps, "; ")
	}
	return c
}
