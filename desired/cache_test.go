package desired

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
)

const testBinary = "reconcile test-build"

// cacheHome is a home with the one secret the shipped catalog needs.
func cacheHome(t *testing.T, token string) string {
	t.Helper()
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, SecretDir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, SecretDir, "openclaw-gateway-token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return home
}

// shippedFS is the shipped catalog as a map, so that a test may edit it.
func shippedFS(t *testing.T) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	root := "../sanctum"
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".go") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		m[filepath.ToSlash(rel)] = &fstest.MapFile{Data: data, Mode: 0o644}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var catalogCompare = cmp.Options{cmpopts.IgnoreUnexported(Catalog{}), cmpopts.IgnoreFields(Catalog{}, "FS", "FromCache")}

// A cached catalog is the catalog a load gives, to the last nil and empty
// list; it is used only while every input is unchanged.
func TestCatalogCache(t *testing.T) {
	ctx := context.Background()
	home := cacheHome(t, "tok-cache-0123456789")
	fsys := shippedFS(t)
	// An explicit empty list must stay empty (a manifest renders it as []),
	// not become absent.
	fsys["extra.yaml"] = &fstest.MapFile{Data: []byte("apiVersion: sanctum.haus/v1\nkind: Service\nmetadata: {name: empty-lists}\nspec:\n  host: mac\n  provides: []\n  dependsOn: []\n")}
	opts := Options{FS: fsys, Name: "sanctum", Home: home, Secrets: ResolveSecrets}
	fresh, err := Load(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	data, err := EncodeCache(fresh, opts, testBinary)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "tok-cache-0123456789") {
		t.Fatal("the cache holds a secret in the clear")
	}
	cached, err := LoadCached(ctx, opts, data, testBinary)
	if err != nil {
		t.Fatal(err)
	}
	if !cached.FromCache {
		t.Fatal("an unchanged catalog did not come from the cache")
	}
	if diff := cmp.Diff(fresh, cached, catalogCompare); diff != "" {
		t.Errorf("cached catalog differs (-fresh +cached):\n%s", diff)
	}
	var empty *v1.Service
	for _, s := range cached.Services {
		if s.Name == "empty-lists" {
			empty = s
		}
	}
	if empty == nil || empty.Spec.Provides == nil || len(empty.Spec.Provides) != 0 {
		t.Errorf("provides: [] came back as %#v", empty)
	}
	if _, err := EncodeCache(cached, opts, testBinary); err == nil {
		t.Error("a catalog from the cache was cached again")
	}

	stale := map[string]func() (Options, string){
		"another binary": func() (Options, string) { return opts, "reconcile other-build" },
		"another home": func() (Options, string) {
			o := opts
			o.Home = cacheHome(t, "tok-cache-0123456789")
			return o, testBinary
		},
		"a rotated secret": func() (Options, string) {
			o := opts
			o.Home = home
			if err := os.WriteFile(filepath.Join(home, SecretDir, "openclaw-gateway-token"), []byte("tok-rotated\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_ = os.WriteFile(filepath.Join(home, SecretDir, "openclaw-gateway-token"), []byte("tok-cache-0123456789\n"), 0o600)
			})
			return o, testBinary
		},
		"an edited object file": func() (Options, string) {
			m := cloneFS(fsys)
			m["catalog.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(string(m["catalog.yaml"].Data), "Voice Agent", "Voice Agent 2", 1))}
			o := opts
			o.FS = m
			return o, testBinary
		},
		"an edited persona source": func() (Options, string) {
			m := cloneFS(fsys)
			for name, f := range m {
				if strings.HasPrefix(name, "personas/") && strings.HasSuffix(name, "/SOUL.md") {
					m[name] = &fstest.MapFile{Data: append(append([]byte{}, f.Data...), "more\n"...)}
					break
				}
			}
			o := opts
			o.FS = m
			return o, testBinary
		},
		"a new object file": func() (Options, string) {
			m := cloneFS(fsys)
			m["more.yaml"] = &fstest.MapFile{Data: []byte("# nothing yet\n")}
			o := opts
			o.FS = m
			return o, testBinary
		},
		"an optional file that appeared": func() (Options, string) {
			m := cloneFS(fsys)
			if _, ok := m[CapabilitiesFile]; !ok {
				m[CapabilitiesFile] = &fstest.MapFile{Data: []byte("{}\n")}
			} else {
				delete(m, CapabilitiesFile)
			}
			o := opts
			o.FS = m
			return o, testBinary
		},
		"placeholder secrets": func() (Options, string) {
			o := opts
			o.Secrets = PlaceholderSecrets
			return o, testBinary
		},
	}
	for name, mk := range stale {
		t.Run(name, func(t *testing.T) {
			o, bin := mk()
			got, err := LoadCached(ctx, o, data, bin)
			if err != nil {
				t.Fatal(err)
			}
			if got.FromCache {
				t.Fatal("a stale cache was used")
			}
			want, err := Load(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, catalogCompare); diff != "" {
				t.Errorf("(-load +cached):\n%s", diff)
			}
		})
	}
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("nope"),
		"truncated": data[:len(data)/2],
		"flipped":   append(append([]byte{}, data[:len(data)-5]...), data[len(data)-5]^1, 0, 0, 0, 0),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := LoadCached(ctx, opts, bad, testBinary)
			if err != nil {
				t.Fatal(err)
			}
			if got.FromCache {
				t.Fatal("a damaged cache was used")
			}
		})
	}
}

