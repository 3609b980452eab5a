package controllers

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"strings"

	"gopkg.in/yaml.v3"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
)

// ServicesDir is where the watchdog reads manifests, relative to HOME.
const ServicesDir = ".sanctum/services"

// HostMac is the host this pass reconciles: the Mac, whose ServicesDir
// holds the manifests of its own services only.
const HostMac = "mac"

// ServiceController renders every enabled Service into the manifest the
// watchdog reads, and reports strangers in the manifest folder.
type ServiceController struct{}

// Kind implements Controller.
func (ServiceController) Kind() string { return v1.KindService }

// ManifestPath is where a service's manifest lives under HOME.
func ManifestPath(name string) string { return path.Join(ServicesDir, name+".yaml") }

// Reconcile implements Controller.
func (ServiceController) Reconcile(ctx context.Context, p *Pass, cat *desired.Catalog) []drift.Change {
	var targets []FileTarget
	var changes []drift.Change
	for _, s := range cat.Services {
		if !s.IsEnabled() {
			reason := "disabled"
			if s.Spec.InstanceKey != "" {
				reason = "disabled by services." + s.Spec.InstanceKey + ".enabled in " + v1.InstanceFile
			}
			changes = append(changes, drift.Change{Kind: v1.KindService, Name: s.Name, Action: drift.Skipped, Reason: reason})
			continue
		}
		if s.Spec.Host != HostMac {
			// The watchdog of this Mac reads only its own services, and
			// the VM runs none: systemd supervises its units (Restart=),
			// and the Mac's status probes them. A manifest an earlier
			// pass wrote here is pruned.
			changes = append(changes, drift.Change{Kind: v1.KindService, Name: s.Name, Action: drift.Skipped,
				Reason: "runs on the " + s.Spec.Host + ": no manifest in this Mac's " + ServicesDir + " (its watchdog watches the Mac's services only)"})
			continue
		}
		targets = append(targets, FileTarget{Kind: v1.KindService, Name: s.Name, Path: ManifestPath(s.Name),
			Render: func() ([]byte, error) { return RenderManifest(s, cat) }, Twin: p.serviceTwin(ctx, s.Name)})
	}
	changes = append(changes, p.Files(ctx, targets)...)
	changes = append(changes, p.strangers(ServicesDir, ".yaml", v1.KindService, targets)...)
	return append(changes, p.runtimeFiles(ctx, cat)...)
}

// Where wrappers and helper scripts live, relative to HOME.
const (
	WrapperDir = ".sanctum/bin"
	HelperDir  = ".sanctum/scripts"
)

// WrapperPath is a service's wrapper symlink.
func WrapperPath(name string) string { return path.Join(WrapperDir, "sanctum-"+name) }

// runtimeFiles reconciles the wrappers (symlinks) and helper scripts (0755,
// from the catalog) of enabled services.
func (p *Pass) runtimeFiles(ctx context.Context, cat *desired.Catalog) []drift.Change {
	var changes []drift.Change
	var helpers []FileTarget
	for _, s := range cat.Services {
		if !s.IsEnabled() {
			continue
		}
		if w := s.Spec.Wrapper; w != nil {
			changes = append(changes, p.Link(ctx, LinkTarget{Kind: v1.KindService, Name: s.Name, Path: WrapperPath(s.Name), Target: w.Target}))
		}
		for _, h := range s.Spec.Helpers {
			t := path.Join(HelperDir, h.Name)
			if h.Loaded == nil || h.Loaded.Err != nil {
				err := fmt.Errorf("helper source %s: missing from the catalog", path.Join(cat.Name, h.Source))
				changes = append(changes, p.fail(drift.Change{Kind: v1.KindService, Name: s.Name, Path: t}, err))
				continue
			}
			helpers = append(helpers, FileTarget{Kind: v1.KindService, Name: s.Name, Path: t, Content: h.Loaded.Content, Perm: 0o755})
		}
	}
	return append(changes, p.Files(ctx, helpers)...)
}

// strangers reports files in dir with the suffix that no object wants and
// that reconcile never wrote: they are somebody else's, never touched.
func (p *Pass) strangers(dir, suffix, kind string, targets []FileTarget) []drift.Change {
	entries, err := p.Host.ReadDir(dir)
	if err != nil {
		return []drift.Change{{Kind: kind, Name: dir, Action: drift.Failed, Error: err.Error(), Err: err}}
	}
	want := make(map[string]bool, len(targets))
	for _, t := range targets {
		want[t.Path] = true
	}
	var out []drift.Change
	for _, e := range entries {
		rel := path.Join(dir, e.Name())
		if e.IsDir() || !strings.HasSuffix(e.Name(), suffix) || want[rel] {
			continue
		}
		if _, ours := p.inv.Previous(rel); ours {
			continue // the inventory prunes it
		}
		out = append(out, drift.Change{Kind: kind, Name: strings.TrimSuffix(e.Name(), suffix), Action: drift.Unmanaged,
			Path: rel, Reason: "not in the catalog and not written by reconcile; left alone"})
	}
	return out
}

