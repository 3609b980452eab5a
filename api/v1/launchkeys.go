package v1

import (
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Shaped is a type whose YAML may take more than one shape (KeepAlive is
// true or false, or a mapping of conditions). The strict decoder asks it
// which Go type a node of that shape is checked as, so that a wrong field
// inside still gets its line, column and path; want says what the shapes
// are when none fits.
type Shaped interface {
	YAMLShape(n *yaml.Node) (t reflect.Type, want string)
}

// resolveAlias is the node an alias stands for.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// KeepAlive is launchd's KeepAlive: a boolean, or a dictionary of
// conditions under which launchd keeps the job running (launchd.plist(5)).
type KeepAlive struct {
	// Always is set when KeepAlive is written as true or false.
	Always     *bool `yaml:"-" json:"-"`
	Conditions `yaml:",inline" json:",inline"`
}

// Conditions are the keys of a KeepAlive dictionary. Each is a condition of
// its own: launchd keeps the job alive while any of them holds.
type Conditions struct {
	// SuccessfulExit true: restart after a clean exit (0); false: restart
	// until it exits cleanly. Either implies a run at load.
	SuccessfulExit *bool `yaml:"successfulExit,omitempty" json:"successfulExit,omitempty"`
	// Crashed true: restart after a crash (a signal); false: restart unless
	// it crashed.
	Crashed *bool `yaml:"crashed,omitempty" json:"crashed,omitempty"`
	// NetworkState is deprecated by launchd and ignored on current macOS;
	// it is rendered as written.
	NetworkState *bool `yaml:"networkState,omitempty" json:"networkState,omitempty"`
	// PathState: alive while the path exists (true) or does not (false).
	PathState map[string]bool `yaml:"pathState,omitempty" json:"pathState,omitempty"`
	// OtherJobEnabled: alive while the labelled job is loaded (true) or
	// not (false).
	OtherJobEnabled map[string]bool `yaml:"otherJobEnabled,omitempty" json:"otherJobEnabled,omitempty"`
}

var (
	boolType       = reflect.TypeOf(true)
	conditionsType = reflect.TypeOf(Conditions{})
	stringType     = reflect.TypeOf("")
	stringsType    = reflect.TypeOf([]string{})
	anyType        = reflect.TypeOf((*any)(nil)).Elem()
	plistListType  = reflect.TypeOf([]PlistValue{})
	plistDictType  = reflect.TypeOf(map[string]PlistValue{})
)

// YAMLShape implements Shaped.
func (*KeepAlive) YAMLShape(n *yaml.Node) (reflect.Type, string) {
	n = resolveAlias(n)
	switch n.Kind {
	case yaml.ScalarNode:
		return boolType, ""
	case yaml.MappingNode:
		return conditionsType, ""
	}
	return nil, "expected true, false or a mapping of successfulExit, crashed, networkState, pathState, otherJobEnabled"
}

// UnmarshalYAML reads either shape.
func (k *KeepAlive) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	if n.Kind == yaml.ScalarNode {
		var b bool
		if err := n.Decode(&b); err != nil {
			return err
		}
		*k = KeepAlive{Always: &b}
		return nil
	}
	*k = KeepAlive{}
	return n.Decode(&k.Conditions)
}

// MarshalYAML writes the shape it was read in.
func (k KeepAlive) MarshalYAML() (any, error) {
	if k.Always != nil {
		return *k.Always, nil
	}
	return k.Conditions, nil
}

// MarshalJSON writes the shape it was read in, as MarshalYAML does.
func (k KeepAlive) MarshalJSON() ([]byte, error) {
	if k.Always != nil {
		return json.Marshal(*k.Always)
	}
	return json.Marshal(k.Conditions)
}

// IsDict reports whether KeepAlive is a dictionary of conditions.
func (k *KeepAlive) IsDict() bool { return k != nil && k.Always == nil }

// Plist is the plist value of KeepAlive.
func (k *KeepAlive) Plist() any {
	if k.Always != nil {
		return *k.Always
	}
	d := map[string]any{}
	for key, v := range map[string]*bool{"SuccessfulExit": k.SuccessfulExit, "Crashed": k.Crashed, "NetworkState": k.NetworkState} {
		if v != nil {
			d[key] = *v
		}
	}
	if len(k.PathState) > 0 {
		d["PathState"] = k.PathState
	}
	if len(k.OtherJobEnabled) > 0 {
		d["OtherJobEnabled"] = k.OtherJobEnabled
	}
	return d
}

// String is a canonical spelling for drift reasons: true, false, or
// {Crashed=true SuccessfulExit=false PathState[/p]=true}.
func (k *KeepAlive) String() string {
	if k == nil {
		return "(unset)"
	}
	if k.Always != nil {
		return fmt.Sprint(*k.Always)
	}
	var parts []string
	for key, v := range map[string]*bool{"SuccessfulExit": k.SuccessfulExit, "Crashed": k.Crashed, "NetworkState": k.NetworkState} {
		if v != nil {
			parts = append(parts, fmt.Sprintf("%s=%t", key, *v))
		}
	}
	for p, v := range k.PathState {
		parts = append(parts, fmt.Sprintf("PathState[%s]=%t", p, v))
	}
	for j, v := range k.OtherJobEnabled {
		parts = append(parts, fmt.Sprintf("OtherJobEnabled[%s]=%t", j, v))
	}
	slices.Sort(parts)
	return "{" + strings.Join(parts, " ") + "}"
}

func (k *KeepAlive) validate(p *field.Path) field.ErrorList {
	if k == nil || k.Always != nil {
		return nil
	}
	var errs field.ErrorList
	if k.SuccessfulExit == nil && k.Crashed == nil && k.NetworkState == nil && len(k.PathState) == 0 && len(k.OtherJobEnabled) == 0 {
		errs = append(errs, field.Required(p, "a KeepAlive dictionary needs a condition (successfulExit, crashed, networkState, pathState, otherJobEnabled), or write true or false"))
	}
	for _, ps := range slices.Sorted(maps.Keys(k.PathState)) {
		if !path.IsAbs(ps) {
			errs = append(errs, field.Invalid(p.Child("pathState").Key(ps), ps, "must be an absolute path (launchd expands no ~)"))
		}
	}
	for _, l := range slices.Sorted(maps.Keys(k.OtherJobEnabled)) {
		if !labelPattern.MatchString(l) {
			errs = append(errs, field.Invalid(p.Child("otherJobEnabled").Key(l), l, "a launchd label: letters, digits, '.', '_' and '-' only"))
		}
	}
	return errs
}

// StringList is a plist value written as one string or a list of them
// (LimitLoadToSessionType).
type StringList []string

// YAMLShape implements Shaped.
func (*StringList) YAMLShape(n *yaml.Node) (reflect.Type, string) {
	n = resolveAlias(n)
	switch n.Kind {
	case yaml.ScalarNode:
		return stringType, ""
	case yaml.SequenceNode:
		return stringsType, ""
	}
	return nil, "expected a string or a list of strings"
}

// UnmarshalYAML reads either shape.
func (s *StringList) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	if n.Kind == yaml.ScalarNode {
		*s = StringList{n.Value}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}

// MarshalYAML writes one value as a string.
func (s StringList) MarshalYAML() (any, error) {
	if len(s) == 1 {
		return s[0], nil
	}
	return []string(s), nil
}

// Plist is the plist value: a string when there is one, else an array.
func (s StringList) Plist() any {
	if len(s) == 1 {
		return s[0]
	}
	return []string(s)
}

// SessionTypes are the values of LimitLoadToSessionType for an agent of a
// user (System is for daemons).
var SessionTypes = []string{"Aqua", "Background", "LoginWindow", "StandardIO"}

// domainSession is the session type a domain's agents load in: gui/<uid>
// is the Aqua session, user/<uid> the Background one.
var domainSession = map[string]string{"gui": "Aqua", "user": "Background"}

// ResourceLimits are SoftResourceLimits or HardResourceLimits, the
// setrlimit(2) limits launchd sets before it runs the job.
type ResourceLimits struct {
	Core              *int64 `yaml:"core,omitempty" json:"core,omitempty"`
	CPU               *int64 `yaml:"cpu,omitempty" json:"cpu,omitempty"`
	Data              *int64 `yaml:"data,omitempty" json:"data,omitempty"`
	FileSize          *int64 `yaml:"fileSize,omitempty" json:"fileSize,omitempty"`
	MemoryLock        *int64 `yaml:"memoryLock,omitempty" json:"memoryLock,omitempty"`
	NumberOfFiles     *int64 `yaml:"numberOfFiles,omitempty" json:"numberOfFiles,omitempty"`
	NumberOfProcesses *int64 `yaml:"numberOfProcesses,omitempty" json:"numberOfProcesses,omitempty"`
	ResidentSetSize   *int64 `yaml:"residentSetSize,omitempty" json:"residentSetSize,omitempty"`
	Stack             *int64 `yaml:"stack,omitempty" json:"stack,omitempty"`
}

// ResourceLimit is one limit: its plist key, the name launchctl print
// and launchctl limit give it, and its value.
type ResourceLimit struct {
	Key, PrintName string
	Value          int64
}

// List is the limits set, in the order of the plist keys.
func (r *ResourceLimits) List() []ResourceLimit {
	if r == nil {
		return nil
	}
	var out []ResourceLimit
	for _, f := range []struct {
		key, name string
		v         *int64
	}{
		{"CPU", "cpu", r.CPU}, {"Core", "core", r.Core}, {"Data", "data", r.Data}, {"FileSize", "filesize", r.FileSize},
		{"MemoryLock", "memlock", r.MemoryLock}, {"NumberOfFiles", "maxfiles", r.NumberOfFiles},
		{"NumberOfProcesses", "maxproc", r.NumberOfProcesses}, {"ResidentSetSize", "rss", r.ResidentSetSize},
		{"Stack", "stack", r.Stack},
	} {
		if f.v != nil {
			out = append(out, ResourceLimit{Key: f.key, PrintName: f.name, Value: *f.v})
		}
	}
	return out
}

// Set sets the limit of a plist key; false for a key launchd does not know.
func (r *ResourceLimits) Set(key string, v int64) bool {
	for k, f := range map[string]**int64{"CPU": &r.CPU, "Core": &r.Core, "Data": &r.Data, "FileSize": &r.FileSize,
		"MemoryLock": &r.MemoryLock, "NumberOfFiles": &r.NumberOfFiles, "NumberOfProcesses": &r.NumberOfProcesses,
		"ResidentSetSize": &r.ResidentSetSize, "Stack": &r.Stack} {
		if k == key {
			*f = &v
			return true
		}
	}
	return false
}

// Plist is the limits as a plist dictionary.
func (r *ResourceLimits) Plist() map[string]int64 {
	m := map[string]int64{}
	for _, l := range r.List() {
		m[l.Key] = l.Value
	}
	return m
}

func (r *ResourceLimits) validate(p *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	var errs field.ErrorList
	if len(r.List()) == 0 {
		errs = append(errs, field.Required(p, "at least one limit (core, cpu, data, fileSize, memoryLock, numberOfFiles, numberOfProcesses, residentSetSize, stack)"))
	}
	v := reflect.ValueOf(r).Elem()
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); !f.IsNil() && f.Elem().Int() < 0 {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
			errs = append(errs, field.Invalid(p.Child(name), f.Elem().Int(), "not negative"))
		}
	}
	return errs
}

