package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/vagate/vagate/config"
	"github.com/vagate/vagate/core/accounts"
	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/reconcile"
	"github.com/vagate/vagate/core/telemetry"
)

// startAccounts returns the accounts service and the change hook it reports
// to: every account change goes to next, then to the polling fallback for
// provider webhooks, which re-reads accounts left PENDING or UNBLOCKING from
// their provider until they move on (it stops with ctx, waited for by bg).
// Accounts an earlier run left transitional in the store, on this instance
// or one that died, are watched again from the start.
func startAccounts(ctx context.Context, bg *sync.WaitGroup, reg *gateway.Registry, st accounts.Store,
	next accounts.ChangeFunc, log *slog.Logger) (*accounts.Service, accounts.ChangeFunc) {
	var w *reconcile.Watcher
	changed := func(ctx context.Context, before, after *bank.Account) {
		if next != nil {
			next(ctx, before, after)
		}
		w.Observe(ctx, before, after)
	}
	svc := accounts.New(reg, st, &accounts.Options{Changed: changed, Logger: log})
	w = reconcile.New(svc, &reconcile.Options{Logger: log})
	switch n, err := w.Resume(ctx); {
	case err != nil:
		log.Warn("reconcile: could not list the accounts left transitional; only new ones are watched", "err", err)
	case n > 0:
		log.Info("reconcile: watching accounts left transitional", "accounts", n)
	}
	bg.Go(func() { w.Run(ctx) })
	return svc, changed
}

// startReconciler returns the reconciliation of providers with the
// gateway's records, running periodically when configured and giving
// on-demand runs their lifetime until ctx ends (waited for by bg). Drifts
// are recorded through onDrift (the event log).
func startReconciler(ctx context.Context, bg *sync.WaitGroup, reg *gateway.Registry, svc *accounts.Service, st reconcile.Store,
	c *config.Reconcile, onDrift reconcile.DriftFunc, log *slog.Logger, tel *telemetry.Telemetry) *reconcile.Reconciler {
	r := reconcile.NewReconciler(reg, svc, st, &reconcile.ReconcilerOptions{
		Interval: c.Interval.D(), AdoptUnknown: c.AdoptUnknown, QuarantineTenant: c.QuarantineTenant,
		Grace: c.Grace.D(), LeaseTTL: c.LeaseTTL.D(), OnDrift: onDrift, Logger: log, Meter: tel.Meter,
	})
	bg.Go(func() { r.Serve(ctx) })
	return r
}
