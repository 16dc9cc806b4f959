package httpapi

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/trace"
)

// traceIDKey is the gin.Context key of the request's trace id.
const traceIDKey = "vagate.traceId"

// Response headers carrying the trace id.
const (
	HeaderRequestID   = "X-Request-Id"
	HeaderTraceparent = "traceparent"
)

// RequestID takes the trace id from a valid W3C traceparent or makes one, and echoes it in X-Request-Id and traceparent.
func RequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		if sc := trace.SpanContextFromContext(c.Request.Context()); sc.IsValid() {
			// The server span's own ids, so the answer names this request's span.
			traceID := sc.TraceID().String()
			c.Set(traceIDKey, traceID)
			h := c.Writer.Header()
			h.Set(HeaderRequestID, traceID)
			h.Set(HeaderTraceparent, "00-"+traceID+"-"+sc.SpanID().String()+"-"+sc.TraceFlags().String())
			c.Next()
			return
		}
		traceID, flags, ok := parseTraceparent(c.GetHeader(HeaderTraceparent))
		if !ok {
			traceID, flags = randomHex(16), "01"
		}
		c.Set(traceIDKey, traceID)
		h := c.Writer.Header()
		h.Set(HeaderRequestID, traceID)
		h.Set(HeaderTraceparent, "00-"+traceID+"-"+randomHex(8)+"-"+flags)
		c.Next()
	}
}

// TraceID returns the request's trace id (32 lowercase hex digits), or "" outside RequestID.
func TraceID(c *gin.Context) string {
	return c.GetString(traceIDKey)
}

// parseTraceparent validates a W3C traceparent header and returns its trace
// id and trace flags. Versions after 00 may append fields, as the spec allows.
func parseTraceparent(h string) (traceID, flags string, ok bool) {
	// version "-" trace-id "-" parent-id "-" trace-flags
	const n = 2 + 1 + 32 + 1 + 16 + 1 + 2
	if len(h) < n || h[2] != '-' || h[35] != '-' || h[52] != '-' {
		return "", "", false
	}
	version, traceID, parentID, flags := h[0:2], h[3:35], h[36:52], h[53:55]
	switch {
	case !isLowerHex(version) || version == "ff":
		return "", "", false
	case version == "00" && len(h) != n:
		return "", "", false
	case len(h) > n && h[n] != '-':
		return "", "", false
	case !isLowerHex(traceID) || allZero(traceID):
		return "", "", false
	case !isLowerHex(parentID) || allZero(parentID):
		return "", "", false
	case !isLowerHex(flags):
		return "", "", false
	}
	return traceID, flags, true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}

// randomHex returns n random bytes in lowercase hex, never all zero.
func randomHex(n int) string {
	b := make([]byte, n)
	for {
		_, _ = rand.Read(b) // crypto/rand.Read never fails
		for _, x := range b {
			if x != 0 {
				return hex.EncodeToString(b)
			}
		}
	}
}