// PlistValue is one value of spec.extra: a string, an integer, a real, a
// boolean, a list or a mapping of them, rendered as the plist value of that
// type. Nothing else about it is checked.
type PlistValue struct {
	// Value is a string, int64, float64, bool, []PlistValue or
	// map[string]PlistValue.
	Value any
}

// YAMLShape implements Shaped.
func (*PlistValue) YAMLShape(n *yaml.Node) (reflect.Type, string) {
	n = resolveAlias(n)
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str", "!!int", "!!float", "!!bool":
			return anyType, ""
		}
	case yaml.SequenceNode:
		return plistListType, ""
	case yaml.MappingNode:
		return plistDictType, ""
	}
	return nil, "expected a string, number, boolean, list or mapping"
}

// UnmarshalYAML reads a value of any plist type.
func (v *PlistValue) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil {
				return err
			}
			v.Value = i
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				return err
			}
			v.Value = f
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return err
			}
			v.Value = b
		case "!!null":
			v.Value = nil
		default:
			v.Value = n.Value
		}
	case yaml.SequenceNode:
		var l []PlistValue
		if err := n.Decode(&l); err != nil {
			return err
		}
		v.Value = l
	case yaml.MappingNode:
		var m map[string]PlistValue
		if err := n.Decode(&m); err != nil {
			return err
		}
		v.Value = m
	default:
		return fmt.Errorf("line %d: not a plist value", n.Line)
	}
	return nil
}

