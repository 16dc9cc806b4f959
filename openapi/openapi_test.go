package openapi

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
)

// loadValid loads the embedded document and validates it, with format and
// example validation on.
func loadValid(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(Spec())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if err := doc.Validate(t.Context(), openapi3.EnableSchemaFormatValidation(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("validate (formats, examples): %v", err)
	}
	return doc
}

func TestSpecValidates(t *testing.T) {
	doc := loadValid(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Errorf("openapi = %q, want 3.0.x (oapi-codegen needs it)", doc.OpenAPI)
	}
	// The document embedded by oapi-codegen must load too.
	if _, err := GetSwagger(); err != nil {
		t.Errorf("GetSwagger: %v", err)
	}
}

func TestSpecIsTheFile(t *testing.T) {
	file, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := Spec()
	if !bytes.Equal(got, file) {
		t.Fatal("Spec() differs from openapi.yaml")
	}
	got[0] = 'X'
	if !bytes.Equal(Spec(), file) {
		t.Fatal("modifying the slice from Spec() changed the document")
	}
}

// TestGeneratedCodeIsCurrent regenerates api.gen.go with the checked-in
// config into a temporary file and compares.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go command not found: %v", err)
	}
	cfg, err := os.ReadFile("oapi-codegen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The config names api.gen.go as output, which overrides -o: drop it.
	outputLine := regexp.MustCompile(`(?m)^output:.*$`)
	if !outputLine.Match(cfg) {
		t.Fatal("oapi-codegen.yaml has no top-level output line")
	}
	dir := t.TempDir()
	tmpCfg := filepath.Join(dir, "oapi-codegen.yaml")
	if err := os.WriteFile(tmpCfg, outputLine.ReplaceAll(cfg, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "api.gen.go")
	cmd := exec.CommandContext(t.Context(), goBin, "tool", "oapi-codegen", "-config", tmpCfg, "-o", out, "openapi.yaml")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, msg)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile("api.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, want) {
		t.Fatal("api.gen.go is stale: run make generate")
	}
}

// surface is SPEC §3, route by route, with the permission each requires.
var surface = []Operation{
	{"POST", "/v1/virtual-accounts", "createVirtualAccounts", "create-virtual-account"},
	{"GET", "/v1/virtual-accounts", "listVirtualAccounts", "read-virtual-account"},
	{"GET", "/v1/virtual-accounts/{id}", "getVirtualAccount", "read-virtual-account"},
	{"PATCH", "/v1/virtual-accounts/{id}", "updateVirtualAccount", "update-virtual-account"},
	{"DELETE", "/v1/virtual-accounts/{id}", "closeVirtualAccount", "update-virtual-account"},
	{"POST", "/v1/virtual-accounts/{id}/block", "blockVirtualAccount", "update-virtual-account"},
	{"POST", "/v1/virtual-accounts/{id}/unblock", "unblockVirtualAccount", "update-virtual-account"},
	{"GET", "/v1/jobs/{id}", "getJob", "read-virtual-account"},
	{"DELETE", "/v1/jobs/{id}", "cancelJob", "create-virtual-account"},
	{"GET", "/v1/jobs/{id}/results", "getJobResults", "read-virtual-account"},
	// The CSV form of the results (SPEC's Accept: text/csv, also honoured on
	// /results), as its own operation so that generated clients type each.
	{"GET", "/v1/jobs/{id}/results.csv", "getJobResultsCsv", "read-virtual-account"},
	{"GET", "/v1/pool", "getPool", "manage-pool"},
	{"PUT", "/v1/pool/{provider}/{currency}", "configurePool", "manage-pool"},
	{"POST", "/v1/pool/claim", "claimFromPool", "manage-pool"},
	{"POST", "/v1/pool/replenish", "replenishPool", "manage-pool"},
	{"POST", "/v1/webhook-endpoints", "createWebhookEndpoint", "manage-webhooks"},
	{"GET", "/v1/webhook-endpoints", "listWebhookEndpoints", "manage-webhooks"},
	{"GET", "/v1/webhook-endpoints/{id}", "getWebhookEndpoint", "manage-webhooks"},
	{"PATCH", "/v1/webhook-endpoints/{id}", "updateWebhookEndpoint", "manage-webhooks"},
	{"DELETE", "/v1/webhook-endpoints/{id}", "deleteWebhookEndpoint", "manage-webhooks"},
	{"POST", "/v1/webhook-endpoints/{id}/rotate-secret", "rotateWebhookEndpointSecret", "manage-webhooks"},
	{"GET", "/v1/webhook-endpoints/{id}/deliveries", "listWebhookDeliveries", "manage-webhooks"},
	{"GET", "/v1/webhook-endpoints/{id}/deliveries/{eventId}", "getWebhookDelivery", "manage-webhooks"},
	{"POST", "/v1/webhook-endpoints/{id}/deliveries/{eventId}/redeliver", "redeliverWebhookEvent", "manage-webhooks"},
	{"GET", "/v1/events", "listEvents", "read-virtual-account"},
	{"POST", "/v1/providers/{name}/webhooks", "receiveProviderWebhook", ""},
	{"GET", "/v1/providers", "listProviders", "read-virtual-account"},
	{"POST", "/v1/providers/{name}/reconcile", "reconcileProvider", "operator"},
	{"GET", "/v1/providers/{name}/reconcile/latest", "getLatestReconciliation", "operator"},
	{"GET", "/v1/reconciliations/{id}", "getReconciliation", "operator"},
	{"GET", "/v1/operator/overview", "getOperatorOverview", "operator"},
	{"POST", "/v1/operator/providers/{name}/breaker", "setProviderBreaker", "operator-actions"},
	{"POST", "/v1/operator/jobs/{id}/cancel", "operatorCancelJob", "operator-actions"},
	{"POST", "/v1/operator/pool/replenish", "operatorReplenishPool", "operator-actions"},
	{"POST", "/v1/operator/webhooks/redeliver", "operatorRedeliver", "operator-actions"},
	{"GET", "/v1/operator/mocks/{name}/faults", "listMockFaults", "operator-actions"},
	{"POST", "/v1/operator/mocks/{name}/faults", "addMockFault", "operator-actions"},
	{"DELETE", "/v1/operator/mocks/{name}/faults", "clearMockFaults", "operator-actions"},
	{"GET", "/healthz", "healthz", ""},
	{"GET", "/console", "getConsole", ""},
	{"GET", "/console/{file}", "getConsoleAsset", ""},
	{"GET", "/readyz", "readyz", ""},
	{"GET", "/metrics", "metrics", ""},
	{"GET", "/openapi.yaml", "getOpenAPI", ""},
}

