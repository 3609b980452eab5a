package desired

import (
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
			l.yamlError(v1.InstanceFile, err)
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
