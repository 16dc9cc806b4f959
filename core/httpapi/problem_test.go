package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/openapi"
)

func TestProblemFromError(t *testing.T) {
	secretURL := "https://user:hunter2@bank.example/v1/accounts?api_key=s3cr3t"
	tests := []struct {
		name       string
		err        error
		status     int
		code       string
		detail     string        // substring of Detail
		retryAfter time.Duration // exact
		capability provider.Capability
		fields     []bank.FieldError
	}{
		{name: "invalid argument with fields",
			err: &bank.Error{Code: bank.InvalidArgument, Op: "create", Err: errors.New("2 invalid fields"),
				Fields: []bank.FieldError{{Pointer: "/items/0/currency", Message: "unsupported currency"}, {Pointer: "/items/3/accountName", Message: "required"}}},
			status: 400, code: "validation_failed", detail: "2 invalid fields",
			fields: []bank.FieldError{{Pointer: "/items/0/currency", Message: "unsupported currency"}, {Pointer: "/items/3/accountName", Message: "required"}}},
		{name: "accounts the tenant may not use",
			err: &bank.Error{Code: bank.PermissionDenied, Op: "create", Err: &gateway.AccountNotAllowedError{Items: 1},
				Fields: []bank.FieldError{{Pointer: "/items/0/providerParams/settlementAccountId", Message: "this tenant may not use it"}}},
			status: 403, code: "account_not_allowed", detail: "1 item(s) name a provider account",
			fields: []bank.FieldError{{Pointer: "/items/0/providerParams/settlementAccountId", Message: "this tenant may not use it"}}},
		{name: "invalid argument from provider keeps its message, not its URL",
			err: &bank.Error{Code: bank.InvalidArgument, Provider: "batchva", Op: "create",
				Err: &provider.StatusError{Method: "POST", URL: secretURL, StatusCode: 400, ProviderCode: "E042", Message: "clientReference too long"}},
			status: 400, code: "validation_failed", detail: "provider batchva: E042: clientReference too long"},
		{name: "not found", err: bank.Errorf(bank.NotFound, "virtual account va_1 not found"),
			status: 404, code: "not_found", detail: "va_1 not found"},
		{name: "not found sentinel", err: fmt.Errorf("lookup: %w", bank.ErrNotFound), status: 404, code: "not_found"},
		{name: "already exists", err: bank.Errorf(bank.AlreadyExists, "duplicate clientReference"),
			status: 409, code: "conflict", detail: "duplicate clientReference"},
		{name: "failed precondition", err: bank.Errorf(bank.FailedPrecondition, "account is CLOSED"),
			status: 409, code: "failed_precondition", detail: "account is CLOSED"},
		{name: "rate limited with advice", err: &bank.Error{Code: bank.ResourceExhausted, Provider: "subaccount", RetryAfter: 3 * time.Second},
			status: 429, code: "rate_limited", detail: "subaccount", retryAfter: 3 * time.Second},
		{name: "rate limited default", err: bank.Errorf(bank.ResourceExhausted, "slow down"),
			status: 429, code: "rate_limited", retryAfter: time.Second},
		{name: "unavailable with advice", err: &bank.Error{Code: bank.Unavailable, Provider: "masterfiat", Op: "create", RetryAfter: 30 * time.Second},
			status: 503, code: "provider_unavailable", detail: "masterfiat", retryAfter: 30 * time.Second},
		{name: "unavailable default", err: &bank.Error{Code: bank.Unavailable, Provider: "masterfiat", Err: errors.New("dial " + secretURL)},
			status: 503, code: "provider_unavailable", retryAfter: 5 * time.Second},
		{name: "unavailable advice from status error", err: &bank.Error{Code: bank.Unavailable, Provider: "masterfiat",
			Err: &provider.StatusError{StatusCode: 503, RetryAfter: 7 * time.Second}},
			status: 503, code: "provider_unavailable", retryAfter: 7 * time.Second},
		{name: "deadline exceeded", err: &bank.Error{Code: bank.DeadlineExceeded, Provider: "batchva", Op: "create"},
			status: 504, code: "provider_timeout", detail: "batchva did not answer create"},
		{name: "raw context deadline", err: context.DeadlineExceeded, status: 504, code: "provider_timeout"},
		{name: "capability not supported",
			err: &bank.Error{Code: bank.Unimplemented, Provider: "subaccount", Op: "block",
				Err: &gateway.CapabilityError{Provider: "subaccount", Capability: provider.CapBlock}},
			status: 422, code: "capability_not_supported", detail: "provider subaccount does not support capability block",
			capability: provider.CapBlock},
		{name: "unimplemented", err: &bank.Error{Code: bank.Unimplemented, Provider: "batchva", Op: "close"},
			status: 501, code: "not_implemented", detail: "batchva"},
		{name: "unimplemented by the gateway", err: bank.ErrUnimplemented, status: 501, code: "not_implemented"},
		{name: "provider internal", err: &bank.Error{Code: bank.Internal, Provider: "parentprimary", Op: "create", Err: errors.New("boom at " + secretURL)},
			status: 502, code: "provider_error", detail: "parentprimary failed during create"},
		{name: "provider unknown", err: &bank.Error{Code: bank.Unknown, Provider: "parentprimary", Op: "create", Err: errors.New("EOF")},
			status: 502, code: "provider_error"},
		{name: "provider rejects our credentials", err: &bank.Error{Code: bank.Unauthenticated, Provider: "batchva", Op: "create",
			Err: &provider.StatusError{StatusCode: 401, Message: "bad client secret s3cr3t"}},
			status: 502, code: "provider_auth_failed", detail: "batchva rejected the gateway's credentials"},
		{name: "provider denies permission", err: &bank.Error{Code: bank.PermissionDenied, Provider: "batchva", Op: "create"},
			status: 502, code: "provider_auth_failed"},
		{name: "unverifiable provider callback", err: &bank.Error{Code: bank.Unauthenticated, Provider: "batchva", Op: "webhook",
			Err: &gateway.WebhookError{Provider: "batchva", Err: errors.New("bad signature")}},
			status: 401, code: "unauthenticated", detail: "could not be verified as coming from provider batchva"},
		{name: "provider unauthenticated in any other operation named webhook", err: &bank.Error{Code: bank.Unauthenticated, Provider: "batchva", Op: "webhook",
			Err: errors.New("401 from the provider")},
			status: 502, code: "provider_auth_failed"},
		{name: "gateway unauthenticated", err: bank.Errorf(bank.Unauthenticated, "token has expired"),
			status: 401, code: "unauthenticated", detail: "token has expired"},
		{name: "gateway permission denied", err: bank.Errorf(bank.PermissionDenied, "needs manage-pool"),
			status: 403, code: "permission_denied", detail: "manage-pool"},
		{name: "canceled", err: &bank.Error{Code: bank.Canceled, Provider: "batchva"}, status: 503, code: "request_canceled"},
		{name: "raw context canceled", err: fmt.Errorf("wait: %w", context.Canceled), status: 503, code: "request_canceled"},
		{name: "gateway internal", err: bank.Errorf(bank.Internal, "store corrupt at %s", secretURL), status: 500, code: "internal", detail: "internal error"},
		{name: "unclassified", err: errors.New("password=hunter2"), status: 500, code: "internal", detail: "internal error"},
		{name: "ok code is still an error", err: &bank.Error{Code: bank.OK}, status: 500, code: "internal"},
		{name: "problem passes through", err: fmt.Errorf("claim: %w", NewProblem(409, "pool_exhausted", "no EUR accounts left")),
			status: 409, code: "pool_exhausted", detail: "no EUR accounts left"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := ProblemFromError(tc.err)
			if p == nil {
				t.Fatal("ProblemFromError = nil")
			}
			if p.Status != tc.status || p.Code != tc.code {
				t.Fatalf("got %d %s (%q); want %d %s", p.Status, p.Code, p.Detail, tc.status, tc.code)
			}
			if p.Type != ProblemTypeBase+tc.code {
				t.Errorf("Type = %q; want %q", p.Type, ProblemTypeBase+tc.code)
			}
			if p.Title == "" || p.Detail == "" {
				t.Errorf("Title %q, Detail %q: want both set", p.Title, p.Detail)
			}
			if !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("Detail = %q; want it to contain %q", p.Detail, tc.detail)
			}
			for _, secret := range []string{"hunter2", "s3cr3t", "bank.example"} {
				if strings.Contains(p.Detail, secret) || strings.Contains(fmt.Sprint(p.Errors), secret) {
					t.Errorf("Detail %q leaks %q", p.Detail, secret)
				}
			}
			if p.Capability != tc.capability {
				t.Errorf("Capability = %q; want %q", p.Capability, tc.capability)
			}
			if p.RetryAfter != tc.retryAfter {
				t.Errorf("RetryAfter = %v; want %v", p.RetryAfter, tc.retryAfter)
			}
			if fmt.Sprint(p.Errors) != fmt.Sprint(tc.fields) {
				t.Errorf("Errors = %v; want %v", p.Errors, tc.fields)
			}
		})
	}
	if p := ProblemFromError(nil); p != nil {
		t.Errorf("ProblemFromError(nil) = %+v; want nil", p)
	}
}

