package drift

import (
	"bytes"
	"encoding/json"
)

// identityFields are the JSON fields of reconcile's own records that name
// or fingerprint something (a path, a digest, a run, a kind, a status word)
// rather than describe it: the next pass matches on them, so they are never
// masked, while a secret has no business in them (a value that is also an
// ordinary word in a path stays readable there, and only there).
var identityFields = map[string]bool{
	"schemaVersion": true, "runId": true, "time": true, "mode": true, "result": true,
	"catalogDigest": true, "secretsDigest": true, "stateDigest": true,
	"kind": true, "name": true, "action": true, "status": true, "policy": true,
	"path": true, "backup": true, "plistPath": true, "target": true, "object": true,
	"node": true, "source": true, "home": true, "catalog": true, "catalogPath": true, "destination": true,
	"sha256": true, "plistSha256": true, "sourceSha256": true, "launchd": true,
}

// JSON masks the string values of a JSON document (or of JSON lines) in
// place of its bytes: every value except those of identityFields and every
// object key is passed through String; the rest of the bytes, layout
// included, is kept. It is what reconcile's ledgers pass through before they
// are written.
func (r *Redactor) JSON(b []byte) []byte {
	if r == nil || r.r == nil {
		return b
	}
	var out []byte
	last, key := 0, ""
	for i := 0; i < len(b); {
		if b[i] != '"' {
			i++
			continue
		}
		end := stringEnd(b, i)
		if end < 0 {
			break
		}
		lit := b[i:end]
		j := end
		for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\n' || b[j] == '\r') {
			j++
		}
		var s string
		if err := json.Unmarshal(lit, &s); err == nil {
			switch {
			case j < len(b) && b[j] == ':':
				key = s
			case !identityFields[key]:
				if m := r.String(s); m != s {
					out = append(out, b[last:i]...)
					out = append(out, jsonString(m)...)
					last = end
				}
			}
		}
		i = end
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// stringEnd returns the index after the JSON string literal starting at
// b[i] ('"'), or -1 when it does not end.
func stringEnd(b []byte, i int) int {
	for k := i + 1; k < len(b); k++ {
		switch b[k] {
		case '\\':
			k++
		case '"':
			return k + 1
		}
	}
	return -1
}

func jsonString(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
