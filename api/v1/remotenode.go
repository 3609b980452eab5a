package v1

import (
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// KindRemoteNode is the kind of a RemoteNode object.
const KindRemoteNode = "RemoteNode"

// Policies for a node that cannot be reached.
const (
	// PolicyRequired: the node must converge; unreachable makes the answer
	// incomplete (exit 3).
	PolicyRequired = "required"
	// PolicyOpportunistic: converge it when it is online, skip it quickly
	// when it is not (a laptop).
	PolicyOpportunistic = "opportunistic"
)

// RemoteNode is a machine reached over the system OpenSSH client that
// receives copies of persona and calibration files.
type RemoteNode struct {
	TypeMeta   `yaml:",inline" json:",inline"`
	ObjectMeta `yaml:"metadata" json:"metadata" cbor:"metadata"`
	Spec       RemoteNodeSpec `yaml:"spec" json:"spec" cbor:"spec"`
	Status     Status         `yaml:"status,omitempty" json:"status,omitempty" cbor:"status"`
}

// RemoteNodeSpec says how to reach a node and what it receives.
type RemoteNodeSpec struct {
	// Alias is a Host of ~/.ssh/config (so keys, agents, ProxyJump and
	// Tailscale names work as they do for ssh); or give Host, User, Port.
	Alias string `yaml:"alias,omitempty" json:"alias,omitempty" cbor:"alias"`
	Host  string `yaml:"host,omitempty" json:"host,omitempty" cbor:"host"`
	User  string `yaml:"user,omitempty" json:"user,omitempty" cbor:"user"`
	Port  int    `yaml:"port,omitempty" json:"port,omitempty" cbor:"port"`
	// Policy is required (default) or opportunistic.
	Policy string `yaml:"policy,omitempty" json:"policy,omitempty" cbor:"policy"`
	// ConnectTimeout in seconds bounds connecting and the SSH handshake
	// (default 5); a node that hangs costs at most about this long.
	ConnectTimeout int `yaml:"connectTimeout,omitempty" json:"connectTimeout,omitempty" cbor:"connectTimeout"`
	// CommandTimeout in seconds bounds each command once the node has let
	// us in (default 30): a node that answers and then stalls has timed
	// out, which is not unreachable.
	CommandTimeout int `yaml:"commandTimeout,omitempty" json:"commandTimeout,omitempty" cbor:"commandTimeout"`
	// Home is the remote home the targets are relative to; default the
	// remote user's $HOME.
	Home     string   `yaml:"home,omitempty" json:"home,omitempty" cbor:"home"`
	Receives Receives `yaml:"receives,omitempty" json:"receives,omitempty" cbor:"receives"`
	// CatalogHost is the catalog host (a Service's spec.host) this node
	// is: vm, the only value yet. A pass run on another host places that
	// host's systemd units on this node, over its SSH connection.
	CatalogHost string `yaml:"catalogHost,omitempty" json:"catalogHost,omitempty" cbor:"catalogHost"`
}

// Receives is what a node gets.
type Receives struct {
	// Personas are agents whose persona files the node gets, or ["*"] for
	// every agent. PersonaFile.spec.nodes adds to it.
	Personas []string `yaml:"personas,omitempty" json:"personas,omitempty" cbor:"personas"`
	// Calibration: .instance.json and agent-capabilities.yaml.
	Calibration bool `yaml:"calibration,omitempty" json:"calibration,omitempty" cbor:"calibration"`
}

// GetKind implements Object.
func (n *RemoteNode) GetKind() string { return KindRemoteNode }

// GetName implements Object.
func (n *RemoteNode) GetName() string { return n.Name }

// PolicyName is the policy, defaulted.
func (n *RemoteNode) PolicyName() string {
	if n.Spec.Policy == "" {
		return PolicyRequired
	}
	return n.Spec.Policy
}

// Timeout is the connect timeout in seconds, defaulted.
func (n *RemoteNode) Timeout() int {
	if n.Spec.ConnectTimeout > 0 {
		return n.Spec.ConnectTimeout
	}
	return 5
}

// CommandTimeoutSeconds is the command timeout in seconds, defaulted.
func (n *RemoteNode) CommandTimeoutSeconds() int {
	if n.Spec.CommandTimeout > 0 {
		return n.Spec.CommandTimeout
	}
	return 30
}

// Destination is what ssh is given: the alias, or [user@]host.
func (n *RemoteNode) Destination() string {
	if n.Spec.Alias != "" {
		return n.Spec.Alias
	}
	if n.Spec.User != "" {
		return n.Spec.User + "@" + n.Spec.Host
	}
	return n.Spec.Host
}

// Validate implements Object.
func (n *RemoteNode) Validate() field.ErrorList {
	errs := validateMeta(n.TypeMeta, n.ObjectMeta, KindRemoteNode)
	spec := field.NewPath("spec")
	switch s := n.Spec; {
	case s.Alias == "" && s.Host == "":
		errs = append(errs, field.Required(spec.Child("alias"), "an ssh alias of ~/.ssh/config, or host"))
	case s.Alias != "" && (s.Host != "" || s.User != "" || s.Port != 0):
		errs = append(errs, field.Invalid(spec.Child("alias"), s.Alias, "set alias or host/user/port, not both"))
	}
	for _, f := range []struct{ name, v string }{{"alias", n.Spec.Alias}, {"host", n.Spec.Host}, {"user", n.Spec.User}} {
		if strings.HasPrefix(f.v, "-") || strings.ContainsAny(f.v, " \t\n'\"`$;&|<>\\") {
			errs = append(errs, field.Invalid(spec.Child(f.name), f.v, "not a valid ssh "+f.name))
		}
	}
	if n.Spec.Port != 0 {
		errs = append(errs, validatePort(spec.Child("port"), n.Spec.Port)...)
	}
	switch n.Spec.Policy {
	case "", PolicyRequired, PolicyOpportunistic:
	default:
		errs = append(errs, field.NotSupported(spec.Child("policy"), n.Spec.Policy, []string{PolicyRequired, PolicyOpportunistic}))
	}
	if t := n.Spec.ConnectTimeout; t < 0 || t > 300 {
		errs = append(errs, field.Invalid(spec.Child("connectTimeout"), t, "seconds, 1 to 300"))
	}
	if t := n.Spec.CommandTimeout; t < 0 || t > 3600 {
		errs = append(errs, field.Invalid(spec.Child("commandTimeout"), t, "seconds, 1 to 3600"))
	}
	// A home is sent as one quoted shell word, so quotes, $, backticks and
	// ; are plain characters in it; control characters are refused.
	if h := n.Spec.Home; h != "" && (!path.IsAbs(h) || HasControl(h)) {
		errs = append(errs, field.Invalid(spec.Child("home"), h, "an absolute path on the node, without control characters"))
	}
	switch n.Spec.CatalogHost {
	case "", SystemdHostVM:
	default:
		errs = append(errs, field.NotSupported(spec.Child("catalogHost"), n.Spec.CatalogHost, []string{SystemdHostVM}))
	}
	for i, a := range n.Spec.Receives.Personas {
		if a == "*" {
			continue
		}
		for _, msg := range validation.IsDNS1123Label(a) {
			errs = append(errs, field.Invalid(spec.Child("receives", "personas").Index(i), a, msg))
		}
	}
	return errs
}
