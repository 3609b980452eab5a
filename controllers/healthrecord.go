package controllers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/sanctum-haus/reconcile/observed"
)

// HealthRecordFile is the health record, relative to HOME: per service
// its last recorded state and since when it has been in it. Only
// `reconcile status --record` writes it.
const HealthRecordFile = StateDir + "/health.json"

// HealthRecordSchemaVersion is the version of health.json.
const HealthRecordSchemaVersion = 1

// HealthRecord is health.json: when status last recorded, and per service
// its state then and since when it has held it. It holds names, states
// and times only, never a probe's detail.
type HealthRecord struct {
	SchemaVersion int                          `json:"schemaVersion"`
	Time          time.Time                    `json:"time"`
	Services      map[string]HealthRecordEntry `json:"services"`
}

// HealthRecordEntry is one service's recorded state.
type HealthRecordEntry struct {
	State string    `json:"state"`
	Since time.Time `json:"since"`
}

// NewHealthRecord is an empty record: nothing recorded yet.
func NewHealthRecord() *HealthRecord {
	return &HealthRecord{SchemaVersion: HealthRecordSchemaVersion, Services: map[string]HealthRecordEntry{}}
}

// LoadHealthRecord reads health.json; none yet is an empty record.
func LoadHealthRecord(host observed.Host) (*HealthRecord, error) {
	data, _, err := host.ReadFile(HealthRecordFile)
	if errors.Is(err, fs.ErrNotExist) {
		return NewHealthRecord(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("~/%s: %w", HealthRecordFile, err)
	}
	var r HealthRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("~/%s: %w", HealthRecordFile, err)
	}
	if r.SchemaVersion != HealthRecordSchemaVersion {
		return nil, fmt.Errorf("~/%s: schemaVersion %d, want %d", HealthRecordFile, r.SchemaVersion, HealthRecordSchemaVersion)
	}
	if r.Services == nil {
		r.Services = map[string]HealthRecordEntry{}
	}
	return &r, nil
}

// Durations sets each service's Since and For: a service judged by its
// systemd unit keeps the unit's own time; any other takes the record's
// since when the record holds it in the state it is in now. A service
// whose state changed since the record, or that the record lacks, has no
// since, unless record is set: then it starts now. The record of this
// report is returned (what `status --record` writes): every service of
// the report with its state and since.
func (r *HealthRecord) Durations(rep *HealthReport, now time.Time, record bool) *HealthRecord {
	now = now.UTC().Truncate(time.Second)
	next := &HealthRecord{SchemaVersion: HealthRecordSchemaVersion, Time: now, Services: make(map[string]HealthRecordEntry, len(rep.Services))}
	for i := range rep.Services {
		s := &rep.Services[i]
		if s.Since == nil {
			if prev, ok := r.Services[s.Name]; ok && prev.State == s.State && !prev.Since.IsZero() && !prev.Since.After(now) {
				since := prev.Since.UTC()
				s.Since = &since
			} else if record {
				since := now
				s.Since = &since
			}
		}
		if s.Since == nil {
			s.For = nil
			continue
		}
		secs := int64(now.Sub(s.Since.UTC().Truncate(time.Second)) / time.Second)
		if secs < 0 {
			secs = 0
		}
		s.For = &secs
		next.Services[s.Name] = HealthRecordEntry{State: s.State, Since: s.Since.UTC()}
	}
	return next
}

// WriteHealthRecord writes health.json atomically, 0600, into the state
// directory (0700).
func WriteHealthRecord(host observed.Host, r *HealthRecord) error {
	if err := host.MkdirAll(StateDir, 0o700); err != nil {
		return err
	}
	return writeJSON(host, HealthRecordFile, r, 0o600)
}
