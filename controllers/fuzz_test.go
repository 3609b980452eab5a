package controllers

import "testing"

// FuzzParseState: a damaged reconcile.json is an error, never a panic.
func FuzzParseState(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":1,"runId":"r","time":"2026-11-25T19:36:00Z","mode":"apply","catalogDigest":"sha256:x","summary":{},"objects":[],"inventory":[{"kind":"Service","name":"a","path":".sanctum/services/a.yaml","sha256":"00"}],"agents":[],"nodes":[]}`))
	f.Add([]byte(`{"schemaVersion":2}`))
	f.Add([]byte(`{"schemaVersion":1,"inventory":[{"path":7}]}`))
	f.Add([]byte(`{"schemaVersion":1,"x`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseState(data)
		if err == nil && s == nil {
			t.Fatal("nil state without an error")
		}
	})
}
