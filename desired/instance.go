package desired

import (
	"path"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
)

// InstanceYAMLPath is the host's copy of the catalog's instance.yaml,
// relative to HOME: the runtime layer's instance settings, a byte copy.
const InstanceYAMLPath = ".sanctum/instance.yaml"

// ParseInstance checks instance settings read from elsewhere than the
// catalog (the host's ~/.sanctum/instance.yaml) as Load checks the
// catalog's: valid UTF-8 and YAML, no unknown field, valid values. name is
// how errors name the file's directory ("~/.sanctum"); every problem has
// the file, line, column and field path, as catalog errors do.
func ParseInstance(name string, data []byte) error {
	l := &loader{opts: Options{Name: name}, strict: newStrictChecker(), secrets: &secretResolver{}}
	switch {
	case !utf8.Valid(data):
		l.add(v1.InstanceFile, 0, 0, "", "", "not valid UTF-8")
	default:
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			l.yamlError(v1.InstanceFile, data, err)
			break
		}
		if doc.Kind == 0 {
			l.add(v1.InstanceFile, 0, 0, "", "", "empty: instance.slug is required")
			break
		}
		in := &v1.InstanceSettings{}
		if !l.decodeStrict(v1.InstanceFile, "", &doc, in) {
			break
		}
		if errs := in.Validate(); len(errs) > 0 {
			l.errs = append(l.errs, fieldErrors(l.display(v1.InstanceFile), "", nodeLocator{&doc}, errs)...)
		}
	}
	if len(l.errs) > 0 {
		return l.combined()
	}
	return nil
}

// templateHome is the home templates see: the one being reconciled, or
// with ReferenceHome the haus's own (users.mac.home).
func (l *loader) templateHome(in *v1.InstanceSettings) string {
	if l.opts.ReferenceHome {
		if u, ok := in.Users["mac"]; ok && u.Home != "" {
			return u.Home
		}
	}
	return l.opts.Home
}

// templateData is what catalog templates read: instance.yaml as decoded,
// plus {{ .home }}, the home being reconciled, with every paths value
// written as ~/... expanded under it. So paths.bin: ~/.sanctum/bin is
// that home's bin folder whichever home the catalog is applied to, and a
// plist (launchd expands no ~) names no other user's directory.
func templateData(instance map[string]any, home string) map[string]any {
	data := make(map[string]any, len(instance)+1)
	for k, v := range instance {
		data[k] = v
	}
	if home == "" {
		return data
	}
	data["home"] = home
	if paths, ok := instance["paths"].(map[string]any); ok {
		expanded := make(map[string]any, len(paths))
		for k, v := range paths {
			if s, ok := v.(string); ok {
				if rel, ok := v1.HomePath(s); ok {
					v = path.Join(home, rel)
				}
			}
			expanded[k] = v
		}
		data["paths"] = expanded
	}
	return data
}
