package observed

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
)

// NodeUnits answers status's question about units of a node (the one the
// catalog maps host vm to), over the node's SSH connection: one
// `systemctl --user show --timestamp=unix` for every unit, in one session.
type NodeUnits struct {
	SSH  *SSH
	Node RemoteNode
}

var _ UnitStatusReader = NodeUnits{}

// Available implements UnitStatusReader: a node is known only by asking
// it; UnitStatus says what went wrong.
func (NodeUnits) Available() error { return nil }

// nodeStatusScript asks the node user's systemd for the units' status;
// its answer is show's blocks, then a UNITSEXIT line with show's exit
// code ("none": no systemctl on the node) and its first line of error.
func nodeStatusScript(units []string) string {
	q := make([]string, len(units))
	for i, u := range units {
		q[i] = Quote(u)
	}
	return fmt.Sprintf(`unset CDPATH
LC_ALL=C; export LC_ALL
main() {
if command -v systemctl >/dev/null 2>&1; then
  exec 3>&1
  ue=$(%s show --timestamp=unix --property=%s -- %s 2>&1 1>&3 3>&- </dev/null); ur=$?
  exec 3>&-
  printf '\nUNITSEXIT\t%%s\t%%s\n' "$ur" "$(printf '%%s' "$ue" | head -n 1 | tr '\t' ' ')"
else printf '\nUNITSEXIT\tnone\t\n'; fi
}
main
`, systemctlUser, strings.Join(UnitStatusProperties, ","), strings.Join(q, " "))
}

// UnitStatus implements UnitStatusReader.
func (n NodeUnits) UnitStatus(ctx context.Context, units []string) (map[string]*UnitStatus, error) {
	if len(units) == 0 {
		return map[string]*UnitStatus{}, nil
	}
	out, err := n.SSH.run(ctx, n.Node, []byte(nodeStatusScript(units)))
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", n.Node.Name, err)
	}
	return parseNodeStatus(out, units)
}

// parseNodeStatus reads nodeStatusScript's answer.
func parseNodeStatus(out []byte, units []string) (map[string]*UnitStatus, error) {
	j := bytes.LastIndex(out, []byte("\nUNITSEXIT\t"))
	if j < 0 {
		return nil, &RemoteError{Kind: ErrRemote, Detail: "the answer was cut short"}
	}
	f := strings.SplitN(strings.TrimRight(string(out[j+1:]), "\n"), "\t", 3)
	if len(f) != 3 {
		return nil, &RemoteError{Kind: ErrRemote, Detail: fmt.Sprintf("unexpected answer %q", out[j+1:])}
	}
	switch code, cerr := strconv.Atoi(f[1]); {
	case f[1] == "none":
		return nil, errNoSystemctlOnNode{}
	case cerr != nil:
		return nil, &RemoteError{Kind: ErrRemote, Detail: fmt.Sprintf("unexpected answer %q", f[1])}
	case code != 0:
		return nil, &SystemctlError{Args: append([]string{"show", "--"}, units...), Code: code, Stderr: f[2]}
	}
	blocks, err := ParseShowBlocks(string(out[:j]))
	if err != nil {
		return nil, fmt.Errorf("systemctl show on the node: %w", err)
	}
	res := make(map[string]*UnitStatus, len(units))
	for _, u := range units {
		p := blocks[u]
		if p == nil {
			return nil, fmt.Errorf("systemctl show on the node: no answer for %s", u)
		}
		st, err := UnitStatusOf(p)
		if err != nil {
			return nil, fmt.Errorf("systemctl show %s on the node: %w", u, err)
		}
		res[u] = st
	}
	return res, nil
}
