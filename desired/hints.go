package desired

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
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

// missingSecret is the error of a secret with no file under home: a home
// that does not exist at all (a mistyped --home) says so first.
func missingSecret(name, home string) error {
	file := "~/" + path.Join(SecretDir, name)
	if _, err := os.Stat(home); errors.Is(err, fs.ErrNotExist) {
		return &secretNotFound{name: name, detail: fmt.Sprintf(
			"the home %s does not exist (is --home right?), so there is no %s", home, file)}
	}
	return &secretNotFound{name: name, detail: "no file " + file + " (one line, mode 0600)"}
}

// executeProblem is the message of a template that failed as it ran. A
// secret's own error is the message whole: text/template's "executing
// ... at <secret ...>: error calling secret:" only repeats the name.
func executeProblem(err error) string {
	var nf *secretNotFound
	if errors.As(err, &nf) {
		return nf.Error()
	}
	msg := templateMessage(err)
	if i := strings.LastIndex(msg, "error calling secret: "); i >= 0 {
		return msg[i+len("error calling secret: "):]
	}
	return "template: " + msg
}
