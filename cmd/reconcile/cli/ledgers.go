package cli

import (
	"io/fs"
	"path"

	"github.com/sanctum-haus/reconcile/controllers"
	"github.com/sanctum-haus/reconcile/observed"
)

// ledgerHost passes every record reconcile keeps about itself under
// ~/.sanctum/state (the state, the persona ledger, each run's backup index,
// the history) through the secret mask before it is written, so that no
// reason, error or node message is persisted with a secret in any spelling
// of it. Managed files, backups and the index go through untouched: they
// must hold what they hold (the ones with secrets are 0600; the index holds
// digests, and masks its own node records).
type ledgerHost struct {
	observed.Host
	mask func([]byte) []byte
}

var _ observed.Host = ledgerHost{}

// maskLedgers wraps h (nil stays nil). The mask is the app's redactor at
// the time of the write: rollback learns the secrets after its session
// began.
func (a *app) maskLedgers(h observed.Host) observed.Host {
	if h == nil {
		return nil
	}
	return ledgerHost{Host: h, mask: func(b []byte) []byte { return a.redactor.JSON(b) }}
}

// isLedger names the files that are reconcile's own JSON records.
func isLedger(name string) bool {
	switch name {
	case controllers.StateFile, controllers.PersonaLedgerFile, controllers.HistoryFile, controllers.HealthRecordFile:
		return true
	}
	return path.Base(name) == "index.json" && path.Dir(path.Dir(name)) == controllers.BackupsDir
}

func (h ledgerHost) WriteFile(name string, data []byte, perm fs.FileMode) error {
	if isLedger(name) {
		data = h.mask(data)
	}
	return h.Host.WriteFile(name, data, perm)
}

func (h ledgerHost) AppendFile(name string, data []byte, perm fs.FileMode) error {
	if isLedger(name) {
		data = h.mask(data)
	}
	return h.Host.AppendFile(name, data, perm)
}

// Plans implements observed's planner: as the host it wraps.
func (h ledgerHost) Plans() bool { return observed.Plans(h.Host) }
