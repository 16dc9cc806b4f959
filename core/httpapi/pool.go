package httpapi

import (
	"github.com/gin-gonic/gin"

	"github.com/vagate/vagate/openapi"
)

// GetPool is not built yet.
func (s *Server) GetPool(c *gin.Context) { notImplemented(c, "the unallocated pool") }

// ClaimFromPool is not built yet.
func (s *Server) ClaimFromPool(c *gin.Context, _ openapi.ClaimFromPoolParams) {
	notImplemented(c, "the unallocated pool")
}

// ReplenishPool is not built yet.
func (s *Server) ReplenishPool(c *gin.Context, _ openapi.ReplenishPoolParams) {
	notImplemented(c, "the unallocated pool")
}
