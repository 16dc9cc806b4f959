package parentprimarymock_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/parentprimarymock"
)

// Every request is authenticated by token, date, nonce and signature; each
// failure is a 401 with its own code, and a refused create creates nothing.
// The document marks the four headers Optional: in lenient mode (the
// default) a request may leave out authorization (it acts for the first
// partner) or all three signing headers (it is unsigned), but what it sends
// is checked; in strict mode all four are required.
func TestSignatureChecks(t *testing.T) {
	now := time.Now().UTC()
	unsigned := func(r *http.Request) {
		for _, h := range []string{"Date", "X-Alg-Nonce", "X-Alg-Signature"} {
			r.Header.Del(h)
		}
	}
	tests := []struct {
		name string
		s    *signed
		code string // "" = accepted
		// lenient is the code in lenient mode where it differs ("" = accepted).
		lenient *string
	}{
		{"correct signature", &signed{}, "", nil},
		{"no authorization", &signed{after: func(r *http.Request) { r.Header.Del("Authorization") }}, parentprimarymock.CodeUnauthorized, ptr("")},
		{"unsigned", &signed{after: unsigned}, parentprimarymock.CodeRequestExpired, ptr("")},
		{"no headers at all", &signed{after: func(r *http.Request) { unsigned(r); r.Header.Del("Authorization") }}, parentprimarymock.CodeUnauthorized, ptr("")},
		{"unsigned, unknown token", &signed{token: "nobody", after: unsigned}, parentprimarymock.CodeUnauthorized, nil},
		{"signature without nonce and date", &signed{after: func(r *http.Request) { r.Header.Del("Date"); r.Header.Del("X-Alg-Nonce") }}, parentprimarymock.CodeRequestExpired, nil},
		{"not bearer", &signed{after: func(r *http.Request) { r.Header.Set("Authorization", partner.APIToken) }}, parentprimarymock.CodeUnauthorized, nil},
		{"unknown token", &signed{token: "nobody"}, parentprimarymock.CodeUnauthorized, nil},
		{"no date", &signed{after: func(r *http.Request) { r.Header.Del("Date") }}, parentprimarymock.CodeRequestExpired, nil},
		{"date not http", &signed{date: now.Format(time.RFC3339)}, parentprimarymock.CodeRequestExpired, nil},
		{"stale date", &signed{date: now.Add(-6 * time.Minute).Format(http.TimeFormat)}, parentprimarymock.CodeRequestExpired, nil},
		{"future date", &signed{date: now.Add(6 * time.Minute).Format(http.TimeFormat)}, parentprimarymock.CodeRequestExpired, nil},
		{"date within skew", &signed{date: now.Add(-4 * time.Minute).Format(http.TimeFormat)}, "", nil},
		{"no nonce", &signed{after: func(r *http.Request) { r.Header.Del("X-Alg-Nonce") }}, parentprimarymock.CodeInvalidNonce, nil},
		{"short nonce", &signed{nonce: "short"}, parentprimarymock.CodeInvalidNonce, nil},
		{"nonce with space", &signed{nonce: "has a space in it!!"}, parentprimarymock.CodeInvalidNonce, nil},
		{"wrong secret", &signed{secret: "not-the-secret"}, parentprimarymock.CodeInvalidSignature, nil},
		{"no signature", &signed{after: func(r *http.Request) { r.Header.Del("X-Alg-Signature") }}, parentprimarymock.CodeInvalidSignature, nil},
		{"date changed after signing", &signed{after: func(r *http.Request) {
			// A minute after the signed date: still fresh, but not what was signed.
			d, _ := http.ParseTime(r.Header.Get("Date"))
			r.Header.Set("Date", d.Add(time.Minute).Format(http.TimeFormat))
		}}, parentprimarymock.CodeInvalidSignature, nil},
		{"nonce changed after signing", &signed{after: func(r *http.Request) { r.Header.Set("X-Alg-Nonce", "another-nonce-0123456") }}, parentprimarymock.CodeInvalidSignature, nil},
		{"path changed after signing", &signed{after: func(r *http.Request) { r.URL.RawQuery = "x=1" }}, parentprimarymock.CodeInvalidSignature, nil},
	}
	for _, strict := range []bool{true, false} {
		e := newEnv(t, &parentprimarymock.Options{Strict: strict})
		mode := map[bool]string{true: "strict", false: "lenient"}[strict]
		for _, tc := range tests {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				e.t = t
				want := tc.code
				if !strict && tc.lenient != nil {
					want = *tc.lenient
				}
				ref := "SIG-" + tc.name
				before := e.m.AccountCount()
				r := e.do(http.MethodPost, pathVirtual, createBody(uuid.NewString(), ref), tc.s)
				if want == "" {
					if r.status != http.StatusOK {
						t.Fatalf("%d %s, want 200", r.status, r.body)
					}
					var a account
					r.decode(t, &a)
					if a.PartnerID != partner.ID {
						t.Errorf("partnerId = %s, want %s", a.PartnerID, partner.ID)
					}
					return
				}
				code, msg := r.apiErr(t)
				if r.status != http.StatusUnauthorized || code != want || msg == "" {
					t.Errorf("%d %s, want 401 %s", r.status, r.body, want)
				}
				if e.m.AccountCount() != before {
					t.Errorf("a refused request created an account")
				}
			})
		}
	}
	e := newEnv(t, nil)
	t.Run("tampered body", func(t *testing.T) {
		e.t = t
		body, _ := json.Marshal(createBody(uuid.NewString(), "TAMPER"))
		r := e.do(http.MethodPost, pathVirtual, body, &signed{after: func(r *http.Request) {
			b := []byte(strings.Replace(string(body), "Jane", "Mary", 1))
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		}})
		if code, _ := r.apiErr(t); r.status != http.StatusUnauthorized || code != parentprimarymock.CodeInvalidSignature {
			t.Errorf("%d %s, want 401 INVALID_SIGNATURE", r.status, r.body)
		}
		if n := e.m.CountByReference("TAMPER"); n != 0 {
			t.Errorf("tampered create made %d accounts", n)
		}
	})
	t.Run("reused nonce", func(t *testing.T) {
		e.t = t
		s := &signed{nonce: "reused-nonce-0000001"}
		if r := e.do(http.MethodPost, pathVirtual, createBody(uuid.NewString(), "NONCE-1"), s); r.status != http.StatusOK {
			t.Fatalf("first use: %d %s", r.status, r.body)
		}
		r := e.do(http.MethodPost, pathVirtual, createBody(uuid.NewString(), "NONCE-2"), s)
		if code, _ := r.apiErr(t); r.status != http.StatusUnauthorized || code != parentprimarymock.CodeNonceReused {
			t.Errorf("%d %s, want 401 NONCE_REUSED", r.status, r.body)
		}
		if n := e.m.CountByReference("NONCE-2"); n != 0 {
			t.Errorf("replayed nonce created %d accounts", n)
		}
	})
	t.Run("nonce of a refused request stays usable", func(t *testing.T) {
		e.t = t
		bad := &signed{nonce: "refused-nonce-000001", secret: "wrong"}
		e.do(http.MethodGet, pathVirtual+"/"+uuid.NewString(), nil, bad)
		r := e.do(http.MethodPost, pathVirtual, createBody(uuid.NewString(), "NONCE-3"), &signed{nonce: bad.nonce})
		if r.status != http.StatusOK {
			t.Errorf("%d %s, want 200", r.status, r.body)
		}
	})
	t.Run("clock offset makes dates stale", func(t *testing.T) {
		e.t = t
		if r := e.admin(http.MethodPut, "/__admin/config", map[string]string{"clockOffset": "1h"}); r.status != http.StatusOK {
			t.Fatalf("config: %d %s", r.status, r.body)
		}
		defer e.admin(http.MethodPut, "/__admin/config", map[string]string{"clockOffset": "0s"})
		r := e.do(http.MethodPost, pathVirtual, createBody(uuid.NewString(), "CLOCK"), nil)
		if code, _ := r.apiErr(t); code != parentprimarymock.CodeRequestExpired {
			t.Errorf("%d %s, want REQUEST_EXPIRED", r.status, r.body)
		}
	})
}

