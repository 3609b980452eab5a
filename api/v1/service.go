package v1

import (
	"net/url"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// KindService is the kind of a Service object.
const KindService = "Service"

// Service is one process or network dependency the watchdog supervises. It
// renders into ~/.sanctum/services/<name>.yaml when enabled.
type Service struct {
	TypeMeta   `yaml:",inline" json:",inline"`
	ObjectMeta `yaml:"metadata" json:"metadata" cbor:"metadata"`
	Spec       ServiceSpec `yaml:"spec" json:"spec" cbor:"spec"`
	Status     Status      `yaml:"status,omitempty" json:"status,omitempty" cbor:"status"`
}

// ServiceSpec is the desired shape of a Service.
type ServiceSpec struct {
	DisplayName string   `yaml:"displayName,omitempty" json:"displayName,omitempty" cbor:"displayName"`
	Host        string   `yaml:"host" json:"host"`                                 // mac | vm
	Type        string   `yaml:"type,omitempty" json:"type,omitempty" cbor:"type"` // service (default) | network
	Provides    []string `yaml:"provides,omitempty" json:"provides,omitempty" cbor:"provides"`
	DependsOn   []string `yaml:"dependsOn,omitempty" json:"dependsOn,omitempty" cbor:"dependsOn"`
	Port        int      `yaml:"port,omitempty" json:"port,omitempty" cbor:"port"`
	// Enabled switches the service on or off directly. Leave it unset and name
	// an InstanceKey to take both the switch and the default port from
	// instance.yaml's services.<key>.
	Enabled     *bool  `yaml:"enabled,omitempty" json:"enabled,omitempty" cbor:"enabled"`
	InstanceKey string `yaml:"instanceKey,omitempty" json:"instanceKey,omitempty" cbor:"instanceKey"`
	// LaunchAgent, when set, is the agent that runs the service; it
	// compiles into LaunchAgent/<service name>, enabled with the service
	// and depending on the agents of the service's dependencies.
	LaunchAgent *LaunchAgentSpec `yaml:"launchAgent,omitempty" json:"launchAgent,omitempty" cbor:"launchAgent"`
	// Systemd, when set, is the systemd unit that runs a service of host
	// vm; it compiles into SystemdUnit/<service name>, enabled with the
	// service and ordered after the units of the service's dependencies.
	Systemd *SystemdSpec `yaml:"systemd,omitempty" json:"systemd,omitempty" cbor:"systemd"`
	// Wrapper is ~/.sanctum/bin/sanctum-<name>, a symlink to Target.
	Wrapper *Wrapper `yaml:"wrapper,omitempty" json:"wrapper,omitempty" cbor:"wrapper"`
	// Helpers are scripts shipped in the catalog, installed 0755 under
	// ~/.sanctum/scripts/ and referenced by absolute path.
	Helpers     []Helper     `yaml:"helpers,omitempty" json:"helpers,omitempty" cbor:"helpers"`
	Health      Health       `yaml:"health,omitempty" json:"health,omitempty" cbor:"health"`
	Remediation *Remediation `yaml:"remediation,omitempty" json:"remediation,omitempty" cbor:"remediation"`
}

// Where a service's wrapper and helpers are installed, relative to HOME.
const (
	WrapperDir = ".sanctum/bin"
	HelperDir  = ".sanctum/scripts"
)

// Wrapper is the symlink that launchd and people run a service through.
type Wrapper struct {
	Target string `yaml:"target" json:"target"` // absolute
}

// Helper is one script of the catalog installed under ~/.sanctum/scripts.
type Helper struct {
	Name   string `yaml:"name" json:"name"`     // file name under ~/.sanctum/scripts
	Source string `yaml:"source" json:"source"` // path inside the catalog
	// Loaded is the source as desired read it.
	Loaded *LoadedSource `yaml:"-" json:"-" cbor:"loaded"`
}

// Health holds the three watchdog probes.
type Health struct {
	Startup   *Probe `yaml:"startup,omitempty" json:"startup,omitempty" cbor:"startup"`
	Readiness *Probe `yaml:"readiness,omitempty" json:"readiness,omitempty" cbor:"readiness"`
	Liveness  *Probe `yaml:"liveness,omitempty" json:"liveness,omitempty" cbor:"liveness"`
}

// Probe types the watchdog understands.
const (
	ProbeCommand   = "command"
	ProbeHTTP      = "http"
	ProbePort      = "port"
	ProbeProcess   = "process"
	ProbeInterface = "interface"
	// ProbeSystemd judges a service by its systemd unit's state (active
	// and not failed), read on the host that runs the unit.
	ProbeSystemd = "systemd"
)

// Probe is one health check. Timeout and Interval are seconds.
type Probe struct {
	Type         string            `yaml:"type" json:"type" cbor:"type"`
	Port         int               `yaml:"port,omitempty" json:"port,omitempty" cbor:"port"`
	URL          string            `yaml:"url,omitempty" json:"url,omitempty" cbor:"url"`
	ExpectStatus int               `yaml:"expectStatus,omitempty" json:"expectStatus,omitempty" cbor:"expectStatus"`
	Headers      map[string]string `yaml:"headers,omitempty" json:"headers,omitempty" cbor:"headers"`
	Command      string            `yaml:"command,omitempty" json:"command,omitempty" cbor:"command"`
	Process      string            `yaml:"process,omitempty" json:"process,omitempty" cbor:"process"`
	Interface    string            `yaml:"interface,omitempty" json:"interface,omitempty" cbor:"interface"`
	// Unit is the unit a systemd probe judges: the service's own unit
	// (spec.systemd) when unset.
	Unit     string `yaml:"unit,omitempty" json:"unit,omitempty" cbor:"unit,omitempty"`
	Timeout  int    `yaml:"timeout,omitempty" json:"timeout,omitempty" cbor:"timeout"`
	Interval int    `yaml:"interval,omitempty" json:"interval,omitempty" cbor:"interval"`
}

// Remediation is what the watchdog does when a service fails.
type Remediation struct {
	RestartCommand   string `yaml:"restartCommand,omitempty" json:"restartCommand,omitempty" cbor:"restartCommand"`
	ResponsibleAgent string `yaml:"responsibleAgent,omitempty" json:"responsibleAgent,omitempty" cbor:"responsibleAgent"`
	EscalationLevel  int    `yaml:"escalationLevel,omitempty" json:"escalationLevel,omitempty" cbor:"escalationLevel"`
	MaxRestarts      int    `yaml:"maxRestarts,omitempty" json:"maxRestarts,omitempty" cbor:"maxRestarts"`
	Cooldown         int    `yaml:"cooldown,omitempty" json:"cooldown,omitempty" cbor:"cooldown"`
}

// GetKind implements Object.
func (s *Service) GetKind() string { return KindService }

// GetName implements Object.
func (s *Service) GetName() string { return s.Name }

// AgentLabel is the label of the service's launch agent, or "".
func (s *Service) AgentLabel() string {
	if la := s.Spec.LaunchAgent; la != nil {
		if la.Label != "" {
			return la.Label
		}
		return "com.sanctum." + s.Name
	}
	return ""
}

// UnitName is the name of the service's systemd unit, or "".
func (s *Service) UnitName() string {
	if sd := s.Spec.Systemd; sd != nil {
		if sd.Unit != "" {
			return sd.Unit
		}
		return "sanctum-" + s.Name + ".service"
	}
	return ""
}

// WrapperPath is the HOME-relative path of the service's wrapper,
// .sanctum/bin/sanctum-<name>, whether or not it has one.
func (s *Service) WrapperPath() string { return path.Join(WrapperDir, "sanctum-"+s.Name) }

// Path is the HOME-relative path the helper is installed at.
func (h *Helper) Path() string { return path.Join(HelperDir, h.Name) }

// IsEnabled reports the resolved switch; desired resolves InstanceKey into
// Enabled before controllers see the object.
func (s *Service) IsEnabled() bool { return s.Spec.Enabled == nil || *s.Spec.Enabled }

// Validate implements Object.
func (s *Service) Validate() field.ErrorList {
	errs := validateMeta(s.TypeMeta, s.ObjectMeta, KindService)
	spec := field.NewPath("spec")
	switch s.Spec.Host {
	case "mac", "vm":
	case "":
		errs = append(errs, field.Required(spec.Child("host"), "mac or vm"))
	default:
		errs = append(errs, field.NotSupported(spec.Child("host"), s.Spec.Host, []string{"mac", "vm"}))
	}
	switch s.Spec.Type {
	case "", "service", "network":
	default:
		errs = append(errs, field.NotSupported(spec.Child("type"), s.Spec.Type, []string{"service", "network"}))
	}
	if s.Spec.Port != 0 {
		errs = append(errs, validatePort(spec.Child("port"), s.Spec.Port)...)
	}
	if s.Spec.Enabled != nil && s.Spec.InstanceKey != "" {
		errs = append(errs, field.Invalid(spec.Child("enabled"), *s.Spec.Enabled, "set either enabled or instanceKey, not both"))
	}
	for i, p := range s.Spec.Provides {
		if p == "" {
			errs = append(errs, field.Required(spec.Child("provides").Index(i), "empty capability"))
		}
	}
	seen := make(map[string]bool, len(s.Spec.DependsOn))
	for i, d := range s.Spec.DependsOn {
		p := spec.Child("dependsOn").Index(i)
		switch {
		case d == s.Name:
			errs = append(errs, field.Invalid(p, d, "a service cannot depend on itself"))
		case seen[d]:
			errs = append(errs, field.Duplicate(p, d))
		}
		seen[d] = true
	}
	if la := s.Spec.LaunchAgent; la != nil {
		lp := spec.Child("launchAgent")
		errs = append(errs, la.validate(lp)...)
		if la.Enabled != nil || la.InstanceKey != "" || len(la.DependsOn) > 0 || la.Retired {
			errs = append(errs, field.Forbidden(lp, "an embedded agent takes enabled, instanceKey and dependsOn from its service, and is retired by removing it"))
		}
	}
	if sd := s.Spec.Systemd; sd != nil {
		sp := spec.Child("systemd")
		errs = append(errs, sd.validate(sp)...)
		if sd.Enabled != nil || sd.InstanceKey != "" || len(sd.DependsOn) > 0 || sd.Retired || sd.Host != "" {
			errs = append(errs, field.Forbidden(sp, "an embedded unit takes host, enabled, instanceKey and dependsOn from its service, and is retired by removing it"))
		}
		if s.Spec.Host != "" && s.Spec.Host != SystemdHostVM {
			errs = append(errs, field.Invalid(sp, s.Spec.Host, "a service of host "+s.Spec.Host+" does not run under systemd: systemd units run on host vm (use spec.launchAgent on the mac)"))
		}
		if s.Spec.LaunchAgent != nil {
			errs = append(errs, field.Forbidden(sp, "a service runs under launchd or under systemd, not both"))
		}
	}
	if w := s.Spec.Wrapper; w != nil && !path.IsAbs(w.Target) {
		errs = append(errs, field.Invalid(spec.Child("wrapper", "target"), w.Target, "must be an absolute path"))
	}
	names := make(map[string]bool)
	for i, h := range s.Spec.Helpers {
		hp := spec.Child("helpers").Index(i)
		switch {
		case h.Name == "" || strings.ContainsAny(h.Name, "/\\") || h.Name == "." || h.Name == "..":
			errs = append(errs, field.Invalid(hp.Child("name"), h.Name, "a file name"))
		case names[h.Name]:
			errs = append(errs, field.Duplicate(hp.Child("name"), h.Name))
		}
		names[h.Name] = true
		if c := path.Clean(h.Source); h.Source == "" || path.IsAbs(c) || c == ".." || strings.HasPrefix(c, "../") {
			errs = append(errs, field.Invalid(hp.Child("source"), h.Source, "must be a file inside the catalog"))
		}
	}
	hp := spec.Child("health")
	for _, pr := range []struct {
		name  string
		probe *Probe
	}{{"startup", s.Spec.Health.Startup}, {"readiness", s.Spec.Health.Readiness}, {"liveness", s.Spec.Health.Liveness}} {
		errs = append(errs, pr.probe.validate(hp.Child(pr.name))...)
		errs = append(errs, s.validateSystemdProbe(hp.Child(pr.name), pr.probe)...)
	}
	if r := s.Spec.Remediation; r != nil {
		rp := spec.Child("remediation")
		for _, f := range []struct {
			name  string
			value int
		}{{"escalationLevel", r.EscalationLevel}, {"maxRestarts", r.MaxRestarts}, {"cooldown", r.Cooldown}} {
			if f.value < 0 {
				errs = append(errs, field.Invalid(rp.Child(f.name), f.value, "must not be negative"))
			}
		}
	}
	return errs
}

func (p *Probe) validate(path *field.Path) field.ErrorList {
	if p == nil {
		return nil
	}
	var errs field.ErrorList
	need := func(name, value string) {
		if value == "" {
			errs = append(errs, field.Required(path.Child(name), p.Type+" probes need "+name))
		}
	}
	switch p.Type {
	case ProbePort:
		errs = append(errs, validatePort(path.Child("port"), p.Port)...)
	case ProbeHTTP:
		need("url", p.URL)
		if p.URL != "" {
			if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, field.Invalid(path.Child("url"), p.URL, "must be an absolute http or https URL"))
			}
		}
		if p.ExpectStatus != 0 && (p.ExpectStatus < 100 || p.ExpectStatus > 599) {
			errs = append(errs, field.Invalid(path.Child("expectStatus"), p.ExpectStatus, "must be an HTTP status code"))
		}
	case ProbeCommand:
		need("command", p.Command)
	case ProbeProcess:
		need("process", p.Process)
	case ProbeInterface:
		need("interface", p.Interface)
	case ProbeSystemd:
		if p.Unit != "" && (!unitNamePattern.MatchString(p.Unit) || len(p.Unit) > 255) {
			errs = append(errs, field.Invalid(path.Child("unit"), p.Unit, "a service unit's name: letters, digits and :_.\\@- ending in .service"))
		}
	case "":
		errs = append(errs, field.Required(path.Child("type"), "command, http, port, process, interface or systemd"))
	default:
		errs = append(errs, field.NotSupported(path.Child("type"), p.Type,
			[]string{ProbeCommand, ProbeHTTP, ProbePort, ProbeProcess, ProbeInterface, ProbeSystemd}))
	}
	if p.Type != ProbeSystemd && p.Unit != "" {
		errs = append(errs, field.Forbidden(path.Child("unit"), "only systemd probes name a unit"))
	}
	if p.Type != ProbeHTTP && (len(p.Headers) > 0 || p.ExpectStatus != 0) {
		errs = append(errs, field.Forbidden(path.Child("headers"), "only http probes take headers and expectStatus"))
	}
	if p.Timeout < 0 {
		errs = append(errs, field.Invalid(path.Child("timeout"), p.Timeout, "must not be negative"))
	}
	if p.Interval < 0 {
		errs = append(errs, field.Invalid(path.Child("interval"), p.Interval, "must not be negative"))
	}
	return errs
}

// validateSystemdProbe: a systemd probe judges a unit on host vm, the
// service's own (spec.systemd) or the one it names.
func (s *Service) validateSystemdProbe(path *field.Path, p *Probe) field.ErrorList {
	if p == nil || p.Type != ProbeSystemd {
		return nil
	}
	var errs field.ErrorList
	if s.Spec.Host != "" && s.Spec.Host != SystemdHostVM {
		errs = append(errs, field.Invalid(path.Child("type"), p.Type, "a service of host "+s.Spec.Host+" has no systemd unit: systemd probes judge units on host vm"))
	}
	if p.Unit == "" && s.Spec.Systemd == nil {
		errs = append(errs, field.Required(path.Child("unit"), "the unit to judge: this service has no spec.systemd whose unit the probe could take"))
	}
	return errs
}

// ProbeUnit is the unit a systemd probe of the service judges: the one
// it names, else the service's own.
func (s *Service) ProbeUnit(p *Probe) string {
	if p.Unit != "" {
		return p.Unit
	}
	return s.UnitName()
}

func validatePort(path *field.Path, port int) field.ErrorList {
	if port < 1 || port > 65535 {
		return field.ErrorList{field.Invalid(path, port, "must be between 1 and 65535")}
	}
	return nil
}
