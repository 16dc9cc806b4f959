package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/vagate/vagate/core/reconcile"
	"github.com/vagate/vagate/openapi"
)

// Reconciler runs and reports provider reconciliations: *reconcile.Reconciler.
type Reconciler interface {
	// Start begins a run in the background and returns it, running.
	Start(ctx context.Context, providerName, trigger string) (*reconcile.Report, error)
	// Report returns a run by id.
	Report(ctx context.Context, id string) (*reconcile.Report, error)
	// Latest returns the provider's latest run.
	Latest(ctx context.Context, providerName string) (*reconcile.Report, error)
}

var _ Reconciler = (*reconcile.Reconciler)(nil)

// ReconcileProvider starts a reconciliation of the provider: 202 with the
// run, or 409 while another runs (on any instance).
func (s *Server) ReconcileProvider(c *gin.Context, name openapi.ProviderName, _ openapi.ReconcileProviderParams) {
	if s.d.Reconciler == nil {
		notImplemented(c, "reconciliation")
		return
	}
	rep, err := s.d.Reconciler.Start(c.Request.Context(), name, reconcile.TriggerOnDemand)
	if err != nil {
		fail(c, err)
		return
	}
	s.d.Logger.InfoContext(c.Request.Context(), "reconciliation started on demand", "provider", name,
		"reconciliation_id", rep.ID, "operator", Tenant(c), "trace_id", TraceID(c))
	c.Header("Location", s.opts.PublicURL+"/v1/reconciliations/"+rep.ID)
	c.JSON(http.StatusAccepted, rep)
}

// GetLatestReconciliation returns the provider's latest run.
func (s *Server) GetLatestReconciliation(c *gin.Context, name openapi.ProviderName) {
	if s.d.Reconciler == nil {
		notImplemented(c, "reconciliation")
		return
	}
	rep, err := s.d.Reconciler.Latest(c.Request.Context(), name)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, rep)
}

// GetReconciliation returns a run by id.
func (s *Server) GetReconciliation(c *gin.Context, id openapi.ReconciliationID) {
	if s.d.Reconciler == nil {
		notImplemented(c, "reconciliation")
		return
	}
	rep, err := s.d.Reconciler.Report(c.Request.Context(), id)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, rep)
}
