package v1

import (
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// InstanceFile is the catalog file that holds the instance settings.
const InstanceFile = "instance.yaml"

// InstanceSettings is instance.yaml: the facts about one haus that templates
// read (paths, users, network, service ports). It never holds a secret value.
// Its keys are snake_case, as the Python-era tools wrote them.
type InstanceSettings struct {
	Instance InstanceInfo               `yaml:"instance" json:"instance" cbor:"instance"`
	Users    map[string]User            `yaml:"users,omitempty" json:"users,omitempty" cbor:"users"`
	Paths    map[string]string          `yaml:"paths,omitempty" json:"paths,omitempty" cbor:"paths"`
	Network  Network                    `yaml:"network,omitempty" json:"network,omitempty" cbor:"network"`
	Services map[string]InstanceService `yaml:"services,omitempty" json:"services,omitempty" cbor:"services"`
	Nodes    map[string]Node            `yaml:"nodes,omitempty" json:"nodes,omitempty" cbor:"nodes"`
	Agents   map[string]Agent           `yaml:"agents,omitempty" json:"agents,omitempty" cbor:"agents"`
	Secrets  SecretSettings             `yaml:"secrets,omitempty" json:"secrets,omitempty" cbor:"secrets"`
	Backups  BackupSettings             `yaml:"backups,omitempty" json:"backups,omitempty" cbor:"backups"`
	History  HistorySettings            `yaml:"history,omitempty" json:"history,omitempty" cbor:"history"`
	Limits   Limits                     `yaml:"limits,omitempty" json:"limits,omitempty" cbor:"limits"`
	Personas PersonaSettings            `yaml:"personas,omitempty" json:"personas,omitempty" cbor:"personas"`
}

// PersonaSettings says where persona files come from when a PersonaFile
// names both a folder in the catalog and one under the persona root.
type PersonaSettings struct {
	// Source is "catalog" (the default: the catalog's own copies, as the
	// shipped example has them) or "root" (the folders under
	// paths.persona_root, where the real haus keeps its canonical files).
	Source string `yaml:"source,omitempty" json:"source,omitempty" cbor:"source"`
}

// Persona sources the instance settings can pick.
const (
	PersonaSourceCatalog = "catalog"
	PersonaSourceRoot    = "root"
)

// PersonaRootKey is the paths entry that names the persona root.
const PersonaRootKey = "persona_root"

// FromRoot reports whether persona files that name a folder under the
// persona root are read from there.
func (p PersonaSettings) FromRoot() bool { return p.Source == PersonaSourceRoot }

// Limits bound what one pass reads into memory: a managed file (a target
// under HOME, a persona source under ~/) over ManagedFileBytes, or a secret
// file over SecretBytes, is refused from its size before it is read, and
// its object fails. Zero means the default.
type Limits struct {
	ManagedFileBytes int64 `yaml:"managed_file_bytes,omitempty" json:"managed_file_bytes,omitempty" cbor:"managed_file_bytes"`
	SecretBytes      int64 `yaml:"secret_bytes,omitempty" json:"secret_bytes,omitempty" cbor:"secret_bytes"`
}

// Defaults and ceilings of Limits: a ceiling keeps a setting from
// bringing back what the limit is there to prevent.
const (
	DefaultManagedFileBytes = 16 << 20
	MaxManagedFileBytes     = 256 << 20
	DefaultSecretBytes      = 64 << 10
	MaxSecretBytes          = 1 << 20
)

// ManagedFile is the managed-file limit in bytes.
func (l Limits) ManagedFile() int64 {
	if l.ManagedFileBytes == 0 {
		return DefaultManagedFileBytes
	}
	return l.ManagedFileBytes
}

// Secret is the secret-file limit in bytes.
func (l Limits) Secret() int64 {
	if l.SecretBytes == 0 {
		return DefaultSecretBytes
	}
	return l.SecretBytes
}

func (l Limits) validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if n := l.ManagedFileBytes; n < 0 || n > MaxManagedFileBytes {
		errs = append(errs, field.Invalid(p.Child("managed_file_bytes"), n, "between 1 and 268435456 (256 MiB); 0 or absent: 16 MiB"))
	}
	if n := l.SecretBytes; n < 0 || n > MaxSecretBytes {
		errs = append(errs, field.Invalid(p.Child("secret_bytes"), n, "between 1 and 1048576 (1 MiB); 0 or absent: 64 KiB"))
	}
	return errs
}

// BackupSettings bound ~/.sanctum/state/backups: after an apply, runs beyond
// the newest Keep, or older than MaxAgeDays, are removed; the newest run is
// always kept. Zero means the default (keep 50, 90 days).
type BackupSettings struct {
	Keep       int `yaml:"keep,omitempty" json:"keep,omitempty" cbor:"keep"`
	MaxAgeDays int `yaml:"max_age_days,omitempty" json:"max_age_days,omitempty" cbor:"max_age_days"`
}

// HistorySettings bound ~/.sanctum/state/history.jsonl: an apply drops
// the entries older than KeepDays (never the newest). Zero means the
// default, 30 days.
type HistorySettings struct {
	KeepDays int `yaml:"keep_days,omitempty" json:"keep_days,omitempty" cbor:"keep_days"`
}

// DefaultHistoryKeepDays and MaxHistoryKeepDays bound history.keep_days:
// a scheduled pass every five minutes adds about 288 entries a day.
const (
	DefaultHistoryKeepDays = 30
	MaxHistoryKeepDays     = 3650
)

