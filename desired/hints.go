package desired

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Errors that teach: each says what is wrong in the catalog's words and,
// where a near miss is likely, what was meant.

// notFound is field.NotFound with a "did you mean" from the names that
// exist.
func notFound(p *field.Path, value string, known []string) *field.Error {
	e := field.NotFound(p, value)
	if s := Suggest(value, known); s != "" {
		e.Detail = fmt.Sprintf("did you mean %q?", s)
	}
	return e
}

func (l *loader) agentNames() []string {
	out := make([]string, 0, len(l.cat.Agents))
	for _, a := range l.cat.Agents {
		out = append(out, a.Name)
	}
	return out
}

func (l *loader) serviceNames() []string {
	out := make([]string, 0, len(l.cat.Services))
	for _, s := range l.cat.Services {
		out = append(out, s.Name)
	}
	return out
}

// allOwned says whether every agent of a cycle (closed: a, b, a) was
// compiled from a service: then the services' graph has the same cycle,
// and it is reported there, once.
func allOwned(cycle []string, owned map[string]bool) bool {
	for _, n := range cycle {
		if !owned[n] {
			return false
		}
	}
	return true
}

// secretNotFound is a secret no source has: its message names the secret
// once, and where it was looked for.
type secretNotFound struct{ name, detail string }

func (e *secretNotFound) Error() string {
	return fmt.Sprintf("secret %q not found: %s", e.name, e.detail)
}

// Is makes it ErrSecretNotFound.
func (e *secretNotFound) Is(target error) bool { return target == ErrSecretNotFound }

// ErrHomeMissing is the error of a catalog that reads a secret from a
// home that does not exist (a mistyped --home): its own message, given
// once, not a missing secret for each use.
var ErrHomeMissing = errors.New("the home does not exist")

// homeMissing is ErrHomeMissing with the home and the first secret read
// from it.
type homeMissing struct{ home, name string }

func (e *homeMissing) Error() string {
	return fmt.Sprintf("the home %s does not exist (is --home right?): the catalog reads its secrets from %s, %q first",
		e.home, filepath.Join(e.home, SecretDir), e.name)
}

func (e *homeMissing) Is(target error) bool { return target == ErrHomeMissing }

// missingSecret is the error of a secret with no file under home, or of
// the home itself when it does not exist.
func missingSecret(name, home string) error {
	if _, err := os.Stat(home); errors.Is(err, fs.ErrNotExist) {
		return &homeMissing{home: home, name: name}
	}
	return &secretNotFound{name: name, detail: "no file ~/" + path.Join(SecretDir, name) + " (one line, mode 0600)"}
}

// executeProblem is the message of a template that failed as it ran. A
// secret's own error is the message whole: text/template's "executing
// ... at <secret ...>: error calling secret:" only repeats the name.
func executeProblem(err error) string {
	var nf *secretNotFound
	if errors.As(err, &nf) {
		return nf.Error()
	}
	var hm *homeMissing
	if errors.As(err, &hm) {
		return hm.Error()
	}
	msg := templateMessage(err)
	if i := strings.LastIndex(msg, "error calling secret: "); i >= 0 {
		return msg[i+len("error calling secret: "):]
	}
	return "template: " + msg
}
