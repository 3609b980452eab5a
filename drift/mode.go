package drift

import (
	"fmt"
	"io/fs"
)

// WantMode is the one rule for a managed file's mode, wherever the file is
// (this host, a node, a rollback): a file that holds a secret is 0600; a
// declared mode is kept (a helper script's 0755); any other file keeps
// the mode it has, and a new one (exists false) is 0644. why names the
// rule that the mode a file has breaks, "" when it breaks none.
func WantMode(have fs.FileMode, exists, secret bool, declared fs.FileMode) (want fs.FileMode, why string) {
	have = have.Perm()
	switch {
	case secret:
		want, why = 0o600, "holds a secret"
	case declared != 0:
		want, why = declared, "declared"
	case exists:
		return have, ""
	default:
		return 0o644, ""
	}
	if !exists || have == want {
		why = ""
	}
	return want, why
}

// ModeReason is the reason of a change that only sets a file's mode.
func ModeReason(have, want fs.FileMode, why string) string {
	return fmt.Sprintf("mode %#o, %s: want %#o", have.Perm(), why, want)
}
