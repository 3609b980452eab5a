package desired

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"k8s.io/apimachinery/pkg/util/validation/field"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/drift"
)

// resolvePersonaRoots points each persona source that is read from the
// persona root (a root folder, and no catalog folder or instance.yaml's
// personas.source: root) at its folder under HOME, and checks that the
// folder is there: a missing root is an error now, at validate time, not a
// failure of every file during a pass.
func (l *loader) resolvePersonaRoots() {
	in := l.cat.Instance
	root := in.Paths[v1.PersonaRootKey]
	for _, pf := range l.cat.Personas {
		s := &pf.Spec.Source
		if s.Root == "" || (s.Catalog != "" && !in.Personas.FromRoot()) {
			continue
		}
		at := field.NewPath("spec", "source", "root")
		base, ok := v1.HomePath(root)
		if !ok {
			l.errorsOf(v1.KindPersonaFile+"/"+pf.Name, field.ErrorList{field.Invalid(at, s.Root,
				fmt.Sprintf("read from the persona root, but instance.yaml paths.%s is %q, not a folder ~/... under HOME", v1.PersonaRootKey, root))})
			continue
		}
		s.Catalog, s.Path = "", "~/"+path.Join(base, path.Clean(s.Root))
		if l.opts.Home == "" || l.opts.ReferenceHome {
			continue // no home to look in (render)
		}
		rel, _ := v1.HomePath(s.Path)
		switch info, err := os.Stat(filepath.Join(l.opts.Home, filepath.FromSlash(rel))); {
		case errors.Is(err, fs.ErrNotExist):
			l.errorsOf(v1.KindPersonaFile+"/"+pf.Name, field.ErrorList{field.Invalid(at, s.Root,
				fmt.Sprintf("no folder %s in the home being reconciled (paths.%s %s, then %s): make it, or read the catalog's copies (personas.source: catalog)",
					s.Path, v1.PersonaRootKey, root, path.Clean(pf.Spec.Source.Root)))})
		case err != nil:
			l.errorsOf(v1.KindPersonaFile+"/"+pf.Name, field.ErrorList{field.Invalid(at, s.Root, fmt.Sprintf("%s: %v", s.Path, unwrapPathError(err)))})
		case !info.IsDir():
			l.errorsOf(v1.KindPersonaFile+"/"+pf.Name, field.ErrorList{field.Invalid(at, s.Root, s.Path+" is not a folder")})
		}
	}
}

// loadSources reads the persona and helper sources that live in the
// catalog, so that they count in the catalog digest and are read once.
func (l *loader) loadSources() {
	for _, s := range l.cat.Services {
		for i := range s.Spec.Helpers {
			h := &s.Spec.Helpers[i]
			data, err := l.readSource(path.Clean(h.Source))
			h.Loaded = &v1.LoadedSource{Content: data, Err: err}
		}
	}
	for _, pf := range l.cat.Personas {
		dir := pf.Spec.Source.Catalog
		if dir == "" {
			continue
		}
		pf.Spec.Loaded = make(map[string]v1.LoadedSource)
		for _, f := range pf.FileNames() {
			data, err := l.readSource(path.Join(path.Clean(dir), f))
			pf.Spec.Loaded[f] = v1.LoadedSource{Content: data, Err: err}
		}
	}
}

func (l *loader) readSource(name string) ([]byte, error) {
	key, hasKey := statBefore(l.opts.FS, name)
	data, err := fs.ReadFile(l.opts.FS, name)
	if err == nil {
		fmt.Fprintf(l.digest, "%s\x00%d\x00", name, len(data))
		l.digest.Write(data)
	}
	l.in.file(name, key, hasKey, data, err)
	return data, err
}