func TestCreate(t *testing.T) {
	e := newEnv(t, nil)
	t.Run("documented response", func(t *testing.T) {
		e.t = t
		key := uuid.NewString()
		r := e.do(http.MethodPost, pathVirtual, createBody(key, "DOC-1"), nil)
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
		var raw map[string]any
		r.decode(t, &raw)
		for _, k := range []string{"id", "partnerId", "externalReference", "primaryAccountId", "type", "currencyCode",
			"createDate", "state", "customerId", "productCode"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("response lacks %s: %s", k, r.body)
			}
		}
		var a account
		r.decode(t, &a)
		if a.Type != "VIRTUAL" || a.State != "READY" || a.CurrencyCode != "GBP" || a.PrimaryAccountID != gbp ||
			a.PartnerID != partner.ID || a.CustomerID != customer || a.ExternalReference != key || a.AvailableBalance != "0.00" {
			t.Errorf("account = %+v", a)
		}
	})
	tests := []struct {
		name   string
		edit   func(b map[string]any)
		status int
		code   string
		fields []string
	}{
		{"no customerId", func(b map[string]any) { delete(b, "customerId") }, 400, "VALIDATION_ERROR", []string{"customerId"}},
		{"bad uuids", func(b map[string]any) {
			b["customerId"], b["idempotencyKey"], b["parentAccountId"] = "x", 7, "{"+gbp+"}"
		}, 400, "VALIDATION_ERROR", []string{"customerId", "idempotencyKey", "parentAccountId"}},
		{"blank productCode", func(b map[string]any) { b["productCode"] = " " }, 400, "VALIDATION_ERROR", []string{"productCode"}},
		{"lower-case productCode", func(b map[string]any) { b["productCode"] = "fiat" }, 400, "VALIDATION_ERROR", []string{"productCode"}},
		{"productParameters not an object", func(b map[string]any) { b["productParameters"] = []int{1} }, 400, "VALIDATION_ERROR", []string{"productParameters"}},
		{"unknown member", func(b map[string]any) { b["currency"] = "GBP" }, 400, "VALIDATION_ERROR", []string{"currency"}},
		{"null productParameters", func(b map[string]any) { b["productParameters"] = nil }, 200, "", nil},
		{"unknown parent", func(b map[string]any) { b["parentAccountId"] = uuid.NewString() }, 422, "PARENT_ACCOUNT_NOT_FOUND", nil},
		{"unknown product", func(b map[string]any) { b["productCode"] = "FIAT_ACCOUNT_XX_V1" }, 422, "UNKNOWN_PRODUCT_CODE", nil},
		{"product of another currency", func(b map[string]any) { b["parentAccountId"] = eur }, 422, "CURRENCY_MISMATCH", nil},
		{"EUR under the EUR parent", func(b map[string]any) { b["parentAccountId"], b["productCode"] = eur, "FIAT_ACCOUNT_EU_V1" }, 200, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			b := createBody(uuid.NewString(), "V-"+tc.name)
			tc.edit(b)
			r := e.do(http.MethodPost, pathVirtual, b, nil)
			if r.status != tc.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.code == "" {
				return
			}
			var body struct {
				Code   string `json:"code"`
				Errors []struct{ Field string }
			}
			r.decode(t, &body)
			var got []string
			for _, f := range body.Errors {
				got = append(got, f.Field)
			}
			if body.Code != tc.code || strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("%s fields %v, want %s %v", body.Code, got, tc.code, tc.fields)
			}
			if n := e.m.CountByReference("V-" + tc.name); n != 0 {
				t.Errorf("refused create made %d accounts", n)
			}
		})
	}
	t.Run("bodies that are not objects", func(t *testing.T) {
		e.t = t
		for _, b := range []string{"", "[]", "null", `{"a":`, "42"} {
			if r := e.do(http.MethodPost, pathVirtual, []byte(b), nil); r.status != http.StatusBadRequest {
				t.Errorf("%q: %d %s", b, r.status, r.body)
			}
		}
	})
	t.Run("content type", func(t *testing.T) {
		e.t = t
		r := e.do(http.MethodPost, pathVirtual, createBody(uuid.NewString(), "CT"), &signed{after: func(r *http.Request) {
			r.Header.Set("Content-Type", "text/plain")
		}})
		if r.status != http.StatusUnsupportedMediaType {
			t.Errorf("%d %s", r.status, r.body)
		}
	})
	t.Run("too large", func(t *testing.T) {
		e.t = t
		big := `{"customerId":"` + strings.Repeat("x", parentprimarymock.MaxBody) + `"}`
		if r := e.do(http.MethodPost, pathVirtual, big, nil); r.status != http.StatusRequestEntityTooLarge {
			t.Errorf("%d", r.status)
		}
	})
}

