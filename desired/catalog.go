// Package desired reads a catalog directory and compiles it into sorted,
// validated, deterministic typed objects. It reads only the catalog and the
// secret sources; it never looks at the host's current state.
package desired

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"reflect"
	"slices"
	"sort"
	"strings"
	"text/template"
	"unicode/utf8"

	"github.com/hashicorp/go-multierror"
	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/util/validation/field"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/drift"
)

// Files of the catalog with a fixed meaning; every other top-level *.yaml
// holds objects.
const (
	CapabilitiesFile = "agent_capabilities.yaml"
	// ServicesDir holds the rendered manifests checked into the catalog.
	ServicesDir = "services"
	// MaxFileSize bounds what a catalog file may weigh; a catalog is text
	// written by people.
	MaxFileSize = 16 << 20
)

// ErrOutsideCatalog: a catalog path, or a symlink on it, leads out of the
// catalog directory (a persona or helper source declared with spec.source
// path: is read from HOME instead, and may be anywhere under it).
var ErrOutsideCatalog = errors.New("leads outside the catalog")

// Paths under HOME of the calibration files.
const (
	InstanceJSONPath      = ".sanctum/.instance.json"
	AgentCapabilitiesPath = ".sanctum/config/agent-capabilities.yaml"
)

// Options says where the catalog is and how to resolve secrets.
type Options struct {
	FS      fs.FS  // the catalog directory
	Name    string // how errors name the catalog directory, e.g. "sanctum"
	Home    string // the home whose ~/.sanctum/secrets resolves secret "x"
	Secrets SecretMode
	// ReferenceHome: templates see the haus's own home (instance.yaml
	// users.mac.home) as {{ .home }} and ~/ paths, not Home; what `render`
	// writes into the catalog must not depend on who renders it.
	ReferenceHome bool
}

// Catalog is the compiled desired state.
type Catalog struct {
	Name     string
	Instance *v1.InstanceSettings
	Services []*v1.Service     // sorted by name
	Personas []*v1.PersonaFile // sorted by name
	Nodes    []*v1.RemoteNode  // sorted by name
	// Agents are the standalone LaunchAgents and those compiled from
	// Services, sorted by name.
	Agents []*v1.LaunchAgent
	// Units are the standalone SystemdUnits and those compiled from
	// Services, sorted by name.
	Units       []*v1.SystemdUnit `cbor:"units"`
	Calibration []*v1.CalibrationFile
	// InstanceCopy is the host's ~/.sanctum/instance.yaml, a byte copy of
	// the catalog's: a calibration file of this host only (remote nodes
	// receive Calibration).
	InstanceCopy *v1.CalibrationFile `cbor:"instanceCopy"`
	// FS is the catalog directory, for sources that live in it.
	FS fs.FS `cbor:"-"`
	// Sources maps Kind/name to the catalog file that declared it.
	Sources      map[string]string
	Digest       string   // sha256 over every catalog file read
	SecretValues []string `cbor:"-"` // resolved secret values, for masking; never cached
	// SecretFields lists, by the declaring object (Kind/name), the fields
	// whose templates took a value from secret: the objects whose renders
	// may hold one (see TookSecret). Names only, never a value.
	SecretFields map[string][]string `cbor:"secretFields"`
	// what the load read, for the index (Inputs, SecretInputs)
	inputs       *inputs
	secretInputs []SecretInput
}

// TookSecret reports whether the templates of an object read a secret:
// its own fields, or for a launch agent compiled from a service, the
// service's spec.launchAgent (compileAgents lists them). An object that
// took none renders the same from the catalog and from its twin
// (LoadTwin), so nothing it renders holds a secret.
func (c *Catalog) TookSecret(kind, name string) bool {
	return len(c.SecretFields[kind+"/"+name]) > 0
}

// ServiceGraph is the dependsOn graph of every service.
func (c *Catalog) ServiceGraph() Graph {
	g := make(Graph, len(c.Services))
	for _, s := range c.Services {
		g[s.Name] = s.Spec.DependsOn
	}
	return g
}

