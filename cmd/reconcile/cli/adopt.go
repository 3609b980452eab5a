package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
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
		Use:   "adopt launchagent/<label>",
		Short: "Print a catalog entry for a launch agent found on the host",
		Long: `adopt reads ~/Library/LaunchAgents/<label>.plist (or the plist whose Label is
<label>) and prints a LaunchAgent object for the catalog. It changes nothing:
paste the entry into the catalog and run reconcile --dry-run.

A value that holds a secret of ~/.sanctum/secrets is printed as
{{ secret "<name>" }} in its place (masked as *** where a secret cannot go,
such as a path, or where it is spelt otherwise); any other value that looks
like a credential (an environment variable named like a token, key or
password, a --token=... argument, an API key's shape) is masked as ***
unless --reveal. A secret's value is never printed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, label, ok := strings.Cut(args[0], "/")
			if !ok || !strings.EqualFold(kind, "launchagent") || label == "" {
				return &exitError{ExitError, fmt.Errorf("%q: want launchagent/<label>", args[0])}
			}
			host, done, err := a.readHome()
			if err != nil {
				return err
			}
			defer done()
			file, data, err := findPlist(host, label)
			if err != nil {
				return &exitError{ExitError, err}
			}
			secrets, err := knownSecrets(host)
			if err != nil {
				return &exitError{ExitError, err}
			}
			out, err := adoptEntry(label, file, data, adoptMask{secrets: secrets, reveal: reveal})
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

// adoptEntry turns a plist into a LaunchAgent object in catalog YAML; keys the
// kind has no field for are listed as comments, never dropped silently.
func adoptEntry(label, file string, data []byte, m adoptMask) ([]byte, error) {
	var raw map[string]any
	if _, err := plist.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	var p struct {
		Label                string
		ProgramArguments     []string
		Program              string
		EnvironmentVariables map[string]string
		WorkingDirectory     string
		StandardOutPath      string
		StandardErrorPath    string
		RunAtLoad            bool
		KeepAlive            bool
		StartInterval        int
		ProcessType          string
	}
	if _, err := plist.Unmarshal(data, &p); err != nil {
		return nil, err
	}
	name := nonName.ReplaceAllString(strings.ToLower(strings.TrimPrefix(label, "com.sanctum.")), "-")
	name = strings.Trim(name, "-")
	if len(name) > 63 {
		name = name[:63]
	}
	args := p.ProgramArguments
	if len(args) == 0 && p.Program != "" {
		args = []string{p.Program}
	}
	// What could hold a secret or a credential, in the order of the
	// entry: a template may take a secret in programArguments and
	// environment only (reconcile validate refuses one in a path).
	var masked []string
	for i, arg := range args {
		credential := i > 0 && credentialName.MatchString(args[i-1]) && strings.HasPrefix(args[i-1], "-") && !strings.Contains(args[i-1], "=")
		masked = append(masked, m.masked(fmt.Sprintf("spec.programArguments[%d]", i), arg, true, credential))
	}
	var env map[string]string
	if p.EnvironmentVariables != nil {
		env = make(map[string]string, len(p.EnvironmentVariables))
		keys := make([]string, 0, len(p.EnvironmentVariables))
		for k := range p.EnvironmentVariables {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			env[k] = m.masked("spec.environment."+k, p.EnvironmentVariables[k], true, credentialName.MatchString(k))
		}
	}
	spec := v1.LaunchAgentSpec{
		Label: label, ProgramArguments: masked, Environment: env,
		WorkingDirectory:  m.masked("spec.workingDirectory", p.WorkingDirectory, false, false),
		StandardOutPath:   m.masked("spec.standardOutPath", p.StandardOutPath, false, false),
		StandardErrorPath: m.masked("spec.standardErrorPath", p.StandardErrorPath, false, false),
		RunAtLoad:         p.RunAtLoad, KeepAlive: p.KeepAlive, StartInterval: p.StartInterval, ProcessType: p.ProcessType,
	}
	if file != label+".plist" {
		spec.FileName = file
	}
	// StartCalendarInterval is one dictionary or an array of them.
	var cals []any
	switch c := raw["StartCalendarInterval"].(type) {
	case map[string]any:
		cals = []any{c}
	case []any:
		cals = c
	}
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
		spec.StartCalendarInterval = append(spec.StartCalendarInterval, ci)
	}
	obj := v1.LaunchAgent{
		TypeMeta:   v1.TypeMeta{APIVersion: v1.APIVersion, Kind: v1.KindLaunchAgent},
		ObjectMeta: v1.ObjectMeta{Name: name},
		Spec:       spec,
	}
	known := map[string]bool{"Label": true, "ProgramArguments": true, "Program": true, "EnvironmentVariables": true,
		"WorkingDirectory": true, "StandardOutPath": true, "StandardErrorPath": true, "RunAtLoad": true, "KeepAlive": true,
		"StartInterval": true, "StartCalendarInterval": true, "ProcessType": true}
	var dropped []string
	for k := range raw {
		if !known[k] {
			dropped = append(dropped, k)
		}
	}
	sort.Strings(dropped)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# adopted from ~/%s\n", path.Join(controllers.LaunchAgentsDir, file))
	for _, k := range dropped {
		fmt.Fprintf(&buf, "# not carried over (no field for it): %s\n", k)
	}
	for _, n := range m.notes {
		fmt.Fprintf(&buf, "# %s\n", n)
	}
	if m.reveal {
		buf.WriteString("# --reveal: values that look like credentials are copied as found; move them to {{ secret \"<name>\" }}\n")
	}
	buf.WriteString("---\n")
	// A templated value is single-quoted, as the catalog writes them: its
	// double quotes stay as they are.
	var doc yaml.Node
	if err := doc.Encode(&obj); err != nil {
		return nil, err
	}
	quoteTemplates(&doc)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
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
