package httpapi

import (
	"github.com/gin-gonic/gin"

	"github.com/vagate/vagate/openapi"
)

// ListWebhookEndpoints is not built yet.
func (s *Server) ListWebhookEndpoints(c *gin.Context) { notImplemented(c, "webhook endpoints") }

// CreateWebhookEndpoint is not built yet.
func (s *Server) CreateWebhookEndpoint(c *gin.Context, _ openapi.CreateWebhookEndpointParams) {
	notImplemented(c, "webhook endpoints")
}

// DeleteWebhookEndpoint is not built yet.
func (s *Server) DeleteWebhookEndpoint(c *gin.Context, _ openapi.WebhookEndpointID, _ openapi.DeleteWebhookEndpointParams) {
	notImplemented(c, "webhook endpoints")
}
