package httpapi

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/vagate/vagate/openapi"
)

// Healthz answers while the process serves requests.
func (s *Server) Healthz(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }

// Readyz answers 200 when the state store is reachable. It is public, so
// the reason it is not stays in the log: errors name addresses.
func (s *Server) Readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := s.d.Ready(ctx); err != nil {
		s.d.Logger.WarnContext(ctx, "not ready: the state store is not reachable", "err", err, "trace_id", TraceID(c))
		p := NewProblem(http.StatusServiceUnavailable, CodeStoreUnavailable, "the gateway's state store is not reachable")
		p.RetryAfter = defaultUnavailableRetryWait
		WriteProblem(c, p)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok", "checks": gin.H{"store": "ok"}})
}

// GetOpenAPI serves the OpenAPI document.
func (s *Server) GetOpenAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/yaml", openapi.Spec())
}

// Metrics serves the Prometheus metrics, to holders of the metrics token
// when one is configured.
func (s *Server) Metrics(c *gin.Context) {
	if s.opts.MetricsToken != "" {
		scheme, tok, _ := strings.Cut(c.GetHeader("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.opts.MetricsToken)) != 1 {
			unauthenticated(c, tok != "", "GET /metrics needs the metrics token as a bearer token")
			return
		}
	}
	if s.d.Metrics == nil {
		notImplemented(c, "Prometheus metrics")
		return
	}
	s.d.Metrics.ServeHTTP(c.Writer, c.Request)
}
