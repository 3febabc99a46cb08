package server

import (
	"context"
	"errors"
	"fmt"

	"breakwater/internal/firewall"
	"breakwater/internal/telemetry"
)

// Start begins the background work: keeping the vulnerability data fresh
// and judging cached images again whenever it changes (and once now, as
// the policies may have changed since the last run). It logs at Warn why
// breakwater is not ready, if it is not. Call it once; Close stops what it
// started.
func (a *Server) Start(ctx context.Context) {
	ctx, a.stop = context.WithCancel(context.WithoutCancel(ctx))
	a.done = make(chan struct{})
	a.startStats(ctx)
	if a.firewall == nil {
		close(a.done)
		return
	}
	if ok, reason := a.ready(ctx); !ok {
		a.log.Warn("firewall not ready", telemetry.KeyReason, reason)
	}
	go func() {
		defer close(a.done)
		a.reevaluate(ctx)
		refresh(ctx, a.vulndb, a.config.VulnDB, a.log, a.reevaluate)
	}()
}

// reevaluate judges the cached images again after the data or the
// policies changed; failures are logged and the next change tries again.
func (a *Server) reevaluate(ctx context.Context) {
	if ok, _ := a.ready(ctx); !ok {
		return // nothing to judge against yet
	}
	n, err := a.firewall.Reevaluate(ctx)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		a.log.Warn("re-evaluation incomplete", telemetry.KeyError, err)
	case n > 0:
		a.log.Info("re-evaluated cached images", telemetry.KeyImages, n)
	}
}

// ready is the /readyz check: the firewall can judge images once some
// vulnerability data is loaded; with the firewall off everywhere there is
// nothing to wait for.
func (a *Server) ready(ctx context.Context) (bool, string) {
	if a.firewall == nil {
		return true, ""
	}
	err := a.firewall.Ready(ctx)
	switch {
	case errors.Is(err, firewall.ErrNotReady):
		return false, "no vulnerability data loaded yet: wait for the feeds or run breakwater vulndb import"
	case err != nil:
		return false, fmt.Sprintf("vulnerability database unreadable: %v", err)
	}
	return true, ""
}