func cloneFS(m fstest.MapFS) fstest.MapFS {
	out := fstest.MapFS{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// No field the catalog cache encodes is omitempty: the json tags'
// omitempty, which cbor honours when there is no cbor tag, would turn an
// explicit empty list into an absent one (and "provides: []" into the
// service's own name).
func TestCatalogCacheTags(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type, string)
	walk = func(ty reflect.Type, at string) {
		for ty.Kind() == reflect.Pointer || ty.Kind() == reflect.Slice || ty.Kind() == reflect.Map || ty.Kind() == reflect.Array {
			if ty.Kind() == reflect.Map {
				walk(ty.Key(), at+"[key]")
			}
			ty = ty.Elem()
		}
		if ty.Kind() != reflect.Struct || seen[ty] || !strings.HasPrefix(ty.PkgPath(), "github.com/sanctum-haus/reconcile/") {
			return
		}
		seen[ty] = true
		for i := range ty.NumField() {
			f := ty.Field(i)
			if !f.IsExported() {
				continue
			}
			// The cbor tag, or else the json tag, is what the encoding
			// reads.
			tag, ok := f.Tag.Lookup("cbor")
			if !ok {
				tag = f.Tag.Get("json")
			}
			if strings.Contains(tag, "omitempty") {
				t.Errorf("%s.%s (%s): tag %q has omitempty; give it a cbor tag without", ty, f.Name, at, tag)
			}
			if tag != "-" {
				walk(f.Type, at+"."+f.Name)
			}
		}
	}
	walk(reflect.TypeOf(Catalog{}), "Catalog")
	if len(seen) < 10 {
		t.Fatalf("walked only %d types", len(seen))
	}
}

// A decoder that panics on a worker goroutine fails that chunk, never the
// process (issue 13): the others still run, and the error says which.
func TestRunDecodeJobsPanicIsAnError(t *testing.T) {
	var ran atomic.Int64
	jobs := make([]func() error, 12)
	for i := range jobs {
		jobs[i] = func() error {
			ran.Add(1)
			if i == 7 {
				var m map[string]int
				m["x"] = 1 // a nil map write: a runtime panic
			}
			return nil
		}
	}
	err := runDecodeJobs(jobs)
	if err == nil || !strings.Contains(err.Error(), "catalog cache: chunk 7: the decoder failed (panic: assignment to entry in nil map)") {
		t.Fatalf("error %v, want chunk 7's panic", err)
	}
	if ran.Load() != 12 {
		t.Errorf("%d jobs ran, want 12", ran.Load())
	}
}
