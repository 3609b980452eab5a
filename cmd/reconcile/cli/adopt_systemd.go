package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/controllers"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/observed"
)

// unitReader is what adopt asks the user's systemd: the unit's files as
// systemd reads them, and a few properties.
type unitReader interface {
	Available() error
	ShowProperties(ctx context.Context, props, units []string) (map[string]map[string]string, error)
	Cat(ctx context.Context, unit string) (string, error)
}

var _ unitReader = (*observed.Systemctl)(nil)

// adoptUnitProperties are what adopt asks `systemctl show` for.
var adoptUnitProperties = []string{"Id", "LoadState", "UnitFileState", "FragmentPath", "DropInPaths"}

// adoptSystemd prints a SystemdUnit for a unit the user's systemd knows:
// `reconcile adopt systemd/<unit>`.
func (a *app) adoptSystemd(ctx context.Context, arg, unit string, reveal bool) error {
	if !strings.Contains(unit, ".") {
		unit += ".service"
	}
	if !strings.HasSuffix(unit, ".service") || strings.ContainsAny(unit, "/ ") {
		return &exitError{ExitError, fmt.Errorf("%q: only service units are adopted (systemd/<name>.service)", arg)}
	}
	cat, err := a.loadCatalog(ctx, desired.PlaceholderSecrets)
	if err != nil {
		return err
	}
	taken := make(map[string]bool, len(cat.Units))
	for _, u := range cat.Units {
		taken[u.Name] = true
		if u.UnitName() == unit {
			return &exitError{ExitError, fmt.Errorf("systemd/%s is already managed by the catalog: %s (%s)",
				unit, unitManagedBy(u), path.Join(cat.Name, cat.Sources[v1.KindSystemdUnit+"/"+u.Name]))}
		}
	}
	localHost, err := a.localHost()
	if err != nil {
		return err
	}
	home, _, err := a.resolveHome()
	if err != nil {
		return err
	}
	// Here, this host's systemd; from another host, that of the node that
	// is vm (one SSH session per systemctl call), unless --local.
	var sd unitReader = observed.NewSystemctl()
	var onNode *nodeUnitReader
	homeAs, where := "{{ .home }}", ""
	switch n := cat.NodeFor(v1.SystemdHostVM); {
	case localHost == v1.SystemdHostVM:
	case n != nil && !a.local:
		ssh := observed.NewSSH(home)
		defer ssh.Close()
		onNode = &nodeUnitReader{n: observed.NodeUnits{SSH: ssh, Node: controllers.ObservedNode(n)}}
		sd, where = onNode, "node "+n.Name+": "
	default:
		sd = noUnitReader{}
	}
	if err := sd.Available(); err != nil {
		return &exitError{ExitError, fmt.Errorf("systemd/%s: %w: adopt reads a unit on the host that runs it (vm), or from another host on the node that is vm (catalogHost: vm; not with --local)", unit, err)}
	}
	props, err := sd.ShowProperties(ctx, adoptUnitProperties, []string{unit})
	var p map[string]string
	if err == nil {
		p = props[unit]
	}
	system := false
	if (err != nil || p["LoadState"] == "not-found") && onNode == nil && localHost == v1.SystemdHostVM {
		// Not the user's (or no user manager answers, as for root):
		// perhaps the system manager's (scope: system).
		if sys := observed.NewSystemctlSystem(); sys.Available() == nil {
			if sp, serr := sys.ShowProperties(ctx, adoptUnitProperties, []string{unit}); serr == nil && sp[unit] != nil && sp[unit]["LoadState"] != "not-found" {
				sd, p, system, err = sys, sp[unit], true, nil
			}
		}
	}
	if (err != nil || p["LoadState"] == "not-found") && onNode != nil {
		// Not the node user's: perhaps the node's system manager's, asked
		// over the same connection.
		sys := &nodeUnitReader{n: observed.NodeUnits{SSH: onNode.n.SSH, Node: onNode.n.Node, System: true}}
		sp, serr := sys.ShowProperties(ctx, adoptUnitProperties, []string{unit})
		switch {
		case serr == nil && sp[unit] != nil && sp[unit]["LoadState"] != "not-found":
			sd, onNode, p, system, err = sys, sys, sp[unit], true, nil
		case serr == nil && err != nil:
			return &exitError{ExitError, fmt.Errorf("systemd/%s: %sthe system manager knows no such unit (LoadState=not-found), and the user's systemd did not answer: %w", unit, where, err)}
		}
	}
	if err != nil {
		return &exitError{ExitError, fmt.Errorf("systemd/%s: %w", unit, err)}
	}
	switch {
	case p["LoadState"] == "not-found" && onNode == nil:
		return &exitError{ExitError, fmt.Errorf("systemd/%s: the user's systemd knows no such unit (LoadState=not-found), nor does the system manager: see systemctl --user list-unit-files and systemctl list-unit-files", unit)}
	case p["LoadState"] == "not-found":
		return &exitError{ExitError, fmt.Errorf("systemd/%s: %sthe user's systemd knows no such unit (LoadState=not-found), nor does the system manager: see systemctl --user list-unit-files and systemctl list-unit-files", unit, where)}
	case p["FragmentPath"] == "":
		return &exitError{ExitError, fmt.Errorf("systemd/%s: no unit file to adopt (LoadState=%s: a transient or generated unit)", unit, p["LoadState"])}
	}
	out, err := sd.Cat(ctx, unit)
	if err != nil {
		return &exitError{ExitError, fmt.Errorf("systemd/%s: %w", unit, err)}
	}
	dropIns := strings.Fields(p["DropInPaths"])
	fragment, err := unitFragment(out, p["FragmentPath"], dropIns)
	if err != nil {
		return &exitError{ExitError, fmt.Errorf("systemd/%s: %w", unit, err)}
	}
	host, done, err := a.readHome()
	if err != nil {
		return err
	}
	defer done()
	unitHome := home
	if onNode != nil {
		// The node's paths: its home is not this host's, and {{ .home }}
		// renders as this host's; the instance may name the node's.
		unitHome, homeAs = onNode.home, ""
		if u, ok := cat.Instance.Users[v1.SystemdHostVM]; ok && u.Home != "" && path.Clean(u.Home) == unitHome {
			homeAs = "{{ .users.vm.home }}"
		}
	}
	secrets, err := knownSecrets(host)
	if err != nil {
		return &exitError{ExitError, err}
	}
	entry, err := adoptUnitEntry(unitFound{
		unit: unit, fragmentPath: p["FragmentPath"], fragment: fragment, unitFileState: p["UnitFileState"],
		dropIns: dropIns, homeAs: homeAs, where: where, system: system,
	}, adoptMask{secrets: secrets, reveal: reveal}, unitHome, taken)
	if errors.Is(err, errNoExecStart) {
		_, _ = a.cfg.Stdout.Write(entry)
	}
	if err != nil {
		return &exitError{ExitError, fmt.Errorf("%s: %w", p["FragmentPath"], err)}
	}
	_, err = a.cfg.Stdout.Write(entry)
	return err
}