// loader carries the state of one Load.
type loader struct {
	opts Options
	errs []*Error
	// homeMissing: the home secrets are read from does not exist, and
	// that is reported (once).
	homeMissing bool
	strict      *strictChecker
	secrets     *secretResolver
	data        map[string]any // template data: instance.yaml as read
	funcs       template.FuncMap
	budget      *budget
	digest      io.Writer
	cat         *Catalog
	// where each object was declared, for cross-object errors
	origin map[string]origin
	// every Kind/name some document declares, decoded or not
	declared map[string]bool
	// every file and directory read, for the index
	in *inputs
	// instance.yaml as read: the host's ~/.sanctum/instance.yaml is a copy
	instanceRaw []byte
	// instance.yaml decoded, without the template values derived from the
	// home: what .instance.json holds
	instanceData map[string]any
	// the fields of each object (Kind/name) that took a value from secret
	secretFields map[string][]string
}

type origin struct {
	file string
	pos  *posIndex
}

// Load reads, templates, decodes strictly and validates the catalog. On any
// problem it returns every problem found, each with file:line:column and field
// path, as a *multierror.Error of *Error.
func Load(ctx context.Context, opts Options) (*Catalog, error) {
	if opts.Name == "" {
		opts.Name = "."
	}
	h := sha256.New()
	l := &loader{
		opts:   opts,
		strict: newStrictChecker(),
		secrets: &secretResolver{ctx: ctx, mode: opts.Secrets, home: opts.Home,
			keychain: opts.Secrets == ResolveSecrets && keychainAvailable()},
		digest:   h,
		cat:      &Catalog{Name: opts.Name, FS: opts.FS, Sources: make(map[string]string)},
		origin:   make(map[string]origin),
		declared: make(map[string]bool),
		in:       newInputs(),

		secretFields: make(map[string][]string),
	}
	l.budget = newBudget(ctx)
	l.funcs = l.budget.funcs()
	l.funcs["secret"] = l.secrets.lookup

	rootKey, hasKey := statBefore(opts.FS, ".")
	entries, err := fs.ReadDir(opts.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("read catalog %s: %w", opts.Name, err)
	}
	l.in.dir(".", rootKey, hasKey, entries)
	l.loadInstance()
	capabilities := l.readFile(CapabilitiesFile, true)
	if capabilities != nil {
		var probe yaml.Node
		if err := yaml.Unmarshal(capabilities, &probe); err != nil {
			l.yamlError(CapabilitiesFile, capabilities, err)
		}
	}
	if l.cat.Instance != nil {
		l.secrets.account = l.cat.Instance.Secrets.KeychainAccount
		l.secrets.limit = l.cat.Instance.Limits.Secret()
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".yaml") || name == v1.InstanceFile || name == CapabilitiesFile {
				continue
			}
			l.loadObjects(name)
		}
	}
	if l.cat.Instance != nil {
		// Objects that decoded are checked against each other even when
		// others did not: every problem is reported at once.
		l.resolve()
		l.validateCatalog()
		l.compileAgents()
		l.validateAgents()
		l.compileUnits()
		l.validateUnits()
		l.validateNodes()
		l.resolvePersonaRoots()
		l.loadSources()
		l.validateSources()
		l.validateRuntime()
	}
	if len(l.errs) > 0 {
		return nil, l.combined()
	}
	l.compileCalibration(capabilities)
	if len(l.errs) > 0 {
		return nil, l.combined()
	}
	sort.Slice(l.cat.Agents, func(i, j int) bool { return l.cat.Agents[i].Name < l.cat.Agents[j].Name })
	sort.Slice(l.cat.Units, func(i, j int) bool { return l.cat.Units[i].Name < l.cat.Units[j].Name })
	sort.Slice(l.cat.Services, func(i, j int) bool { return l.cat.Services[i].Name < l.cat.Services[j].Name })
	sort.Slice(l.cat.Personas, func(i, j int) bool { return l.cat.Personas[i].Name < l.cat.Personas[j].Name })
	sort.Slice(l.cat.Nodes, func(i, j int) bool { return l.cat.Nodes[i].Name < l.cat.Nodes[j].Name })
	l.cat.Digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	l.cat.SecretValues = l.secrets.values
	l.cat.SecretFields = l.secretFields
	l.cat.inputs, l.cat.secretInputs = l.in, l.secrets.inputs
	return l.cat, nil
}

