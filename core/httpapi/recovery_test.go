package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestRecovery(t *testing.T) {
	r := gin.New()
	r.Use(RequestID(), Recovery())
	r.GET("/panic", func(*gin.Context) { panic("kaboom with secret s3cr3t") })
	r.GET("/abort", func(*gin.Context) { panic(http.ErrAbortHandler) })

	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/panic", nil))
	p := decodeProblem(t, w)
	if w.Code != 500 || p.Code != CodeInternal || strings.Contains(w.Body.String(), "s3cr3t") || p.TraceID == "" {
		t.Errorf("panic: %d %s", w.Code, w.Body)
	}

	defer func() {
		if r := recover(); r != http.ErrAbortHandler {
			t.Errorf("recovered %v; want http.ErrAbortHandler to propagate", r)
		}
	}()
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/abort", nil))
}
