// Package mockhttp is the HTTP plumbing and the lifecycle (Base) every bundled mock shares.
package mockhttp

import (
	"fmt"
	"net/http"
)

// ErrorWriter answers status with msg in a provider's own error shape.
type ErrorWriter func(w http.ResponseWriter, status int, msg string)

// Fallback serves the routes of mux and answers the rest with write: 405 and Allow for a wrong method, else 404.
func Fallback(mux *http.ServeMux, write ErrorWriter) http.Handler {
	return GuardedFallback(mux, nil, write)
}

// GuardedFallback is Fallback with the routes of mux behind guard (none when nil); unknown routes skip it.
func GuardedFallback(mux *http.ServeMux, guard func(http.Handler) http.Handler, write ErrorWriter) http.Handler {
	var known http.Handler = mux
	if guard != nil {
		known = guard(mux)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			known.ServeHTTP(w, r)
			return
		}
		rec := &headerRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.header.Get("Allow"))
			write(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path))
			return
		}
		write(w, http.StatusNotFound, "no route for "+r.URL.Path)
	})
}

// headerRecorder keeps the status and headers of the mux's own 404 or 405 answer.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header         { return h.header }
func (h *headerRecorder) WriteHeader(s int)           { h.status = s }
func (h *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
