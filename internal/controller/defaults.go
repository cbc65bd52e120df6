package controller

import (
	"log/slog"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
)

// watchScope fills in the settings every watcher of this package shares
// the same defaults for: the clock, the namespaces it watches (all of them
// unless told), and its logger, tagged with the watcher's name so that the
// three of them can be told apart in one service's log.
func watchScope(now *func() time.Time, namespace *string, logger *slog.Logger, name string) *slog.Logger {
	if *now == nil {
		*now = time.Now
	}
	if *namespace == "" {
		*namespace = nomad.AllNamespaces
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return logger.With("controller", name)
}
