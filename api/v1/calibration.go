package v1

import "k8s.io/apimachinery/pkg/util/validation/field"

// KindCalibrationFile is the kind of the files the instance settings imply
// (~/.sanctum/.instance.json, ~/.sanctum/config/agent-capabilities.yaml). A
// catalog never declares one; desired compiles them from the catalog.
const KindCalibrationFile = "CalibrationFile"

// CalibrationFile is one file under HOME whose bytes follow from a catalog file.
type CalibrationFile struct {
	TypeMeta   `yaml:",inline" json:",inline"`
	ObjectMeta `yaml:"metadata" json:"metadata" cbor:"metadata"`
	Spec       CalibrationFileSpec `yaml:"spec" json:"spec" cbor:"spec"`
}

// CalibrationFileSpec says where the file goes and where it comes from.
type CalibrationFileSpec struct {
	// Path is relative to HOME, slash-separated.
	Path string `yaml:"path" json:"path" cbor:"path"`
	// Source is the catalog file it is derived from.
	Source string `yaml:"source" json:"source" cbor:"source"`
	// Content is the rendered bytes.
	Content []byte `yaml:"-" json:"-" cbor:"content"`
}

// GetKind implements Object.
func (c *CalibrationFile) GetKind() string { return KindCalibrationFile }

// GetName implements Object.
func (c *CalibrationFile) GetName() string { return c.Name }

// Validate implements Object.
func (c *CalibrationFile) Validate() field.ErrorList {
	errs := validateMeta(c.TypeMeta, c.ObjectMeta, KindCalibrationFile)
	if c.Spec.Path == "" {
		errs = append(errs, field.Required(field.NewPath("spec", "path"), ""))
	}
	return errs
}
