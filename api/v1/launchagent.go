package v1

import (
	"fmt"
	"maps"
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
	FileName          string            `yaml:"fileName,omitempty" json:"fileName,omitempty" cbor:"fileName"`
	ProgramArguments  []string          `yaml:"programArguments,omitempty" json:"programArguments,omitempty" cbor:"programArguments"`
	Environment       map[string]string `yaml:"environment,omitempty" json:"environment,omitempty" cbor:"environment"`
	WorkingDirectory  string            `yaml:"workingDirectory,omitempty" json:"workingDirectory,omitempty" cbor:"workingDirectory"`
	StandardOutPath   string            `yaml:"standardOutPath,omitempty" json:"standardOutPath,omitempty" cbor:"standardOutPath"`
	StandardErrorPath string            `yaml:"standardErrorPath,omitempty" json:"standardErrorPath,omitempty" cbor:"standardErrorPath"`
	RunAtLoad         bool              `yaml:"runAtLoad,omitempty" json:"runAtLoad,omitempty" cbor:"runAtLoad"`
	// KeepAlive is true, false, or a dictionary of conditions.
	KeepAlive             *KeepAlive         `yaml:"keepAlive,omitempty" json:"keepAlive,omitempty" cbor:"keepAlive"`
	StartInterval         int                `yaml:"startInterval,omitempty" json:"startInterval,omitempty" cbor:"startInterval"`
	StartCalendarInterval []CalendarInterval `yaml:"startCalendarInterval,omitempty" json:"startCalendarInterval,omitempty" cbor:"startCalendarInterval"`
	ProcessType           string             `yaml:"processType,omitempty" json:"processType,omitempty" cbor:"processType"`
	// WatchPaths start the job when one of these paths is modified.
	WatchPaths []string `yaml:"watchPaths,omitempty" json:"watchPaths,omitempty" cbor:"watchPaths"`
	// QueueDirectories keep the job alive while one of these directories
	// is not empty.
	QueueDirectories []string `yaml:"queueDirectories,omitempty" json:"queueDirectories,omitempty" cbor:"queueDirectories"`
	// ThrottleInterval is the least time in seconds between two starts
	// (launchd's default 10; 0 turns throttling off).
	ThrottleInterval *int `yaml:"throttleInterval,omitempty" json:"throttleInterval,omitempty" cbor:"throttleInterval"`
	// LimitLoadToSessionType: the session types (Aqua, Background,
	// LoginWindow, StandardIO) the agent loads in; one or a list.
	LimitLoadToSessionType StringList `yaml:"limitLoadToSessionType,omitempty" json:"limitLoadToSessionType,omitempty" cbor:"limitLoadToSessionType"`
	// Nice is the scheduling priority, -20 to 20.
	Nice               *int            `yaml:"nice,omitempty" json:"nice,omitempty" cbor:"nice"`
	SoftResourceLimits *ResourceLimits `yaml:"softResourceLimits,omitempty" json:"softResourceLimits,omitempty" cbor:"softResourceLimits"`
	HardResourceLimits *ResourceLimits `yaml:"hardResourceLimits,omitempty" json:"hardResourceLimits,omitempty" cbor:"hardResourceLimits"`
	// UserName is refused: an agent of a user's domain runs as that user,
	// and launchd honours UserName only for a daemon loaded by root. It is
	// a field so that the refusal names it.
	UserName string `yaml:"userName,omitempty" json:"userName,omitempty" cbor:"userName"`
	// Extra holds any other plist key, rendered as written (strings,
	// integers, reals, booleans, lists and mappings of them). reconcile
	// checks nothing of it beyond its type: not the key, not its meaning.
	Extra       map[string]PlistValue `yaml:"extra,omitempty" json:"extra,omitempty" cbor:"extra"`
	Domain      string                `yaml:"domain,omitempty" json:"domain,omitempty" cbor:"domain"` // gui (default) | user
	Enabled     *bool                 `yaml:"enabled,omitempty" json:"enabled,omitempty" cbor:"enabled"`
	InstanceKey string                `yaml:"instanceKey,omitempty" json:"instanceKey,omitempty" cbor:"instanceKey"`
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

// KeepsAlive reports whether launchd keeps the agent running: KeepAlive
// true, or a dictionary whose conditions keep a job that exited cleanly
// running (successfulExit: true, crashed: false, a pathState, an
// otherJobEnabled or networkState). Such an agent is a daemon; any other
// (successfulExit: false, crashed: true: run until it succeeds) runs and
// exits.
func (s *LaunchAgentSpec) KeepsAlive() bool {
	k := s.KeepAlive
	switch {
	case k == nil:
		return false
	case k.Always != nil:
		return *k.Always
	}
	return (k.SuccessfulExit != nil && *k.SuccessfulExit) || (k.Crashed != nil && !*k.Crashed) ||
		k.NetworkState != nil || len(k.PathState) > 0 || len(k.OtherJobEnabled) > 0
}

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
	return append(errs, s.validateKeys(p)...)
}

