// Package openapi holds vagate's unified API v1 as an OpenAPI 3.0 document,
// openapi.yaml, which is the source of truth for the HTTP surface: its
// routes, permissions, request and response schemas, and the choices the
// product specification leaves open (idempotency, errors, pagination).
//
// api.gen.go is generated from it by oapi-codegen: the models, a gin
// ServerInterface with RegisterHandlersWithOptions, and the embedded
// document. Spec returns the document as served at /openapi.yaml;
// Operations lists its operations with the permission each requires.
//
// After editing openapi.yaml, run `go generate ./openapi/`; a test fails
// while api.gen.go is stale.
package openapi

//go:generate go tool oapi-codegen -config oapi-codegen.yaml openapi.yaml