// manifest is the watchdog's schema (reference/sanctum.md), field order kept.
type manifest struct {
	Name        string               `yaml:"name"`
	DisplayName string               `yaml:"display_name"`
	Host        string               `yaml:"host"`
	Type        string               `yaml:"type"`
	Provides    []string             `yaml:"provides,flow"`
	Requires    []string             `yaml:"requires,flow"`
	LaunchAgent *string              `yaml:"launchagent"`
	Port        int                  `yaml:"port,omitempty"`
	Health      *manifestHealth      `yaml:"health,omitempty"`
	Remediation *manifestRemediation `yaml:"remediation,omitempty"`
	Metadata    map[string]string    `yaml:"metadata,flow"`
}

type manifestHealth struct {
	Startup   *manifestProbe `yaml:"startup,omitempty,flow"`
	Readiness *manifestProbe `yaml:"readiness,omitempty,flow"`
	Liveness  *manifestProbe `yaml:"liveness,omitempty,flow"`
}

type manifestProbe struct {
	Type         string            `yaml:"type"`
	Port         int               `yaml:"port,omitempty"`
	URL          string            `yaml:"url,omitempty"`
	ExpectStatus int               `yaml:"expect_status,omitempty"`
	Headers      map[string]string `yaml:"headers,omitempty"`
	Command      string            `yaml:"command,omitempty"`
	Process      string            `yaml:"process,omitempty"`
	Interface    string            `yaml:"interface,omitempty"`
	Timeout      int               `yaml:"timeout,omitempty"`
	Interval     int               `yaml:"interval,omitempty"`
}

type manifestRemediation struct {
	RestartCmd       string `yaml:"restart_cmd,omitempty"`
	ResponsibleAgent string `yaml:"responsible_agent,omitempty"`
	EscalationLevel  int    `yaml:"escalation_level,omitempty"`
	MaxRestarts      int    `yaml:"max_restarts,omitempty"`
	Cooldown         int    `yaml:"cooldown,omitempty"`
}

func probe(p *v1.Probe) *manifestProbe {
	if p == nil {
		return nil
	}
	return &manifestProbe{Type: p.Type, Port: p.Port, URL: p.URL, ExpectStatus: p.ExpectStatus, Headers: p.Headers,
		Command: p.Command, Process: p.Process, Interface: p.Interface, Timeout: p.Timeout, Interval: p.Interval}
}

// ManifestHeader is the first line of a rendered manifest, in the catalog
// (reconcile render) and in the home alike: it says the file is generated
// and from what, so that an edit goes to the catalog and not into a file the
// next pass overwrites. The source is catalog-relative, so the bytes do not
// depend on where the catalog was read from.
func ManifestHeader(s *v1.Service, cat *desired.Catalog) string {
	return fmt.Sprintf("# Generated by reconcile from %s/%s in %s; do not edit.\n", v1.KindService, s.Name,
		cat.Sources[v1.KindService+"/"+s.Name])
}

// RenderManifest renders a service into the watchdog's YAML, byte for byte
// deterministic: the generated-by header, then probes and lists in flow
// style as the hand-written manifests had them.
func RenderManifest(s *v1.Service, cat *desired.Catalog) ([]byte, error) {
	m := manifest{
		Name: s.Name, DisplayName: s.Spec.DisplayName, Host: s.Spec.Host, Type: s.Spec.Type,
		Provides: s.Spec.Provides, Requires: s.Spec.DependsOn, Port: s.Spec.Port,
		Metadata: map[string]string{"generated_from": "sanctum/" + cat.Sources[v1.KindService+"/"+s.Name]},
	}
	if m.DisplayName == "" {
		m.DisplayName = s.Name
	}
	if m.Type == "" {
		m.Type = "service"
	}
	if m.Provides == nil {
		m.Provides = []string{s.Name}
	}
	if m.Requires == nil {
		m.Requires = []string{}
	}
	if label := s.AgentLabel(); label != "" {
		m.LaunchAgent = &label
	}
	if h := s.Spec.Health; h.Startup != nil || h.Readiness != nil || h.Liveness != nil {
		m.Health = &manifestHealth{Startup: probe(h.Startup), Readiness: probe(h.Readiness), Liveness: probe(h.Liveness)}
	}
	if r := s.Spec.Remediation; r != nil || m.LaunchAgent != nil {
		mr := &manifestRemediation{}
		if r != nil {
			*mr = manifestRemediation{RestartCmd: r.RestartCommand, ResponsibleAgent: r.ResponsibleAgent,
				EscalationLevel: r.EscalationLevel, MaxRestarts: r.MaxRestarts, Cooldown: r.Cooldown}
		}
		if mr.RestartCmd == "" && m.LaunchAgent != nil {
			mr.RestartCmd = fmt.Sprintf("launchctl kickstart -k gui/%d/%s", macUID(cat), *m.LaunchAgent)
		}
		m.Remediation = mr
	}
	// One encoding straight from the struct: the ",flow" tags give lists,
	// probes and metadata the one-line style of the hand-written manifests.
	var buf bytes.Buffer
	buf.WriteString(ManifestHeader(s, cat))
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&m); err != nil {
		return nil, fmt.Errorf("render manifest: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("render manifest: %w", err)
	}
	return buf.Bytes(), nil
}

// macUID is the uid of the Mac user, whose gui/<uid> domain runs the agents.
func macUID(cat *desired.Catalog) int {
	if u, ok := cat.Instance.Users["mac"]; ok && u.UID != 0 {
		return u.UID
	}
	return 501
}
