package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vagate/vagate/core/bank"
)

// StatusError is a non-success HTTP answer from a provider. Adapters return
// it raw and classify it in ErrorCode, usually with CodeForStatus.
type StatusError struct {
	Method     string
	URL        string
	StatusCode int
	// ProviderCode is the provider's own error code from the body, if any.
	ProviderCode string
	Message      string
	RetryAfter   time.Duration
	Body         []byte
}

// ProviderErrorCode is the provider's own code (bank.ProviderCoder).
func (e *StatusError) ProviderErrorCode() string { return e.ProviderCode }

// Error describes the answer without leaking credentials.
func (e *StatusError) Error() string {
	msg := e.Message
	if e.ProviderCode != "" {
		msg = e.ProviderCode + ": " + msg
	}
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.URL, e.StatusCode, msg)
}

// MalformedError is a success status whose body could not be understood. The
// provider acted, but what it did is not known.
type MalformedError struct {
	Op  string
	Err error
}

// Error describes the decoding failure.
func (e *MalformedError) Error() string {
	return "malformed provider response to " + e.Op + ": " + e.Err.Error()
}

// Unwrap returns the decoding error.
func (e *MalformedError) Unwrap() error { return e.Err }

// CodeForStatus is the default mapping of an HTTP status to an ErrorCode.
func CodeForStatus(status int) bank.ErrorCode {
	switch {
	case status == http.StatusBadRequest, status == http.StatusUnprocessableEntity,
		status == http.StatusRequestEntityTooLarge:
		return bank.InvalidArgument
	case status == http.StatusUnauthorized:
		return bank.Unauthenticated
	case status == http.StatusForbidden:
		return bank.PermissionDenied
	case status == http.StatusNotFound, status == http.StatusGone:
		return bank.NotFound
	case status == http.StatusConflict:
		return bank.AlreadyExists
	case status == http.StatusPreconditionFailed:
		return bank.FailedPrecondition
	case status == http.StatusTooManyRequests:
		return bank.ResourceExhausted
	case status == http.StatusNotImplemented:
		return bank.Unimplemented
	case status == http.StatusBadGateway, status == http.StatusServiceUnavailable:
		return bank.Unavailable
	case status == http.StatusGatewayTimeout, status == http.StatusRequestTimeout:
		return bank.DeadlineExceeded
	case status >= 500:
		return bank.Internal
	case status >= 400:
		return bank.InvalidArgument
	}
	return bank.Unknown
}

// ClassifyHTTP is the default ErrorCode for errors of an HTTP adapter:
// StatusError by status, MalformedError as Unknown, context and transport
// errors by whether the request can have reached the provider.
func ClassifyHTTP(err error) bank.ErrorCode {
	if err == nil {
		return bank.OK
	}
	var se *StatusError
	if errors.As(err, &se) {
		return CodeForStatus(se.StatusCode)
	}
	var me *MalformedError
	if errors.As(err, &me) {
		return bank.Unknown
	}
	if c := bank.Code(err); c != bank.Unknown {
		return c
	}
	return TransportCode(err)
}

// TransportCode classifies a transport error. A request that certainly never
// reached the provider (refused connection, DNS failure) is Unavailable;
// a timeout is DeadlineExceeded; anything else (a reset after sending, an
// unexpected EOF) is Unknown, since the provider may have acted.
func TransportCode(err error) bank.ErrorCode {
	switch {
	case err == nil:
		return bank.OK
	case errors.Is(err, context.Canceled):
		return bank.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return bank.DeadlineExceeded
	case errors.Is(err, syscall.ECONNREFUSED):
		return bank.Unavailable
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return bank.Unavailable
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return bank.Unavailable
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return bank.DeadlineExceeded
	}
	return bank.Unknown
}

// ParseRetryAfter reads a Retry-After header given as delay-seconds or as an
// HTTP date (RFC 9110 §10.2.3). It returns zero when absent or unreadable.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// ReadStatusError builds a StatusError from a non-success response, reading
// at most 64 KiB of its body. decode extracts the provider's error code and
// message from the body, if it can.
func ReadStatusError(resp *http.Response, decode func(body []byte) (code, msg string)) *StatusError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	se := &StatusError{
		Method:     resp.Request.Method,
		URL:        resp.Request.URL.Redacted(),
		StatusCode: resp.StatusCode,
		RetryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		Body:       body,
	}
	if decode != nil {
		se.ProviderCode, se.Message = decode(body)
	}
	if se.Message == "" {
		se.Message = http.StatusText(resp.StatusCode)
	}
	return se
}

// MaxResponseBody bounds how much of a provider's answer is read.
const MaxResponseBody = 64 << 20

// ReadJSON reads a provider's answer. When ok is false it is a StatusError
// (decode extracts the provider's code and message). Otherwise the body is
// decoded into out (unless nil); a success body that cannot be read or is
// not JSON is a MalformedError: the provider acted, but what it did is not
// known.
func ReadJSON(resp *http.Response, ok bool, out any, decode func(body []byte) (code, msg string)) ([]byte, error) {
	if !ok {
		return nil, ReadStatusError(resp, decode)
	}
	op := resp.Request.Method + " " + resp.Request.URL.Path
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody+1))
	switch {
	case err != nil:
		return nil, &MalformedError{Op: op, Err: err}
	case len(raw) > MaxResponseBody:
		return nil, &MalformedError{Op: op, Err: errors.New("answer larger than 64 MiB")}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, &MalformedError{Op: op, Err: err}
		}
	} else if len(bytes.TrimSpace(raw)) > 0 && !json.Valid(raw) {
		return nil, &MalformedError{Op: op, Err: errors.New("answer is not JSON")}
	}
	return raw, nil
}
