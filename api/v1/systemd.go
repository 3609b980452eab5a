package v1

import (
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// KindSystemdUnit is the kind of a SystemdUnit object.
const KindSystemdUnit = "SystemdUnit"

// SystemdUnit is one systemd service unit on a Linux host: its unit file
// and what systemd has loaded and runs. A Service may embed one
// (spec.systemd); it compiles into a SystemdUnit of the service's name
// owned by it, as spec.launchAgent compiles into a LaunchAgent.
type SystemdUnit struct {
	TypeMeta   `yaml:",inline" json:",inline"`
	ObjectMeta `yaml:"metadata" json:"metadata" cbor:"metadata"`
	Spec       SystemdSpec `yaml:"spec" json:"spec" cbor:"spec"`
	Status     Status      `yaml:"status,omitempty" json:"status,omitempty" cbor:"status"`
}

// SystemdSpec is the desired shape of a systemd service unit. Field names
// follow systemd.unit(5), systemd.service(5) and systemd.exec(5).
type SystemdSpec struct {
	// Unit is the unit's name, sanctum-<name>.service by default.
	Unit string `yaml:"unit,omitempty" json:"unit,omitempty" cbor:"unit"`
	// Host is the host the unit runs on: vm (the only Linux host of a
	// haus). A Service's unit takes its service's host.
	Host string `yaml:"host,omitempty" json:"host,omitempty" cbor:"host"`
	// Scope is user (the node user's manager, units under
	// ~/.config/systemd/user) or system (the machine's manager, units in
	// /etc/systemd/system, changed as root or through sudo -n).
	Scope       string `yaml:"scope,omitempty" json:"scope,omitempty" cbor:"scope"`
	Description string `yaml:"description,omitempty" json:"description,omitempty" cbor:"description"`
	// ExecStart is the command line, the program by absolute path.
	ExecStart []string `yaml:"execStart,omitempty" json:"execStart,omitempty" cbor:"execStart"`
	// Environment may take secrets: the unit file is then 0600.
	Environment      map[string]string `yaml:"environment,omitempty" json:"environment,omitempty" cbor:"environment"`
	WorkingDirectory string            `yaml:"workingDirectory,omitempty" json:"workingDirectory,omitempty" cbor:"workingDirectory"`
	// Restart is systemd's Restart= policy (unset: systemd's default, no).
	Restart string `yaml:"restart,omitempty" json:"restart,omitempty" cbor:"restart"`
	// After and Wants name other units; the units of dependsOn are added.
	After []string `yaml:"after,omitempty" json:"after,omitempty" cbor:"after"`
	Wants []string `yaml:"wants,omitempty" json:"wants,omitempty" cbor:"wants"`
	// WantedBy is the [Install] section's WantedBy=, when unset
	// default.target (user) or multi-user.target (system): what
	// `systemctl enable` hooks the unit into.
	WantedBy []string `yaml:"wantedBy,omitempty" json:"wantedBy,omitempty" cbor:"wantedBy"`
	// RestartOn are files (~/...) whose content, when changed, must
	// restart the unit: a wrapper script, a config file.
	RestartOn   []string `yaml:"restartOn,omitempty" json:"restartOn,omitempty" cbor:"restartOn"`
	Enabled     *bool    `yaml:"enabled,omitempty" json:"enabled,omitempty" cbor:"enabled"`
	InstanceKey string   `yaml:"instanceKey,omitempty" json:"instanceKey,omitempty" cbor:"instanceKey"`
	// DependsOn names SystemdUnits that start first (After= and Wants=);
	// a unit of a Service inherits its service's dependsOn among the
	// services that have units.
	DependsOn []string `yaml:"dependsOn,omitempty" json:"dependsOn,omitempty" cbor:"dependsOn"`
	// Retired: the unit must be gone. It is stopped, disabled and its
	// file moved into the run's backups.
	Retired bool `yaml:"retired,omitempty" json:"retired,omitempty" cbor:"retired"`
	// Owner is Service/<name> for a unit compiled from a Service.
	Owner string `yaml:"-" json:"owner,omitempty" cbor:"owner"`
	// DependsOnUnits are the unit names of DependsOn, resolved by desired.
	DependsOnUnits []string `yaml:"-" json:"dependsOnUnits,omitempty" cbor:"dependsOnUnits"`
}

// Scopes and hosts a unit may name.
const (
	SystemdScopeUser   = "user"
	SystemdScopeSystem = "system"
	SystemdHostVM      = "vm"
)

// RestartPolicies are systemd's Restart= values.
var RestartPolicies = []string{"no", "on-success", "on-failure", "on-abnormal", "on-watchdog", "on-abort", "always"}

// GetKind implements Object.
func (u *SystemdUnit) GetKind() string { return KindSystemdUnit }

// GetName implements Object.
func (u *SystemdUnit) GetName() string { return u.Name }

// UnitName is the unit's name, defaulted.
func (u *SystemdUnit) UnitName() string {
	if u.Spec.Unit != "" {
		return u.Spec.Unit
	}
	return "sanctum-" + u.Name + ".service"
}

// HostName is the host the unit runs on, defaulted.
func (u *SystemdUnit) HostName() string {
	if u.Spec.Host != "" {
		return u.Spec.Host
	}
	return SystemdHostVM
}

// ScopeName is the unit's scope, defaulted.
func (u *SystemdUnit) ScopeName() string {
	if u.Spec.Scope != "" {
		return u.Spec.Scope
	}
	return SystemdScopeUser
}

// WantedByTargets is [Install]'s WantedBy=, defaulted.
func (s *SystemdSpec) WantedByTargets() []string {
	if len(s.WantedBy) > 0 {
		return s.WantedBy
	}
	if s.Scope == SystemdScopeSystem {
		return []string{"multi-user.target"}
	}
	return []string{"default.target"}
}

// IsSystem says whether the unit is the system manager's.
func (u *SystemdUnit) IsSystem() bool { return u.ScopeName() == SystemdScopeSystem }

// IsEnabled reports the resolved switch (desired resolves InstanceKey).
func (u *SystemdUnit) IsEnabled() bool { return u.Spec.Enabled == nil || *u.Spec.Enabled }

// unitNamePattern is a service unit's name as systemd.unit(5) allows it
// (an instance's @ included), ending in .service.
var unitNamePattern = regexp.MustCompile(`^[A-Za-z0-9:_.\\@-]+\.service$`)

// otherUnitPattern is any unit name After= and Wants= may name.
var otherUnitPattern = regexp.MustCompile(`^[A-Za-z0-9:_.\\@-]+\.(service|socket|target|device|mount|automount|swap|path|timer|slice|scope)$`)

// Validate implements Object.
func (u *SystemdUnit) Validate() field.ErrorList {
	errs := validateMeta(u.TypeMeta, u.ObjectMeta, KindSystemdUnit)
	p := field.NewPath("spec")
	switch u.Spec.Host {
	case "", SystemdHostVM:
	default:
		errs = append(errs, field.NotSupported(p.Child("host"), u.Spec.Host, []string{SystemdHostVM}))
	}
	return append(errs, u.Spec.validate(p)...)
}

func (s *SystemdSpec) validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Unit != "" && (!unitNamePattern.MatchString(s.Unit) || len(s.Unit) > 255) {
		errs = append(errs, field.Invalid(p.Child("unit"), s.Unit, "a service unit's name: letters, digits and :_.\\@- ending in .service"))
	}
	switch s.Scope {
	case "", SystemdScopeUser, SystemdScopeSystem:
	default:
		errs = append(errs, field.NotSupported(p.Child("scope"), s.Scope, []string{SystemdScopeUser, SystemdScopeSystem}))
	}
	if s.Retired {
		return errs
	}
	ep := p.Child("execStart")
	if len(s.ExecStart) == 0 {
		errs = append(errs, field.Required(ep, "the program to run, by absolute path"))
	}
	for i, a := range s.ExecStart {
		switch {
		case i == 0 && !path.IsAbs(a):
			errs = append(errs, field.Invalid(ep.Index(i), a, "the program must be an absolute path"))
		case strings.ContainsAny(a, "\n\r\x00"):
			errs = append(errs, field.Invalid(ep.Index(i), "(withheld)", "a line break or NUL cannot be written into a unit file"))
		}
	}
	if s.WorkingDirectory != "" && !path.IsAbs(s.WorkingDirectory) {
		errs = append(errs, field.Invalid(p.Child("workingDirectory"), s.WorkingDirectory, "must be an absolute path"))
	}
	if s.Restart != "" && !slices.Contains(RestartPolicies, s.Restart) {
		errs = append(errs, field.NotSupported(p.Child("restart"), s.Restart, RestartPolicies))
	}
	if strings.ContainsAny(s.Description, "\n\r\x00") {
		errs = append(errs, field.Invalid(p.Child("description"), s.Description, "one line"))
	}
	for _, f := range []struct {
		name  string
		units []string
	}{{"after", s.After}, {"wants", s.Wants}, {"wantedBy", s.WantedBy}} {
		seen := map[string]bool{}
		for i, n := range f.units {
			switch {
			case !otherUnitPattern.MatchString(n):
				errs = append(errs, field.Invalid(p.Child(f.name).Index(i), n, "a unit name, such as network-online.target or x.service"))
			case seen[n]:
				errs = append(errs, field.Duplicate(p.Child(f.name).Index(i), n))
			}
			seen[n] = true
		}
	}
	if s.Enabled != nil && s.InstanceKey != "" {
		errs = append(errs, field.Invalid(p.Child("enabled"), *s.Enabled, "set either enabled or instanceKey, not both"))
	}
	for i, r := range s.RestartOn {
		if _, ok := HomePath(r); !ok {
			errs = append(errs, field.Invalid(p.Child("restartOn").Index(i), r, "must be ~/... under HOME"))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.Environment)) {
		if !envNamePattern.MatchString(k) {
			errs = append(errs, field.Invalid(p.Child("environment").Key(k), k, "not a valid variable name"))
		}
		if strings.ContainsAny(s.Environment[k], "\n\r\x00") {
			errs = append(errs, field.Invalid(p.Child("environment").Key(k), "(withheld)", "a line break or NUL cannot be written into a unit file"))
		}
	}
	return errs
}

// envNamePattern is a variable name systemd's Environment= takes.
var envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