// The same idempotencyKey returns the same account, also under concurrency;
// the key with another request is a conflict.
func TestCreateIdempotency(t *testing.T) {
	e := newEnv(t, nil)
	key := uuid.NewString()
	first := e.create(createBody(key, "IDEM-1"))
	t.Run("same key and body", func(t *testing.T) {
		e.t = t
		again := e.create(createBody(key, "IDEM-1"))
		if again.ID != first.ID {
			t.Errorf("resend made %s, first %s", again.ID, first.ID)
		}
	})
	t.Run("member order ignored", func(t *testing.T) {
		e.t = t
		b := `{"productParameters":{"accountName":"Jane Smith","clientReference":"IDEM-1"},"productCode":"FIAT_ACCOUNT_UK_V1",` +
			`"parentAccountId":"` + gbp + `","idempotencyKey":"` + strings.ToUpper(key) + `","customerId":"` + customer + `"}`
		if again := e.create(b); again.ID != first.ID {
			t.Errorf("reordered resend made %s", again.ID)
		}
	})
	t.Run("same key, other body", func(t *testing.T) {
		e.t = t
		b := createBody(key, "IDEM-OTHER")
		r := e.do(http.MethodPost, pathVirtual, b, nil)
		if code, _ := r.apiErr(t); r.status != http.StatusConflict || code != parentprimarymock.CodeKeyReused {
			t.Errorf("%d %s", r.status, r.body)
		}
	})
	t.Run("concurrent identical creates", func(t *testing.T) {
		e.t = t
		k := uuid.NewString()
		var wg sync.WaitGroup
		ids := make([]string, 20)
		for i := range ids {
			wg.Go(func() {
				r := e.do(http.MethodPost, pathVirtual, createBody(k, "IDEM-CONC"), nil)
				var a account
				json.Unmarshal(r.body, &a)
				ids[i] = a.ID
			})
		}
		wg.Wait()
		for _, id := range ids {
			if id == "" || id != ids[0] {
				t.Fatalf("ids %v, want one account", ids)
			}
		}
		if n := e.m.CountByReference("IDEM-CONC"); n != 1 {
			t.Errorf("%d accounts", n)
		}
	})
}

