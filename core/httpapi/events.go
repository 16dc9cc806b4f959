package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/openapi"
)

// ListEvents pages through the tenant's event log, oldest first.
func (s *Server) ListEvents(c *gin.Context, params openapi.ListEventsParams) {
	limit, fs := pageLimit(params.Limit)
	var t bank.EventType
	if params.Type != nil {
		t = bank.EventType(*params.Type)
		if !t.Valid() {
			fs = append(fs, bank.FieldError{Pointer: "/query/type", Message: "must be a unified event type such as virtual_account.created"})
		}
	}
	cursor := ""
	if params.Cursor != nil {
		cursor = *params.Cursor
	}
	if len(fs) > 0 {
		invalid(c, "the query is not valid", fs)
		return
	}
	evs, next, err := s.d.Events.ListEvents(c.Request.Context(), Tenant(c), t, cursor, limit)
	if err != nil {
		fail(c, err)
		return
	}
	if evs == nil {
		evs = []*bank.Event{}
	}
	c.JSON(http.StatusOK, gin.H{"items": evs, "nextCursor": next})
}
