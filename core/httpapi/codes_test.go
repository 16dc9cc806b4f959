package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/adapters/subaccount"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/httpapi"
	"github.com/vagate/vagate/core/idempotency"
	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/subaccountmock"
	"github.com/vagate/vagate/openapi"
)

// codeRow is a row of the error table in the document's introduction:
// | 409 | `pool_exhausted` | ... |
var codeRow = regexp.MustCompile("(?m)^\\s*\\| (\\d{3}) \\| `([a-z_]+)` \\|")

// documentedCodes are the problem codes of the document's error table, with
// their statuses.
func documentedCodes(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, m := range codeRow.FindAllStringSubmatch(string(openapi.Spec()), -1) {
		status, _ := strconv.Atoi(m[1])
		out[m[2]] = status
	}
	if len(out) < 20 {
		t.Fatalf("found %d codes in the document's error table; has its format changed?", len(out))
	}
	return out
}

// answer is one answer of the API under test.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// failingIdempotency is an idempotency store that cannot be reached.
type failingIdempotency struct{}

func (failingIdempotency) Begin(context.Context, string, string, string) (*idempotency.Claim, *idempotency.Record, error) {
	return nil, nil, errors.New("dial tcp 10.0.0.9:6379: connection refused")
}
func (failingIdempotency) Complete(context.Context, *idempotency.Claim, *idempotency.Record) error {
	return errors.New("unreachable")
}
func (failingIdempotency) Release(context.Context, *idempotency.Claim) error {
	return errors.New("unreachable")
}

