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
// other), and a program under ~/.sanctum/bin that no wrapper of the catalog
// creates (launchd would fail to spawn it, after apply reported success).
func (l *loader) validateRuntime() {
	claimed := make(map[string]string) // HOME-relative path -> Service/name
	wrappers := make(map[string]*v1.Service)
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
		rel, ok := underWrapperDir(prog)
		if !ok {
			continue
		}
		key, at := v1.KindLaunchAgent+"/"+a.Name, field.NewPath("spec", "programArguments").Index(0)
		if a.Spec.Owner != "" {
			key, at = a.Spec.Owner, field.NewPath("spec", "launchAgent", "programArguments").Index(0)
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
