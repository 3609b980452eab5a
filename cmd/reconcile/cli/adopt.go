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
	"github.com/sanctum-haus/reconcile/observed"
)

func (a *app) adoptCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "adopt launchagent/<label>",
		Short: "Print a catalog entry for a launch agent found on the host",
		Long: `adopt reads ~/Library/LaunchAgents/<label>.plist (or the plist whose Label is
<label>) and prints a LaunchAgent object for the catalog. It changes nothing:
paste the entry into the catalog and run reconcile --dry-run.`,
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
			out, err := adoptEntry(label, file, data)
			if err != nil {
				return &exitError{ExitError, fmt.Errorf("~/%s: %w", path.Join(controllers.LaunchAgentsDir, file), err)}
			}
			_, err = a.cfg.Stdout.Write(out)
			return err
		},
	}
}

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
func adoptEntry(label, file string, data []byte) ([]byte, error) {
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
	spec := v1.LaunchAgentSpec{
		Label: label, ProgramArguments: args, Environment: p.EnvironmentVariables,
		WorkingDirectory: p.WorkingDirectory, StandardOutPath: p.StandardOutPath, StandardErrorPath: p.StandardErrorPath,
		RunAtLoad: p.RunAtLoad, KeepAlive: p.KeepAlive, StartInterval: p.StartInterval, ProcessType: p.ProcessType,
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
	if len(p.EnvironmentVariables) > 0 {
		buf.WriteString("# environment values are copied as found: move secrets to {{ secret \"<name>\" }}\n")
	}
	buf.WriteString("---\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&obj); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
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
