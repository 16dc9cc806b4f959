// Package httpapi holds vagate's gin handlers and middleware: RFC 9457
// problem responses (the one table from bank.ErrorCode to HTTP status),
// request/trace ids, Bearer JWT authentication and permissions, and the
// public Idempotency-Key.
//
// A typical chain is RequestID, Recovery, Authenticate, Idempotency, then
// Require(permission) and the handler per route; NotFoundRoute and
// MethodNotAllowed answer unmatched requests with problems too.
package httpapi
