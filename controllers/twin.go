package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/desired"
)

// errNoTwin: the pass was given no way to load the twin catalog; diffs of
// secret-bearing targets are then masked wholesale.
var errNoTwin = errors.New("no twin catalog")

// twinCatalog is the pass's twin catalog, loaded at most once.
type twinCatalog struct {
	once sync.Once
	cat  *desired.Catalog
	err  error
	// of is the catalog the pass runs (set by Run): an object whose
	// templates read no secret (desired.Catalog.TookSecret) needs no twin.
	of *desired.Catalog
}

// needsTwin reports whether an object's renders may differ from its twin's:
// false only when the pass's catalog says its templates read no secret.
func (p *Pass) needsTwin(kind, name string) bool {
	return p.twin.of == nil || p.twin.of.TookSecret(kind, name)
}

// twinCatalog loads the twin of the catalog (every secret rendered as
// drift.SecretSentinel) the first time a diff asks for it: a pass with
// nothing to show never pays for it.
func (p *Pass) twinCatalog(ctx context.Context) (*desired.Catalog, error) {
	p.twin.once.Do(func() {
		if p.TwinCatalog == nil {
			p.twin.err = errNoTwin
			return
		}
		p.twin.cat, p.twin.err = p.TwinCatalog(ctx)
	})
	return p.twin.cat, p.twin.err
}

// serviceTwin renders a service's manifest from the twin catalog; nil when
// the service took no secret.
func (p *Pass) serviceTwin(ctx context.Context, name string) func() ([]byte, error) {
	if !p.needsTwin(v1.KindService, name) {
		return nil
	}
	return func() ([]byte, error) {
		tc, err := p.twinCatalog(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range tc.Services {
			if s.Name == name {
				return RenderManifest(s, tc)
			}
		}
		return nil, fmt.Errorf("%s/%s: not in the twin catalog", v1.KindService, name)
	}
}

// agentTwin renders a launch agent's plist from the twin catalog; nil when
// the agent took no secret.
func (p *Pass) agentTwin(ctx context.Context, name string) func() ([]byte, error) {
	if !p.needsTwin(v1.KindLaunchAgent, name) {
		return nil
	}
	return func() ([]byte, error) {
		tc, err := p.twinCatalog(ctx)
		if err != nil {
			return nil, err
		}
		for _, a := range tc.Agents {
			if a.Name == name {
				return RenderPlist(a)
			}
		}
		return nil, fmt.Errorf("%s/%s: not in the twin catalog", v1.KindLaunchAgent, name)
	}
}
