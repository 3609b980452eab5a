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
writes nothing and exits 2, with a diff, when the folder differs: a patch that
git apply (or patch -p1) takes, run from the working directory when the
catalog is under it (else from the catalog's parent), paths such as
a/sanctum/services/x.yaml; a new manifest comes from /dev/null, a stale one
goes to it. Every manifest starts with a generated-by line naming its
object and catalog file.`,
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
			patchDir := patchPath(cat.Name)
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
					fmt.Fprint(a.cfg.Stdout, drift.DeletedDiff(path.Join(patchDir, n), cur))
				case check && !have[n]:
					fmt.Fprint(a.cfg.Stdout, drift.CreatedDiff(path.Join(patchDir, n), next))
				case check:
					fmt.Fprint(a.cfg.Stdout, drift.Diff(path.Join(patchDir, n), cur, next))
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

// patchPath is the catalog directory as render --check's diffs name it
// (a/<it>/services/x.yaml): relative to the working directory when the
// catalog is under it, so that git apply run there takes the diff as it
// is; else the directory's own name (apply it from the catalog's parent).
// Never a/ followed by an absolute path, which no patch tool applies.
func patchPath(catalog string) string {
	if catalog == BuiltinCatalog {
		return catalog
	}
	abs, err := filepath.Abs(catalog)
	if err != nil {
		return filepath.ToSlash(filepath.Clean(catalog))
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.Base(abs)
}
