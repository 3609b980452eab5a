package v1

import (
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// KindPersonaFile is the kind of a PersonaFile object.
const KindPersonaFile = "PersonaFile"

// PersonaFileNames are the persona files an agent has, in the order reports
// list them.
var PersonaFileNames = []string{"IDENTITY.md", "SOUL.md", "TOOLS.md", "HEARTBEAT.md"}

// PersonaFile keeps one agent's canonical persona markdown identical in each
// of its workspaces. One object covers an agent's files and targets; the
// controller expands it into one entry per file and target.
type PersonaFile struct {
	TypeMeta   `yaml:",inline" json:",inline"`
	ObjectMeta `yaml:"metadata" json:"metadata" cbor:"metadata"`
	Spec       PersonaFileSpec `yaml:"spec" json:"spec" cbor:"spec"`
	Status     Status          `yaml:"status,omitempty" json:"status,omitempty" cbor:"status"`
}

// PersonaFileSpec is the desired shape of a PersonaFile.
type PersonaFileSpec struct {
	// Agent defaults to metadata.name.
	Agent string `yaml:"agent,omitempty" json:"agent,omitempty" cbor:"agent"`
	// Files defaults to all of PersonaFileNames.
	Files  []string      `yaml:"files,omitempty" json:"files,omitempty" cbor:"files"`
	Source PersonaSource `yaml:"source" json:"source" cbor:"source"`
	// Targets are workspace directories ("~/.openclaw/workspace-windu") or
	// globs over them ("~/.openclaw/workspace*"), under HOME.
	Targets []string `yaml:"targets" json:"targets" cbor:"targets"`
	// Optional: a missing workspace is skipped and reported as such, never
	// created. Otherwise a missing workspace fails the object.
	Optional bool `yaml:"optional,omitempty" json:"optional,omitempty" cbor:"optional"`
	// Nodes are the remote nodes that receive these files too.
	Nodes []string `yaml:"nodes,omitempty" json:"nodes,omitempty" cbor:"nodes"`
	// AllowSecrets lets a source that looks like it holds secret material
	// (a private key, an API token) travel anyway.
	AllowSecrets bool `yaml:"allowSecrets,omitempty" json:"allowSecrets,omitempty" cbor:"allowSecrets"`

	// Loaded holds the sources read from the catalog by file name, each with
	// its bytes or the error reading it; desired fills it, so that catalog
	// sources count in the catalog digest and are read once.
	Loaded map[string]LoadedSource `yaml:"-" json:"-" cbor:"loaded"`
}

// LoadedSource is one source file read from the catalog.
type LoadedSource struct {
	Content []byte
	Err     error
}

// PersonaSource says where the canonical files are: a folder inside the
// catalog, a folder under HOME, or a folder under the persona root of the
// instance settings (paths.persona_root, ~/Projects/mlx-finetune/data/raw:
// root windu-workspace). A source may name both a catalog folder and a
// root folder; instance.yaml's personas.source picks which one is read.
type PersonaSource struct {
	Catalog string `yaml:"catalog,omitempty" json:"catalog,omitempty" cbor:"catalog"`
	Path    string `yaml:"path,omitempty" json:"path,omitempty" cbor:"path"`
	Root    string `yaml:"root,omitempty" json:"root,omitempty" cbor:"root"`
}

// GetKind implements Object.
func (p *PersonaFile) GetKind() string { return KindPersonaFile }

// GetName implements Object.
func (p *PersonaFile) GetName() string { return p.Name }

// AgentName is the agent, defaulted.
func (p *PersonaFile) AgentName() string {
	if p.Spec.Agent != "" {
		return p.Spec.Agent
	}
	return p.Name
}

// FileNames are the files, defaulted.
func (p *PersonaFile) FileNames() []string {
	if len(p.Spec.Files) > 0 {
		return p.Spec.Files
	}
	return PersonaFileNames
}

// HomePath turns "~/x" into the HOME-relative "x"; ok is false for anything
// that is not under HOME.
func HomePath(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "~/")
	if !ok || rest == "" {
		return "", false
	}
	c := path.Clean(rest)
	if c == "." || c == ".." || strings.HasPrefix(c, "../") || path.IsAbs(c) {
		return "", false
	}
	return c, true
}