func (l *loader) combined() error {
	sort.SliceStable(l.errs, func(i, j int) bool {
		a, b := l.errs[i], l.errs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	var result *multierror.Error
	// A message may quote a templated value (through %q, or as a line of
	// it); secrets never leave here, in any spelling of the masking table.
	mask := drift.NewRedactor(l.secrets.values)
	for _, e := range l.errs {
		e.Msg = mask.String(e.Msg)
		result = multierror.Append(result, e)
	}
	result.ErrorFormat = func(es []error) string {
		lines := make([]string, len(es))
		for i, e := range es {
			lines[i] = e.Error()
		}
		return strings.Join(lines, "\n")
	}
	return result
}

func (l *loader) display(file string) string { return path.Join(l.opts.Name, file) }

func (l *loader) add(file string, line, col int, object, fieldPath, msg string) {
	l.errs = append(l.errs, &Error{File: l.display(file), Line: line, Column: col, Object: object, Field: fieldPath, Msg: msg})
}

// readFile reads one catalog file and feeds the digest.
func (l *loader) readFile(name string, optional bool) []byte {
	key, hasKey := statBefore(l.opts.FS, name)
	f, err := l.opts.FS.Open(name)
	switch {
	case err != nil && errors.Is(err, fs.ErrNotExist) && optional:
		l.in.file(name, key, false, nil, err)
		return nil
	case err != nil && errors.Is(err, fs.ErrNotExist):
		l.add(name, 0, 0, "", "", "missing")
		return nil
	case err != nil:
		l.add(name, 0, 0, "", "", unwrapPathError(err).Error())
		return nil
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		l.add(name, 0, 0, "", "", err.Error())
		return nil
	}
	if len(data) > MaxFileSize {
		l.add(name, 0, 0, "", "", fmt.Sprintf("file is larger than %d MiB", MaxFileSize>>20))
		return nil
	}
	fmt.Fprintf(l.digest, "%s\x00%d\x00", name, len(data))
	l.digest.Write(data)
	l.in.file(name, key, hasKey, data, nil)
	return data
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// yamlError turns a yaml.v3 syntax error ("yaml: line 3: ...") in data
// into a located error, at the line and column of the problem
// (locateYAMLError).
func (l *loader) yamlError(file string, data []byte, err error) {
	p := locateYAMLError(data, err)
	l.add(file, p.line, p.col, "", "", "invalid YAML: "+p.msg)
}

func (l *loader) loadInstance() {
	data := l.readFile(v1.InstanceFile, false)
	if data == nil {
		if len(l.errs) == 0 {
			l.add(v1.InstanceFile, 0, 0, "", "", "missing")
		}
		return
	}
	if !utf8.Valid(data) {
		l.add(v1.InstanceFile, 0, 0, "", "", "not valid UTF-8")
		return
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		l.yamlError(v1.InstanceFile, data, err)
		return
	}
	if doc.Kind == 0 {
		l.add(v1.InstanceFile, 0, 0, "", "", "empty: instance.slug is required")
		return
	}
	in := &v1.InstanceSettings{}
	if !l.decodeStrict(v1.InstanceFile, "", &doc, in) {
		return
	}
	if errs := in.Validate(); len(errs) > 0 {
		l.errs = append(l.errs, fieldErrors(l.display(v1.InstanceFile), "", nodeLocator{&doc}, errs)...)
		return
	}
	var generic map[string]any
	if err := doc.Decode(&generic); err != nil {
		l.add(v1.InstanceFile, 0, 0, "", "", err.Error())
		return
	}
	l.instanceData = generic
	l.data = templateData(generic, l.templateHome(in))
	l.cat.Instance = in
	l.instanceRaw = data
}

// decodeStrict checks the node against the type of out, then decodes.
func (l *loader) decodeStrict(file, object string, n *yaml.Node, out any) bool {
	var serrs []strictError
	l.strict.check(n, reflect.TypeOf(out), "", &serrs)
	for _, e := range serrs {
		l.add(file, e.line, e.col, object, e.path, e.msg)
	}
	if len(serrs) > 0 {
		return false
	}
	if err := n.Decode(out); err != nil {
		line, col := n.Line, n.Column
		l.add(file, line, col, object, "", err.Error())
		return false
	}
	return true
}

// maxDocumentItems bounds the YAML items of one document, counted before
// parsing as its lines plus its commas (every node of a flow collection
// takes a comma, of a block one a line): a parsed node costs a few hundred
// bytes, so a 3 MB flow sequence of a million items took 335 MB and 11 s
// to refuse. The largest object of a real catalog has a few hundred.
const maxDocumentItems = 100_000

// crowdedDocument reports the 1-based line of the first document of a
// YAML stream with more than maxDocumentItems items, and false; or true.
func crowdedDocument(data []byte) (int, bool) {
	items, start, line := 0, 1, 0
	for off := 0; off < len(data); {
		line++
		next := len(data)
		if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
			next = off + i + 1
		}
		if isDocumentStart(data[off:next]) {
			items, start = 0, line
		}
		items += 1 + bytes.Count(data[off:next], []byte{','})
		if items > maxDocumentItems {
			return start, false
		}
		off = next
	}
	return 0, true
}

// firstControl finds the first character YAML does not allow in a stream
// (a C0 control other than tab, line feed and carriage return, or DEL), by
// 1-based line and column, which yaml.v3 reports without a line.
func firstControl(data []byte) (int, int, rune, bool) {
	line, col := 1, 1
	for _, c := range data {
		switch {
		case c == '\n':
			line, col = line+1, 1
			continue
		case c < 0x20 && c != '\t' && c != '\r', c == 0x7f:
			return line, col, rune(c), true
		}
		if c < 0x80 || c >= 0xc0 { // a character starts here
			col++
		}
	}
	return 0, 0, 0, false
}

// loadObjects decodes every document of one object file.
func (l *loader) loadObjects(file string) {
	data := l.readFile(file, false)
	if data == nil {
		return
	}
	if !utf8.Valid(data) {
		l.add(file, 0, 0, "", "", "not valid UTF-8")
		return
	}
	if line, col, c, ok := firstControl(data); ok {
		l.add(file, line, col, "", "", fmt.Sprintf("a control character (%U) is not allowed in YAML", c))
		return
	}
	if line, ok := crowdedDocument(data); !ok {
		l.add(file, line, 1, "", "", fmt.Sprintf("a document of more than %d YAML items (lines and commas counted; an object of the catalog has a few hundred): refused before it is parsed", maxDocumentItems))
		return
	}
	err := parseDocuments(data, chunkSize, func(doc *yaml.Node) {
		if len(doc.Content) == 0 || doc.Content[0].ShortTag() == "!!null" {
			return // an empty document between ---
		}
		l.loadObject(file, doc)
	})
	if err != nil {
		l.yamlError(file, data, err)
	}
}

func (l *loader) loadObject(file string, doc *yaml.Node) {
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		l.add(file, root.Line, root.Column, "", "", "an object must be a mapping with apiVersion, kind, metadata and spec")
		return
	}
	kind, kindNode := scalarField(root, "kind")
	name, _ := scalarField(root, "metadata", "name")
	object := kind + "/" + name
	l.declared[object] = true
	info, known := kinds[kind]
	switch {
	case kind == "":
		at := root
		if kindNode != nil {
			at = kindNode
		}
		l.add(file, at.Line, at.Column, "", "kind", "Required value: every object needs a kind (known: "+knownKinds()+")")
		return
	case !known:
		l.add(file, kindNode.Line, kindNode.Column, object, "kind",
			fmt.Sprintf("Unsupported value: unknown kind %q%s (known: %s)", kind, DidYouMean(kind, kindNames()), knownKinds()))
		return
	}
	if !l.expandTemplates(file, object, root) {
		return
	}
	// After templating, so that a templated anchor counts at its size.
	if at, p, msg := l.budget.expandedBytes(root); at != nil {
		l.add(file, at.Line, at.Column, object, p, msg)
		return
	}
	obj := info.newObject()
	if !l.decodeStrict(file, object, doc, obj) {
		return
	}
	if errs := obj.Validate(); len(errs) > 0 {
		l.errs = append(l.errs, fieldErrors(l.display(file), object, nodeLocator{doc}, errs)...)
		return
	}
	if prev, dup := l.origin[object]; dup {
		line, col := locate(doc, "metadata.name")
		pl, _ := prev.pos.locate("metadata.name")
		l.add(file, line, col, object, "metadata.name",
			fmt.Sprintf("Duplicate value: %q (first declared at %s:%d)", name, l.display(prev.file), pl))
		return
	}
	l.origin[object] = origin{file: file, pos: indexPositions(doc)}
	l.cat.Sources[object] = file
	info.add(l.cat, obj)
}

// kindInfo is what the loader knows about one kind.
type kindInfo struct {
	newObject func() v1.Object
	add       func(*Catalog, v1.Object)
}

// kinds a catalog may declare.
var kinds = map[string]kindInfo{
	v1.KindService: {
		newObject: func() v1.Object { return &v1.Service{} },
		add:       func(c *Catalog, o v1.Object) { c.Services = append(c.Services, o.(*v1.Service)) },
	},
	v1.KindLaunchAgent: {
		newObject: func() v1.Object { return &v1.LaunchAgent{} },
		add:       func(c *Catalog, o v1.Object) { c.Agents = append(c.Agents, o.(*v1.LaunchAgent)) },
	},
	v1.KindSystemdUnit: {
		newObject: func() v1.Object { return &v1.SystemdUnit{} },
		add:       func(c *Catalog, o v1.Object) { c.Units = append(c.Units, o.(*v1.SystemdUnit)) },
	},
	v1.KindRemoteNode: {
		newObject: func() v1.Object { return &v1.RemoteNode{} },
		add:       func(c *Catalog, o v1.Object) { c.Nodes = append(c.Nodes, o.(*v1.RemoteNode)) },
	},
	v1.KindPersonaFile: {
		newObject: func() v1.Object { return &v1.PersonaFile{} },
		add:       func(c *Catalog, o v1.Object) { c.Personas = append(c.Personas, o.(*v1.PersonaFile)) },
	},
}

func kindNames() []string {
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	return names
}

func knownKinds() string {
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// scalarField returns the value of a scalar at a key path and its node.
func scalarField(n *yaml.Node, keys ...string) (string, *yaml.Node) {
	for _, k := range keys {
		if n.Kind != yaml.MappingNode {
			return "", nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		if next == nil {
			return "", nil
		}
		n = next
	}
	if n.Kind != yaml.ScalarNode {
		return "", n
	}
	return n.Value, n
}

// expandTemplates executes every scalar that holds {{ ... }} as a Go
// template over the instance settings, in place, so that positions stay those
// of the file. Missing keys are errors.
func (l *loader) expandTemplates(file, object string, n *yaml.Node) bool {
	kind, _, _ := strings.Cut(object, "/")
	ok := true
	l.budget.object()
	var walk func(n *yaml.Node, p string)
	walk = func(n *yaml.Node, p string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], joinPath(p, n.Content[i].Value))
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", p, i))
			}
		case yaml.ScalarNode:
			if !strings.Contains(n.Value, "{{") {
				return
			}
			t, err := template.New(object).Option("missingkey=error").Funcs(l.funcs).Parse(n.Value)
			if err != nil {
				l.add(file, n.Line, n.Column, object, p, "template: "+templateMessage(err))
				ok = false
				return
			}
			if err := instrument(t); err != nil {
				l.add(file, n.Line, n.Column, object, p, "template: "+templateMessage(err))
				ok = false
				return
			}
			out := &cappedWriter{budget: l.budget}
			reads := l.secrets.reads
			if err := t.Execute(out, l.data); err != nil {
				ok = false
				var hm *homeMissing
				if errors.As(err, &hm) {
					// One message for the home, at the first secret read
					// from it; not one per secret.
					if !l.homeMissing {
						l.homeMissing = true
						l.errs = append(l.errs, &Error{File: l.display(file), Line: n.Line, Column: n.Column, Object: object, Field: p,
							Msg: hm.Error(), Cause: hm})
					}
					return
				}
				l.add(file, n.Line, n.Column, object, p, executeProblem(err))
				return
			}
			if l.secrets.reads != reads {
				if what := secretFieldRefused(kind, p); what != "" {
					l.add(file, n.Line, n.Column, object, p, "Forbidden: takes a value from secret, but "+what+
						" is kept where no file mode protects it (file names, reconcile.json, symlinks); "+
						"a secret may go only into what a file holds, such as programArguments, environment or a probe")
					ok = false
					return
				}
				l.secretFields[object] = append(l.secretFields[object], p)
			}
			n.Value = out.b.String()
			// Let the result resolve as if written plainly, so that a
			// templated port is an integer.
			n.Tag = ""
			n.Style = 0
		}
	}
	walk(n, "")
	return ok
}

