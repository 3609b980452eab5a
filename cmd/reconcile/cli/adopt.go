package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
	"howett.net/plist"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/controllers"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
)

func (a *app) adoptCommand() *cobra.Command {
	var reveal bool
	cmd := &cobra.Command{
		Use:   "adopt launchagent/<label> | systemd/<unit>",
		Short: "Print a catalog entry for a launch agent or a systemd unit found on the host",
		Long: `adopt reads ~/Library/LaunchAgents/<label>.plist (or the plist whose Label is
<label>) and prints a LaunchAgent object for the catalog. It changes nothing:
paste the entry into the catalog and the next reconcile --dry-run reports the
agent unchanged. Every key the kind types goes into its field (keepAlive as a
boolean or a dictionary, watchPaths, queueDirectories, throttleInterval,
limitLoadToSessionType, nice, resource limits, ...), any other into spec.extra
(rendered as written, unchecked); what the catalog cannot write (UserName, a
date or data value) is listed as a comment. A path under the home is written
{{ .home }}/... . A label or plist the catalog already manages is refused,
naming the catalog object.

A value that holds a secret of ~/.sanctum/secrets is printed as
{{ secret "<name>" }} in its place (masked as *** where a secret cannot go,
such as a path, or where it is spelt otherwise); any other value that looks
like a credential (an environment variable named like a token, key or
password, a --token=... argument, an API key's shape) is masked as ***
unless --reveal. A secret's value is never printed.

adopt systemd/<unit> reads a unit of the user's systemd (systemctl --user cat
and show, on the host that runs it) and prints a SystemdUnit: ExecStart as
the argv systemd reads, Environment, WorkingDirectory, Restart, Description,
After, Wants, WantedBy and whether it is enabled; anything else (another
key, a drop-in, a specifier but %h) is listed as a comment. Pasted into the
catalog, the next reconcile --dry-run reports the unit unchanged and apply
restarts nothing. A unit the catalog already manages is refused.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, label, ok := strings.Cut(args[0], "/")
			if ok && strings.EqualFold(kind, "systemd") && label != "" {
				return a.adoptSystemd(cmd.Context(), args[0], label, reveal)
			}
			if !ok || !strings.EqualFold(kind, "launchagent") || label == "" {
				return &exitError{ExitError, fmt.Errorf("%q: want launchagent/<label> or systemd/<unit>", args[0])}
			}
			// The catalog the entry is for: a label it already manages is
			// refused (two objects would write one plist), and the entry's
			// name is one no launch agent of it has.
			cat, err := a.loadCatalog(cmd.Context(), desired.PlaceholderSecrets)
			if err != nil {
				return err
			}
			taken := make(map[string]bool, len(cat.Agents))
			for _, ag := range cat.Agents {
				taken[ag.Name] = true
				if ag.LabelName() == label {
					return &exitError{ExitError, fmt.Errorf("launchagent/%s is already managed by the catalog: %s (%s)",
						label, managedBy(ag), path.Join(cat.Name, cat.Sources[v1.KindLaunchAgent+"/"+ag.Name]))}
				}
			}
			host, done, err := a.readHome()
			if err != nil {
				return err
			}
			defer done()
			home, _, err := a.resolveHome()
			if err != nil {
				return err
			}
			file, data, err := findPlist(host, label)
			if err != nil {
				return &exitError{ExitError, err}
			}
			secrets, err := knownSecrets(host)
			if err != nil {
				return &exitError{ExitError, err}
			}
			for _, ag := range cat.Agents {
				if ag.PlistName() == file {
					return &exitError{ExitError, fmt.Errorf("~/%s is already the plist of the catalog's %s (%s)",
						path.Join(controllers.LaunchAgentsDir, file), managedBy(ag), path.Join(cat.Name, cat.Sources[v1.KindLaunchAgent+"/"+ag.Name]))}
				}
			}
			out, err := adoptEntry(label, file, data, adoptMask{secrets: secrets, reveal: reveal}, home, taken)
			if err != nil {
				return &exitError{ExitError, fmt.Errorf("~/%s: %w", path.Join(controllers.LaunchAgentsDir, file), err)}
			}
			_, err = a.cfg.Stdout.Write(out)
			return err
		},
	}
	cmd.Flags().BoolVar(&reveal, "reveal", false, "print values that look like credentials as found (a value of ~/.sanctum/secrets is still printed as {{ secret \"<name>\" }})")
	return cmd
}

// managedBy names the catalog object that declares an agent: the Service
// whose spec.launchAgent it is, or the LaunchAgent itself.
func managedBy(a *v1.LaunchAgent) string {
	if a.Spec.Owner != "" {
		return v1.KindLaunchAgent + "/" + a.Name + ", spec.launchAgent of " + a.Spec.Owner
	}
	return v1.KindLaunchAgent + "/" + a.Name
}

// namedSecret is one secret of ~/.sanctum/secrets, read as the catalog's
// secret function reads it.
type namedSecret struct{ name, value string }

// knownSecrets reads every secret under ~/.sanctum/secrets (regular files
// only, as the host reads any file), longest value first so that a value
// holding another is replaced whole.
func knownSecrets(host observed.Host) ([]namedSecret, error) {
	entries, err := host.ReadDir(desired.SecretDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("~/%s: %w", desired.SecretDir, err)
	}
	var out []namedSecret
	for _, e := range entries {
		if e.IsDir() || !desired.ValidSecretName(e.Name()) {
			continue
		}
		data, _, err := host.ReadFile(path.Join(desired.SecretDir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("secret %q: %w", e.Name(), err)
		}
		if v := strings.TrimRight(string(data), "\r\n"); v != "" {
			out = append(out, namedSecret{e.Name(), v})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].value) > len(out[j].value) })
	return out, nil
}

// adoptMask decides what of a plist adopt may print.
type adoptMask struct {
	secrets []namedSecret
	reveal  bool
	notes   []string
}

// masked is what the entry shows for a value found at field: each known
// secret in it as {{ secret "<name>" }} (where templates may take one),
// a secret spelt otherwise or in a path as ***, and, unless reveal, a
// value that looks like a credential as ***. credential says the field's
// name alone marks it as one (an environment variable named TOKEN).
func (m *adoptMask) masked(field, v string, templated, credential bool) string {
	out := v
	for _, s := range m.secrets {
		if !strings.Contains(out, s.value) {
			continue
		}
		if !templated {
			m.notes = append(m.notes, fmt.Sprintf("%s holds secret %q, and a secret cannot go there: masked as ***", field, s.name))
			out = strings.ReplaceAll(out, s.value, "***")
			continue
		}
		out = strings.ReplaceAll(out, s.value, `{{ secret "`+s.name+`" }}`)
		m.notes = append(m.notes, fmt.Sprintf("%s holds secret %q: written as {{ secret %q }}", field, s.name, s.name))
	}
	for _, s := range m.secrets {
		for _, sp := range drift.Spellings(s.value) {
			if len(sp) >= drift.MinSecretLine && strings.Contains(out, sp) {
				m.notes = append(m.notes, fmt.Sprintf("%s holds secret %q, escaped or encoded: masked as ***; write it with {{ secret %q }}", field, s.name, s.name))
				return "***"
			}
		}
	}
	if m.reveal || out != v {
		return out
	}
	if what, _, found := drift.SecretMaterial([]byte(v)); found || (credential && v != "") {
		if !found {
			what = "a credential (by its name)"
		}
		m.notes = append(m.notes, fmt.Sprintf("%s looks like %s: masked as *** (--reveal prints it); keep it in ~/%s/<name> and write {{ secret \"<name>\" }}", field, what, desired.SecretDir))
		return "***"
	}
	if k, rest, ok := strings.Cut(v, "="); ok && rest != "" && credentialName.MatchString(k) && strings.HasPrefix(k, "-") {
		m.notes = append(m.notes, fmt.Sprintf("%s looks like a credential (%s=...): masked as *** (--reveal prints it); keep it in ~/%s/<name> and write {{ secret \"<name>\" }}", field, k, desired.SecretDir))
		return k + "=***"
	}
	return v
}

// credentialName is a name (an environment variable, a --flag) that says
// its value is a credential.
var credentialName = regexp.MustCompile(`(?i)(token|secret|passw|pwd|api[_-]?key|access[_-]?key|private[_-]?key|credential|auth)`)

// findPlist finds the plist of a label: <label>.plist, else any plist whose
// Label it is (file names may differ from labels).
func findPlist(host observed.Host, label string) (string, []byte, error) {
	name := label + ".plist"
	data, _, err := host.ReadFile(path.Join(controllers.LaunchAgentsDir, name))
	if err == nil {
		return name, data, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", nil, err
	}
	entries, err := host.ReadDir(controllers.LaunchAgentsDir)
	if err != nil {
		return "", nil, err
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".plist") {
			continue
		}
		d, _, err := host.ReadFile(path.Join(controllers.LaunchAgentsDir, e.Name()))
		if err != nil {
			continue
		}
		var p struct{ Label string }
		if _, err := plist.Unmarshal(d, &p); err == nil && p.Label == label {
			return e.Name(), d, nil
		}
	}
	return "", nil, fmt.Errorf("no plist with label %s in ~/%s", label, controllers.LaunchAgentsDir)
}

var nonName = regexp.MustCompile(`[^a-z0-9-]+`)

// adoptName is the catalog name of an adopted label: its last parts,
// lower-cased, as a DNS-1123 label not taken by another launch agent.
func adoptName(label string, taken map[string]bool) string {
	name := nonName.ReplaceAllString(strings.ToLower(strings.TrimPrefix(label, "com.sanctum.")), "-")
	name = strings.Trim(name, "-")
	if len(name) > 55 {
		name = strings.Trim(name[:55], "-")
	}
	if name == "" {
		name = "adopted"
	}
	base := name
	for i := 2; taken[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	return name
}

// adoptEntry turns a plist into a LaunchAgent object in catalog YAML: every
// key the kind types goes into its field, any other into spec.extra (as
// the plist holds it, unchecked); what the catalog cannot write (UserName,
// a date or data value, an unknown KeepAlive condition) is listed as a
// comment, never dropped silently. home, when set, is written {{ .home }}
// at the start of a path, so that the entry holds for any home.
func adoptEntry(label, file string, data []byte, m adoptMask, home string, taken map[string]bool) ([]byte, error) {
	var raw map[string]any
	if _, err := plist.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	var dropped []string
	drop := func(format string, args ...any) { dropped = append(dropped, fmt.Sprintf(format, args...)) }
	str := func(key string) string {
		v, ok := raw[key]
		if !ok {
			return ""
		}
		s, isStr := v.(string)
		if !isStr {
			drop("%s: not a string", key)
		}
		return s
	}
	strs := func(key string) []string {
		switch v := raw[key].(type) {
		case nil:
			return nil
		case string:
			return []string{v}
		case []any:
			out := make([]string, 0, len(v))
			for _, e := range v {
				s, ok := e.(string)
				if !ok {
					drop("%s: an entry that is not a string", key)
					return nil
				}
				out = append(out, s)
			}
			return out
		}
		drop("%s: not a list of strings", key)
		return nil
	}
	integer := func(key string) *int {
		v, ok := raw[key]
		if !ok {
			return nil
		}
		n, ok := plistInt(v)
		if !ok {
			drop("%s: not an integer", key)
			return nil
		}
		return &n
	}
	boolean := func(key string) bool {
		b, ok := raw[key].(bool)
		if _, set := raw[key]; set && !ok {
			drop("%s: not a boolean", key)
		}
		return b
	}
	withHome := func(v string) string {
		if home != "" && (v == home || strings.HasPrefix(v, home+"/")) {
			return "{{ .home }}" + strings.TrimPrefix(v, home)
		}
		return v
	}
	pathField := func(field, v string) string {
		return withHome(m.masked(field, v, false, false))
	}

	args := strs("ProgramArguments")
	if program := str("Program"); program != "" {
		switch {
		case len(args) == 0:
			args = []string{program}
		case args[0] != program:
			drop("Program %s: the catalog runs programArguments[0] (%s)", program, args[0])
		}
	}
	// What could hold a secret or a credential, in the order of the
	// entry: a template may take a secret in programArguments and
	// environment only (reconcile validate refuses one in a path).
	var masked []string
	for i, arg := range args {
		credential := i > 0 && credentialName.MatchString(args[i-1]) && strings.HasPrefix(args[i-1], "-") && !strings.Contains(args[i-1], "=")
		masked = append(masked, withHome(m.masked(fmt.Sprintf("spec.programArguments[%d]", i), arg, true, credential)))
	}
	var env map[string]string
	if e, ok := raw["EnvironmentVariables"].(map[string]any); ok {
		env = make(map[string]string, len(e))
		for _, k := range slices.Sorted(maps.Keys(e)) {
			v, ok := e[k].(string)
			if !ok {
				drop("EnvironmentVariables.%s: not a string", k)
				continue
			}
			env[k] = withHome(m.masked("spec.environment."+k, v, true, credentialName.MatchString(k)))
		}
	} else if _, set := raw["EnvironmentVariables"]; set {
		drop("EnvironmentVariables: not a dictionary")
	}
	spec := v1.LaunchAgentSpec{
		Label: label, ProgramArguments: masked, Environment: env,
		WorkingDirectory:  pathField("spec.workingDirectory", str("WorkingDirectory")),
		StandardOutPath:   pathField("spec.standardOutPath", str("StandardOutPath")),
		StandardErrorPath: pathField("spec.standardErrorPath", str("StandardErrorPath")),
		RunAtLoad:         boolean("RunAtLoad"), ProcessType: str("ProcessType"),
		ThrottleInterval: integer("ThrottleInterval"), Nice: integer("Nice"),
	}
	if n := integer("StartInterval"); n != nil {
		spec.StartInterval = *n
	}
	for i, w := range strs("WatchPaths") {
		spec.WatchPaths = append(spec.WatchPaths, pathField(fmt.Sprintf("spec.watchPaths[%d]", i), w))
	}
	for i, q := range strs("QueueDirectories") {
		spec.QueueDirectories = append(spec.QueueDirectories, pathField(fmt.Sprintf("spec.queueDirectories[%d]", i), q))
	}
	if t := strs("LimitLoadToSessionType"); len(t) > 0 {
		spec.LimitLoadToSessionType = t
	}
	for _, k := range []string{"WatchPaths", "QueueDirectories"} {
		if _, one := raw[k].(string); one {
			m.notes = append(m.notes, fmt.Sprintf("%s is a string in the plist: written as a list of one (launchd wants an array)", k))
		}
	}
	if file != label+".plist" {
		spec.FileName = file
	}
	// A pathState path is a mapping key, which templates do not reach:
	// it stays as found.
	spec.KeepAlive = adoptKeepAlive(raw["KeepAlive"], func(field, v string) string { return m.masked(field, v, false, false) }, drop)
	spec.StartCalendarInterval = adoptCalendar(raw["StartCalendarInterval"])
	spec.SoftResourceLimits = adoptLimits("SoftResourceLimits", raw["SoftResourceLimits"], drop)
	spec.HardResourceLimits = adoptLimits("HardResourceLimits", raw["HardResourceLimits"], drop)

	// Every other key goes into extra as the plist holds it; the typed
	// ones were read above, UserName and GroupName are refused for an agent.
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		if _, typed := v1.TypedPlistKeys[k]; typed {
			if k == "UserName" || k == "GroupName" {
				drop("%s: a user's agent runs as that user (the next apply writes the plist without it)", k)
			}
			continue
		}
		pv, ok := v1.PlistValueOf(raw[k])
		if !ok {
			drop("%s: a date or data value, which the catalog cannot write", k)
			continue
		}
		if spec.Extra == nil {
			spec.Extra = map[string]v1.PlistValue{}
		}
		spec.Extra[k] = maskExtra(&m, "spec.extra."+k, pv)
	}
	obj := v1.LaunchAgent{
		TypeMeta:   v1.TypeMeta{APIVersion: v1.APIVersion, Kind: v1.KindLaunchAgent},
		ObjectMeta: v1.ObjectMeta{Name: adoptName(label, taken)},
		Spec:       spec,
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# adopted from ~/%s\n", path.Join(controllers.LaunchAgentsDir, file))
	for _, d := range dropped {
		fmt.Fprintf(&buf, "# not carried over: %s\n", d)
	}
	if len(spec.Extra) > 0 {
		fmt.Fprintf(&buf, "# spec.extra holds keys reconcile does not type (%s): rendered as written, unchecked\n",
			strings.Join(slices.Sorted(maps.Keys(spec.Extra)), ", "))
	}
	for _, n := range m.notes {
		fmt.Fprintf(&buf, "# %s\n", n)
	}
	m.revealNote(&buf)
	buf.WriteString("---\n")
	if err := encodeAdopted(&buf, &obj); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// revealNote says, under --reveal, that credentials were copied as found.
func (m adoptMask) revealNote(buf *bytes.Buffer) {
	if m.reveal {
		buf.WriteString("# --reveal: values that look like credentials are copied as found; move them to {{ secret \"<name>\" }}\n")
	}
}

// encodeAdopted writes an adopted object as the catalog writes objects:
// two-space indents, and a templated value single-quoted (its double
// quotes stay as they are).
func encodeAdopted(buf *bytes.Buffer, obj any) error {
	var doc yaml.Node
	if err := doc.Encode(obj); err != nil {
		return err
	}
	quoteTemplates(&doc)
	enc := yaml.NewEncoder(buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	return enc.Close()
}

// adoptKeepAlive reads KeepAlive: a boolean, or a dictionary of the
// conditions the catalog types (an unknown one is dropped, and said).
func adoptKeepAlive(v any, pathField func(field, v string) string, drop func(string, ...any)) *v1.KeepAlive {
	switch k := v.(type) {
	case nil:
		return nil
	case bool:
		return &v1.KeepAlive{Always: &k}
	case map[string]any:
		out := &v1.KeepAlive{}
		for _, key := range slices.Sorted(maps.Keys(k)) {
			val := k[key]
			switch key {
			case "SuccessfulExit", "Crashed", "NetworkState":
				b, ok := val.(bool)
				if !ok {
					drop("KeepAlive.%s: not a boolean", key)
					continue
				}
				switch key {
				case "SuccessfulExit":
					out.SuccessfulExit = &b
				case "Crashed":
					out.Crashed = &b
				default:
					out.NetworkState = &b
				}
			case "PathState", "OtherJobEnabled":
				d, ok := val.(map[string]any)
				if !ok {
					drop("KeepAlive.%s: not a dictionary", key)
					continue
				}
				m := map[string]bool{}
				for p, bv := range d {
					b, ok := bv.(bool)
					if !ok {
						drop("KeepAlive.%s.%s: not a boolean", key, p)
						continue
					}
					if key == "PathState" {
						p = pathField("spec.keepAlive.pathState", p)
					}
					m[p] = b
				}
				if key == "PathState" {
					out.PathState = m
				} else {
					out.OtherJobEnabled = m
				}
			default:
				drop("KeepAlive.%s: no field for it", key)
			}
		}
		return out
	}
	drop("KeepAlive: neither a boolean nor a dictionary")
	return nil
}

// adoptCalendar reads StartCalendarInterval: one dictionary or an array.
func adoptCalendar(v any) []v1.CalendarInterval {
	var cals []any
	switch c := v.(type) {
	case map[string]any:
		cals = []any{c}
	case []any:
		cals = c
	}
	var out []v1.CalendarInterval
	for _, c := range cals {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		var ci v1.CalendarInterval
		for k, v := range m {
			n, ok := plistInt(v)
			if !ok {
				continue
			}
			switch k {
			case "Minute":
				ci.Minute = &n
			case "Hour":
				ci.Hour = &n
			case "Day":
				ci.Day = &n
			case "Weekday":
				ci.Weekday = &n
			case "Month":
				ci.Month = &n
			}
		}
		out = append(out, ci)
	}
	return out
}

// adoptLimits reads SoftResourceLimits or HardResourceLimits.
func adoptLimits(key string, v any, drop func(string, ...any)) *v1.ResourceLimits {
	d, ok := v.(map[string]any)
	if !ok {
		if v != nil {
			drop("%s: not a dictionary", key)
		}
		return nil
	}
	out := &v1.ResourceLimits{}
	for _, k := range slices.Sorted(maps.Keys(d)) {
		n, ok := plistInt(d[k])
		if !ok || !out.Set(k, int64(n)) {
			drop("%s.%s: not a limit launchd knows, or not an integer", key, k)
		}
	}
	if len(out.List()) == 0 {
		return nil
	}
	return out
}

// maskExtra masks the strings of an extra value as any other field's.
func maskExtra(m *adoptMask, field string, v v1.PlistValue) v1.PlistValue {
	switch x := v.Value.(type) {
	case string:
		return v1.PlistValue{Value: m.masked(field, x, true, false)}
	case []v1.PlistValue:
		out := make([]v1.PlistValue, len(x))
		for i, e := range x {
			out[i] = maskExtra(m, fmt.Sprintf("%s[%d]", field, i), e)
		}
		return v1.PlistValue{Value: out}
	case map[string]v1.PlistValue:
		out := make(map[string]v1.PlistValue, len(x))
		for k, e := range x {
			out[k] = maskExtra(m, field+"."+k, e)
		}
		return v1.PlistValue{Value: out}
	}
	return v
}

func quoteTemplates(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "{{") && !strings.ContainsAny(n.Value, "\n\t") {
		n.Style = yaml.SingleQuotedStyle
	}
	for _, c := range n.Content {
		quoteTemplates(c)
	}
}

func plistInt(v any) (int, bool) {
	switch n := v.(type) {
	case uint64:
		return int(n), true
	case int64:
		return int(n), true
	case int:
		return n, true
	}
	return 0, false
}
