package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hashicorp/go-multierror"
	"github.com/spf13/cobra"

	"github.com/sanctum-haus/reconcile/controllers"
	"github.com/sanctum-haus/reconcile/desired"
)

// formats is the one output contract: the -o values each command's output
// knows, the first its default. Any other value is refused before the
// command runs, exit 1; a command not listed prints text only.
var formats = map[string][]string{
	"reconcile":          {"text", "json"},
	"reconcile apply":    {"text", "json"},
	"reconcile plan":     {"text", "json"},
	"reconcile validate": {"text", "json"},
	"reconcile version":  {"text", "json"},
	"reconcile history":  {"text", "json"},
	"reconcile status":   {"text", "json"},
	"reconcile graph":    {"dot", "svg", "png", "mermaid", "json"},
}

// formatsOf is what a command accepts.
func formatsOf(cmd *cobra.Command) []string {
	if f, ok := formats[cmd.CommandPath()]; ok {
		return f
	}
	return []string{"text"}
}

// checkOutput applies the contract to the command about to run: an
// unchanged -o is the command's default; any other value must be one the
// command knows.
func (a *app) checkOutput(cmd *cobra.Command) error {
	known := formatsOf(cmd)
	if !cmd.Flags().Changed("output") {
		a.output = known[0]
		return nil
	}
	if !slices.Contains(known, a.output) {
		return &exitError{ExitError, fmt.Errorf("-o %s: %s prints %s", a.output, cmd.CommandPath(), strings.Join(known, ", "))}
	}
	return nil
}

// countingWriter remembers whether anything was written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// jsonError is an error as -o json prints it on stdout.
type jsonError struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Object  string `json:"object,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// writeJSONError prints a failed command's errors as one JSON object, each
// catalog problem with its place, so that a tool reading -o json never
// finds stdout empty.
func (a *app) writeJSONError(w io.Writer, err error) {
	var list []jsonError
	for _, e := range flatten(err) {
		var de *desired.Error
		if errors.As(e, &de) {
			list = append(list, jsonError{File: de.File, Line: de.Line, Column: de.Column, Object: de.Object,
				Field: de.Field, Message: a.redact(de.Msg)})
			continue
		}
		list = append(list, jsonError{Message: a.redact(e.Error())})
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(struct {
		SchemaVersion int         `json:"schemaVersion"`
		Errors        []jsonError `json:"errors"`
	}{1, list})
}

// flatten lists the problems an error holds: every catalog problem of an
// invalid catalog, else the error itself.
func flatten(err error) []error {
	var out []error
	var walk func(error)
	walk = func(e error) {
		var de *desired.Error
		if errors.As(e, &de) && e == error(de) {
			out = append(out, de)
			return
		}
		switch u := e.(type) {
		case *multierror.Error:
			for _, x := range u.Errors {
				walk(x)
			}
			return
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
			return
		case interface{ Unwrap() error }:
			if inner := u.Unwrap(); inner != nil {
				n := len(out)
				walk(inner)
				if len(out) > n && hasLocated(out[n:]) {
					return
				}
				out = out[:n]
			}
		}
		out = append(out, e)
	}
	if err != nil {
		walk(err)
	}
	return out
}

func hasLocated(errs []error) bool {
	for _, e := range errs {
		var de *desired.Error
		if errors.As(e, &de) {
			return true
		}
	}
	return false
}

// colorWanted: colour only on a terminal that can show it, never with
// NO_COLOR or TERM=dumb.
func colorWanted(terminal bool, getenv func(string) string) bool {
	return terminal && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
}

// completeOutput offers the -o values of the command being completed.
func completeOutput(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	return formatsOf(cmd), cobra.ShellCompDirectiveNoFileComp
}

// completeRunIDs offers the run ids that have backups in the home.
func (a *app) completeRunIDs(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	host, done, err := a.readHome()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer done()
	entries, _ := host.ReadDir(controllers.BackupsDir)
	var ids []string
	for _, e := range entries {
		if e.IsDir() {
			if _, err := controllers.ReadBackupIndex(host, e.Name()); err == nil {
				ids = append(ids, e.Name())
			}
		}
	}
	slices.Sort(ids)
	slices.Reverse(ids) // newest first
	return ids, cobra.ShellCompDirectiveNoFileComp
}

// shells cobra's completion command writes scripts for.
var shells = []string{"bash", "zsh", "fish", "powershell"}

// strictCompletion makes `completion <shell>` refuse a shell it has no
// script for (exit 1) instead of printing help and succeeding.
func strictCompletion(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return &exitError{ExitError, fmt.Errorf("completion %s: no script for that shell; want %s", args[0], strings.Join(shells, ", "))}
		}
	}
}