// cappedWriter fails a template that writes more than MaxTemplateValue
// bytes, and counts what it writes into the object's and the load's budget.
type cappedWriter struct {
	b      strings.Builder
	budget *budget
}

func (w *cappedWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > MaxTemplateValue {
		return 0, &BudgetError{fmt.Sprintf("expands to more than %d KiB", MaxTemplateValue>>10)}
	}
	if err := w.budget.built(len(p)); err != nil {
		return 0, err
	}
	return w.b.Write(p)
}

// templateMessage strips text/template's own "template: name:1:2: " prefix;
// the caller prefixes the catalog position instead.
func templateMessage(err error) string {
	if be := (*BudgetError)(nil); errors.As(err, &be) {
		return be.Msg
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "template: ")
	if i := strings.Index(msg, ": "); i >= 0 && strings.Count(msg[:i], ":") >= 1 {
		msg = msg[i+2:]
	}
	return msg
}

// switchFrom resolves an object's instanceKey: it sets the object's enabled
// switch from instance.yaml's services.<key> and returns that entry, or
// reports a key that is not there at spec.instanceKey.
func (l *loader) switchFrom(object, key string, enabled **bool) (v1.InstanceService, bool) {
	if key == "" {
		return v1.InstanceService{}, false
	}
	entry, ok := l.cat.Instance.Services[key]
	if !ok {
		o := l.origin[object]
		e := field.NotFound(field.NewPath("spec", "instanceKey"), key+" (no services."+key+" in "+v1.InstanceFile+")")
		if s := Suggest(key, slices.Sorted(maps.Keys(l.cat.Instance.Services))); s != "" {
			e.Detail = fmt.Sprintf("did you mean %q?", s)
		}
		l.errs = append(l.errs, fieldErrors(l.display(o.file), object, o.pos, field.ErrorList{e})...)
		return entry, false
	}
	on := entry.Enabled
	*enabled = &on
	return entry, true
}

