package bank

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrorCode classifies a failure independently of the provider that caused it.
type ErrorCode int

// Error codes. The zero value is Unknown so that an unclassified error is
// never mistaken for a safe one.
const (
	// Unknown: the outcome is not known; a write may or may not have happened.
	Unknown ErrorCode = iota
	// OK: no error.
	OK
	// NotFound: the resource does not exist.
	NotFound
	// AlreadyExists: the resource, or a conflicting one, exists already.
	AlreadyExists
	// InvalidArgument: the request is malformed or breaks a documented limit.
	InvalidArgument
	// FailedPrecondition: the resource is in a state that forbids the operation.
	FailedPrecondition
	// Unauthenticated: the credentials are missing or not valid.
	Unauthenticated
	// PermissionDenied: the credentials lack a needed permission.
	PermissionDenied
	// ResourceExhausted: rate or quota limit; retry after a while.
	ResourceExhausted
	// Unavailable: the provider could not be reached or refused to act; it did not act.
	Unavailable
	// DeadlineExceeded: the call timed out; a write may or may not have happened.
	DeadlineExceeded
	// Unimplemented: the provider does not support the operation.
	Unimplemented
	// Internal: the provider failed on its side after accepting the call.
	Internal
	// Canceled: the caller cancelled the call.
	Canceled
)

var codeNames = [...]string{
	Unknown:            "unknown",
	OK:                 "ok",
	NotFound:           "not_found",
	AlreadyExists:      "already_exists",
	InvalidArgument:    "invalid_argument",
	FailedPrecondition: "failed_precondition",
	Unauthenticated:    "unauthenticated",
	PermissionDenied:   "permission_denied",
	ResourceExhausted:  "resource_exhausted",
	Unavailable:        "unavailable",
	DeadlineExceeded:   "deadline_exceeded",
	Unimplemented:      "unimplemented",
	Internal:           "internal",
	Canceled:           "canceled",
}

// String returns the snake_case name of c.
func (c ErrorCode) String() string {
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("ErrorCode(%d)", int(c))
}

// MarshalText encodes c as its snake_case name.
func (c ErrorCode) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText decodes a snake_case name.
func (c *ErrorCode) UnmarshalText(b []byte) error {
	for i, n := range codeNames {
		if n == string(b) {
			*c = ErrorCode(i)
			return nil
		}
	}
	return fmt.Errorf("bank: unknown error code %q", b)
}

// OutcomeKnown reports whether a write that failed with c certainly did not
// happen at the provider. Unknown, DeadlineExceeded and Internal writes must be
// reconciled before anyone claims they failed or resends them without a key.
func (c ErrorCode) OutcomeKnown() bool {
	switch c {
	case Unknown, DeadlineExceeded, Internal, Canceled:
		return false
	}
	return true
}

// Error is an error classified by code, with the provider and operation that
// produced it. The portable layer wraps every adapter error exactly once.
type Error struct {
	Code     ErrorCode
	Provider string
	Op       string
	// RetryAfter is the provider's advice on when to try again, if any.
	RetryAfter time.Duration
	// Fields names the request fields at fault, as JSON pointers, if known.
	Fields []FieldError
	Err    error
}

// FieldError names one bad field of a request.
type FieldError struct {
	Pointer string `json:"pointer"`
	Message string `json:"detail"`
}

// Error formats the error with its provider and operation.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Provider != "" {
		b.WriteString(e.Provider)
		b.WriteString(": ")
	}
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString(e.Code.String())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is matches sentinel errors by code: errors.Is(err, bank.ErrNotFound).
func (e *Error) Is(target error) bool {
	s, ok := target.(*sentinel)
	return ok && s.code == e.Code
}

type sentinel struct {
	code ErrorCode
	msg  string
}

func (s *sentinel) Error() string { return s.msg }

// Sentinel errors, one per code, for errors.Is.
var (
	ErrNotFound           error = &sentinel{NotFound, "not found"}
	ErrAlreadyExists      error = &sentinel{AlreadyExists, "already exists"}
	ErrInvalidArgument    error = &sentinel{InvalidArgument, "invalid argument"}
	ErrFailedPrecondition error = &sentinel{FailedPrecondition, "failed precondition"}
	ErrUnauthenticated    error = &sentinel{Unauthenticated, "unauthenticated"}
	ErrPermissionDenied   error = &sentinel{PermissionDenied, "permission denied"}
	ErrResourceExhausted  error = &sentinel{ResourceExhausted, "resource exhausted"}
	ErrUnavailable        error = &sentinel{Unavailable, "unavailable"}
	ErrDeadlineExceeded   error = &sentinel{DeadlineExceeded, "deadline exceeded"}
	ErrUnimplemented      error = &sentinel{Unimplemented, "unimplemented"}
	ErrInternal           error = &sentinel{Internal, "internal"}
)

// Is lets a sentinel match another sentinel of the same code.
func (s *sentinel) Is(target error) bool {
	t, ok := target.(*sentinel)
	return ok && t.code == s.code
}

// Errorf returns a classified error with a formatted message.
func Errorf(code ErrorCode, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// Code classifies err. A nil error is OK; context errors map to Canceled and
// DeadlineExceeded; anything unclassified is Unknown.
func Code(err error) ErrorCode {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var s *sentinel
	if errors.As(err, &s) {
		return s.code
	}
	switch {
	case errors.Is(err, context.Canceled):
		return Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return DeadlineExceeded
	}
	return Unknown
}

// RetryAfterOf returns the retry advice carried by err, or zero.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// FieldsOf returns the bad fields named by err, if any.
func FieldsOf(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}