func TestOperationsMatchSpecSurface(t *testing.T) {
	got, err := Operations()
	if err != nil {
		t.Fatal(err)
	}
	key := func(o Operation) string { return o.Method + " " + o.Path }
	have := map[string]Operation{}
	for _, o := range got {
		have[key(o)] = o
	}
	for _, w := range surface {
		g, ok := have[key(w)]
		switch {
		case !ok:
			t.Errorf("%s: missing", key(w))
		case g != w:
			t.Errorf("%s: got %+v, want %+v", key(w), g, w)
		}
		delete(have, key(w))
	}
	for k := range have {
		t.Errorf("%s: not in SPEC §3", k)
	}
	if !slices.IsSortedFunc(got, func(a, b Operation) int { return strings.Compare(a.Path, b.Path) }) {
		t.Error("Operations() is not sorted by path")
	}
}

const webhookOp = "receiveProviderWebhook"

var permissions = []string{
	"create-virtual-account", "read-virtual-account", "update-virtual-account", "manage-pool", "manage-webhooks", "operator", "operator-actions",
}

func forEachOperation(t *testing.T, doc *openapi3.T, f func(t *testing.T, method, path string, op *openapi3.Operation)) {
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			t.Run(op.OperationID, func(t *testing.T) { f(t, method, path, op) })
		}
	}
}

func TestOperationContracts(t *testing.T) {
	doc := loadValid(t)
	if doc.Components == nil || doc.Components.SecuritySchemes["bearerAuth"] == nil {
		t.Fatal("components.securitySchemes.bearerAuth is missing")
	}
	forEachOperation(t, doc, func(t *testing.T, method, path string, op *openapi3.Operation) {
		v1 := strings.HasPrefix(path, "/v1/")
		authenticated := v1 && op.OperationID != webhookOp
		security := doc.Security
		if op.Security != nil {
			security = *op.Security
		}
		hasBearer := slices.ContainsFunc(security, func(r openapi3.SecurityRequirement) bool { _, ok := r["bearerAuth"]; return ok })

		// Security and permission.
		perm, _ := op.Extensions[PermissionExtension].(string)
		switch {
		case authenticated:
			if !hasBearer {
				t.Error("no bearerAuth security")
			}
			if !slices.Contains(permissions, perm) {
				t.Errorf("%s = %q, want one of %v", PermissionExtension, perm, permissions)
			}
			if want := "Required permission: `" + perm + "`."; !strings.Contains(op.Description, want) {
				t.Errorf("description lacks %q", want)
			}
		default:
			if op.Security == nil || len(*op.Security) != 0 {
				t.Error("want explicit empty security (security: [])")
			}
			if perm != "" {
				t.Errorf("%s = %q on an operation without bearer auth", PermissionExtension, perm)
			}
		}
		if op.OperationID == webhookOp && !strings.Contains(op.Description, "signature") {
			t.Error("description does not say how the webhook is authenticated")
		}

		// Idempotency-Key on every write (provider callbacks excepted).
		write := method == http.MethodPost || method == http.MethodPatch || method == http.MethodDelete
		idem := op.Parameters.GetByInAndName(openapi3.ParameterInHeader, "Idempotency-Key")
		switch {
		case write && op.OperationID != webhookOp:
			if idem == nil {
				t.Error("no Idempotency-Key header parameter")
			} else if s := idem.Schema.Value; s == nil || s.Format != "uuid" || idem.Required {
				t.Error("Idempotency-Key must be an optional header with format uuid")
			}
		case idem != nil:
			t.Error("Idempotency-Key on an operation that is not a client write")
		}

		// Request bodies are strict.
		if rb := op.RequestBody; rb != nil && op.OperationID != webhookOp {
			mt := rb.Value.Content.Get("application/json")
			if mt == nil || len(rb.Value.Content) != 1 {
				t.Error("request body must be application/json only")
			} else if ap := mt.Schema.Value.AdditionalProperties.Has; ap == nil || *ap {
				t.Error("request body schema must set additionalProperties: false")
			}
		}

		// Errors are problems.
		var client4xx bool
		for code, ref := range op.Responses.Map() {
			if !(code == "default" || code[0] == '4' || code[0] == '5') {
				continue
			}
			if code[0] == '4' {
				client4xx = true
			}
			r := ref.Value
			if len(r.Content) != 1 || r.Content.Get("application/problem+json") == nil {
				t.Errorf("%s: want application/problem+json only", code)
				continue
			}
			if s := r.Content.Get("application/problem+json").Schema; s == nil || s.Ref != "#/components/schemas/Problem" {
				t.Errorf("%s: schema is not #/components/schemas/Problem", code)
			}
			if (code == "429" || code == "503") && r.Headers["Retry-After"] == nil {
				t.Errorf("%s: no Retry-After header", code)
			}
		}
		switch {
		case v1 && !client4xx:
			t.Error("no 4xx response")
		case !v1 && op.Responses.Default() == nil:
			t.Error("no default (problem) response")
		}
		if v1 && op.Responses.Status(http.StatusNotImplemented) == nil {
			t.Error("no 501 not_implemented response")
		}

		// Replayable writes say so.
		if write && op.OperationID != webhookOp {
			for code, ref := range op.Responses.Map() {
				if code[0] == '2' && ref.Value.Headers["Idempotent-Replayed"] == nil {
					t.Errorf("%s: no Idempotent-Replayed header", code)
				}
			}
		}
	})
}