// nodeUnitReader reads a unit of the node that is vm over SSH, and keeps
// the node user's home its Cat answered with.
type nodeUnitReader struct {
	n    observed.NodeUnits
	home string
}

func (r *nodeUnitReader) Available() error { return r.n.Available() }
func (r *nodeUnitReader) ShowProperties(ctx context.Context, props, units []string) (map[string]map[string]string, error) {
	return r.n.ShowProperties(ctx, props, units)
}
func (r *nodeUnitReader) Cat(ctx context.Context, unit string) (string, error) {
	out, home, err := r.n.Cat(ctx, unit)
	r.home = home
	return out, err
}

// noUnitReader is the Mac's: no systemd to ask.
type noUnitReader struct{}

func (noUnitReader) Available() error { return observed.ErrNoSystemd }
func (noUnitReader) ShowProperties(context.Context, []string, []string) (map[string]map[string]string, error) {
	return nil, observed.ErrNoSystemd
}
func (noUnitReader) Cat(context.Context, string) (string, error) { return "", observed.ErrNoSystemd }

// unitManagedBy names the catalog object that declares a unit.
func unitManagedBy(u *v1.SystemdUnit) string {
	if u.Spec.Owner != "" {
		return v1.KindSystemdUnit + "/" + u.Name + ", spec.systemd of " + u.Spec.Owner
	}
	return v1.KindSystemdUnit + "/" + u.Name
}

// unitFragment is the unit's own file in `systemctl cat`'s output: after
// its "# <FragmentPath>" line, up to the empty line and "# <path>" line
// that systemctl puts before a drop-in.
func unitFragment(cat, fragmentPath string, dropIns []string) ([]byte, error) {
	lines := strings.Split(cat, "\n")
	start := slices.Index(lines, "# "+fragmentPath)
	if start < 0 {
		return nil, fmt.Errorf("systemctl cat shows no %s", fragmentPath)
	}
	end := len(lines)
	for i := start + 2; i < len(lines); i++ {
		if lines[i-1] == "" && strings.HasPrefix(lines[i], "# ") && slices.Contains(dropIns, lines[i][2:]) {
			end = i - 1
			break
		}
	}
	return []byte(strings.TrimRight(strings.Join(lines[start+1:end], "\n"), "\n") + "\n"), nil
}