func TestGet(t *testing.T) {
	other := parentprimarymock.Partner{ID: uuid.NewString(), APIToken: "other-token", SigningSecret: "other-secret"}
	e := newEnv(t, &parentprimarymock.Options{Partners: []parentprimarymock.Partner{partner, other}})
	a := e.create(createBody(uuid.NewString(), "GET-1"))
	tests := []struct {
		name, id string
		s        *signed
		status   int
	}{
		{"own account", a.ID, nil, 200},
		{"upper-case id", strings.ToUpper(a.ID), nil, 200},
		{"missing", uuid.NewString(), nil, 404},
		{"another partner's", a.ID, &signed{token: other.APIToken, secret: other.SigningSecret}, 404},
		{"primary account", gbp, nil, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			r := e.do(http.MethodGet, pathVirtual+"/"+tc.id, nil, tc.s)
			if r.status != tc.status {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if tc.status == 200 {
				var got account
				r.decode(t, &got)
				if got.ID != a.ID || string(got.ProductParameters) != `{"accountName":"Jane Smith","clientReference":"GET-1"}` {
					t.Errorf("got %+v", got)
				}
			} else if code, _ := r.apiErr(t); code != parentprimarymock.CodeAccountNotFound {
				t.Errorf("code %s", code)
			}
		})
	}
}

func delBody(key string) any { return deleteBody(key) }

