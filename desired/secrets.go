package desired

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
	"github.com/sanctum-haus/reconcile/observed/regular"
)

// SecretMode says what the template function secret does.
type SecretMode int

const (
	// ResolveSecrets reads each secret from ~/.sanctum/secrets/<name> under
	// the target home, or from the macOS login keychain.
	ResolveSecrets SecretMode = iota
	// PlaceholderSecrets renders <secret:name> instead, for manifests that
	// are checked into the catalog and must never hold a value.
	PlaceholderSecrets
	// SentinelSecrets renders drift.SecretSentinel instead, for the twin
	// of a catalog (LoadTwin): what differs between a target rendered
	// from the catalog and from its twin is where secrets went.
	SentinelSecrets
)

// LoadTwin loads the catalog of opts again with every secret rendered as
// drift.SecretSentinel: the same objects, by the same names, whose
// renders show by position which lines took a value from secret,
// whatever the template did to it (urlquery, printf) and however the
// renderer spelt it. It reads no secret.
func LoadTwin(ctx context.Context, opts Options) (*Catalog, error) {
	opts.Secrets = SentinelSecrets
	return Load(ctx, opts)
}

// SecretDir is where secret files live, relative to HOME.
const SecretDir = ".sanctum/secrets"

var secretName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidSecretName reports whether name can be a secret's name (a file
// under ~/.sanctum/secrets, an argument of secret).
func ValidSecretName(name string) bool { return secretName.MatchString(name) }

// ErrSecretNotFound is returned when no source has the secret.
var ErrSecretNotFound = errors.New("secret not found")

// secretResolver resolves secret names once each and remembers every value so
// that reports can mask them.
type secretResolver struct {
	ctx      context.Context
	mode     SecretMode
	home     string
	account  string
	keychain bool
	// limit bounds a secret file's size (instance.yaml limits.secret_bytes;
	// zero: the default).
	limit  int64
	cache  map[string]string
	values []string
	names  []string // of values, in the same order
	// inputs is where each value came from, in the same order.
	inputs []SecretInput
	// reads counts the calls of secret that gave a value (in any mode):
	// a template that made it grow took a value from a secret.
	reads int
}

func (r *secretResolver) lookup(name string) (string, error) {
	if !secretName.MatchString(name) {
		return "", fmt.Errorf("secret name %q: use letters, digits, '.', '_' and '-' only", name)
	}
	r.reads++
	switch r.mode {
	case PlaceholderSecrets:
		return "<secret:" + name + ">", nil
	case SentinelSecrets:
		return drift.SecretSentinel, nil
	}
	if v, ok := r.cache[name]; ok {
		return v, nil
	}
	// Non-blocking, a regular file only, within the limit: a FIFO or a
	// giant file here fails the load at once with its path.
	path := filepath.Join(r.home, SecretDir, name)
	limit := r.limit
	in := SecretInput{Name: SecretDir + "/" + name}
	if info, err := os.Stat(path); err == nil {
		in.Key, in.HasKey = observed.KeyOf(info) // before the read: see statBefore
	}
	v, err := readSecretFile(path, limit)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist) && r.keychain:
		data, kerr := r.fromKeychain(name)
		if kerr != nil {
			if hm := missingSecret(name, r.home); errors.Is(hm, ErrHomeMissing) {
				return "", hm
			}
			return "", kerr
		}
		v, in = strings.TrimRight(string(data), "\r\n"), SecretInput{Name: name, FromKeychain: true}
	case errors.Is(err, fs.ErrNotExist):
		return "", missingSecret(name, r.home)
	default:
		return "", fmt.Errorf("secret %q: %w", name, err)
	}
	if v == "" {
		return "", fmt.Errorf("secret %q is empty", name)
	}
	if r.cache == nil {
		r.cache = make(map[string]string)
	}
	r.cache[name] = v
	r.values = append(r.values, v)
	r.names = append(r.names, name)
	r.inputs = append(r.inputs, in)
	return v, nil
}

