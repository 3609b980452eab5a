package desired

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
)

var shapedType = reflect.TypeOf((*v1.Shaped)(nil)).Elem()

// strictChecker walks a YAML node against the Go type it will be decoded into
// and reports, with line:column and field path, every unknown field and every
// scalar of the wrong type. yaml.v3's KnownFields gives neither a column nor a
// path, and an older parser that silently dropped unknown fields is what
// produced manifests nobody read (reference/sanctum.md).
type strictChecker struct {
	fields map[reflect.Type]map[string]reflect.Type
	// aliases counts alias dereferences: a "billion laughs" document must
	// not turn the walk exponential.
	aliases int
}

// maxAliases bounds alias dereferences per catalog.
const maxAliases = 10000

type strictError struct {
	line, col int
	path, msg string
}

func newStrictChecker() *strictChecker {
	return &strictChecker{fields: make(map[reflect.Type]map[string]reflect.Type)}
}

func (c *strictChecker) check(n *yaml.Node, t reflect.Type, path string, errs *[]strictError) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		if c.aliases++; c.aliases > maxAliases {
			if c.aliases == maxAliases+1 {
				*errs = append(*errs, strictError{line: n.Line, col: n.Column, path: path, msg: "too many YAML aliases (a document that expands exponentially?)"})
			}
			return
		}
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) > 0 {
			c.check(n.Content[0], t, path, errs)
		}
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // null is the zero value of anything
	}
	fail := func(at *yaml.Node, format string, args ...any) {
		*errs = append(*errs, strictError{line: at.Line, col: at.Column, path: path, msg: fmt.Sprintf(format, args...) + templateHint(at)})
	}
	if reflect.PointerTo(t).Implements(shapedType) {
		// A value of more than one shape (KeepAlive: true, or a mapping):
		// the type says what this node's shape is checked as.
		st, want := reflect.New(t).Interface().(v1.Shaped).YAMLShape(n)
		if st == nil {
			fail(n, "%s, got %s", want, describe(n))
			return
		}
		c.check(n, st, path, errs)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			fail(n, "expected a mapping, got %s", describe(n))
			return
		}
		fields := c.structFields(t)
		seen := make(map[string]bool, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			sub := joinPath(path, k.Value)
			if seen[k.Value] {
				*errs = append(*errs, strictError{line: k.Line, col: k.Column, path: sub, msg: "duplicate field"})
				continue
			}
			seen[k.Value] = true
			ft, ok := fields[k.Value]
			if !ok {
				*errs = append(*errs, strictError{line: k.Line, col: k.Column, path: sub,
					msg: fmt.Sprintf("unknown field %q%s (known: %s)", k.Value, DidYouMean(k.Value, sortedFieldNames(fields)),
						strings.Join(sortedFieldNames(fields), ", "))})
				continue
			}
			c.check(v, ft, sub, errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			fail(n, "expected a mapping, got %s", describe(n))
			return
		}
		seen := make(map[string]bool, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			sub := path + "[" + k.Value + "]"
			if k.Kind != yaml.ScalarNode {
				*errs = append(*errs, strictError{line: k.Line, col: k.Column, path: path, msg: "keys must be scalars"})
				continue
			}
			if seen[k.Value] {
				*errs = append(*errs, strictError{line: k.Line, col: k.Column, path: sub, msg: "duplicate key"})
				continue
			}
			seen[k.Value] = true
			c.check(v, t.Elem(), sub, errs)
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return // []byte is never read from YAML here
		}
		if n.Kind != yaml.SequenceNode {
			fail(n, "expected a list, got %s", describe(n))
			return
		}
		for i, v := range n.Content {
			c.check(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case reflect.Interface:
		// anything goes
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			fail(n, "expected a string, got %s", describe(n))
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			fail(n, "expected true or false, got %s", describe(n))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			fail(n, "expected an integer, got %s", describe(n))
		}
	case reflect.Float32, reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
			fail(n, "expected a number, got %s", describe(n))
		}
	}
}

// structFields maps YAML keys to field types, following ",inline".
func (c *strictChecker) structFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := c.fields[t]; ok {
		return f
	}
	f := make(map[string]reflect.Type)
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			for k, v := range c.structFields(sf.Type) {
				f[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		f[name] = sf.Type
	}
	c.fields[t] = f
	return f
}

func sortedFieldNames(f map[string]reflect.Type) []string {
	names := make([]string, 0, len(f))
	for k := range f {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		tag := strings.TrimPrefix(n.ShortTag(), "!!")
		if len(n.Value) > 40 {
			// Never a prefix: a cut value could be the start of a secret
			// that masking would no longer recognise.
			return fmt.Sprintf("a %s of %d bytes", tag, len(n.Value))
		}
		return fmt.Sprintf("%s %q", tag, n.Value)
	}
	return "something else"
}
