package cli

import (
	"bytes"
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/renameio/v2"
	"github.com/spf13/cobra"

	"github.com/sanctum-haus/reconcile/controllers"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
	"github.com/sanctum-haus/reconcile/observed"
	"github.com/sanctum-haus/reconcile/observed/regular"
)

// A saved plan is Terraform's `plan -out`: the dry run's report, and what
// `reconcile apply FILE` needs to know that it still holds: the digests of
// the catalog, of the secrets and of the last pass's record, and a digest
// of every file, launchd answer and remote file the dry run read. Never a
// secret value: the report is masked as -o json prints it, and the secrets
// are one salted, slow digest.

// PlanSchemaVersion is the version of a saved plan file.
const PlanSchemaVersion = 1

// savedPlan is the plan file.
type savedPlan struct {
	SchemaVersion int `json:"schemaVersion"`
	// Home, Catalog and Local are the pass's identity: apply FILE runs
	// with the same ones or not at all. CatalogPath is the catalog
	// directory, absolute (builtin:example for the embedded one).
	Home          string `json:"home"`
	Catalog       string `json:"catalog"`
	CatalogPath   string `json:"catalogPath"`
	Local         bool   `json:"local"`
	CatalogDigest string `json:"catalogDigest"`
	SecretsDigest string `json:"secretsDigest"`
	// StateDigest is the last pass's record (inventory, loaded agents) as
	// the dry run decided on it.
	StateDigest string          `json:"stateDigest"`
	Reads       []observed.Read `json:"reads"`
	Nodes       []planNode      `json:"nodes"`
	// Report is the dry run's report, exactly as -o json prints it.
	Report json.RawMessage `json:"report"`
	// Target is the plan's scope (objects, -l, --node); apply FILE applies
	// within it. Absent: the whole catalog.
	Target *target `json:"target,omitempty"`
}

// planNode is how to reach a node the plan read from, again.
type planNode struct {
	Name        string `json:"name"`
	Destination string `json:"destination"`
	Port        int    `json:"port,omitempty"`
	TimeoutMs   int64  `json:"timeoutMs"`
	Home        string `json:"home,omitempty"`
}

// planHook is what runPass does for a saved plan: with saved nil, the dry
// run of `plan --out FILE` records its reads and writes FILE; with saved
// set, `apply FILE` checks, under the lock, that nothing the plan read
// has moved, and afterwards that it did what the plan said.
type planHook struct {
	file  string
	saved *savedPlan

	log         *observed.ReadLog
	stateDigest string
}

// observe runs once the pass holds its lock (apply) and has read the last
// pass's record, before the controllers run.
func (h *planHook) observe(ctx context.Context, host observed.Host, launchd observed.Launchd, remote observed.Remote,
	systemd, system observed.Systemd, state *controllers.State, cat *desired.Catalog) (observed.Host, observed.Launchd, observed.Remote, observed.Systemd, observed.Systemd, error) {
	if h.saved == nil {
		h.log, h.stateDigest = observed.NewReadLog(), stateDigest(state)
		return observed.RecordingHost{Host: host, Log: h.log},
			observed.RecordingLaunchd{Launchd: launchd, Log: h.log},
			observed.RecordingRemote{Remote: remote, Log: h.log},
			observed.RecordingSystemd{Systemd: systemd, Log: h.log},
			observed.RecordingSystemd{Systemd: system, Log: h.log, System: true}, nil
	}
	p := h.saved
	var moved []string
	if cat.Digest != p.CatalogDigest {
		moved = append(moved, fmt.Sprintf("catalog %s changed since the plan", cat.Name))
	}
	if !secretsMatch(p.SecretsDigest, cat.SecretValues) {
		moved = append(moved, "a secret the catalog uses changed since the plan")
	}
	if stateDigest(state) != p.StateDigest {
		moved = append(moved, "~/"+controllers.StateFile+" changed since the plan (another pass ran)")
	}
	nodes := make([]observed.RemoteNode, len(p.Nodes))
	for i, n := range p.Nodes {
		nodes[i] = observed.RemoteNode{Name: n.Name, Destination: n.Destination, Port: n.Port,
			Timeout: time.Duration(n.TimeoutMs) * time.Millisecond, Home: n.Home}
	}
	seen := map[string]bool{}
	rereads := append(observed.Reread(ctx, p.Reads, host, launchd, remote, nodes), observed.RereadUnits(ctx, p.Reads, systemd, false)...)
	rereads = append(rereads, observed.RereadUnits(ctx, p.Reads, system, true)...)
	for _, m := range rereads {
		if d := observed.Describe(m.Key); !seen[d] {
			seen[d] = true
			moved = append(moved, d+" changed since the plan")
		}
	}
	if len(moved) > 0 {
		return nil, nil, nil, nil, nil, &exitError{ExitError, fmt.Errorf("the plan in %s no longer holds; nothing was applied:\n  %s\n"+
			"make a new one with `reconcile plan --out %s`", h.file, strings.Join(moved, "\n  "), h.file)}
	}
	return host, launchd, remote, systemd, system, nil
}