// MarshalYAML writes the value as plain YAML.
func (v PlistValue) MarshalYAML() (any, error) { return v.Value, nil }

// MarshalJSON writes the value as plain JSON.
func (v PlistValue) MarshalJSON() ([]byte, error) { return json.Marshal(v.Value) }

// Plist is the value as the plist encoder takes it.
func (v PlistValue) Plist() any {
	switch x := v.Value.(type) {
	case []PlistValue:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e.Plist()
		}
		return out
	case map[string]PlistValue:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = e.Plist()
		}
		return out
	}
	return v.Value
}

// PlistValueOf turns a decoded plist value back into a PlistValue; false
// for a type the catalog cannot write (data, a date).
func PlistValueOf(x any) (PlistValue, bool) {
	switch t := x.(type) {
	case string:
		return PlistValue{t}, true
	case bool:
		return PlistValue{t}, true
	case int64:
		return PlistValue{t}, true
	case uint64:
		return PlistValue{int64(t)}, true
	case int:
		return PlistValue{int64(t)}, true
	case float64:
		return PlistValue{t}, true
	case float32:
		return PlistValue{float64(t)}, true
	case []any:
		l := make([]PlistValue, 0, len(t))
		for _, e := range t {
			pv, ok := PlistValueOf(e)
			if !ok {
				return PlistValue{}, false
			}
			l = append(l, pv)
		}
		return PlistValue{l}, true
	case map[string]any:
		m := make(map[string]PlistValue, len(t))
		for k, e := range t {
			pv, ok := PlistValueOf(e)
			if !ok {
				return PlistValue{}, false
			}
			m[k] = pv
		}
		return PlistValue{m}, true
	}
	return PlistValue{}, false
}

