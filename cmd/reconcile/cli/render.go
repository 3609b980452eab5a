package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/renameio/v2"
	"github.com/spf13/cobra"

	"github.com/sanctum-haus/reconcile/controllers"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
)

func (a *app) renderCommand() *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Render the service manifests into the catalog's services/ folder",
		Long: `render writes the manifest of every enabled service into <catalog>/services/,
as ~/.sanctum/services/ gets them but with every secret shown as <secret:name>,
and removes manifests there that no service renders any more. With --check it
writes nothing and exits 2, with a diff, when the folder differs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The haus's own home (users.mac.home) stands for {{ .home }}:
			// what is checked in must not depend on who renders it.
			fsys, name, err := a.catalogFS()
			if err != nil {
				return err
			}
			cat, err := desired.Load(cmd.Context(), desired.Options{FS: fsys, Name: name,
				Secrets: desired.PlaceholderSecrets, ReferenceHome: true})
			if err != nil {
				return &exitError{ExitError, fmt.Errorf("invalid catalog:\n%w", err)}
			}
			if cat.Name == BuiltinCatalog && !check {
				return &exitError{ExitError, errors.New("render writes into a catalog directory: pass --catalog DIR")}
			}
			want := make(map[string][]byte)
			for _, s := range cat.Services {
				if !s.IsEnabled() {
					continue
				}
				b, err := controllers.RenderManifest(s, cat)
				if err != nil {
					return &exitError{ExitError, err}
				}
				want[path.Join(desired.ServicesDir, s.Name+".yaml")] = b
			}
			entries, err := fs.ReadDir(fsys, desired.ServicesDir)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return &exitError{ExitError, err}
			}
			have := make(map[string]bool)
			for _, e := range entries {
				if !e.IsDir() && strings.HasSuffix(e.Name(), ".yaml") {
					have[path.Join(desired.ServicesDir, e.Name())] = true
				}
			}
			names := make([]string, 0, len(want)+len(have))
			for n := range want {
				names = append(names, n)
			}
			for n := range have {
				if _, ok := want[n]; !ok {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			differ := 0
			for _, n := range names {
				cur, err := fs.ReadFile(fsys, n)
				if err != nil && !errors.Is(err, fs.ErrNotExist) {
					return &exitError{ExitError, err}
				}
				next, wanted := want[n]
				if wanted && have[n] && bytes.Equal(cur, next) {
					continue
				}
				differ++
				rel := path.Join(cat.Name, n)
				switch {
				case check && !wanted:
					fmt.Fprintf(a.cfg.Stdout, "%s: stale, no enabled service renders it\n", rel)
				case check:
					fmt.Fprint(a.cfg.Stdout, drift.Diff(rel, cur, next))
				case !wanted:
					if err := os.Remove(filepath.Join(cat.Name, n)); err != nil {
						return &exitError{ExitError, err}
					}
					fmt.Fprintf(a.cfg.Stdout, "removed %s\n", rel)
				default:
					if err := os.MkdirAll(filepath.Join(cat.Name, desired.ServicesDir), 0o755); err != nil {
						return &exitError{ExitError, err}
					}
					if err := renameio.WriteFile(filepath.Join(cat.Name, n), next, 0o644); err != nil {
						return &exitError{ExitError, err}
					}
					fmt.Fprintf(a.cfg.Stdout, "wrote %s\n", rel)
				}
			}
			if check && differ > 0 {
				fmt.Fprintf(a.cfg.Stdout, "%d rendered manifest(s) differ from %s; run reconcile render\n", differ, path.Join(cat.Name, desired.ServicesDir))
				return &exitError{code: ExitDrift}
			}
			if differ == 0 {
				fmt.Fprintf(a.cfg.Stdout, "%s: %d manifests up to date\n", path.Join(cat.Name, desired.ServicesDir), len(want))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "compare only; exit 2 with a diff when the rendered manifests differ")
	return cmd
}