// validateKeys checks the keys of issue 14: watch paths, queue
// directories, throttle, KeepAlive conditions, session types, nice,
// resource limits, the refused UserName and the unchecked extra keys.
func (s *LaunchAgentSpec) validateKeys(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct {
		name  string
		paths []string
	}{{"watchPaths", s.WatchPaths}, {"queueDirectories", s.QueueDirectories}} {
		for i, w := range f.paths {
			if !path.IsAbs(w) {
				errs = append(errs, field.Invalid(p.Child(f.name).Index(i), w, "must be an absolute path (launchd expands no ~)"))
			}
		}
	}
	if s.ThrottleInterval != nil && *s.ThrottleInterval < 0 {
		errs = append(errs, field.Invalid(p.Child("throttleInterval"), *s.ThrottleInterval, "seconds, not negative"))
	}
	errs = append(errs, s.KeepAlive.validate(p.Child("keepAlive"))...)
	if len(s.LimitLoadToSessionType) > 0 {
		lp := p.Child("limitLoadToSessionType")
		seen := map[string]bool{}
		for i, t := range s.LimitLoadToSessionType {
			ip := lp
			if len(s.LimitLoadToSessionType) > 1 {
				ip = lp.Index(i)
			}
			switch {
			case t == "System":
				errs = append(errs, field.Invalid(ip, t, "System is the session of daemons, not of a user's agent"))
			case !slices.Contains(SessionTypes, t):
				errs = append(errs, field.NotSupported(ip, t, SessionTypes))
			case seen[t]:
				errs = append(errs, field.Duplicate(ip, t))
			}
			seen[t] = true
		}
		if want := domainSession[s.domainKind()]; !seen[want] {
			errs = append(errs, field.Invalid(lp, strings.Join(s.LimitLoadToSessionType, ","),
				fmt.Sprintf("the agent loads in %s/<uid>, the %s session: launchd refuses to bootstrap it there unless this lists %s", s.domainKind(), want, want)))
		}
	}
	if s.Nice != nil && (*s.Nice < -20 || *s.Nice > 20) {
		errs = append(errs, field.Invalid(p.Child("nice"), *s.Nice, "from -20 to 20"))
	}
	errs = append(errs, s.SoftResourceLimits.validate(p.Child("softResourceLimits"))...)
	errs = append(errs, s.HardResourceLimits.validate(p.Child("hardResourceLimits"))...)
	if s.UserName != "" {
		errs = append(errs, field.Forbidden(p.Child("userName"), userNameRefusal))
	}
	for _, k := range slices.Sorted(maps.Keys(s.Extra)) {
		kp := p.Child("extra").Key(k)
		switch typed, isTyped := TypedPlistKeys[k]; {
		case k == "UserName" || k == "GroupName":
			errs = append(errs, field.Forbidden(kp, userNameRefusal))
		case isTyped:
			errs = append(errs, field.Forbidden(kp, fmt.Sprintf("%s has a field of its own: write it as spec.%s, which is checked", k, typed)))
		case k == "":
			errs = append(errs, field.Invalid(kp, k, "an empty key"))
		default:
			errs = append(errs, s.Extra[k].validate(kp)...)
		}
	}
	return errs
}

// userNameRefusal says why an agent may not name a user.
const userNameRefusal = "a user's agent runs as that user; launchd honours UserName and GroupName only for a daemon loaded by root: remove it"

func (s *LaunchAgentSpec) domainKind() string {
	if s.Domain != "" {
		return s.Domain
	}
	return "gui"
}
