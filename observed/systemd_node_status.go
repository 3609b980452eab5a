package observed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// NodeUnits answers status's question about units of a node (the one the
// catalog maps host vm to), over the node's SSH connection: one
// `systemctl --user show --timestamp=unix` for every unit, in one session
// (of the system manager, without --user, when System).
type NodeUnits struct {
	SSH    *SSH
	Node   RemoteNode
	System bool
}

var _ UnitStatusReader = NodeUnits{}

// Available implements UnitStatusReader: a node is known only by asking
// it; UnitStatus says what went wrong.
func (NodeUnits) Available() error { return nil }

// nodeSystemctlScript runs one `systemctl --user` command on the node
// (of the system manager when system: a read, asked through sudo -n only
// when the node user has no system bus, see systemBusRetry); its answer
// is the command's output, then a UNITSEXIT line with its exit code
// ("none": no systemctl on the node) and its first line of error, then a
// HOME line: the node user's home, as systemd names paths in it.
func nodeSystemctlScript(args []string, system bool) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	cmd, retry := systemctlUser, ""
	if system {
		cmd, retry = systemctlSystem, systemBusRetry(strings.Join(q, " "))
	}
	return fmt.Sprintf(`unset CDPATH
LC_ALL=C; export LC_ALL
main() {
if command -v systemctl >/dev/null 2>&1; then
  exec 3>&1
  ue=$(%s %s 2>&1 1>&3 3>&- </dev/null); ur=$?%s
  exec 3>&-
  printf '\nUNITSEXIT\t%%s\t%%s\n' "$ur" "$(printf '%%s' "$ue" | head -n 1 | tr '\t' ' ')"
else printf '\nUNITSEXIT\tnone\t\n'; fi
printf 'HOME\t%%s\n' "$(cd -P -- "$HOME" 2>/dev/null && pwd)"
}
main
`, cmd, strings.Join(q, " "), retry)
}

// systemctl runs one `systemctl --user` command on the node: its output,
// and the node user's home (physical).
func (n NodeUnits) systemctl(ctx context.Context, args ...string) (string, string, error) {
	out, err := n.SSH.run(ctx, n.Node, []byte(nodeSystemctlScript(args, n.System)))
	if err != nil {
		return "", "", fmt.Errorf("node %s: %w", n.Node.Name, err)
	}
	out2, home, err := parseNodeSystemctl(out, args)
	var se *SystemctlError
	if errors.As(err, &se) {
		se.System = n.System
	}
	return out2, home, err
}

// parseNodeSystemctl reads nodeSystemctlScript's answer.
func parseNodeSystemctl(out []byte, args []string) (string, string, error) {
	j := bytes.LastIndex(out, []byte("\nUNITSEXIT\t"))
	if j < 0 {
		return "", "", &RemoteError{Kind: ErrRemote, Detail: "the answer was cut short"}
	}
	tail := strings.Split(strings.TrimRight(string(out[j+1:]), "\n"), "\n")
	f := strings.SplitN(tail[0], "\t", 3)
	if len(f) != 3 || len(tail) != 2 || !strings.HasPrefix(tail[1], "HOME\t") {
		return "", "", &RemoteError{Kind: ErrRemote, Detail: fmt.Sprintf("unexpected answer %q", out[j+1:])}
	}
	home := strings.TrimPrefix(tail[1], "HOME\t")
	switch code, cerr := strconv.Atoi(f[1]); {
	case f[1] == "none":
		return "", home, errNoSystemctlOnNode{}
	case cerr != nil:
		return "", home, &RemoteError{Kind: ErrRemote, Detail: fmt.Sprintf("unexpected answer %q", f[1])}
	case code != 0:
		return "", home, &SystemctlError{Args: args, Code: code, Stderr: f[2]}
	}
	return string(out[:j]), home, nil
}

// UnitStatus implements UnitStatusReader.
func (n NodeUnits) UnitStatus(ctx context.Context, units []string) (map[string]*UnitStatus, error) {
	if len(units) == 0 {
		return map[string]*UnitStatus{}, nil
	}
	props, err := n.ShowProperties(ctx, UnitStatusProperties, units)
	if err != nil {
		return nil, err
	}
	res := make(map[string]*UnitStatus, len(units))
	for _, u := range units {
		st, err := UnitStatusOf(props[u])
		if err != nil {
			return nil, fmt.Errorf("systemctl show %s on the node: %w", u, err)
		}
		res[u] = st
	}
	return res, nil
}

// ShowProperties is `systemctl --user show --timestamp=unix` of the named
// properties of every unit on the node, in one session: per unit (by
// Id), each property's value as printed.
func (n NodeUnits) ShowProperties(ctx context.Context, props, units []string) (map[string]map[string]string, error) {
	args := append([]string{"show", "--timestamp=unix", "--property=" + strings.Join(props, ","), "--"}, units...)
	out, _, err := n.systemctl(ctx, args...)
	if err != nil {
		return nil, err
	}
	return showBlocksOf(out, units, "on the node")
}

// Cat is `systemctl --user cat <unit>` on the node, and the node user's
// home (physical), which paths of the unit are under.
func (n NodeUnits) Cat(ctx context.Context, unit string) (string, string, error) {
	return n.systemctl(ctx, "cat", "--", unit)
}
