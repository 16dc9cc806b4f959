package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/gin-gonic/gin"
)

// Recovery turns a panic in a later handler into a logged 500 problem.
func Recovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r)
			}
			slog.ErrorContext(c.Request.Context(), "panic serving request",
				"panic", fmt.Sprint(r), "method", c.Request.Method, "route", c.FullPath(),
				"trace_id", TraceID(c), "stack", string(debug.Stack()))
			WriteProblem(c, NewProblem(http.StatusInternalServerError, CodeInternal, "internal error"))
		}()
		c.Next()
	}
}