// unitFound is what adopt read of a unit.
type unitFound struct {
	unit, fragmentPath string
	fragment           []byte
	unitFileState      string
	dropIns            []string
	// homeAs is how a path under the home is written: {{ .home }} for
	// this host's; for a node's, {{ .users.vm.home }} when the instance
	// says that is the node's home, else "" (the path as it is).
	homeAs string
	// where says where systemd runs the unit, in notes ("" here).
	where string
	// system: the system manager's unit (scope: system).
	system bool
}

// specifier is a systemd specifier (%h, %u, ...) in a value.
var specifier = regexp.MustCompile(`%.`)

// adoptUnitEntry turns a unit file into a SystemdUnit in catalog YAML:
// ExecStart (argv, unquoted as systemd reads it), Environment,
// WorkingDirectory, Restart, Description, After, Wants, WantedBy and
// enabled go into their fields; anything else is listed as a comment,
// never dropped silently. A path under home is written {{ .home }}/...,
// and so is systemd's %h.
func adoptUnitEntry(f unitFound, m adoptMask, home string, taken map[string]bool) ([]byte, error) {
	entries, err := controllers.ParseUnitFile(f.fragment)
	if err != nil {
		return nil, err
	}
	var dropped, notes []string
	drop := func(e controllers.UnitEntry, why string) {
		dropped = append(dropped, fmt.Sprintf("[%s] %s= (line %d): %s", e.Section, e.Key, e.Line, why))
	}
	withHome := func(v string) string {
		if home != "" && f.homeAs != "" && (v == home || strings.HasPrefix(v, home+"/")) {
			return f.homeAs + strings.TrimPrefix(v, home)
		}
		return v
	}
	homeSpecifier := false
	// resolve reads a value's specifiers: %% is %, %h the home; any other
	// cannot be carried (the catalog writes % as %%).
	resolve := func(e controllers.UnitEntry, v string) (string, bool) {
		ok := true
		out := specifier.ReplaceAllStringFunc(v, func(s string) string {
			switch s {
			case "%%":
				return "%"
			case "%h":
				if home != "" {
					homeSpecifier = true
					return home
				}
			}
			ok = false
			return s
		})
		if !ok {
			drop(e, "a specifier other than %% and %h, which the catalog cannot write (it writes % as %%)")
		}
		return out, ok
	}
	spec := v1.SystemdSpec{}
	var execSeen, wantedBySeen, descSeen, secretHeld bool
	for _, e := range entries {
		switch e.Section + "." + e.Key {
		case "Unit.Description":
			descSeen = true
			if v, ok := resolve(e, e.Value); ok {
				spec.Description = v
			}
		case "Unit.After", "Unit.Wants", "Install.WantedBy":
			list := &spec.After
			switch e.Key {
			case "Wants":
				list = &spec.Wants
			case "WantedBy":
				list, wantedBySeen = &spec.WantedBy, true
			}
			if e.Value == "" {
				*list = nil
				continue
			}
			for _, u := range strings.Fields(e.Value) {
				if !slices.Contains(*list, u) {
					*list = append(*list, u)
				}
			}
		case "Service.ExecStart":
			if execSeen {
				drop(e, "a second ExecStart (a oneshot's): the catalog runs one command")
				continue
			}
			execSeen = true
			words, err := controllers.SplitUnitWords(e.Value)
			if err != nil {
				drop(e, err.Error())
				continue
			}
			if len(words) > 0 && strings.IndexAny(words[0], "@-:+!") == 0 {
				drop(e, fmt.Sprintf("the prefix of %q (@, -, :, + or !), which the catalog cannot write", words[0]))
				continue
			}
			var args []string
			carried := true
			for i, w := range words {
				w, ok := resolve(e, w)
				if !ok {
					carried = false
					break
				}
				if strings.Contains(w, "$") {
					if strings.Contains(strings.ReplaceAll(w, "$$", ""), "$") {
						drop(e, fmt.Sprintf("argument %d expands a variable (%s), which the catalog cannot write (it writes $ as $$)", i, w))
						carried = false
						break
					}
					w = strings.ReplaceAll(w, "$$", "$")
				}
				credential := i > 0 && credentialName.MatchString(words[i-1]) && strings.HasPrefix(words[i-1], "-") && !strings.Contains(words[i-1], "=")
				args = append(args, withHome(m.masked(fmt.Sprintf("spec.execStart[%d]", i), w, false, credential)))
			}
			if carried {
				spec.ExecStart = args
			}
		case "Service.Environment":
			words, err := controllers.SplitUnitWords(e.Value)
			if err != nil {
				drop(e, err.Error())
				continue
			}
			if e.Value == "" {
				spec.Environment = nil
			}
			for _, w := range words {
				k, v, ok := strings.Cut(w, "=")
				if !ok {
					drop(e, fmt.Sprintf("%q is no assignment", w))
					continue
				}
				v, ok = resolve(e, v)
				if !ok {
					continue
				}
				if spec.Environment == nil {
					spec.Environment = map[string]string{}
				}
				spec.Environment[k] = withHome(m.masked("spec.environment."+k, v, true, credentialName.MatchString(k)))
				secretHeld = secretHeld || strings.Contains(spec.Environment[k], "{{ secret ")
			}
		case "Service.WorkingDirectory":
			v := e.Value
			if v == "~" {
				v = "%h"
			} else if strings.HasPrefix(v, "~/") {
				v = "%h" + v[1:]
			}
			if strings.HasPrefix(v, "-") {
				drop(e, "the - prefix (a missing directory ignored), which the catalog cannot write")
				continue
			}
			if v, ok := resolve(e, v); ok {
				spec.WorkingDirectory = withHome(m.masked("spec.workingDirectory", v, false, false))
			}
		case "Service.Restart":
			if !slices.Contains(v1.RestartPolicies, e.Value) {
				drop(e, "not a Restart= policy")
				continue
			}
			if e.Value != "no" {
				spec.Restart = e.Value
			}
		case "Service.Type":
			if e.Value != "simple" {
				drop(e, "the catalog's units are Type=simple")
			}
		default:
			drop(e, "no field for it")
		}
	}
	if !execSeen {
		notes = append(notes, "no ExecStart: write spec.execStart, the program by absolute path")
	}
	if !descSeen {
		notes = append(notes, "no Description=: the catalog writes Description=sanctum <name> (set spec.description to keep it otherwise)")
	}
	if !wantedBySeen {
		notes = append(notes, "no [Install] WantedBy=: the catalog's unit is wanted by default.target, so that enable starts it at login")
	}
	if slices.Equal(spec.WantedBy, []string{"default.target"}) {
		spec.WantedBy = nil // the default
	}
	if homeSpecifier {
		as := f.homeAs
		if as == "" {
			as = home
		}
		notes = append(notes, "%h (or ~) written as "+as+": the catalog writes the path itself, so the first apply rewrites the unit and restarts it")
	}
	if secretHeld {
		notes = append(notes, fmt.Sprintf("the unit holds a secret: reconcile keeps its file 0600 (chmod 600 %s before the first apply, else that apply changes its mode and restarts the unit)", f.fragmentPath))
	}
	for _, d := range f.dropIns {
		dropped = append(dropped, fmt.Sprintf("drop-in %s: its settings stay out of the entry (systemd still reads it)", d))
	}
	switch f.unitFileState {
	case "enabled":
	case "disabled":
		off := false
		spec.Enabled = &off
		notes = append(notes, "the unit is disabled: enabled: false, so reconcile leaves it alone; remove it to have reconcile enable and run the unit")
	default:
		notes = append(notes, fmt.Sprintf("UnitFileState=%s: reconcile enables the unit (WantedBy=)", f.unitFileState))
	}
	name := adoptName(strings.TrimPrefix(strings.TrimSuffix(f.unit, ".service"), "sanctum-"), taken)
	obj := v1.SystemdUnit{
		TypeMeta:   v1.TypeMeta{APIVersion: v1.APIVersion, Kind: v1.KindSystemdUnit},
		ObjectMeta: v1.ObjectMeta{Name: name},
		Spec:       spec,
	}
	if obj.UnitName() != f.unit {
		obj.Spec.Unit = f.unit
	}
	if f.system {
		obj.Spec.Scope = v1.SystemdScopeSystem
		if want := controllers.UnitPath(&obj); f.fragmentPath != want {
			notes = append(notes, fmt.Sprintf("systemd loads the unit from %s; the catalog writes %s, which the system manager reads first", f.fragmentPath, want))
		}
	} else if want := path.Join(home, controllers.UnitPath(&obj)); home != "" && f.fragmentPath != want {
		notes = append(notes, fmt.Sprintf("systemd loads the unit from %s; the catalog writes ~/%s, which the user's systemd reads first", f.fragmentPath, controllers.UnitPath(&obj)))
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# adopted from %s%s (systemd/%s)\n", f.where, f.fragmentPath, f.unit)
	for _, d := range dropped {
		fmt.Fprintf(&buf, "# not carried over: %s\n", d)
	}
	for _, n := range append(notes, m.notes...) {
		fmt.Fprintf(&buf, "# %s\n", n)
	}
	m.revealNote(&buf)
	buf.WriteString("# As a Service's unit: put this spec (without enabled) under spec.systemd of a Service with host: vm.\n")
	buf.WriteString("---\n")
	if err := encodeAdopted(&buf, &obj); err != nil {
		return nil, err
	}
	if len(obj.Spec.ExecStart) == 0 {
		return buf.Bytes(), errNoExecStart
	}
	return buf.Bytes(), nil
}

// errNoExecStart: the entry is printed, but cannot be used as it is.
var errNoExecStart = errors.New("no ExecStart the catalog can carry: the entry printed needs spec.execStart")