// Validate implements Object.
func (p *PersonaFile) Validate() field.ErrorList {
	errs := validateMeta(p.TypeMeta, p.ObjectMeta, KindPersonaFile)
	spec := field.NewPath("spec")
	if p.Spec.Agent != "" {
		for _, msg := range validation.IsDNS1123Label(p.Spec.Agent) {
			errs = append(errs, field.Invalid(spec.Child("agent"), p.Spec.Agent, msg))
		}
	}
	seen := make(map[string]bool)
	for i, f := range p.Spec.Files {
		fp := spec.Child("files").Index(i)
		switch {
		case !isPersonaFileName(f):
			errs = append(errs, field.NotSupported(fp, f, PersonaFileNames))
		case seen[f]:
			errs = append(errs, field.Duplicate(fp, f))
		}
		seen[f] = true
	}
	src := spec.Child("source")
	if r := p.Spec.Source.Root; r != "" {
		c := path.Clean(r)
		if path.IsAbs(c) || c == ".." || strings.HasPrefix(c, "../") || c == "." || HasControl(r) {
			errs = append(errs, field.Invalid(src.Child("root"), r, "must be a folder under the persona root (paths.persona_root), such as windu-workspace"))
		}
	}
	switch s := p.Spec.Source; {
	case s.Catalog == "" && s.Path == "" && s.Root == "":
		errs = append(errs, field.Required(src, "catalog (a folder in the catalog), root (a folder under paths.persona_root) or path (~/... under HOME)"))
	case s.Path != "" && (s.Catalog != "" || s.Root != ""):
		errs = append(errs, field.Invalid(src, s, "set path alone, or catalog, root or both (instance.yaml personas.source picks)"))
	case s.Catalog == "" && s.Path == "":
	case s.Catalog != "":
		c := path.Clean(s.Catalog)
		if path.IsAbs(c) || c == ".." || strings.HasPrefix(c, "../") || c == "." {
			errs = append(errs, field.Invalid(src.Child("catalog"), s.Catalog, "must be a folder inside the catalog"))
		}
	default:
		if _, ok := HomePath(s.Path); !ok {
			errs = append(errs, field.Invalid(src.Child("path"), s.Path, "must be ~/... under HOME"))
		}
	}
	if len(p.Spec.Targets) == 0 {
		errs = append(errs, field.Required(spec.Child("targets"), "workspaces such as ~/.openclaw/workspace-"+p.AgentName()))
	}
	for i, t := range p.Spec.Targets {
		tp := spec.Child("targets").Index(i)
		rel, ok := HomePath(t)
		if !ok {
			errs = append(errs, field.Invalid(tp, t, "must be ~/... under HOME"))
			continue
		}
		if _, err := path.Match(path.Base(rel), ""); err != nil || strings.ContainsAny(path.Dir(rel), "*?[") {
			errs = append(errs, field.Invalid(tp, t, "a glob may only be in the last path element"))
		}
		if HasControl(t) {
			// A path travels to nodes; a newline would split the node's
			// answers about it (stat and sha256sum answer by line).
			errs = append(errs, field.Invalid(tp, t, "a path may not hold a control character (a newline, a tab, ...)"))
		}
	}
	for i, n := range p.Spec.Nodes {
		for _, msg := range validation.IsDNS1123Label(n) {
			errs = append(errs, field.Invalid(spec.Child("nodes").Index(i), n, msg))
		}
	}
	return errs
}

func isPersonaFileName(f string) bool {
	for _, n := range PersonaFileNames {
		if f == n {
			return true
		}
	}
	return false
}

// HasControl reports whether s holds an ASCII control character (a
// newline, a tab, DEL, ...): refused in every path that travels to a node.
func HasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0
}