func TestRedact(t *testing.T) {
	for in, leak := range map[string]string{
		"Authorization: Bearer abc.def-ghi":             "abc.def-ghi",
		"token eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl here": "c2lnbmF0dXJl",
		"GET https://bob:pw123@host/x":                  "pw123",
		"url?client_secret=xyz&a=1":                     "xyz",
	} {
		if out := redact(in); strings.Contains(out, leak) {
			t.Errorf("redact(%q) = %q; still contains %q", in, out, leak)
		}
	}
}

// decodeProblem checks the response is a problem and decodes it.
func decodeProblem(t *testing.T, w *httptest.ResponseRecorder) Problem {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != ProblemContentType {
		t.Fatalf("Content-Type = %q; want %q (body %s)", ct, ProblemContentType, w.Body)
	}
	var p Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("decoding problem %s: %v", w.Body, err)
	}
	if p.Status != w.Code {
		t.Fatalf("problem status %d != response status %d", p.Status, w.Code)
	}
	return p
}

var traceIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestWriteProblem(t *testing.T) {
	r := gin.New()
	ranAfter := false
	r.Use(RequestID())
	r.GET("/x", func(c *gin.Context) {
		p := ProblemFromError(&bank.Error{Code: bank.ResourceExhausted, RetryAfter: 2500 * time.Millisecond})
		p.Detail = "<b>&</b>" // must not be HTML-escaped
		WriteProblem(c, p)
	}, func(*gin.Context) { ranAfter = true })
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x", nil))

	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("status = %d", w.Code)
	}
	p := decodeProblem(t, w)
	if got := w.Header().Get("Retry-After"); got != "3" {
		t.Errorf("Retry-After = %q; want 3 (2.5s rounded up)", got)
	}
	if ranAfter {
		t.Error("the chain was not aborted")
	}
	if p.TraceID != w.Header().Get(HeaderRequestID) || !traceIDRE.MatchString(p.TraceID) {
		t.Errorf("traceId = %q; X-Request-Id = %q", p.TraceID, w.Header().Get(HeaderRequestID))
	}
	if !strings.Contains(w.Body.String(), `"detail":"<b>&</b>"`) {
		t.Errorf("body %s: detail was escaped", w.Body)
	}
	var raw map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &raw)
	for _, k := range []string{"type", "title", "status", "detail", "code", "traceId", "instance"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("body %s lacks %q", w.Body, k)
		}
	}
	if raw["instance"] != "/x" {
		t.Errorf("instance = %v, want the request path /x", raw["instance"])
	}
	for _, k := range []string{"errors", "RetryAfter", "retryAfter"} {
		if _, ok := raw[k]; ok {
			t.Errorf("body %s has %q", w.Body, k)
		}
	}
}

