package desired

import (
	"path"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
)

// validateRuntime checks what services install under ~/.sanctum and what
// launch agents run from there: a wrapper or helper path claimed by two
// enabled services (their writes would race and each would undo the
// other), a program under ~/.sanctum/bin that no wrapper of the catalog
// creates, and a program under the home being reconciled that no wrapper
// or helper creates (launchd would fail to spawn either, after apply
// reported success).
func (l *loader) validateRuntime() {
	claimed := make(map[string]string) // HOME-relative path -> Service/name
	wrappers := make(map[string]*v1.Service)
	helpers := make(map[string]*v1.Service)
	for _, s := range sortedServices(l.cat.Services) {
		key := v1.KindService + "/" + s.Name
		var fe field.ErrorList
		claim := func(p string, at *field.Path) {
			if !s.IsEnabled() {
				return // a disabled service installs nothing
			}
			if other, taken := claimed[p]; taken {
				e := field.Duplicate(at, "~/"+p)
				e.Detail = "also installed by enabled " + other
				fe = append(fe, e)
				return
			}
			claimed[p] = key
		}
		if s.Spec.Wrapper != nil {
			p := s.WrapperPath()
			if other := wrappers[p]; other == nil || !other.IsEnabled() {
				wrappers[p] = s
			}
			claim(p, field.NewPath("spec", "wrapper"))
		}
		for i := range s.Spec.Helpers {
			h := &s.Spec.Helpers[i]
			claim(h.Path(), field.NewPath("spec", "helpers").Index(i).Child("name"))
			if other := helpers[h.Path()]; other == nil || !other.IsEnabled() {
				helpers[h.Path()] = s
			}
		}
		l.errorsOf(key, fe)
	}

	agents := append([]*v1.LaunchAgent(nil), l.cat.Agents...)
	sort.Slice(agents, func(i, j int) bool { return agents[i].Name < agents[j].Name })
	for _, a := range agents {
		if a.Spec.Retired || len(a.Spec.ProgramArguments) == 0 {
			continue
		}
		prog := a.Spec.ProgramArguments[0]
		key, at := v1.KindLaunchAgent+"/"+a.Name, field.NewPath("spec", "programArguments").Index(0)
		if a.Spec.Owner != "" {
			key, at = a.Spec.Owner, field.NewPath("spec", "launchAgent", "programArguments").Index(0)
		}
		rel, ok := underWrapperDir(prog)
		if !ok {
			if rel, under := l.underHome(prog); under && a.IsEnabled() {
				switch s := helpers[rel]; {
				case s == nil:
					l.errorsOf(key, field.ErrorList{field.Invalid(at, prog, "a program under the home must be one the catalog "+
						"installs (a Service's spec.wrapper or spec.helpers); nothing creates ~/"+rel)})
				case !s.IsEnabled():
					l.errorsOf(key, field.ErrorList{field.Invalid(at, prog, "~/"+rel+" is a helper of Service/"+s.Name+
						", which is disabled, so nothing creates it")})
				}
			}
			continue
		}
		switch s := wrappers[rel]; {
		case s == nil:
			l.errorsOf(key, field.ErrorList{field.Invalid(at, prog, "no wrapper in the catalog creates ~/"+rel+
				" (a Service's spec.wrapper creates ~/"+v1.WrapperDir+"/sanctum-<its name>)")})
		case a.IsEnabled() && !s.IsEnabled():
			l.errorsOf(key, field.ErrorList{field.Invalid(at, prog, "~/"+rel+" is the wrapper of Service/"+s.Name+
				", which is disabled, so nothing creates it")})
		}
	}
}

// underHome reports whether a program lies under the home being
// reconciled; rel is then its HOME-relative path.
func (l *loader) underHome(prog string) (rel string, ok bool) {
	h := l.opts.Home
	if l.cat.Instance != nil {
		h = l.templateHome(l.cat.Instance)
	}
	home := path.Clean(h)
	if h == "" || home == "/" {
		return "", false
	}
	rel, ok = strings.CutPrefix(path.Clean(prog), home+"/")
	return rel, ok
}

// underWrapperDir reports whether a program lies under some home's
// .sanctum/bin, however it is spelt: the catalog names the Mac's home
// literally ({{ .paths.bin }} is /Users/neo/.sanctum/bin), or as ~ or $HOME;
// rel is then its HOME-relative path.
func underWrapperDir(prog string) (rel string, ok bool) {
	p := path.Clean(prog)
	i := strings.Index(p, "/"+v1.WrapperDir+"/")
	if i < 0 {
		return "", false
	}
	return v1.WrapperDir + "/" + p[i+len(v1.WrapperDir)+2:], true
}
