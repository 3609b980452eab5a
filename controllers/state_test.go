package controllers

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// A state is refused before it is decoded when it holds more records than
// any home reconcile manages, or packs them denser than reconcile writes
// them; a real one, and one whose strings hold braces, are read.
func TestStateBounds(t *testing.T) {
	state := func(n int, entry string) []byte {
		var b bytes.Buffer
		fmt.Fprintf(&b, `{"schemaVersion": %d, "inventory": [`, StateSchemaVersion)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, entry, i)
		}
		b.WriteString("]}")
		return b.Bytes()
	}
	real := `{"kind": "Service", "name": "svc-%07d", "path": ".sanctum/services/svc.yaml", "sha256": "0000000000000000000000000000000000000000000000000000000000000000"}`
	tests := []struct {
		name string
		data []byte
		want string // "" reads
	}{
		{"a real state of 20,000 entries", state(20000, real), ""},
		{"braces inside strings", state(100, `{"kind": "Service", "name": "{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{%d", "path": "a/{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{"}`), ""},
		{"dense entries", state(200000, `{"x":%d}`), "200001 JSON objects in"},
		{"more records than any home", state(maxStateObjects+1, `{"path": "p%023d"}`), "more than the 1000000 records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseState(tt.data)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("ParseState: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("ParseState: %v, want an error with %q", err, tt.want)
			}
		})
	}
}