func TestWriteProblemDefaults(t *testing.T) {
	r := gin.New()
	r.GET("/x", func(c *gin.Context) { WriteProblem(c, &Problem{Status: 418, Code: "teapot"}) })
	r.GET("/nil", func(c *gin.Context) { WriteProblem(c, nil) })
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x", nil))
	p := decodeProblem(t, w)
	if p.Type != ProblemTypeBase+"teapot" || p.Title != "I'm a teapot" || w.Header().Get("Retry-After") != "" {
		t.Errorf("problem = %+v, Retry-After %q", p, w.Header().Get("Retry-After"))
	}
	w = httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/nil", nil))
	if p := decodeProblem(t, w); p.Status != 500 || p.Code != CodeInternal {
		t.Errorf("nil problem = %+v", p)
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.NoRoute(NotFoundRoute)
	r.NoMethod(MethodNotAllowed)
	r.GET("/v1/things", func(c *gin.Context) { c.Status(http.StatusNoContent) })

	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/nothing", nil))
	if p := decodeProblem(t, w); w.Code != 404 || p.Code != CodeNotFound || !strings.Contains(p.Detail, "/v1/nothing") {
		t.Errorf("404: %d %+v", w.Code, p)
	}

	w = httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodPut, "/v1/things", nil))
	p := decodeProblem(t, w)
	if w.Code != 405 || p.Code != CodeMethodNotAllowed || w.Header().Get("Allow") == "" || !strings.Contains(p.Detail, "GET") {
		t.Errorf("405: %d %+v Allow=%q", w.Code, p, w.Header().Get("Allow"))
	}
}

// The generated wrappers' parameter errors are problems naming the
// parameter by where it is sent.
func TestParamError(t *testing.T) {
	tests := []struct {
		err     error
		pointer string
	}{
		{&openapi.ParamError{In: openapi.ParamInQuery, Name: "limit", Err: errors.New("not a number")}, "/query/limit"},
		{&openapi.ParamError{In: openapi.ParamInHeader, Name: "Prefer", Err: errors.New("sent 2 times, expected once")}, "/headers/Prefer"},
		{&openapi.ParamError{In: openapi.ParamInPath, Name: "id", Err: errors.New("missing")}, "/path/id"},
		{errors.New("parameter limit: a message is not a type"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.err.Error(), func(t *testing.T) {
			w := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(w)
			paramError(c, tc.err, http.StatusBadRequest)
			p := decodeProblem(t, w)
			if w.Code != http.StatusBadRequest || p.Code != CodeValidationFailed {
				t.Fatalf("%d %+v, want 400 validation_failed", w.Code, p)
			}
			switch {
			case tc.pointer == "" && len(p.Errors) != 0:
				t.Errorf("errors %+v for an error that names no parameter", p.Errors)
			case tc.pointer != "" && (len(p.Errors) != 1 || p.Errors[0].Pointer != tc.pointer || !strings.Contains(p.Errors[0].Message, errors.Unwrap(tc.err).Error())):
				t.Errorf("errors %+v, want one at %s saying why", p.Errors, tc.pointer)
			}
		})
	}
}