// done runs after the pass has been reported.
func (h *planHook) done(a *app, mode mode, runID string, now time.Time, home string, cat *desired.Catalog,
	cs *drift.ChangeSet, runErr error, pass *controllers.Pass) error {
	if runErr != nil {
		if h.saved == nil {
			fmt.Fprintf(a.cfg.Stderr, "reconcile: no plan saved: the dry run failed\n")
		}
		return nil // the pass's own error says the rest
	}
	if h.saved != nil {
		return h.followed(cs)
	}
	if len(pass.Incomplete) > 0 {
		fmt.Fprintf(a.cfg.Stderr, "reconcile: no plan saved: required node(s) %s unreachable\n", strings.Join(pass.Incomplete, ", "))
		return nil
	}
	report, err := a.jsonReport(mode, runID, now, home, cat, cs, runErr, pass)
	if err != nil {
		return &exitError{ExitError, err}
	}
	_, catPath, err := a.catalogIdentity()
	if err != nil {
		return err
	}
	secrets, err := secretsDigest(cat.SecretValues)
	if err != nil {
		return &exitError{ExitError, err}
	}
	p := &savedPlan{
		SchemaVersion: PlanSchemaVersion, Home: home, Catalog: cat.Name, CatalogPath: catPath, Local: a.local,
		CatalogDigest: cat.Digest, SecretsDigest: secrets, StateDigest: h.stateDigest,
		Reads: h.log.Reads(), Nodes: []planNode{}, Report: report,
	}
	if !a.target.empty() {
		t := a.target
		p.Target = &t
	}
	for _, n := range h.log.Nodes() {
		p.Nodes = append(p.Nodes, planNode{Name: n.Name, Destination: n.Destination, Port: n.Port,
			TimeoutMs: n.Timeout.Milliseconds(), Home: n.Home})
	}
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return &exitError{ExitError, err}
	}
	data = a.redactor.JSON(data) // the report is masked; node messages and errors too
	if err := renameio.WriteFile(h.file, append(data, '\n'), 0o600, renameio.WithStaticPermissions(0o600)); err != nil {
		return &exitError{ExitError, fmt.Errorf("save plan: %w", err)}
	}
	fmt.Fprintf(a.cfg.Stderr, "reconcile: plan saved to %s; `reconcile apply %s` (same --home, --catalog, --local) applies exactly it\n", h.file, h.file)
	return nil
}

// followed compares what apply did with what the plan said it would:
// with the reads checked under the lock the two agree, and if they do not
// the user must hear it.
func (h *planHook) followed(cs *drift.ChangeSet) error {
	var planned struct {
		Changes []drift.Change `json:"changes"`
	}
	if err := json.Unmarshal(h.saved.Report, &planned); err != nil {
		return &exitError{ExitError, fmt.Errorf("plan %s: report: %w", h.file, err)}
	}
	count := map[string]int{}
	for _, k := range changeKeys(planned.Changes) {
		count[k]++
	}
	for _, k := range changeKeys(cs.Changes) {
		count[k]--
	}
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(count)) {
		switch n := count[k]; {
		case n > 0:
			lines = append(lines, "planned, not done: "+k)
		case n < 0:
			lines = append(lines, "done, not planned: "+k)
		}
	}
	if len(lines) > 0 {
		return &exitError{ExitError, fmt.Errorf("apply did not do what the plan in %s said:\n  %s", h.file, strings.Join(lines, "\n  "))}
	}
	return nil
}

func changeKeys(cs []drift.Change) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = fmt.Sprintf("%s/%s %s %s", c.Kind, c.Name, c.Action, strings.Join(nonEmpty(c.Node, c.Path, c.Target), " "))
	}
	sort.Strings(out)
	return out
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, x := range s {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}

// stateDigest digests the last pass's record as a pass decodes it.
func stateDigest(s *controllers.State) string {
	data, err := json.Marshal(s)
	if err != nil {
		return "error"
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Secrets are digested slowly and with a salt of the plan's own: a plan
// file may travel (a CI artifact), and a fast unsalted sha256 of a short
// secret is a guess away from the secret.
const secretsIterations = 100_000

func secretsInput(values []string) string {
	vs := append([]string(nil), values...)
	sort.Strings(vs)
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "%d:%s\x00", len(v), v)
	}
	return b.String()
}