// readSecretFile reads one secret file (non-blocking, a regular file
// only, within limit; zero: the default) and trims its final newline.
func readSecretFile(path string, limit int64) (string, error) {
	if limit == 0 {
		limit = v1.DefaultSecretBytes
	}
	data, err := regular.ReadFile(path, limit)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(data), "\r\n"), nil
}

// fromKeychain asks the login keychain, as the Python-era renderer did with
// security find-generic-password -a <account> -s <name> -w.
func (r *secretResolver) fromKeychain(name string) ([]byte, error) {
	account := r.account
	if account == "" {
		account = "sanctum"
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(r.ctx, "security", "find-generic-password", "-a", account, "-s", name, "-w")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, &secretNotFound{name: name, detail: fmt.Sprintf("not in ~/%s/ and the login keychain says: %s",
			SecretDir, strings.TrimSpace(stderr.String()))}
	}
	return out, nil
}

// keychainAvailable reports whether the macOS security tool can be asked.
func keychainAvailable() bool {
	if runtime.GOOS != "darwin" {
		return false
	}
	_, err := exec.LookPath("security")
	return err == nil
}

// secretFieldRefused says why a field may not take a value from a secret,
// or "" when it may. Only what ends up inside a file (a plist, a manifest)
// can be protected by the file's mode; a name or a path is written where no
// mode protects it (file names, reconcile.json, the backups' folders, the
// inventory, ssh's command line), and a symlink's target is readable by
// anyone. fieldPath is as expandTemplates walks it (map keys joined by
// '.', list items as [i]).
func secretFieldRefused(kind, fieldPath string) string {
	p := listIndex.ReplaceAllString(fieldPath, "")
	under := func(prefixes ...string) bool {
		for _, pre := range prefixes {
			if p == pre || strings.HasPrefix(p, pre+".") {
				return true
			}
		}
		return false
	}
	agentPaths := func(base string) string {
		switch {
		case under(base+".label", base+".fileName", base+".domain", base+".dependsOn", base+".instanceKey",
			base+".limitLoadToSessionType", base+".userName", base+".keepAlive.otherJobEnabled"):
			return "a name"
		case under(base+".workingDirectory", base+".standardOutPath", base+".standardErrorPath", base+".restartOn",
			base+".watchPaths", base+".queueDirectories", base+".keepAlive.pathState"):
			return "a path"
		}
		return ""
	}
	unitPaths := func(base string) string {
		switch {
		case under(base+".unit", base+".host", base+".scope", base+".dependsOn", base+".instanceKey",
			base+".after", base+".wants", base+".wantedBy", base+".restart"):
			return "a name"
		case under(base+".workingDirectory", base+".restartOn"):
			return "a path"
		case under(base + ".execStart"):
			// The command line is shown by systemctl show and ps to
			// every user of the host: no file mode protects it.
			return "a command line (systemctl show and ps show it to every user); pass it in environment"
		}
		return ""
	}
	switch {
	case under("metadata"):
		return "a name"
	case kind == v1.KindPersonaFile || kind == v1.KindRemoteNode:
		if under("spec.source", "spec.targets", "spec.home") {
			return "a path"
		}
		return "a name"
	case kind == v1.KindService:
		switch {
		case under("spec.wrapper"):
			return "a symlink's target"
		case under("spec.helpers"):
			return "a path"
		case under("spec.host", "spec.type", "spec.provides", "spec.dependsOn", "spec.instanceKey"):
			return "a name"
		}
		if under("spec.systemd") {
			return unitPaths("spec.systemd")
		}
		return agentPaths("spec.launchAgent")
	case kind == v1.KindLaunchAgent:
		return agentPaths("spec")
	case kind == v1.KindSystemdUnit:
		return unitPaths("spec")
	}
	return ""
}

var listIndex = regexp.MustCompile(`\[[0-9]+\]`)