func TestDelete(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name   string
		funds  string
		body   func(key string) any
		repeat func(key string) any // a second delete of the same account
		status int
		code   string
	}{
		{"deleted", "", delBody, nil, 200, ""},
		{"notes given", "", func(k string) any { b := deleteBody(k); b["notes"] = "ticket 42"; return b }, nil, 200, ""},
		{"same key twice", "", delBody, delBody, 200, ""},
		{"same key, other reason", "", delBody, func(k string) any { b := deleteBody(k); b["reason"] = "other"; return b }, 200, ""},
		{"new key on a deleted account", "", delBody, func(string) any { return deleteBody(uuid.NewString()) }, 409, parentprimarymock.CodeAccountDeleted},
		{"holds funds", "10.00", delBody, nil, 409, parentprimarymock.CodeBalanceNotZero},
		{"notes missing", "", func(k string) any { b := deleteBody(k); delete(b, "notes"); return b }, nil, 400, "VALIDATION_ERROR"},
		{"all missing", "", func(string) any { return map[string]any{} }, nil, 400, "VALIDATION_ERROR"},
		{"blank reason", "", func(k string) any { b := deleteBody(k); b["reason"] = ""; return b }, nil, 400, "VALIDATION_ERROR"},
		{"notes not a string", "", func(k string) any { b := deleteBody(k); b["notes"] = 1; return b }, nil, 400, "VALIDATION_ERROR"},
		{"no body", "", func(string) any { return nil }, nil, 400, "VALIDATION_ERROR"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			a := e.create(createBody(uuid.NewString(), "DEL-"+tc.name))
			if tc.funds != "" {
				if _, err := e.m.Transfer(gbp, a.ID, tc.funds); err != nil {
					t.Fatal(err)
				}
			}
			key := uuid.NewString()
			r := e.do(http.MethodDelete, pathVirtual+"/"+a.ID, tc.body(key), nil)
			if tc.repeat != nil {
				if r.status != 200 {
					t.Fatalf("first delete: %d %s", r.status, r.body)
				}
				r = e.do(http.MethodDelete, pathVirtual+"/"+a.ID, tc.repeat(key), nil)
			}
			if r.status != tc.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.status)
			}
			rec, _ := e.m.Account(a.ID)
			if tc.status == 200 {
				if len(r.body) != 0 || rec.State != parentprimarymock.StateDeleted || rec.Deletion == nil || rec.Deletion.IdempotencyKey != key {
					t.Errorf("body %q, account %+v", r.body, rec)
				}
				g := e.do(http.MethodGet, pathVirtual+"/"+a.ID, nil, nil)
				var got account
				g.decode(t, &got)
				if g.status != 200 || got.State != "DELETED" {
					t.Errorf("deleted account reads %d %s", g.status, g.body)
				}
				return
			}
			if code, _ := r.apiErr(t); code != tc.code {
				t.Errorf("code %s, want %s", code, tc.code)
			}
			if tc.repeat == nil && rec.State != parentprimarymock.StateReady {
				t.Errorf("refused delete left state %s", rec.State)
			}
		})
	}
	t.Run("key reused for another account", func(t *testing.T) {
		e.t = t
		a, b := e.create(createBody(uuid.NewString(), "DEL-A")), e.create(createBody(uuid.NewString(), "DEL-B"))
		key := uuid.NewString()
		e.do(http.MethodDelete, pathVirtual+"/"+a.ID, deleteBody(key), nil)
		r := e.do(http.MethodDelete, pathVirtual+"/"+b.ID, deleteBody(key), nil)
		if code, _ := r.apiErr(t); r.status != 409 || code != parentprimarymock.CodeKeyReused {
			t.Errorf("%d %s", r.status, r.body)
		}
	})
	t.Run("missing account", func(t *testing.T) {
		e.t = t
		r := e.do(http.MethodDelete, pathVirtual+"/"+uuid.NewString(), deleteBody(uuid.NewString()), nil)
		if code, _ := r.apiErr(t); r.status != 404 || code != parentprimarymock.CodeAccountNotFound {
			t.Errorf("%d %s", r.status, r.body)
		}
	})
}