// secretsDigest is "pbkdf2-sha256:<iterations>:<salt>:<key>", or "none".
func secretsDigest(values []string) (string, error) {
	if len(values) == 0 {
		return "none", nil
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := pbkdf2.Key(sha256.New, secretsInput(values), salt, secretsIterations, 32)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("pbkdf2-sha256:%d:%s:%s", secretsIterations, hex.EncodeToString(salt), hex.EncodeToString(key)), nil
}

func secretsMatch(digest string, values []string) bool {
	if digest == "none" || len(values) == 0 {
		return digest == "none" && len(values) == 0
	}
	f := strings.Split(digest, ":")
	if len(f) != 4 || f[0] != "pbkdf2-sha256" {
		return false
	}
	iter, err1 := strconv.Atoi(f[1])
	salt, err2 := hex.DecodeString(f[2])
	want, err3 := hex.DecodeString(f[3])
	if err1 != nil || err2 != nil || err3 != nil || iter < 1 || iter > 10*secretsIterations {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, secretsInput(values), salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// jsonReport is the report exactly as -o json prints it.
func (a *app) jsonReport(mode mode, runID string, now time.Time, home string, cat *desired.Catalog,
	cs *drift.ChangeSet, runErr error, pass *controllers.Pass) (json.RawMessage, error) {
	var buf bytes.Buffer
	cfg := *a.cfg
	cfg.Stdout = &buf
	b := *a
	b.cfg, b.output = &cfg, "json"
	if err := b.report(mode, runID, now, home, cat, cs, runErr, factsOf(pass, "")); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// catalogIdentity is the catalog's name and where it is: its absolute
// directory, or builtin:example.
func (a *app) catalogIdentity() (string, string, error) {
	name, err := a.catalogName()
	if err != nil {
		return "", "", err
	}
	if name == BuiltinCatalog {
		return name, name, nil
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return "", "", &exitError{ExitError, err}
	}
	return name, abs, nil
}

func (a *app) planCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "plan [KIND/NAME ...] [-l SELECTOR] [--node NAME ...] [--out FILE]",
		Short: "The dry run; with --out, save the plan for `reconcile apply FILE`",
		Long: `plan is the dry run (reconcile --dry-run): the full plan with diffs, nothing
written. With --out FILE it also saves the plan (0600): the JSON report and a
digest of the catalog, of the secrets (never a value), of the last pass's
record and of every file, launchd answer and remote file it read.
` + "`reconcile apply FILE`" + ` applies exactly that plan, and refuses (exit 1, nothing
written, naming what moved) when anything it read has changed since.`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: a.completeObjects,
		RunE: func(cmd *cobra.Command, args []string) error {
			objects, err := parseObjects(args)
			if err != nil {
				return err
			}
			a.target.Objects = objects
			var o passOptions
			if out != "" {
				o.plan = &planHook{file: out}
			}
			return a.runPass(cmd.Context(), modeDryRun, o)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "save the plan to FILE (0600) for `reconcile apply FILE`")
	a.verboseFlag(cmd)
	a.targetFlags(cmd)
	return cmd
}

// applyPlan is `reconcile apply FILE`: the apply of one saved plan, run
// with the plan's home, catalog and --local, and only while everything
// the plan read still holds.
func (a *app) applyPlan(ctx context.Context, file string, o passOptions) error {
	if o.scheduled {
		return &exitError{ExitError, errors.New("apply FILE does not go with --scheduled: a scheduled pass applies the catalog as it is")}
	}
	data, err := regular.ReadFile(file, observed.DefaultStateFileBytes)
	if err != nil {
		return &exitError{ExitError, fmt.Errorf("plan: %w", err)}
	}
	var p savedPlan
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return &exitError{ExitError, fmt.Errorf("plan %s: not a saved plan: %w", file, err)}
	}
	if p.SchemaVersion != PlanSchemaVersion {
		return &exitError{ExitError, fmt.Errorf("plan %s has schemaVersion %d; this reconcile reads %d", file, p.SchemaVersion, PlanSchemaVersion)}
	}
	home, _, err := a.resolveHome()
	if err != nil {
		return err
	}
	var wrong []string
	if home != p.Home {
		wrong = append(wrong, fmt.Sprintf("it is for home %s, this apply's is %s (--home)", p.Home, home))
	}
	if _, where, err := a.catalogIdentity(); err != nil {
		return err
	} else if where != p.CatalogPath {
		wrong = append(wrong, fmt.Sprintf("it is for catalog %s, this apply's is %s (--catalog)", p.CatalogPath, where))
	}
	if p.Local != a.local {
		wrong = append(wrong, fmt.Sprintf("it was made with --local=%t, this apply has --local=%t", p.Local, a.local))
	}
	if len(wrong) > 0 {
		return &exitError{ExitError, fmt.Errorf("plan %s does not fit this apply; nothing was applied:\n  %s", file, strings.Join(wrong, "\n  "))}
	}
	if p.Target != nil {
		a.target = *p.Target
	}
	o.plan = &planHook{file: file, saved: &p}
	return a.runPass(ctx, modeApply, o)
}