// resolve applies instance settings to objects: instanceKey switches of
// services (with their default port) and of standalone launch agents.
func (l *loader) resolve() {
	for _, s := range l.cat.Services {
		if entry, ok := l.switchFrom(v1.KindService+"/"+s.Name, s.Spec.InstanceKey, &s.Spec.Enabled); ok && s.Spec.Port == 0 {
			s.Spec.Port = entry.Port
		}
	}
	for _, a := range l.cat.Agents {
		l.switchFrom(v1.KindLaunchAgent+"/"+a.Name, a.Spec.InstanceKey, &a.Spec.Enabled)
	}
	for _, u := range l.cat.Units {
		l.switchFrom(v1.KindSystemdUnit+"/"+u.Name, u.Spec.InstanceKey, &u.Spec.Enabled)
	}
}

// compileAgents turns each Service's embedded launch agent into a
// LaunchAgent owned by it.
func (l *loader) compileAgents() {
	withAgent := make(map[string]bool)
	for _, s := range l.cat.Services {
		if s.Spec.LaunchAgent != nil {
			withAgent[s.Name] = true
		}
	}
	for _, s := range l.cat.Services {
		if s.Spec.LaunchAgent == nil {
			continue
		}
		spec := *s.Spec.LaunchAgent
		spec.Label = s.AgentLabel()
		enabled := s.IsEnabled()
		spec.Enabled = &enabled
		spec.Owner = v1.KindService + "/" + s.Name
		spec.DependsOn = nil
		for _, d := range s.Spec.DependsOn {
			if withAgent[d] {
				spec.DependsOn = append(spec.DependsOn, d)
			}
		}
		key := v1.KindLaunchAgent + "/" + s.Name
		if prev, dup := l.origin[key]; dup {
			line, col := prev.pos.locate("metadata.name")
			l.add(prev.file, line, col, key, "metadata.name",
				fmt.Sprintf("Duplicate value: %q is also the agent of Service/%s", s.Name, s.Name))
			continue
		}
		for _, f := range l.secretFields[v1.KindService+"/"+s.Name] {
			if rest, ok := strings.CutPrefix(f, "spec.launchAgent."); ok {
				l.secretFields[key] = append(l.secretFields[key], "spec."+rest)
			}
		}
		l.origin[key] = l.origin[v1.KindService+"/"+s.Name]
		l.cat.Sources[key] = l.cat.Sources[v1.KindService+"/"+s.Name]
		l.cat.Agents = append(l.cat.Agents, &v1.LaunchAgent{
			TypeMeta:   v1.TypeMeta{APIVersion: v1.APIVersion, Kind: v1.KindLaunchAgent},
			ObjectMeta: v1.ObjectMeta{Name: s.Name, Labels: s.Labels},
			Spec:       spec,
		})
	}
}