// Funds move only along the documented paths, and balances follow.
func TestTransfers(t *testing.T) {
	e := newEnv(t, nil)
	v1 := e.create(createBody(uuid.NewString(), "T-1"))
	v2 := e.create(createBody(uuid.NewString(), "T-2"))
	eurBody := createBody(uuid.NewString(), "T-3")
	eurBody["parentAccountId"], eurBody["productCode"] = eur, "FIAT_ACCOUNT_EU_V1"
	v3 := e.create(eurBody)
	tests := []struct {
		name, from, to, amount string
		status                 int
		code                   string
	}{
		{"parent to virtual", gbp, v1.ID, "100.00", 201, ""},
		{"virtual to virtual", v1.ID, v2.ID, "40.5", 201, ""},
		{"virtual to parent", v2.ID, gbp, "0.50", 201, ""},
		{"insufficient funds", v2.ID, v1.ID, "40.01", 422, parentprimarymock.CodeInsufficientFunds},
		{"across parents", v1.ID, v3.ID, "1.00", 422, parentprimarymock.CodeTransferNotAllowed},
		{"primary to primary", gbp, eur, "1.00", 422, parentprimarymock.CodeTransferNotAllowed},
		{"to itself", v1.ID, v1.ID, "1.00", 422, parentprimarymock.CodeTransferNotAllowed},
		{"bad amount", gbp, v1.ID, "1.001", 400, parentprimarymock.CodeValidation},
		{"zero", gbp, v1.ID, "0", 400, parentprimarymock.CodeValidation},
		{"unknown account", gbp, uuid.NewString(), "1.00", 404, parentprimarymock.CodeAccountNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			r := e.admin(http.MethodPost, "/__admin/transfers", map[string]string{"fromAccountId": tc.from, "toAccountId": tc.to, "amount": tc.amount})
			if r.status != tc.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.code != "" {
				if code, _ := r.apiErr(t); code != tc.code {
					t.Errorf("code %s, want %s", code, tc.code)
				}
			}
		})
	}
	for id, want := range map[string]string{v1.ID: "59.50", v2.ID: "40.00"} {
		var got account
		e.t = t
		e.do(http.MethodGet, pathVirtual+"/"+id, nil, nil).decode(t, &got)
		if got.AvailableBalance != want {
			t.Errorf("%s balance %s, want %s", id, got.AvailableBalance, want)
		}
	}
	if p := e.m.PrimaryAccounts()[0]; p.Balance != "999900.50" {
		t.Errorf("parent balance %s", p.Balance)
	}
	if n := len(e.m.Transfers()); n != 3 {
		t.Errorf("%d transfers", n)
	}
	if err := e.m.SetBlocked(v1.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Transfer(v1.ID, gbp, "1.00"); err == nil || !strings.Contains(err.Error(), parentprimarymock.CodeAccountNotReady) {
		t.Errorf("transfer from a blocked account: %v", err)
	}
}