// Days is how many days of history to keep.
func (s HistorySettings) Days() int {
	if s.KeepDays == 0 {
		return DefaultHistoryKeepDays
	}
	return s.KeepDays
}

// InstanceInfo names the haus.
type InstanceInfo struct {
	Slug     string `yaml:"slug" json:"slug" cbor:"slug"`
	Name     string `yaml:"name,omitempty" json:"name,omitempty" cbor:"name"`
	Timezone string `yaml:"timezone,omitempty" json:"timezone,omitempty" cbor:"timezone"`
	// Example marks the shipped example catalog: reconcile refuses to write it
	// into the real home unless the user names that home explicitly.
	Example bool `yaml:"example,omitempty" json:"example,omitempty" cbor:"example"`
}

// User is an account on the Mac or the VM.
type User struct {
	Name string `yaml:"name" json:"name" cbor:"name"`
	UID  int    `yaml:"uid,omitempty" json:"uid,omitempty" cbor:"uid"`
	Home string `yaml:"home,omitempty" json:"home,omitempty" cbor:"home"`
}

// Network holds the addresses the services bind and talk to.
type Network struct {
	VMIP            string `yaml:"vm_ip,omitempty" json:"vm_ip,omitempty" cbor:"vm_ip"`
	MacBridgeIP     string `yaml:"mac_bridge_ip,omitempty" json:"mac_bridge_ip,omitempty" cbor:"mac_bridge_ip"`
	BridgeInterface string `yaml:"bridge_interface,omitempty" json:"bridge_interface,omitempty" cbor:"bridge_interface"`
	VMSSHAlias      string `yaml:"vm_ssh_alias,omitempty" json:"vm_ssh_alias,omitempty" cbor:"vm_ssh_alias"`
	LANIP           string `yaml:"lan_ip,omitempty" json:"lan_ip,omitempty" cbor:"lan_ip"`
}

// InstanceService switches one service on or off and gives its port.
type InstanceService struct {
	Enabled bool              `yaml:"enabled" json:"enabled" cbor:"enabled"`
	Port    int               `yaml:"port,omitempty" json:"port,omitempty" cbor:"port"`
	Options map[string]string `yaml:"options,omitempty" json:"options,omitempty" cbor:"options"`
}

// Node is a machine of the haus.
type Node struct {
	Type          string `yaml:"type" json:"type"` // hub | satellite | mobile
	Host          string `yaml:"host,omitempty" json:"host,omitempty" cbor:"host"`
	TailscaleName string `yaml:"tailscale_name,omitempty" json:"tailscale_name,omitempty" cbor:"tailscale_name"`
	User          string `yaml:"user,omitempty" json:"user,omitempty" cbor:"user"`
}

// Agent is one OpenClaw agent.
type Agent struct {
	Enabled   bool   `yaml:"enabled" json:"enabled" cbor:"enabled"`
	Role      string `yaml:"role,omitempty" json:"role,omitempty" cbor:"role"`
	Workspace string `yaml:"workspace,omitempty" json:"workspace,omitempty" cbor:"workspace"`
}

// SecretSettings says where secrets come from; never the values.
type SecretSettings struct {
	KeychainAccount string `yaml:"keychain_account,omitempty" json:"keychain_account,omitempty" cbor:"keychain_account"`
}

// Validate checks the instance settings on their own.
func (in *InstanceSettings) Validate() field.ErrorList {
	var errs field.ErrorList
	if in.Instance.Slug == "" {
		errs = append(errs, field.Required(field.NewPath("instance", "slug"), "name this haus"))
	}
	for _, key := range slices.Sorted(maps.Keys(in.Services)) {
		if p := in.Services[key].Port; p != 0 {
			errs = append(errs, validatePort(field.NewPath("services").Key(key).Child("port"), p)...)
		}
	}
	if in.Backups.Keep < 0 {
		errs = append(errs, field.Invalid(field.NewPath("backups", "keep"), in.Backups.Keep, "not negative"))
	}
	if in.Backups.MaxAgeDays < 0 {
		errs = append(errs, field.Invalid(field.NewPath("backups", "max_age_days"), in.Backups.MaxAgeDays, "not negative"))
	}
	if n := in.History.KeepDays; n < 0 || n > MaxHistoryKeepDays {
		errs = append(errs, field.Invalid(field.NewPath("history", "keep_days"), n, "between 1 and 3650; 0 or absent: 30"))
	}
	errs = append(errs, in.Limits.validate(field.NewPath("limits"))...)
	switch s := in.Personas.Source; s {
	case "", PersonaSourceCatalog:
	case PersonaSourceRoot:
		if _, ok := HomePath(in.Paths[PersonaRootKey]); !ok {
			errs = append(errs, field.Required(field.NewPath("paths", PersonaRootKey),
				"personas.source is root: name the persona root, a folder ~/... under HOME"))
		}
	default:
		errs = append(errs, field.NotSupported(field.NewPath("personas", "source"), s, []string{PersonaSourceCatalog, PersonaSourceRoot}))
	}
	for _, key := range slices.Sorted(maps.Keys(in.Nodes)) {
		switch t := in.Nodes[key].Type; t {
		case "hub", "satellite", "mobile":
		default:
			errs = append(errs, field.NotSupported(field.NewPath("nodes").Key(key).Child("type"), t,
				[]string{"hub", "satellite", "mobile"}))
		}
	}
	return errs
}