func (v PlistValue) validate(p *field.Path) field.ErrorList {
	switch x := v.Value.(type) {
	case nil:
		return field.ErrorList{field.Required(p, "a value (null has no plist type)")}
	case []PlistValue:
		var errs field.ErrorList
		for i, e := range x {
			errs = append(errs, e.validate(p.Index(i))...)
		}
		return errs
	case map[string]PlistValue:
		var errs field.ErrorList
		for _, k := range slices.Sorted(maps.Keys(x)) {
			errs = append(errs, x[k].validate(p.Key(k))...)
		}
		return errs
	}
	return nil
}

// TypedPlistKeys are the plist keys a LaunchAgentSpec field writes, with
// the field that does: spec.extra may not set them.
var TypedPlistKeys = map[string]string{
	"Label": "label", "Program": "programArguments", "ProgramArguments": "programArguments",
	"EnvironmentVariables": "environment", "WorkingDirectory": "workingDirectory",
	"StandardOutPath": "standardOutPath", "StandardErrorPath": "standardErrorPath", "RunAtLoad": "runAtLoad",
	"KeepAlive": "keepAlive", "StartInterval": "startInterval", "StartCalendarInterval": "startCalendarInterval",
	"ProcessType": "processType", "WatchPaths": "watchPaths", "QueueDirectories": "queueDirectories",
	"ThrottleInterval": "throttleInterval", "LimitLoadToSessionType": "limitLoadToSessionType", "Nice": "nice",
	"SoftResourceLimits": "softResourceLimits", "HardResourceLimits": "hardResourceLimits",
	"UserName": "userName", "GroupName": "userName",
}
