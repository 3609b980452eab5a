package controllers

import (
	"context"

	v1 "github.com/sanctum-haus/reconcile/api/v1"
	"github.com/sanctum-haus/reconcile/desired"
	"github.com/sanctum-haus/reconcile/drift"
)

// CalibrationController keeps the files the instance settings imply
// (.instance.json, agent-capabilities.yaml) equal to their catalog sources.
type CalibrationController struct{}

// Kind implements Controller.
func (CalibrationController) Kind() string { return v1.KindCalibrationFile }

// Reconcile implements Controller.
func (CalibrationController) Reconcile(ctx context.Context, p *Pass, cat *desired.Catalog) []drift.Change {
	targets := make([]FileTarget, 0, len(cat.Calibration))
	for _, c := range cat.Calibration {
		targets = append(targets, FileTarget{Kind: v1.KindCalibrationFile, Name: c.Name, Path: c.Spec.Path, Content: c.Spec.Content})
	}
	return p.Files(ctx, targets)
}