// validateSources checks what the catalog's sources are, now that they are
// read: a helper or persona source that is not there, and a persona source
// that holds secret material, would otherwise fail only during apply, after
// other objects were written.
func (l *loader) validateSources() {
	for _, s := range sortedServices(l.cat.Services) {
		var fe field.ErrorList
		for i, h := range s.Spec.Helpers {
			if err := h.Loaded.Err; err != nil {
				fe = append(fe, sourceError(field.NewPath("spec", "helpers").Index(i).Child("source"), h.Source, "file", err))
			}
		}
		l.errorsOf(v1.KindService+"/"+s.Name, fe)
	}
	for _, pf := range l.cat.Personas {
		if pf.Spec.Source.Catalog != "" {
			l.errorsOf(v1.KindPersonaFile+"/"+pf.Name, l.personaSourceErrors(pf))
		}
	}
}

// personaSourceErrors reports each missing or unreadable file of a persona
// source folder at the field that names it (spec.files[i], or the folder
// when the files are the default four), a missing folder once, and, unless
// spec.allowSecrets is set, each file that looks like it holds a secret.
func (l *loader) personaSourceErrors(pf *v1.PersonaFile) field.ErrorList {
	dir := path.Clean(pf.Spec.Source.Catalog)
	folder := field.NewPath("spec", "source", "catalog")
	if info, err := fs.Stat(l.opts.FS, dir); err != nil {
		return field.ErrorList{sourceError(folder, pf.Spec.Source.Catalog, "folder", err)}
	} else if !info.IsDir() {
		return field.ErrorList{field.Invalid(folder, pf.Spec.Source.Catalog, "not a folder in the catalog")}
	}
	var fe field.ErrorList
	for i, f := range pf.FileNames() {
		at := folder
		if len(pf.Spec.Files) > 0 {
			at = field.NewPath("spec", "files").Index(i)
		}
		name := path.Join(dir, f)
		src := pf.Spec.Loaded[f]
		if src.Err != nil {
			fe = append(fe, sourceError(at, name, "file", src.Err))
			continue
		}
		if pf.Spec.AllowSecrets {
			continue
		}
		where := path.Join(l.opts.Name, name)
		if what, line, found := drift.SecretMaterial(src.Content); found {
			fe = append(fe, field.Forbidden(at, fmt.Sprintf("%s:%d looks like %s, and persona files travel to other machines "+
				"(set spec.allowSecrets: true to send it anyway)", where, line, what)))
		}
		for j, v := range l.secrets.values {
			if k := indexOfSpelling(src.Content, v); k >= 0 {
				line := bytes.Count(src.Content[:k], []byte("\n")) + 1
				fe = append(fe, field.Forbidden(at, fmt.Sprintf("%s:%d holds the value of secret %q, and persona files travel to other machines "+
					"(set spec.allowSecrets: true to send it anyway)", where, line, l.secrets.names[j])))
			}
		}
	}
	return fe
}

// indexOfSpelling returns where the first spelling of secret value v
// (drift.Spellings: escaped for XML, YAML, JSON, Go or a URL, base64, hex,
// a line of a multi-line value) begins in b, or -1; a spelling shorter than
// drift.MinScannedSecret only as a whole word (drift.IndexSecret).
func indexOfSpelling(b []byte, v string) int {
	first := -1
	for _, s := range drift.Spellings(v) {
		if k := drift.IndexSecret(b, []byte(s)); k >= 0 && (first < 0 || k < first) {
			first = k
		}
	}
	return first
}

// sourceError says why a source (a file or a folder) named at p cannot be
// read.
func sourceError(p *field.Path, name, what string, err error) *field.Error {
	if errors.Is(err, fs.ErrNotExist) {
		e := field.NotFound(p, name)
		e.Detail = "no such " + what + " in the catalog"
		return e
	}
	return field.Invalid(p, name, unwrapPathError(err).Error())
}

// errorsOf adds an object's errors, located in the file that declared it.
func (l *loader) errorsOf(object string, fe field.ErrorList) {
	if len(fe) == 0 {
		return
	}
	o := l.origin[object]
	l.errs = append(l.errs, fieldErrors(l.display(o.file), object, o.pos, fe)...)
}