// AgentGraph is the dependsOn graph of the launch agents.
func (c *Catalog) AgentGraph() Graph {
	g := make(Graph, len(c.Agents))
	for _, a := range c.Agents {
		g[a.Name] = a.Spec.DependsOn
	}
	return g
}

// validateAgents checks labels, file names and dependencies across agents.
func (l *loader) validateAgents() {
	labels := make(map[string]string)
	files := make(map[string]string)
	names := make(map[string]bool)
	for _, a := range l.cat.Agents {
		names[a.Name] = true
	}
	for _, a := range l.cat.Agents {
		key := v1.KindLaunchAgent + "/" + a.Name
		o := l.origin[key]
		base := field.NewPath("spec")
		if a.Spec.Owner != "" {
			key = a.Spec.Owner
			base = field.NewPath("spec", "launchAgent")
		}
		var fe field.ErrorList
		if other, dup := labels[a.LabelName()]; dup {
			fe = append(fe, field.Duplicate(base.Child("label"), a.LabelName()+" (also the label of "+other+")"))
		}
		labels[a.LabelName()] = "LaunchAgent/" + a.Name
		if other, dup := files[a.PlistName()]; dup {
			fe = append(fe, field.Duplicate(base.Child("fileName"), a.PlistName()+" (also the file of "+other+")"))
		}
		files[a.PlistName()] = "LaunchAgent/" + a.Name
		if a.Spec.Owner == "" {
			for i, d := range a.Spec.DependsOn {
				if !names[d] {
					fe = append(fe, notFound(base.Child("dependsOn").Index(i), d, l.agentNames()))
				}
			}
		}
		l.errs = append(l.errs, fieldErrors(l.display(o.file), key, o.pos, fe)...)
	}
	owned := make(map[string]bool)
	for _, a := range l.cat.Agents {
		owned[a.Name] = a.Spec.Owner != ""
	}
	for _, cyc := range l.cat.AgentGraph().Cycles() {
		if allOwned(cyc, owned) {
			continue // the services' own cycle, reported once, at the services
		}
		// At the dependsOn entry that closes the cycle, as for services.
		o := l.origin[v1.KindLaunchAgent+"/"+cyc[0]]
		fieldPath := "spec.dependsOn"
		for _, a := range l.cat.Agents {
			if a.Name == cyc[0] {
				for i, d := range a.Spec.DependsOn {
					if d == cyc[1] {
						fieldPath = fmt.Sprintf("spec.dependsOn[%d]", i)
					}
				}
			}
		}
		line, col := o.pos.locate(fieldPath)
		l.add(o.file, line, col, v1.KindLaunchAgent+"/"+cyc[0], fieldPath,
			fmt.Sprintf("Invalid value: %q: dependency cycle: %s", cyc[1], strings.Join(cyc, " -> ")))
	}
}

