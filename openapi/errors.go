package openapi

import "fmt"

// ParamIn says where a request parameter is sent.
type ParamIn string

// Where parameters are sent.
const (
	ParamInPath   ParamIn = "path"
	ParamInQuery  ParamIn = "query"
	ParamInHeader ParamIn = "header"
	ParamInCookie ParamIn = "cookie"
)

// ParamError is the error the generated wrappers pass to the ErrorHandler
// of RegisterHandlersWithOptions for a parameter they could not read:
// missing, repeated, or not of its documented type or format. The
// wrappers come from templates/gin-wrappers.tmpl.
type ParamError struct {
	// In is where the parameter is sent.
	In ParamIn
	// Name is the parameter's name as the document spells it.
	Name string
	// Err says what is wrong with it.
	Err error
}

// Error names the parameter and what is wrong with it.
func (e *ParamError) Error() string {
	return fmt.Sprintf("%s parameter %s: %v", e.In, e.Name, e.Err)
}

// Unwrap returns what is wrong with the parameter.
func (e *ParamError) Unwrap() error { return e.Err }
