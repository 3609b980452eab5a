package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// APIVersion is the only apiVersion this build understands.
const APIVersion = "sanctum.haus/v1"

// TypeMeta mirrors metav1.TypeMeta with yaml tags, so that strict yaml.v3
// decoding sees apiVersion (metav1's own struct would be read as "apiversion").
type TypeMeta struct {
	APIVersion string `yaml:"apiVersion" json:"apiVersion" cbor:"apiVersion"`
	Kind       string `yaml:"kind" json:"kind" cbor:"kind"`
}

// ObjectMeta is the subset of metav1.ObjectMeta a catalog object may carry.
type ObjectMeta struct {
	Name        string            `yaml:"name" json:"name" cbor:"name"`
	Labels      map[string]string `yaml:"labels,omitempty" json:"labels,omitempty" cbor:"labels"`
	Annotations map[string]string `yaml:"annotations,omitempty" json:"annotations,omitempty" cbor:"annotations"`
}

// Status is what a controller reports back about one object.
type Status struct {
	ObservedGeneration int64              `yaml:"observedGeneration,omitempty" json:"observedGeneration,omitempty" cbor:"observedGeneration"`
	Conditions         []metav1.Condition `yaml:"conditions,omitempty" json:"conditions,omitempty" cbor:"conditions"`
}

// Object is what every kind has in common.
type Object interface {
	GetKind() string
	GetName() string
	// Validate checks what the object can check on its own; paths are
	// relative to the object's root (metadata.name, spec.port, ...).
	Validate() field.ErrorList
}

// validateMeta checks apiVersion, kind and metadata of any object.
func validateMeta(tm TypeMeta, om ObjectMeta, kind string) field.ErrorList {
	var errs field.ErrorList
	if tm.APIVersion != APIVersion {
		errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), tm.APIVersion, []string{APIVersion}))
	}
	namePath := field.NewPath("metadata", "name")
	if om.Name == "" {
		errs = append(errs, field.Required(namePath, "every "+kind+" needs a name"))
	} else {
		for _, msg := range validation.IsDNS1123Label(om.Name) {
			errs = append(errs, field.Invalid(namePath, om.Name, msg))
		}
	}
	for k, v := range om.Labels {
		for _, msg := range validation.IsQualifiedName(k) {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "labels").Key(k), k, msg))
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "labels").Key(k), v, msg))
		}
	}
	return errs
}
