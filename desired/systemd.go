package desired

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
)

// compileUnits turns each Service's embedded systemd unit into a
// SystemdUnit owned by it, as compileAgents does for launch agents.
func (l *loader) compileUnits() {
	withUnit := make(map[string]bool)
	for _, s := range l.cat.Services {
		if s.Spec.Systemd != nil {
			withUnit[s.Name] = true
		}
	}
	for _, s := range l.cat.Services {
		if s.Spec.Systemd == nil {
			continue
		}
		spec := *s.Spec.Systemd
		spec.Unit = s.UnitName()
		spec.Host = s.Spec.Host
		enabled := s.IsEnabled()
		spec.Enabled = &enabled
		spec.Owner = v1.KindService + "/" + s.Name
		spec.DependsOn = nil
		for _, d := range s.Spec.DependsOn {
			if withUnit[d] {
				spec.DependsOn = append(spec.DependsOn, d)
			}
		}
		if spec.Description == "" {
			spec.Description = s.Spec.DisplayName
		}
		key := v1.KindSystemdUnit + "/" + s.Name
		if prev, dup := l.origin[key]; dup {
			line, col := prev.pos.locate("metadata.name")
			l.add(prev.file, line, col, key, "metadata.name",
				fmt.Sprintf("Duplicate value: %q is also the unit of Service/%s", s.Name, s.Name))
			continue
		}
		for _, f := range l.secretFields[v1.KindService+"/"+s.Name] {
			if rest, ok := strings.CutPrefix(f, "spec.systemd."); ok {
				l.secretFields[key] = append(l.secretFields[key], "spec."+rest)
			}
		}
		l.origin[key] = l.origin[v1.KindService+"/"+s.Name]
		l.cat.Sources[key] = l.cat.Sources[v1.KindService+"/"+s.Name]
		l.cat.Units = append(l.cat.Units, &v1.SystemdUnit{
			TypeMeta:   v1.TypeMeta{APIVersion: v1.APIVersion, Kind: v1.KindSystemdUnit},
			ObjectMeta: v1.ObjectMeta{Name: s.Name, Labels: s.Labels},
			Spec:       spec,
		})
	}
}

// UnitGraph is the dependsOn graph of the systemd units.
func (c *Catalog) UnitGraph() Graph {
	g := make(Graph, len(c.Units))
	for _, u := range c.Units {
		g[u.Name] = u.Spec.DependsOn
	}
	return g
}

// validateUnits checks unit names and dependencies across units, and
// resolves each unit's dependsOn into unit names (After= and Wants=).
func (l *loader) validateUnits() {
	byName := make(map[string]*v1.SystemdUnit, len(l.cat.Units))
	for _, u := range l.cat.Units {
		byName[u.Name] = u
	}
	unitNames := make(map[string]string)
	for _, u := range l.cat.Units {
		key := v1.KindSystemdUnit + "/" + u.Name
		o := l.origin[key]
		base := field.NewPath("spec")
		if u.Spec.Owner != "" {
			key = u.Spec.Owner
			base = field.NewPath("spec", "systemd")
		}
		var fe field.ErrorList
		if other, dup := unitNames[u.UnitName()]; dup {
			fe = append(fe, field.Duplicate(base.Child("unit"), u.UnitName()+" (also the unit of "+other+")"))
		}
		unitNames[u.UnitName()] = v1.KindSystemdUnit + "/" + u.Name
		u.Spec.DependsOnUnits = nil
		for i, d := range u.Spec.DependsOn {
			dep, ok := byName[d]
			switch {
			case !ok && u.Spec.Owner == "":
				fe = append(fe, notFound(base.Child("dependsOn").Index(i), d, l.unitNames()))
			case ok && dep.HostName() != u.HostName():
				fe = append(fe, field.Invalid(base.Child("dependsOn").Index(i), d, "runs on host "+dep.HostName()+": a unit can only be ordered after units of its own host"))
			case ok && dep.ScopeName() != u.ScopeName():
				fe = append(fe, field.Invalid(base.Child("dependsOn").Index(i), d, "is a "+dep.ScopeName()+" unit, this one a "+u.ScopeName()+
					" unit: a unit can only be ordered after units of its own manager (scope)"))
			case ok:
				u.Spec.DependsOnUnits = append(u.Spec.DependsOnUnits, dep.UnitName())
			}
		}
		l.errs = append(l.errs, fieldErrors(l.display(o.file), key, o.pos, fe)...)
	}
	owned := make(map[string]bool)
	for _, u := range l.cat.Units {
		owned[u.Name] = u.Spec.Owner != ""
	}
	for _, cyc := range l.cat.UnitGraph().Cycles() {
		if allOwned(cyc, owned) {
			continue // the services' own cycle, reported once, at the services
		}
		o := l.origin[v1.KindSystemdUnit+"/"+cyc[0]]
		fieldPath := "spec.dependsOn"
		for i, d := range byName[cyc[0]].Spec.DependsOn {
			if d == cyc[1] {
				fieldPath = fmt.Sprintf("spec.dependsOn[%d]", i)
			}
		}
		line, col := o.pos.locate(fieldPath)
		l.add(o.file, line, col, v1.KindSystemdUnit+"/"+cyc[0], fieldPath,
			fmt.Sprintf("Invalid value: %q: dependency cycle: %s", cyc[1], strings.Join(cyc, " -> ")))
	}
}

// unitNames are the names of the catalog's SystemdUnits, for suggestions.
func (l *loader) unitNames() []string {
	out := make([]string, 0, len(l.cat.Units))
	for _, u := range l.cat.Units {
		out = append(out, u.Name)
	}
	return out
}

// NodeFor is the node that is a catalog host (RemoteNode spec.catalogHost),
// nil when no node is.
func (c *Catalog) NodeFor(host string) *v1.RemoteNode {
	for _, n := range c.Nodes {
		if n.Spec.CatalogHost == host {
			return n
		}
	}
	return nil
}
