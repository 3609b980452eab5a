// Package sanctum is the shipped example catalog of a real-shaped haus: the
// YAML objects, the instance settings, the agent capabilities and the
// manifests rendered from them. It is embedded in the binary as the default
// catalog that the README's demo runs against a disposable home; it is never
// written into the real HOME unless the user names that home with --home.
package sanctum

import (
	"embed"
	"io/fs"
)

//go:embed *.yaml services/*.yaml personas scripts
var files embed.FS

// Example returns the example catalog.
func Example() fs.FS { return files }