func TestAdmin(t *testing.T) {
	e := newEnv(t, nil)
	other := "0b0c0d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e"
	e.create(createBody(uuid.NewString(), "ADM-1"))
	e.create(createBody(uuid.NewString(), "ADM-1"))
	b := createBody(uuid.NewString(), "ADM-2")
	b["customerId"] = other
	second := e.create(b)
	tests := []struct {
		name, method, path string
		body               any
		status             int
		check              func(t *testing.T, r resp)
	}{
		{"count by reference", "GET", "/__admin/accounts?clientReference=ADM-1", nil, 200, wantCount(2)},
		{"count by customer", "GET", "/__admin/accounts?customerId=" + other, nil, 200, wantCount(1)},
		{"count by external reference", "GET", "/__admin/accounts?externalReference=" + second.ExternalReference, nil, 200, wantCount(1)},
		{"count by state", "GET", "/__admin/accounts?state=READY", nil, 200, wantCount(3)},
		{"one account", "GET", "/__admin/accounts/" + second.ID, nil, 200, nil},
		{"block", "PUT", "/__admin/accounts/" + second.ID + "/state", map[string]string{"state": "BLOCKED"}, 200, func(t *testing.T, r resp) {
			if !strings.Contains(string(r.body), `"state":"BLOCKED"`) {
				t.Errorf("%s", r.body)
			}
		}},
		{"bad state", "PUT", "/__admin/accounts/" + second.ID + "/state", map[string]string{"state": "DELETED"}, 400, nil},
		{"seed primary", "POST", "/__admin/primary-accounts", map[string]string{"currencyCode": "CHF", "balance": "5.00"}, 201, func(t *testing.T, r resp) {
			var p struct{ ID, Type, CurrencyCode, AvailableBalance string }
			r.decode(t, &p)
			if p.ID == "" || p.Type != "PRIMARY" || p.CurrencyCode != "CHF" || p.AvailableBalance != "5.00" {
				t.Errorf("%s", r.body)
			}
		}},
		{"seed bad primary", "POST", "/__admin/primary-accounts", map[string]string{"currencyCode": "chf"}, 400, nil},
		{"seed duplicate primary", "POST", "/__admin/primary-accounts", map[string]string{"id": gbp, "currencyCode": "GBP"}, 400, nil},
		{"list primaries", "GET", "/__admin/primary-accounts", nil, 200, func(t *testing.T, r resp) {
			if strings.Count(string(r.body), `"type":"PRIMARY"`) != 4 {
				t.Errorf("%s", r.body)
			}
		}},
		{"products", "GET", "/__admin/products", nil, 200, nil},
		{"config", "PUT", "/__admin/config", map[string]string{"readyDelay": "1s", "maxSkew": "1m"}, 200, func(t *testing.T, r resp) {
			if !strings.Contains(string(r.body), `"readyDelay":"1s"`) {
				t.Errorf("%s", r.body)
			}
		}},
		{"bad config", "PUT", "/__admin/config", map[string]string{"maxSkew": "-1s"}, 400, nil},
		{"unknown config member", "PUT", "/__admin/config", map[string]string{"delay": "1s"}, 400, nil},
		{"add partner", "POST", "/__admin/partners", map[string]string{"id": uuid.NewString(), "apiToken": "t2", "signingSecret": "s2"}, 201, nil},
		{"duplicate token", "POST", "/__admin/partners", map[string]string{"id": uuid.NewString(), "apiToken": "t2", "signingSecret": "s2"}, 400, nil},
		{"unknown admin route", "GET", "/__admin/nope", nil, 404, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			r := e.admin(tc.method, tc.path, tc.body)
			if r.status != tc.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
	t.Run("rotated secret refuses old signatures", func(t *testing.T) {
		e.t = t
		if r := e.admin(http.MethodPatch, "/__admin/partners/"+partner.ID, map[string]string{"signingSecret": "rotated"}); r.status != 204 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if r := e.do(http.MethodGet, pathVirtual+"/"+second.ID, nil, nil); r.status != 401 {
			t.Errorf("old secret: %d", r.status)
		}
		if r := e.do(http.MethodGet, pathVirtual+"/"+second.ID, nil, &signed{secret: "rotated"}); r.status != 200 {
			t.Errorf("new secret: %d %s", r.status, r.body)
		}
		e.m.UpdatePartner(partner.ID, "", partner.SigningSecret)
	})
	t.Run("reset", func(t *testing.T) {
		e.t = t
		if r := e.admin(http.MethodDelete, "/__admin/reset", nil); r.status != http.StatusNoContent {
			t.Fatalf("%d", r.status)
		}
		if n := e.m.AccountCount(); n != 0 {
			t.Errorf("%d accounts after reset", n)
		}
		if p := e.m.PrimaryAccounts(); len(p) != 3 || p[0].Balance != "1000000.00" {
			t.Errorf("primaries after reset: %+v", p)
		}
		if c := e.m.Config(); c.ReadyDelay != 0 || c.MaxSkew != parentprimarymock.DefaultMaxSkew {
			t.Errorf("config after reset: %+v", c)
		}
		e.create(createBody(uuid.NewString(), "AFTER-RESET"))
	})
}

func wantCount(n int) func(t *testing.T, r resp) {
	return func(t *testing.T, r resp) {
		var out struct {
			Accounts []json.RawMessage
			Count    int
		}
		r.decode(t, &out)
		if out.Count != n || len(out.Accounts) != n {
			t.Errorf("count %d (%d listed), want %d", out.Count, len(out.Accounts), n)
		}
	}
}

// A new account stays PENDING for the ready delay, then reads READY.
func TestReadyDelay(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, &parentprimarymock.Options{ReadyDelay: time.Minute, Now: clock})
	a := e.create(createBody(uuid.NewString(), "RD-1"))
	if a.State != parentprimarymock.StatePending {
		t.Fatalf("state %s, want PENDING", a.State)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	var got account
	e.do(http.MethodGet, pathVirtual+"/"+a.ID, nil, &signed{date: clock().UTC().Format(http.TimeFormat)}).decode(t, &got)
	if got.State != parentprimarymock.StateReady {
		t.Errorf("state %s, want READY", got.State)
	}
}

func TestFaults(t *testing.T) {
	e := newEnv(t, nil)
	t.Run("error shapes", func(t *testing.T) {
		e.t = t
		for status, want := range map[int]string{400: "VALIDATION_ERROR", 401: "UNAUTHORIZED", 404: "NOT_FOUND", 409: "CONFLICT",
			429: "TOO_MANY_REQUESTS", 500: "INTERNAL_ERROR", 503: "SERVICE_UNAVAILABLE"} {
			if _, err := e.m.Faults().Add(fault.Rule{Action: fault.ActionError, Status: status, Times: 1, Method: http.MethodPost}); err != nil {
				t.Fatal(err)
			}
			r := e.do(http.MethodPost, pathVirtual, createBody(uuid.NewString(), "F"), nil)
			if code, msg := r.apiErr(t); r.status != status || code != want || msg == "" {
				t.Errorf("injected %d: %d %s, want %s", status, r.status, r.body, want)
			}
		}
		if n := e.m.CountByReference("F"); n != 0 {
			t.Errorf("%d accounts behind faults", n)
		}
	})
	t.Run("admin routes are not faulted", func(t *testing.T) {
		e.t = t
		if r := e.admin(http.MethodPost, "/__admin/faults", fault.Rule{Action: fault.ActionError, Status: 503}); r.status != 201 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		defer e.admin(http.MethodDelete, "/__admin/faults", nil)
		for _, p := range []string{"/__admin/accounts", "/__admin/faults", "/__admin/config", "/__admin/primary-accounts"} {
			if r := e.admin(http.MethodGet, p, nil); r.status != http.StatusOK {
				t.Errorf("%s: %d %s", p, r.status, r.body)
			}
		}
	})
	t.Run("dropped response still creates", func(t *testing.T) {
		e.t = t
		if _, err := e.m.Faults().Add(fault.Rule{Action: fault.ActionDropResponse, Method: http.MethodPost, Path: pathVirtual, Times: 1}); err != nil {
			t.Fatal(err)
		}
		key := uuid.NewString()
		body, _ := json.Marshal(createBody(key, "DROP-1"))
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL+pathVirtual, strings.NewReader(string(body)))
		date, nonce := time.Now().UTC().Format(http.TimeFormat), e.newNonce()
		req.Header.Set("Authorization", "Bearer "+partner.APIToken)
		req.Header.Set("Date", date)
		req.Header.Set("X-Alg-Nonce", nonce)
		req.Header.Set("X-Alg-Signature", parentprimarymock.Sign(partner.SigningSecret, "POST", pathVirtual, date, nonce, body))
		if res, err := e.srv.Client().Do(req); err == nil {
			res.Body.Close()
			t.Fatalf("dropped response answered %d", res.StatusCode)
		}
		again := e.create(createBody(key, "DROP-1"))
		if n := e.m.CountByReference("DROP-1"); n != 1 || again.ExternalReference != key {
			t.Errorf("%d accounts after the resend", n)
		}
	})
	t.Run("unknown routes", func(t *testing.T) {
		e.t = t
		if r := e.do(http.MethodGet, "/v1/nope", nil, nil); r.status != 404 {
			t.Errorf("%d", r.status)
		}
		r := e.do(http.MethodPut, pathVirtual, nil, nil)
		if code, _ := r.apiErr(t); r.status != 405 || code != "METHOD_NOT_ALLOWED" {
			t.Errorf("%d %s", r.status, r.body)
		}
	})
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		opts parentprimarymock.Options
	}{
		{"bad partner id", parentprimarymock.Options{Partners: []parentprimarymock.Partner{{ID: "x", APIToken: "t", SigningSecret: "s"}}}},
		{"partner without secret", parentprimarymock.Options{Partners: []parentprimarymock.Partner{{ID: uuid.NewString(), APIToken: "t"}}}},
		{"primary of unknown partner", parentprimarymock.Options{PrimaryAccounts: []parentprimarymock.PrimaryAccount{{PartnerID: uuid.NewString(), CurrencyCode: "GBP"}}}},
		{"primary with bad balance", parentprimarymock.Options{PrimaryAccounts: []parentprimarymock.PrimaryAccount{{CurrencyCode: "GBP", Balance: "-1"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("New accepted %+v", tc.opts)
				}
			}()
			parentprimarymock.New(&tc.opts)
		})
	}
}

func TestDefaults(t *testing.T) {
	m := parentprimarymock.New(&parentprimarymock.Options{PrimaryAccounts: parentprimarymock.DefaultPrimaryAccounts()})
	defer m.Close()
	parents := m.ParentAccounts("")
	for _, p := range parentprimarymock.DefaultPrimaryAccounts() {
		if parents[p.CurrencyCode] != p.ID {
			t.Errorf("parent for %s = %s, want %s", p.CurrencyCode, parents[p.CurrencyCode], p.ID)
		}
	}
	if got := m.ParentAccounts(uuid.NewString()); len(got) != 0 {
		t.Errorf("another partner's parents: %v", got)
	}
	codes := m.ProductCodes()
	for code, cur := range parentprimarymock.DefaultProducts() {
		if codes[cur] != code {
			t.Errorf("product for %s = %s, want %s", cur, codes[cur], code)
		}
	}
}

func ptr(s string) *string { return &s }
