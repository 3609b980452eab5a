package observed

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file holds the read-only questions that status and adopt ask
// systemd, beside those of a pass (systemd.go): a unit's state with the
// times it entered it, and a unit's files as systemd reads them.

// UnitStatusProperties are what status asks `systemctl show` for, in one
// call for every unit it judges.
var UnitStatusProperties = []string{"Id", "LoadState", "ActiveState", "SubState", "Result",
	"UnitFileState", "MainPID", "StateChangeTimestamp", "ActiveEnterTimestamp", "InactiveEnterTimestamp"}

// UnitStatus is a unit's state and when it entered it.
type UnitStatus struct {
	Unit        string
	LoadState   string
	ActiveState string
	SubState    string
	Result      string
	// UnitFileState is enabled, disabled, static, ... ("" when not found).
	UnitFileState string
	MainPID       int
	// StateChange is when ActiveState or SubState last changed;
	// ActiveEnter and InactiveEnter when the unit last became active and
	// inactive (or failed). Zero when systemd has no such time.
	StateChange, ActiveEnter, InactiveEnter time.Time
}

// Since is when the unit entered its present ActiveState: ActiveEnter for
// an active unit, InactiveEnter for an inactive or failed one, else (or
// when that is unknown) its last state change.
func (u *UnitStatus) Since() time.Time {
	switch u.ActiveState {
	case "active":
		if !u.ActiveEnter.IsZero() {
			return u.ActiveEnter
		}
	case "inactive", "failed":
		if !u.InactiveEnter.IsZero() {
			return u.InactiveEnter
		}
	}
	return u.StateChange
}

// UnitStatusReader answers status's question about units, in one call.
type UnitStatusReader interface {
	// Available reports ErrNoSystemd when systemctl cannot be asked.
	Available() error
	UnitStatus(ctx context.Context, units []string) (map[string]*UnitStatus, error)
}

var _ UnitStatusReader = (*Systemctl)(nil)

// UnitStatus implements UnitStatusReader: one `systemctl show` for every
// unit, timestamps as seconds since the epoch (--timestamp=unix, systemd
// 247 and later), so that no time zone name is parsed.
func (s *Systemctl) UnitStatus(ctx context.Context, units []string) (map[string]*UnitStatus, error) {
	if len(units) == 0 {
		return map[string]*UnitStatus{}, nil
	}
	props, err := s.ShowProperties(ctx, UnitStatusProperties, units)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*UnitStatus, len(props))
	for id, p := range props {
		st, err := UnitStatusOf(p)
		if err != nil {
			return nil, fmt.Errorf("systemctl show %s: %w", id, err)
		}
		out[id] = st
	}
	return out, nil
}

// UnitStatusOf reads the properties of one unit as `systemctl show
// --timestamp=unix` prints them.
func UnitStatusOf(p map[string]string) (*UnitStatus, error) {
	st := &UnitStatus{Unit: p["Id"], LoadState: p["LoadState"], ActiveState: p["ActiveState"],
		SubState: p["SubState"], Result: p["Result"], UnitFileState: p["UnitFileState"]}
	st.MainPID, _ = strconv.Atoi(p["MainPID"])
	for _, t := range []struct {
		key string
		to  *time.Time
	}{{"StateChangeTimestamp", &st.StateChange}, {"ActiveEnterTimestamp", &st.ActiveEnter}, {"InactiveEnterTimestamp", &st.InactiveEnter}} {
		v, err := ParseUnixTimestamp(p[t.key])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.key, err)
		}
		*t.to = v
	}
	return st, nil
}

// ParseUnixTimestamp reads a timestamp as `systemctl show
// --timestamp=unix` prints it: "@<seconds>", "" (or n/a) for none.
func ParseUnixTimestamp(v string) (time.Time, error) {
	if v == "" || v == "n/a" {
		return time.Time{}, nil
	}
	secs, ok := strings.CutPrefix(v, "@")
	if !ok {
		return time.Time{}, fmt.Errorf("%q: want @<seconds since the epoch>", v)
	}
	n, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("%q: want @<seconds since the epoch>", v)
	}
	if n == 0 {
		return time.Time{}, nil
	}
	return time.Unix(n, 0).UTC(), nil
}

// ShowProperties asks `systemctl show` for the named properties of every
// unit in one call, timestamps as --timestamp=unix prints them: per unit
// (by Id), each property's value as printed.
func (s *Systemctl) ShowProperties(ctx context.Context, props, units []string) (map[string]map[string]string, error) {
	args := append([]string{"show", "--timestamp=unix", "--property=" + strings.Join(props, ","), "--"}, units...)
	out, err := s.run(ctx, args...)
	if err != nil {
		return nil, err
	}
	return showBlocksOf(out, units, "")
}

// showBlocksOf reads show's blocks and checks that every unit asked has
// one; where says where systemctl ran ("on the node"), for errors.
func showBlocksOf(out string, units []string, where string) (map[string]map[string]string, error) {
	what := strings.TrimSpace("systemctl show " + where)
	blocks, err := ParseShowBlocks(out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	for _, u := range units {
		if blocks[u] == nil {
			return nil, fmt.Errorf("%s: no answer for %s", what, u)
		}
	}
	return blocks, nil
}

// ParseShowBlocks reads `systemctl show` of several units: a block of
// Key=Value lines per unit, blocks apart by an empty line, each named by
// its Id (wherever in the block it is).
func ParseShowBlocks(out string) (map[string]map[string]string, error) {
	blocks := map[string]map[string]string{}
	cur := map[string]string{}
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		id := cur["Id"]
		if id == "" {
			return errors.New("a block without Id")
		}
		blocks[id] = cur
		cur = map[string]string{}
		return nil
	}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("unexpected line %q", line)
		}
		cur[k] = v
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return blocks, nil
}

// Cat is `systemctl cat <unit>`: the unit's file and its drop-ins, each
// after a "# <path>" line, as systemd reads them.
func (s *Systemctl) Cat(ctx context.Context, unit string) (string, error) {
	return s.run(ctx, "cat", "--", unit)
}
