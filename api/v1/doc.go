// Package v1 holds the sanctum.haus/v1 resource types that a catalog declares and
// the validation that a single object can do on its own. Cross-object rules
// (unique names, dependency edges, cycles) live in package desired, which sees the
// whole catalog.
//
// The types carry yaml tags (the catalog is YAML, decoded with yaml.v3, which
// ignores json tags) and json tags (reports and ledgers are JSON).
package v1
