package controllers

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"path"
	"strings"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
)

// CalibrationController keeps the files the instance settings imply
// (.instance.json, instance.yaml, agent-capabilities.yaml) equal to their
// catalog sources.
type CalibrationController struct{}

// Kind implements Controller.
func (CalibrationController) Kind() string { return v1.KindCalibrationFile }

// Reconcile implements Controller.
func (CalibrationController) Reconcile(ctx context.Context, p *Pass, cat *desired.Catalog) []drift.Change {
	files := cat.Calibration
	if cat.InstanceCopy != nil {
		files = append(files[:len(files):len(files)], cat.InstanceCopy)
	}
	targets := make([]FileTarget, 0, len(files))
	invalid := make(map[string]string)
	for _, c := range files {
		targets = append(targets, FileTarget{Kind: v1.KindCalibrationFile, Name: c.Name, Path: c.Spec.Path, Content: c.Spec.Content})
		if c.Spec.Path == desired.InstanceYAMLPath {
			if why := p.hostInstanceProblem(c); why != "" {
				invalid[c.Name] = why
			}
		}
	}
	changes := p.Files(ctx, targets)
	for i, c := range changes {
		if why, ok := invalid[c.Name]; ok && (c.Action == drift.Configured || c.Action == drift.Failed) {
			if changes[i].Reason != "" {
				changes[i].Reason += "; "
			}
			changes[i].Reason += why
		}
	}
	return changes
}

// hostInstanceProblem validates the host's instance.yaml, as the tools
// that read it would, when it is not the catalog's: the reason a divergent
// copy that does not even parse is drift, with each parse error located.
func (p *Pass) hostInstanceProblem(c *v1.CalibrationFile) string {
	data, _, err := p.Host.ReadFile(c.Spec.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ""
	case err != nil:
		return "" // the file engine reports it
	case bytes.Equal(data, c.Spec.Content):
		return ""
	}
	if err := desired.ParseInstance("~/"+path.Dir(c.Spec.Path), data); err != nil {
		return "host copy is invalid: " + strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	return ""
}