// validateNodes checks that persona files name existing nodes and nodes
// name existing agents.
func (l *loader) validateNodes() {
	nodes := make(map[string]bool, len(l.cat.Nodes))
	for _, n := range l.cat.Nodes {
		nodes[n.Name] = true
	}
	nodeNames := slices.Sorted(maps.Keys(nodes))
	agents := make(map[string]bool, len(l.cat.Personas))
	for _, p := range l.cat.Personas {
		agents[p.AgentName()] = true
		key := v1.KindPersonaFile + "/" + p.Name
		o := l.origin[key]
		for i, n := range p.Spec.Nodes {
			if !nodes[n] && !l.declared[v1.KindRemoteNode+"/"+n] {
				l.errs = append(l.errs, fieldErrors(l.display(o.file), key, o.pos, field.ErrorList{
					notFound(field.NewPath("spec", "nodes").Index(i), n, nodeNames)})...)
			}
		}
	}
	agentNames := slices.Sorted(maps.Keys(agents))
	hosts := make(map[string]string) // catalog host -> the node it is
	for _, n := range l.cat.Nodes {
		key := v1.KindRemoteNode + "/" + n.Name
		o := l.origin[key]
		if h := n.Spec.CatalogHost; h != "" {
			if other, dup := hosts[h]; dup {
				line, col := o.pos.locate("spec.catalogHost")
				l.add(o.file, line, col, key, "spec.catalogHost", fmt.Sprintf("Invalid value: %q: RemoteNode/%s is already catalog host %s: at most one node per catalog host", h, other, h))
			} else {
				hosts[h] = n.Name
			}
		}
		for i, a := range n.Spec.Receives.Personas {
			if a != "*" && !agents[a] {
				e := field.NotFound(field.NewPath("spec", "receives", "personas").Index(i), a+" (no PersonaFile has that agent)")
				if s := Suggest(a, agentNames); s != "" {
					e.Detail = fmt.Sprintf("did you mean %q?", s)
				}
				l.errs = append(l.errs, fieldErrors(l.display(o.file), key, o.pos, field.ErrorList{e})...)
			}
		}
	}
}

