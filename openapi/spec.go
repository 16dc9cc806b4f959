package openapi

import (
	_ "embed"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

//go:embed openapi.yaml
var spec []byte

// PermissionExtension is the operation extension naming the permission claim
// an operation requires.
const PermissionExtension = "x-permission"

// Spec returns the OpenAPI document as YAML, byte for byte as written, for
// serving at /openapi.yaml. The caller may modify the returned slice.
func Spec() []byte { return slices.Clone(spec) }

// Operation is one operation of the document.
type Operation struct {
	// Method is the HTTP method in upper case (GET, POST, ...).
	Method string
	// Path is the path in OpenAPI form, e.g. /v1/jobs/{id}.
	Path string
	// OperationID is the operation's operationId, e.g. getJob.
	OperationID string
	// Permission is the permission claim the operation requires (its
	// x-permission extension); empty for operations that take no bearer
	// token, such as /healthz and inbound provider webhooks.
	Permission string
}

// Operations lists every operation of the document, sorted by path and then
// method. It parses the document once; each call returns a fresh slice.
func Operations() ([]Operation, error) {
	ops, err := operations()
	return slices.Clone(ops), err
}

var operations = sync.OnceValues(func() ([]Operation, error) {
	doc, err := load()
	if err != nil {
		return nil, err
	}
	return listOperations(doc)
})

// load parses the embedded document with kin-openapi, without validating it.
func load() (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("openapi: load openapi.yaml: %w", err)
	}
	return doc, nil
}

func listOperations(doc *openapi3.T) ([]Operation, error) {
	var ops []Operation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			o := Operation{Method: strings.ToUpper(method), Path: path, OperationID: op.OperationID}
			if v, ok := op.Extensions[PermissionExtension]; ok {
				s, ok := v.(string)
				if !ok || s == "" {
					return nil, fmt.Errorf("openapi: %s %s: %s must be a non-empty string, got %v", o.Method, path, PermissionExtension, v)
				}
				o.Permission = s
			}
			ops = append(ops, o)
		}
	}
	slices.SortFunc(ops, func(a, b Operation) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return methodRank(a.Method) - methodRank(b.Method)
	})
	return ops, nil
}

var methodOrder = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions, http.MethodTrace,
}

func methodRank(m string) int {
	if i := slices.Index(methodOrder, m); i >= 0 {
		return i
	}
	return len(methodOrder)
}