func TestLimits(t *testing.T) {
	doc := loadValid(t)
	schema := func(name string) *openapi3.Schema {
		t.Helper()
		ref := doc.Components.Schemas[name]
		if ref == nil {
			t.Fatalf("no schema %s", name)
		}
		return ref.Value
	}
	items := schema("CreateVirtualAccountsRequest").Properties["items"].Value
	if items.MinItems != 1 || items.MaxItems == nil || *items.MaxItems != 1000 {
		t.Errorf("items: minItems %d maxItems %v, want 1..1000", items.MinItems, items.MaxItems)
	}
	if h := schema("CustomHeaders"); h.MaxProps == nil || *h.MaxProps != 10 || *h.AdditionalProperties.Schema.Value.MaxLength != 500 {
		t.Error("customHeaders: want at most 10, values at most 500")
	}
	for _, name := range []string{"CreateAccountItem", "UpdateAccountRequest", "PoolClaimRequest"} {
		if l := schema(name).Properties["clientReference"].Value.MaxLength; l == nil || *l != 64 {
			t.Errorf("%s.clientReference: maxLength %v, want 64", name, l)
		}
	}
	if p := schema("Currency").Pattern; p != "^[A-Z]{3}$" {
		t.Errorf("Currency pattern %q", p)
	}
	prefer := doc.Components.Parameters["Prefer"].Value
	if prefer.In != openapi3.ParameterInHeader || !strings.Contains(prefer.Description, "wait=N") {
		t.Error("Prefer: want a header documenting wait=N")
	}
	limit := doc.Components.Parameters["Limit"].Value.Schema.Value
	if *limit.Min != 1 || *limit.Max != 200 || limit.Default != float64(50) {
		t.Errorf("limit: %v..%v default %v, want 1..200 default 50", *limit.Min, *limit.Max, limit.Default)
	}
	results := doc.Paths.Find("/v1/jobs/{id}/results").Get.Responses.Status(http.StatusOK).Value
	if len(results.Content) != 1 || results.Content.Get("application/json") == nil {
		t.Error("job results: want application/json only, so that generated clients type the answer")
	}
	csv := doc.Paths.Find("/v1/jobs/{id}/results.csv").Get.Responses.Status(http.StatusOK).Value
	if len(csv.Content) != 1 || csv.Content.Get("text/csv") == nil {
		t.Error("job results as CSV: want text/csv only")
	}
}

// TestGeneratedRoutes registers the generated gin handlers and checks that
// they serve exactly the document's operations.
func TestGeneratedRoutes(t *testing.T) {
	gin.SetMode(gin.TestMode)
	r := gin.New()
	RegisterHandlersWithOptions(r, struct{ ServerInterface }{}, GinServerOptions{})
	var got []string
	for _, rt := range r.Routes() {
		got = append(got, rt.Method+" "+rt.Path)
	}
	ops, err := Operations()
	if err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`\{([^}]+)\}`)
	var want []string
	for _, o := range ops {
		want = append(want, o.Method+" "+param.ReplaceAllString(o.Path, ":$1"))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("gin routes\n%v\nwant\n%v", got, want)
	}
}
