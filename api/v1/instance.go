package v1

import (
	"sort"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// InstanceFile is the catalog file that holds the instance settings.
const InstanceFile = "instance.yaml"

// InstanceSettings is instance.yaml: the facts about one haus that templates
// read (paths, users, network, service ports). It never holds a secret value.
// Its keys are snake_case, as the Python-era tools wrote them.
type InstanceSettings struct {
	Instance InstanceInfo               `yaml:"instance" json:"instance"`
	Users    map[string]User            `yaml:"users,omitempty" json:"users,omitempty"`
	Paths    map[string]string          `yaml:"paths,omitempty" json:"paths,omitempty"`
	Network  Network                    `yaml:"network,omitempty" json:"network,omitempty"`
	Services map[string]InstanceService `yaml:"services,omitempty" json:"services,omitempty"`
	Nodes    map[string]Node            `yaml:"nodes,omitempty" json:"nodes,omitempty"`
	Agents   map[string]Agent           `yaml:"agents,omitempty" json:"agents,omitempty"`
	Secrets  SecretSettings             `yaml:"secrets,omitempty" json:"secrets,omitempty"`
	Backups  BackupSettings             `yaml:"backups,omitempty" json:"backups,omitempty"`
}

// BackupSettings bound ~/.sanctum/state/backups: after an apply, runs beyond
// the newest Keep, or older than MaxAgeDays, are removed; the newest run is
// always kept. Zero means the default (keep 50, 90 days).
type BackupSettings struct {
	Keep       int `yaml:"keep,omitempty" json:"keep,omitempty"`
	MaxAgeDays int `yaml:"max_age_days,omitempty" json:"max_age_days,omitempty"`
}

// InstanceInfo names the haus.
type InstanceInfo struct {
	Slug     string `yaml:"slug" json:"slug"`
	Name     string `yaml:"name,omitempty" json:"name,omitempty"`
	Timezone string `yaml:"timezone,omitempty" json:"timezone,omitempty"`
	// Example marks the shipped example catalog: reconcile refuses to write it
	// into the real home unless the user names that home explicitly.
	Example bool `yaml:"example,omitempty" json:"example,omitempty"`
}

// User is an account on the Mac or the VM.
type User struct {
	Name string `yaml:"name" json:"name"`
	UID  int    `yaml:"uid,omitempty" json:"uid,omitempty"`
	Home string `yaml:"home,omitempty" json:"home,omitempty"`
}

// Network holds the addresses the services bind and talk to.
type Network struct {
	VMIP            string `yaml:"vm_ip,omitempty" json:"vm_ip,omitempty"`
	MacBridgeIP     string `yaml:"mac_bridge_ip,omitempty" json:"mac_bridge_ip,omitempty"`
	BridgeInterface string `yaml:"bridge_interface,omitempty" json:"bridge_interface,omitempty"`
	VMSSHAlias      string `yaml:"vm_ssh_alias,omitempty" json:"vm_ssh_alias,omitempty"`
	LANIP           string `yaml:"lan_ip,omitempty" json:"lan_ip,omitempty"`
}

// InstanceService switches one service on or off and gives its port.
type InstanceService struct {
	Enabled bool              `yaml:"enabled" json:"enabled"`
	Port    int               `yaml:"port,omitempty" json:"port,omitempty"`
	Options map[string]string `yaml:"options,omitempty" json:"options,omitempty"`
}

// Node is a machine of the haus.
type Node struct {
	Type          string `yaml:"type" json:"type"` // hub | satellite | mobile
	Host          string `yaml:"host,omitempty" json:"host,omitempty"`
	TailscaleName string `yaml:"tailscale_name,omitempty" json:"tailscale_name,omitempty"`
	User          string `yaml:"user,omitempty" json:"user,omitempty"`
}

// Agent is one OpenClaw agent.
type Agent struct {
	Enabled   bool   `yaml:"enabled" json:"enabled"`
	Role      string `yaml:"role,omitempty" json:"role,omitempty"`
	Workspace string `yaml:"workspace,omitempty" json:"workspace,omitempty"`
}

// SecretSettings says where secrets come from; never the values.
type SecretSettings struct {
	KeychainAccount string `yaml:"keychain_account,omitempty" json:"keychain_account,omitempty"`
}

// Validate checks the instance settings on their own.
func (in *InstanceSettings) Validate() field.ErrorList {
	var errs field.ErrorList
	if in.Instance.Slug == "" {
		errs = append(errs, field.Required(field.NewPath("instance", "slug"), "name this haus"))
	}
	for _, key := range sortedKeys(in.Services) {
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
	for _, key := range sortedKeys(in.Nodes) {
		switch t := in.Nodes[key].Type; t {
		case "hub", "satellite", "mobile":
		default:
			errs = append(errs, field.NotSupported(field.NewPath("nodes").Key(key).Child("type"), t,
				[]string{"hub", "satellite", "mobile"}))
		}
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
