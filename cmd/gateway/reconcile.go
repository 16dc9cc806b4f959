package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/reconcile"
	"github.com/vagate/vagate/core/store"
)

// startReconciler starts the polling fallback for provider webhooks (it
// stops with ctx, waited for by bg) and returns next composed with it: every
// account change is reported to next, then accounts left PENDING or
// UNBLOCKING are re-read from their provider until they move on. What the
// fallback finds is stored and reported to next.
func startReconciler(ctx context.Context, bg *sync.WaitGroup, reg *gateway.Registry, accounts store.Accounts,
	next reconcile.ChangeFunc, log *slog.Logger) reconcile.ChangeFunc {
	w := reconcile.New(reg, accounts, next, &reconcile.Options{Logger: log})
	bg.Go(func() { w.Run(ctx) })
	return w.Hook(next)
}
