package mockhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// MaxAdminBody bounds the admin request bodies DecodeStrict reads.
const MaxAdminBody = 1 << 16

// BufferBody reads up to max bytes of the body before next runs, so a client that gives up on a held ("hang") request cancels it; a longer body is left for the handler to refuse.
func BufferBody(max int64, write ErrorWriter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Body != nil && r.Body != http.NoBody {
				b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
				if err != nil {
					write(w, http.StatusBadRequest, "body: "+err.Error())
					return
				}
				rest := r.Body
				if int64(len(b)) <= max {
					rest = http.NoBody
				}
				r.Body = readCloser{io.MultiReader(bytes.NewReader(b), rest), r.Body}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// readCloser reads the buffered body (and any rest) and closes the original.
type readCloser struct {
	io.Reader
	io.Closer
}

// RequireJSON answers 415 and reports false when the request's Content-Type is set and not JSON.
func RequireJSON(w http.ResponseWriter, r *http.Request, write ErrorWriter) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			write(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
			return false
		}
	}
	return true
}

// ReadJSONBody checks the content type and reads the body within max, answering 415, 413 or 400 when it cannot.
func ReadJSONBody(w http.ResponseWriter, r *http.Request, max int64, write ErrorWriter) ([]byte, bool) {
	if !RequireJSON(w, r, write) {
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			write(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds %d bytes", max))
			return nil, false
		}
		write(w, http.StatusBadRequest, "body: "+err.Error())
		return nil, false
	}
	return body, true
}

// DecodeStrict decodes an admin JSON body of up to MaxAdminBody bytes into v, refusing unknown fields with 400.
func DecodeStrict(w http.ResponseWriter, r *http.Request, v any, write ErrorWriter) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		write(w, http.StatusBadRequest, "body: "+err.Error())
		return false
	}
	return true
}