// validateCatalog checks the rules that span objects.
func (l *loader) validateCatalog() {
	byName := make(map[string]*v1.Service, len(l.cat.Services))
	for _, s := range l.cat.Services {
		byName[s.Name] = s
	}
	errAt := func(s *v1.Service, fe *field.Error) {
		o := l.origin[v1.KindService+"/"+s.Name]
		l.errs = append(l.errs, fieldErrors(l.display(o.file), v1.KindService+"/"+s.Name, o.pos, field.ErrorList{fe})...)
	}
	ports := make(map[int]*v1.Service)
	for _, s := range sortedServices(l.cat.Services) {
		for i, d := range s.Spec.DependsOn {
			if _, ok := byName[d]; !ok && !l.declared[v1.KindService+"/"+d] {
				errAt(s, notFound(field.NewPath("spec", "dependsOn").Index(i), d, l.serviceNames()))
			}
		}
		if s.Spec.Port == 0 || !s.IsEnabled() {
			continue
		}
		if other, taken := ports[s.Spec.Port]; taken {
			errAt(s, field.Duplicate(field.NewPath("spec", "port"), s.Spec.Port))
			l.errs[len(l.errs)-1].Msg += " (also the port of enabled Service/" + other.Name + ")"
			continue
		}
		ports[s.Spec.Port] = s
	}
	for _, cyc := range l.cat.ServiceGraph().Cycles() {
		s := byName[cyc[0]]
		idx := 0
		for i, d := range s.Spec.DependsOn {
			if d == cyc[1] {
				idx = i
			}
		}
		errAt(s, field.Invalid(field.NewPath("spec", "dependsOn").Index(idx), cyc[1],
			"dependency cycle: "+strings.Join(cyc, " -> ")))
	}
}

func sortedServices(in []*v1.Service) []*v1.Service {
	out := append([]*v1.Service(nil), in...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// compileCalibration derives the calibration files from the catalog.
func (l *loader) compileCalibration(capabilities []byte) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(jsonable(l.instanceData)); err != nil {
		l.add(v1.InstanceFile, 0, 0, "", "", "cannot be written as JSON: "+err.Error())
		return
	}
	l.cat.Calibration = append(l.cat.Calibration, newCalibration("instance-json", InstanceJSONPath, v1.InstanceFile, buf.Bytes()))
	l.cat.InstanceCopy = newCalibration("instance-yaml", InstanceYAMLPath, v1.InstanceFile, l.instanceRaw)
	if capabilities != nil {
		l.cat.Calibration = append(l.cat.Calibration, newCalibration("agent-capabilities", AgentCapabilitiesPath, CapabilitiesFile, capabilities))
	}
}

// jsonable turns the maps yaml.v3 decodes with non-string keys (users:
// {501: ...}) into string-keyed ones, as JSON needs and as Python's json
// module wrote them.
func jsonable(v any) any {
	switch m := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(m))
		for k, e := range m {
			out[k] = jsonable(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, e := range m {
			out[fmt.Sprint(k)] = jsonable(e)
		}
		return out
	case []any:
		out := make([]any, len(m))
		for i, e := range m {
			out[i] = jsonable(e)
		}
		return out
	}
	return v
}

func newCalibration(name, p, source string, content []byte) *v1.CalibrationFile {
	return &v1.CalibrationFile{
		TypeMeta:   v1.TypeMeta{APIVersion: v1.APIVersion, Kind: v1.KindCalibrationFile},
		ObjectMeta: v1.ObjectMeta{Name: name},
		Spec:       v1.CalibrationFileSpec{Path: p, Source: source, Content: content},
	}
}