// Every code of the document's error table is answered, with its status, by
// some request: the table promises nothing the server never sends, and a
// code added to it needs a request here. Each answer is a whole problem
// (type, title, instance, traceId; Retry-After where the table says so).
func TestEveryDocumentedErrorCodeIsAnswered(t *testing.T) {
	codes := documentedCodes(t)

	// A subaccount provider, whose settlement accounts tenants may name.
	sm := subaccountmock.New(&subaccountmock.Options{MainAccounts: subaccountmock.DefaultMainAccounts()})
	sms := httptest.NewServer(sm)
	t.Cleanup(sms.Close)
	sa, err := subaccount.Open(subaccount.Config{BaseURL: sms.URL, APIKey: subaccount.Secret(subaccountmock.DefaultAPIKey),
		SettlementAccounts: sm.SettlementAccounts()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := gateway.New("subaccount", sa, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := newAPIWith(t, memoryState(), apiWiring{extra: []*gateway.Provider{sp}})
	tok := a.token(t, "t1")

	do := func(ctx context.Context, method, path, tok, body string, hdr ...string) answer {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req := httptest.NewRequestWithContext(ctx, method, path, rd)
		req.Header.Set("Content-Type", "application/json")
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		a.handler.ServeHTTP(w, req)
		return answer{w.Code, w.Header(), w.Body.Bytes()}
	}
	call := func(method, path, tok, body string, hdr ...string) answer {
		t.Helper()
		return do(t.Context(), method, path, tok, body, hdr...)
	}
	// fail scripts a fault at the batchva mock for the case being run.
	fail := func(rule fault.Rule) {
		t.Helper()
		if _, err := a.mock.Faults().Add(rule); err != nil {
			t.Fatal(err)
		}
	}
	// apiWith serves another API, its dependencies tuned, with a key on every request.
	apiWith := func(tune func(*httpapi.Deps, *httpapi.Options), st apiState) func(method, path, body string) answer {
		b := newAPIState(t, st)
		if tune != nil {
			b = newAPIState(t, st, tune)
		}
		return func(method, path, body string) answer {
			resp, out := b.call(t, method, path, b.token(t, "t1"), strings.NewReader(body), "Idempotency-Key", uuid.NewString())
			return answer{resp.StatusCode, resp.Header, out}
		}
	}

	// Accounts to act on: one named (ACTIVE) and two unallocated.
	r := call("POST", "/v1/virtual-accounts", tok, `{"items":[`+named+`,{"currency":"USD","unallocated":true},{"currency":"USD","unallocated":true}]}`,
		"Prefer", "wait=10")
	var job struct{ ID string }
	if json.Unmarshal(r.body, &job); r.status != 200 || job.ID == "" {
		t.Fatalf("setup create: %d %s", r.status, r.body)
	}
	r = call("GET", "/v1/jobs/"+job.ID+"/results", tok, "")
	var res struct {
		Items []struct{ Account struct{ ID string } }
	}
	if json.Unmarshal(r.body, &res); len(res.Items) != 3 {
		t.Fatalf("setup results: %s", r.body)
	}
	active, spare1, spare2 := res.Items[0].Account.ID, res.Items[1].Account.ID, res.Items[2].Account.ID
	allocate := `{"accountHolderName":"Jane Smith","accountName":"Jane Smith"}`
	readOnly := a.token(t, "t1", "read-virtual-account")
	getAccount := "/v1/virtual-accounts/" + active + "?refresh=true"
	providerGet := func(status int, retryAfter string) fault.Rule {
		return fault.Rule{Method: "GET", Path: "/v1/virtual-accounts/*", Action: fault.ActionError, Status: status, RetryAfter: retryAfter, Times: 5}
	}

	cases := map[string]func() answer{
		"validation_failed": func() answer { return call("POST", "/v1/virtual-accounts", tok, `{"items":[{"currency":"usd"}]}`) },
		"invalid_body":      func() answer { return call("POST", "/v1/virtual-accounts", tok, `{"items":[`) },
		"invalid_idempotency_key": func() answer {
			return call("POST", "/v1/virtual-accounts", tok, items(1, named), "Idempotency-Key", "abc")
		},
		"unauthenticated":   func() answer { return call("GET", "/v1/providers", "", "") },
		"permission_denied": func() answer { return call("POST", "/v1/virtual-accounts", readOnly, items(1, named)) },
		"account_not_allowed": func() answer {
			return call("POST", "/v1/virtual-accounts", tok, `{"items":[{"provider":"subaccount","currency":"NGN","accountHolderName":"A","accountName":"B",`+
				`"providerParams":{"settlementAccountId":"5e771e00-0000-4000-8000-0000000000bb"}}]}`)
		},
		"not_found":          func() answer { return call("GET", "/v1/jobs/job_nope", tok, "") },
		"method_not_allowed": func() answer { return call("PUT", "/v1/jobs/"+job.ID, tok, "") },
		"idempotency_key_in_flight": func() answer {
			fail(fault.Rule{Method: "POST", Path: "/v1/virtual-accounts", Action: fault.ActionLatency, Latency: fault.Duration(time.Second), Times: 1})
			// Two requests with one key, the first slow at the provider:
			// whichever is second is answered in flight.
			key := uuid.NewString()
			var first answer
			var wg sync.WaitGroup
			wg.Go(func() {
				first = call("POST", "/v1/virtual-accounts", tok, items(1, named), "Idempotency-Key", key, "Prefer", "wait=5")
			})
			time.Sleep(300 * time.Millisecond)
			second := call("POST", "/v1/virtual-accounts", tok, items(1, named), "Idempotency-Key", key, "Prefer", "wait=5")
			wg.Wait()
			if first.status == http.StatusConflict {
				return first
			}
			return second
		},
		"field_immutable": func() answer {
			if r := call("PATCH", "/v1/virtual-accounts/"+spare1, tok, allocate); r.status != 200 {
				t.Fatalf("allocate: %d %s", r.status, r.body)
			}
			return call("PATCH", "/v1/virtual-accounts/"+spare1, tok, `{"accountName":"John Doe"}`)
		},
		"failed_precondition": func() answer { return call("DELETE", "/v1/jobs/"+job.ID, tok, "") },
		"pool_exhausted": func() answer {
			// A tenant with no UNALLOCATED account.
			return call("POST", "/v1/pool/claim", a.token(t, "t2"), `{"currency":"USD","accountHolderName":"A","accountName":"B"}`,
				"Idempotency-Key", uuid.NewString())
		},
		"conflict": func() answer {
			fail(fault.Rule{Method: "PATCH", Path: "/v1/virtual-accounts/*", Action: fault.ActionError, Status: 409, Times: 1})
			return call("PATCH", "/v1/virtual-accounts/"+spare2, tok, allocate)
		},
		"payload_too_large": func() answer {
			return call("POST", "/v1/virtual-accounts", tok, `{"items":[{"currency":"USD","accountName":"`+strings.Repeat("x", 2<<20)+`"}]}`)
		},
		"unsupported_media_type": func() answer {
			return call("POST", "/v1/virtual-accounts", tok, items(1, named), "Content-Type", "text/plain")
		},
		"idempotency_key_reused": func() answer {
			key := uuid.NewString()
			call("POST", "/v1/virtual-accounts", tok, items(1, named), "Idempotency-Key", key)
			return call("POST", "/v1/virtual-accounts", tok, items(2, named), "Idempotency-Key", key)
		},
		"capability_not_supported": func() answer { return call("POST", "/v1/virtual-accounts/"+active+"/block", tok, "") },
		"rate_limited": func() answer {
			fail(providerGet(http.StatusTooManyRequests, "60"))
			return call("GET", getAccount, tok, "")
		},
		"internal": func() answer {
			return apiWith(func(d *httpapi.Deps, _ *httpapi.Options) {
				d.Ready = func(context.Context) error { panic("a bug") }
			}, memoryState())("GET", "/readyz", "")
		},
		"not_implemented": func() answer { return call("GET", "/metrics", "", "") }, // no metrics handler wired
		"provider_error": func() answer {
			fail(providerGet(http.StatusInternalServerError, ""))
			return call("GET", getAccount, tok, "")
		},
		"provider_auth_failed": func() answer {
			fail(providerGet(http.StatusUnauthorized, ""))
			return call("GET", getAccount, tok, "")
		},
		"provider_unavailable": func() answer {
			fail(providerGet(http.StatusServiceUnavailable, "7"))
			return call("GET", getAccount, tok, "")
		},
		"idempotency_unavailable": func() answer {
			st := memoryState()
			st.idem = failingIdempotency{}
			return apiWith(nil, st)("POST", "/v1/virtual-accounts", items(1, named))
		},
		"store_unavailable": func() answer {
			// A Redis whose server does not answer: nothing listens on port 1.
			c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
			t.Cleanup(func() { c.Close() })
			st := memoryState()
			st.accounts = store.NewRedis(c, &store.RedisOptions{Prefix: "vagate-test-codes"})
			return apiWith(nil, st)("GET", "/v1/virtual-accounts/"+uuid.NewString(), "")
		},
		"request_canceled": func() answer {
			// The client went away: the answer is written, though no one reads it.
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return do(ctx, "GET", getAccount, tok, "")
		},
		"provider_timeout": func() answer {
			fail(fault.Rule{Method: "GET", Path: "/v1/virtual-accounts/*", Action: fault.ActionLatency, Latency: fault.Duration(5 * time.Second), Times: 1})
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			return do(ctx, "GET", getAccount, tok, "")
		},
	}
	retryAfter := map[string]bool{"idempotency_key_in_flight": true, "rate_limited": true, "provider_unavailable": true,
		"idempotency_unavailable": true, "store_unavailable": true}
	for code := range cases {
		if _, ok := codes[code]; !ok {
			t.Errorf("%s is answered here but not in the document's error table", code)
		}
	}
	for _, code := range slices.Sorted(maps.Keys(codes)) {
		status := codes[code]
		t.Run(code, func(t *testing.T) {
			run, ok := cases[code]
			if !ok {
				t.Fatalf("the document's error table lists %s; no request here answers it", code)
			}
			r := run()
			a.mock.Faults().Reset()
			var p struct {
				Type, Title, Code, Instance, TraceID string
				Status                               int
			}
			if err := json.Unmarshal(r.body, &p); err != nil || r.status != status || p.Code != code || p.Status != status {
				t.Fatalf("answer %d %s, want %d %s", r.status, r.body, status, code)
			}
			if ct := r.header.Get("Content-Type"); ct != httpapi.ProblemContentType {
				t.Errorf("Content-Type %q, want %s", ct, httpapi.ProblemContentType)
			}
			if p.Type != httpapi.ProblemTypeBase+code || p.Title == "" || !strings.HasPrefix(p.Instance, "/") || len(p.TraceID) != 32 {
				t.Errorf("problem %s: want type, title, instance and traceId", r.body)
			}
			if retryAfter[code] && r.header.Get("Retry-After") == "" {
				t.Errorf("%s without Retry-After", code)
			}
		})
	}
}
