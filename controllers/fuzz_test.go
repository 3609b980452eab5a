package controllers

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseState: a damaged reconcile.json is an error, never a panic.
func FuzzParseState(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":1,"runId":"r","time":"2026-11-25T19:36:00Z","mode":"apply","catalogDigest":"sha256:x","summary":{},"objects":[],"inventory":[{"kind":"Service","name":"a","path":".sanctum/services/a.yaml","sha256":"00"}],"agents":[],"nodes":[]}`))
	f.Add([]byte(`{"schemaVersion":1,"runId":"r","time":"2026-11-25T19:36:00Z","mode":"apply","catalogDigest":"sha256:x","summary":{},"inventory":[{"kind":"Service","name":"a","path":".sanctum/services/a.yaml","sha256":"00"}],"agents":[{"name":"a"}],"nodes":[],"objects":[]}`))
	f.Add([]byte(`{"schemaVersion":2}`))
	f.Add([]byte(`{"schemaVersion":1,"inventory":[{"path":7}]}`))
	f.Add([]byte(`{"schemaVersion":1,"x`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseState(data)
		if err == nil && s == nil {
			t.Fatal("nil state without an error")
		}
		// What a pass reads agrees with the whole file, whenever both read it.
		ps, perr := decodePassState(data)
		if err == nil && perr == nil {
			if diff := cmp.Diff(s.Inventory, ps.Inventory); diff != "" {
				t.Fatalf("pass inventory differs (-full +pass):\n%s", diff)
			}
			if diff := cmp.Diff(agentsOf(t, s), agentsOf(t, ps)); diff != "" {
				t.Fatalf("pass agents differ (-full +pass):\n%s", diff)
			}
		}
	})
}

// A pass reads the inventory and agents of a state file in the order
// reconcile writes it and in the order it wrote it before (objects first),
// and stops at the objects only when all it reads came before them.
func TestDecodePassState(t *testing.T) {
	const inv = `"inventory":[{"kind":"Service","name":"a","path":".sanctum/services/a.yaml","sha256":"00"}],"agents":[{"name":"a","target":"gui/501/a","plistPath":"p","plistSha256":"01"}],"nodes":[],"units":[]`
	head := `{"schemaVersion":1,"runId":"r","time":"2026-11-25T19:36:00Z","mode":"apply","catalogDigest":"sha256:x","summary":{},`
	for name, data := range map[string]string{
		"objects last":                head + inv + `,"objects":[{"kind":"Service","name":"a","action":"unchanged"}]}`,
		"objects first":               head + `"objects":[{"kind":"Service","name":"a","action":"unchanged"}],` + inv + `}`,
		"objects last, tail unread":   head + inv + `,"objects":[{"kind":"Service","name":"a","action":"unch`,
		"objects first, tail damaged": head + `"objects":[],` + inv + `,"nodes":[}`,
	} {
		t.Run(name, func(t *testing.T) {
			s, err := decodePassState([]byte(data))
			if name == "objects first, tail damaged" {
				if err == nil {
					t.Fatal("damaged state read without an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Inventory) != 1 || s.Inventory[0].Path != ".sanctum/services/a.yaml" || len(agentsOf(t, s)) != 1 || agentsOf(t, s)["a"].PlistSHA != "01" {
				t.Errorf("read %+v", s)
			}
		})
	}
	if _, err := decodePassState([]byte(head + `"bogus":1,` + inv + `}`)); err == nil {
		t.Error("an unknown field was accepted")
	}
}

// agentsOf reads the launch agents' section of a state as a pass does.
func agentsOf(t *testing.T, s *State) map[string]AgentRecord {
	t.Helper()
	sec := LaunchAgentController{}.NewSection().(*agentSection)
	if err := sec.Load(s.Sections[agentsSection]); err != nil {
		t.Fatalf("agents section: %v", err)
	}
	return sec.prev
}
