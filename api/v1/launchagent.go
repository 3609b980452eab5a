package v1

import (
	"path"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// KindLaunchAgent is the kind of a LaunchAgent object.
const KindLaunchAgent = "LaunchAgent"

// LaunchAgent is one launchd agent: its plist under ~/Library/LaunchAgents
// and what launchd has loaded. A Service may embed one (spec.launchAgent);
// it compiles into a LaunchAgent of the service's name owned by it.
type LaunchAgent struct {
	TypeMeta   `yaml:",inline" json:",inline"`
	ObjectMeta `yaml:"metadata" json:"metadata" cbor:"metadata"`
	Spec       LaunchAgentSpec `yaml:"spec" json:"spec" cbor:"spec"`
	Status     Status          `yaml:"status,omitempty" json:"status,omitempty" cbor:"status"`
}

// LaunchAgentSpec is the desired shape of a launch agent. Field names follow
// launchd.plist(5) where they map to a plist key.
type LaunchAgentSpec struct {
	// Label defaults to com.sanctum.<name>.
	Label string `yaml:"label,omitempty" json:"label,omitempty" cbor:"label"`
	// FileName defaults to <label>.plist; it may differ, as
	// com.sanctum.watchdog-rust.plist does for com.sanctum.watchdog.
	FileName              string             `yaml:"fileName,omitempty" json:"fileName,omitempty" cbor:"fileName"`
	ProgramArguments      []string           `yaml:"programArguments,omitempty" json:"programArguments,omitempty" cbor:"programArguments"`
	Environment           map[string]string  `yaml:"environment,omitempty" json:"environment,omitempty" cbor:"environment"`
	WorkingDirectory      string             `yaml:"workingDirectory,omitempty" json:"workingDirectory,omitempty" cbor:"workingDirectory"`
	StandardOutPath       string             `yaml:"standardOutPath,omitempty" json:"standardOutPath,omitempty" cbor:"standardOutPath"`
	StandardErrorPath     string             `yaml:"standardErrorPath,omitempty" json:"standardErrorPath,omitempty" cbor:"standardErrorPath"`
	RunAtLoad             bool               `yaml:"runAtLoad,omitempty" json:"runAtLoad,omitempty" cbor:"runAtLoad"`
	KeepAlive             bool               `yaml:"keepAlive,omitempty" json:"keepAlive,omitempty" cbor:"keepAlive"`
	StartInterval         int                `yaml:"startInterval,omitempty" json:"startInterval,omitempty" cbor:"startInterval"`
	StartCalendarInterval []CalendarInterval `yaml:"startCalendarInterval,omitempty" json:"startCalendarInterval,omitempty" cbor:"startCalendarInterval"`
	ProcessType           string             `yaml:"processType,omitempty" json:"processType,omitempty" cbor:"processType"`
	Domain                string             `yaml:"domain,omitempty" json:"domain,omitempty" cbor:"domain"` // gui (default) | user
	Enabled               *bool              `yaml:"enabled,omitempty" json:"enabled,omitempty" cbor:"enabled"`
	InstanceKey           string             `yaml:"instanceKey,omitempty" json:"instanceKey,omitempty" cbor:"instanceKey"`
	// RestartOn are files (~/...) whose content, when changed, must reload
	// the agent: a wrapper script, a config file.
	RestartOn []string `yaml:"restartOn,omitempty" json:"restartOn,omitempty" cbor:"restartOn"`
	// DependsOn names launch agents that must be loaded first; an agent of
	// a Service inherits its service's dependsOn.
	DependsOn []string `yaml:"dependsOn,omitempty" json:"dependsOn,omitempty" cbor:"dependsOn"`
	// Retired: the agent must be gone. It is booted out and its plist moved
	// into the run's backups.
	Retired bool `yaml:"retired,omitempty" json:"retired,omitempty" cbor:"retired"`
	// Owner is Service/<name> for an agent compiled from a Service.
	Owner string `yaml:"-" json:"owner,omitempty" cbor:"owner"`
}

// CalendarInterval is one entry of StartCalendarInterval; an unset field
// means "every".
type CalendarInterval struct {
	Minute  *int `yaml:"minute,omitempty" json:"minute,omitempty" cbor:"minute"`
	Hour    *int `yaml:"hour,omitempty" json:"hour,omitempty" cbor:"hour"`
	Day     *int `yaml:"day,omitempty" json:"day,omitempty" cbor:"day"`
	Weekday *int `yaml:"weekday,omitempty" json:"weekday,omitempty" cbor:"weekday"`
	Month   *int `yaml:"month,omitempty" json:"month,omitempty" cbor:"month"`
}

// GetKind implements Object.
func (a *LaunchAgent) GetKind() string { return KindLaunchAgent }

// GetName implements Object.
func (a *LaunchAgent) GetName() string { return a.Name }

// LabelName is the label, defaulted.
func (a *LaunchAgent) LabelName() string {
	if a.Spec.Label != "" {
		return a.Spec.Label
	}
	return "com.sanctum." + a.Name
}

// PlistName is the plist's file name, defaulted.
func (a *LaunchAgent) PlistName() string {
	if a.Spec.FileName != "" {
		return a.Spec.FileName
	}
	return a.LabelName() + ".plist"
}

// DomainKind is gui or user.
func (a *LaunchAgent) DomainKind() string {
	if a.Spec.Domain != "" {
		return a.Spec.Domain
	}
	return "gui"
}

// KeepsAlive reports whether launchd keeps the agent running (KeepAlive
// true): such an agent is a daemon, any other runs and exits.
func (s *LaunchAgentSpec) KeepsAlive() bool { return s.KeepAlive }

// IsEnabled reports the resolved switch (desired resolves InstanceKey).
func (a *LaunchAgent) IsEnabled() bool { return a.Spec.Enabled == nil || *a.Spec.Enabled }

var labelPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Validate implements Object.
func (a *LaunchAgent) Validate() field.ErrorList {
	errs := validateMeta(a.TypeMeta, a.ObjectMeta, KindLaunchAgent)
	return append(errs, a.Spec.validate(field.NewPath("spec"))...)
}

// ProcessTypes launchd knows.
var ProcessTypes = []string{"Background", "Standard", "Adaptive", "Interactive"}

func (s *LaunchAgentSpec) validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Label != "" && !labelPattern.MatchString(s.Label) {
		errs = append(errs, field.Invalid(p.Child("label"), s.Label, "letters, digits, '.', '_' and '-' only"))
	}
	if s.FileName != "" && (!strings.HasSuffix(s.FileName, ".plist") || strings.Contains(s.FileName, "/") || s.FileName == ".plist") {
		errs = append(errs, field.Invalid(p.Child("fileName"), s.FileName, "a file name ending in .plist"))
	}
	if s.Retired {
		return errs
	}
	args := p.Child("programArguments")
	if len(s.ProgramArguments) == 0 {
		errs = append(errs, field.Required(args, "the program to run, by absolute path"))
	}
	for i, a := range s.ProgramArguments {
		switch {
		case i == 0 && !path.IsAbs(a):
			errs = append(errs, field.Invalid(args.Index(i), a, "the program must be an absolute path (launchd does not search PATH)"))
		case strings.HasPrefix(a, "~") || strings.HasPrefix(a, "./") || strings.HasPrefix(a, "../"):
			errs = append(errs, field.Invalid(args.Index(i), a, "launchd expands no ~ and has no working directory to be relative to: use an absolute path"))
		}
	}
	for _, f := range []struct{ name, v string }{
		{"workingDirectory", s.WorkingDirectory}, {"standardOutPath", s.StandardOutPath}, {"standardErrorPath", s.StandardErrorPath},
	} {
		if f.v != "" && !path.IsAbs(f.v) {
			errs = append(errs, field.Invalid(p.Child(f.name), f.v, "must be an absolute path"))
		}
	}
	if s.StartInterval < 0 {
		errs = append(errs, field.Invalid(p.Child("startInterval"), s.StartInterval, "seconds, not negative"))
	}
	for i, c := range s.StartCalendarInterval {
		cp := p.Child("startCalendarInterval").Index(i)
		for _, f := range []struct {
			name     string
			v        *int
			min, max int
		}{{"minute", c.Minute, 0, 59}, {"hour", c.Hour, 0, 23}, {"day", c.Day, 1, 31}, {"weekday", c.Weekday, 0, 7}, {"month", c.Month, 1, 12}} {
			if f.v != nil && (*f.v < f.min || *f.v > f.max) {
				errs = append(errs, field.Invalid(cp.Child(f.name), *f.v, "out of range"))
			}
		}
	}
	if s.ProcessType != "" && !slices.Contains(ProcessTypes, s.ProcessType) {
		errs = append(errs, field.NotSupported(p.Child("processType"), s.ProcessType, ProcessTypes))
	}
	if s.Domain != "" && s.Domain != "gui" && s.Domain != "user" {
		errs = append(errs, field.NotSupported(p.Child("domain"), s.Domain, []string{"gui", "user"}))
	}
	if s.Enabled != nil && s.InstanceKey != "" {
		errs = append(errs, field.Invalid(p.Child("enabled"), *s.Enabled, "set either enabled or instanceKey, not both"))
	}
	for i, r := range s.RestartOn {
		if _, ok := HomePath(r); !ok {
			errs = append(errs, field.Invalid(p.Child("restartOn").Index(i), r, "must be ~/... under HOME"))
		}
	}
	for k := range s.Environment {
		if k == "" || strings.ContainsAny(k, "= ") {
			errs = append(errs, field.Invalid(p.Child("environment").Key(k), k, "not a valid variable name"))
		}
	}
	return errs
}
