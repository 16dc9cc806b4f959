package masterfiatmock_test

import (
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vagate/vagate/mocks/masterfiatmock"
)

var idRE = map[string]*regexp.Regexp{
	"vac": regexp.MustCompile(`^vac_[a-z0-9]{18}$`),
	"biz": regexp.MustCompile(`^biz_[a-z0-9]{18}$`),
}

// validIBAN checks ISO 13616 check digits.
func validIBAN(s string) bool {
	if len(s) < 5 {
		return false
	}
	var b strings.Builder
	for _, c := range s[4:] + s[:4] {
		if c >= 'A' && c <= 'Z' {
			fmt.Fprint(&b, int(c-'A')+10)
		} else {
			b.WriteRune(c)
		}
	}
	n, ok := new(big.Int).SetString(b.String(), 10)
	return ok && new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}

func validABA(s string) bool {
	if len(s) != 9 {
		return false
	}
	w := []int{3, 7, 1, 3, 7, 1, 3, 7, 1}
	sum := 0
	for i := range 9 {
		sum += int(s[i]-'0') * w[i]
	}
	return sum%10 == 0
}

// A new account is CREATED, then ACTIVE with bank details that fit its currency.
func TestActivation(t *testing.T) {
	tests := []struct {
		currency, fac, country string
		check                  func(t *testing.T, d masterfiatmock.BankDetails)
	}{
		{"GBP", "fac_gbp000000000000001", "GB", func(t *testing.T, d masterfiatmock.BankDetails) {
			if len(d.AccountNumber) != 8 || len(d.RoutingCodes) != 1 || d.RoutingCodes[0].Type != "SORT_CODE" ||
				len(d.RoutingCodes[0].Value) != 6 || !validIBAN(d.IBAN) || !strings.HasPrefix(d.IBAN, "GB") {
				t.Errorf("GBP details %+v", d)
			}
		}},
		{"EUR", "fac_eur000000000000001", "DE", func(t *testing.T, d masterfiatmock.BankDetails) {
			if !validIBAN(d.IBAN) || !strings.HasPrefix(d.IBAN, "DE") || len(d.IBAN) != 22 || d.BIC == "" || d.AccountNumber != "" {
				t.Errorf("EUR details %+v", d)
			}
		}},
		{"USD", "fac_usd000000000000001", "US", func(t *testing.T, d masterfiatmock.BankDetails) {
			if len(d.AccountNumber) != 12 || len(d.RoutingCodes) != 2 || d.RoutingCodes[0].Type != "ABA" ||
				d.RoutingCodes[1].Type != "WIRE" || !validABA(d.RoutingCodes[0].Value) || d.IBAN != "" {
				t.Errorf("USD details %+v", d)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.currency, func(t *testing.T) {
			e := newEnv(t, nil)
			v := e.create(fmt.Sprintf(`{"masterFiatAccountId":%q,"currency":%q,"endUserId":"eus_vagate000000000001","label":"L","metadata":{"clientReference":"R-1"}}`, tc.fac, tc.currency))
			if v.Status != "CREATED" || v.BankDetails != nil || !idRE["vac"].MatchString(v.ID) || v.Owner.Type != "END_USER" ||
				v.Owner.ID != "eus_vagate000000000001" || v.BusinessID != masterfiatmock.BusinessID || v.Currency != tc.currency ||
				v.Label == nil || *v.Label != "L" || v.Metadata["clientReference"] != "R-1" || v.CreatedAt != v.UpdatedAt || v.CreatedAt == 0 {
				t.Fatalf("created %+v", v)
			}
			a := e.waitStatus(v.ID, "ACTIVE")
			if len(a.BankDetails) != 1 || a.UpdatedAt <= v.UpdatedAt {
				t.Fatalf("active %+v", a)
			}
			d := a.BankDetails[0]
			if d.Country != tc.country || d.AccountHolderName != "Jane Smith" || d.BankName == "" {
				t.Errorf("details %+v", d)
			}
			tc.check(t, d)
			r := e.do(http.MethodGet, "/api/v1/virtual-accounts/"+v.ID, "-", "")
			var got masterfiatmock.VirtualAccount
			r.decode(t, &got)
			if r.status != 200 || got.Status != "ACTIVE" || got.BankDetails[0].IBAN != d.IBAN {
				t.Errorf("get %d %s", r.status, r.body)
			}
		})
	}
}

func TestActivationFailure(t *testing.T) {
	e := newEnv(t, &masterfiatmock.Options{ActivationFailureRate: 1})
	v := e.create(gbp(""))
	if f := e.waitStatus(v.ID, "ACTIVATION_FAILED"); f.BankDetails != nil || f.Owner.Type != "MEMBER" || f.Owner.ID != masterfiatmock.MemberID {
		t.Errorf("failed account %+v", f)
	}
	r := e.do(http.MethodPut, "/__admin/config", "", `{"activationFailureRate":0}`)
	if r.status != 200 {
		t.Fatalf("config: %d %s", r.status, r.body)
	}
	e.waitStatus(e.create(gbp("")).ID, "ACTIVE")
}

// Lifecycle calls from every status: the new status, or 409 INVALID_STATUS_TRANSITION.
func TestTransitions(t *testing.T) {
	// reach drives a fresh account to status with the given operations.
	reach := map[string][]string{
		"CREATED":           nil,
		"ACTIVE":            {"wait:ACTIVE"},
		"BLOCKED":           {"wait:ACTIVE", "block"},
		"UNBLOCKING":        {"wait:ACTIVE", "block", "unblock"},
		"CLOSED":            {"wait:ACTIVE", "close"},
		"ACTIVATION_FAILED": {"fail", "wait:ACTIVATION_FAILED"},
	}
	tests := []struct {
		from, op, want string // want "" = 409
	}{
		{"ACTIVE", "block", "BLOCKED"},
		{"BLOCKED", "block", "BLOCKED"},
		{"CREATED", "block", ""},
		{"UNBLOCKING", "block", ""},
		{"CLOSED", "block", ""},
		{"ACTIVATION_FAILED", "block", ""},
		{"BLOCKED", "unblock", "UNBLOCKING"},
		{"ACTIVE", "unblock", "ACTIVE"},
		{"UNBLOCKING", "unblock", "UNBLOCKING"},
		{"CREATED", "unblock", ""},
		{"CLOSED", "unblock", ""},
		{"ACTIVE", "close", "CLOSED"},
		{"BLOCKED", "close", "CLOSED"},
		{"UNBLOCKING", "close", "CLOSED"},
		{"CREATED", "close", "CLOSED"},
		{"CLOSED", "close", ""},
		{"ACTIVATION_FAILED", "close", ""},
	}
	for _, tc := range tests {
		t.Run(tc.from+"/"+tc.op, func(t *testing.T) {
			// Long unblock delay so UNBLOCKING holds; no activation for CREATED.
			opts := &masterfiatmock.Options{UnblockDelay: time.Hour}
			if tc.from == "CREATED" {
				opts.ActivationDelay = time.Hour
			}
			e := newEnv(t, opts)
			v := e.create(gbp(""))
			for _, step := range reach[tc.from] {
				switch {
				case step == "fail":
					e.m.SetConfig(masterfiatmock.Config{ActivationFailureRate: 1, UnblockDelay: time.Hour})
					v = e.create(gbp(""))
				case strings.HasPrefix(step, "wait:"):
					e.waitStatus(v.ID, strings.TrimPrefix(step, "wait:"))
				default:
					if r := e.do(http.MethodPost, "/api/v1/virtual-accounts/"+v.ID+"/"+step, "-", ""); r.status != 200 {
						t.Fatalf("%s: %d %s", step, r.status, r.body)
					}
				}
			}
			before, _ := e.m.Account(v.ID)
			if before.Status != tc.from {
				t.Fatalf("set-up reached %s, want %s", before.Status, tc.from)
			}
			r := e.do(http.MethodPost, "/api/v1/virtual-accounts/"+v.ID+"/"+tc.op, "-", "")
			after, _ := e.m.Account(v.ID)
			if tc.want == "" {
				var er struct{ Code, Message string }
				r.decode(t, &er)
				if r.status != 409 || er.Code != masterfiatmock.CodeInvalidTransition || after.Status != tc.from || after.UpdatedAt != before.UpdatedAt {
					t.Fatalf("%s from %s = %d %s, now %s; want 409 and no change", tc.op, tc.from, r.status, r.body, after.Status)
				}
				return
			}
			var got masterfiatmock.VirtualAccount
			r.decode(t, &got)
			if r.status != 200 || got.Status != tc.want || after.Status != tc.want {
				t.Fatalf("%s from %s = %d %s; want %s", tc.op, tc.from, r.status, r.body, tc.want)
			}
			if changed := tc.want != tc.from; changed != (after.UpdatedAt > before.UpdatedAt) {
				t.Errorf("updatedAt %d → %d (status %s → %s)", before.UpdatedAt, after.UpdatedAt, tc.from, tc.want)
			}
		})
	}
}

// UNBLOCKING becomes ACTIVE after the unblock delay.
func TestUnblocking(t *testing.T) {
	e := newEnv(t, &masterfiatmock.Options{UnblockDelay: 30 * time.Millisecond})
	v := e.create(gbp(""))
	e.waitStatus(v.ID, "ACTIVE")
	e.do(http.MethodPost, "/api/v1/virtual-accounts/"+v.ID+"/block", "-", "")
	r := e.do(http.MethodPost, "/api/v1/virtual-accounts/"+v.ID+"/unblock", "-", "{}")
	if r.status != 200 || !strings.Contains(string(r.body), `"status":"UNBLOCKING"`) {
		t.Fatalf("unblock: %d %s", r.status, r.body)
	}
	e.waitStatus(v.ID, "ACTIVE")
}

func TestCreateValidation(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		status int
		code   string
		fields []string
	}{
		{"not json", `{`, 400, "VALIDATION_ERROR", []string{"body"}},
		{"not object", `[]`, 400, "VALIDATION_ERROR", []string{"body"}},
		{"empty", `{}`, 400, "VALIDATION_ERROR", []string{"masterFiatAccountId", "currency"}},
		{"wrong types", `{"masterFiatAccountId":1,"currency":true,"label":2,"metadata":"x"}`, 400, "VALIDATION_ERROR",
			[]string{"masterFiatAccountId", "currency", "label", "metadata"}},
		{"unknown field", gbp(`,"iban":"x"`), 400, "VALIDATION_ERROR", []string{"iban"}},
		{"bad ids", `{"masterFiatAccountId":"acc_1","currency":"GBP","endUserId":"usr_1"}`, 400, "VALIDATION_ERROR",
			[]string{"masterFiatAccountId", "endUserId"}},
		{"bad currency", `{"masterFiatAccountId":"fac_gbp000000000000001","currency":"gbp"}`, 400, "VALIDATION_ERROR", []string{"currency"}},
		{"blank label", gbp(`,"label":"  "`), 400, "VALIDATION_ERROR", []string{"label"}},
		{"long label", gbp(`,"label":"` + strings.Repeat("é", 256) + `"`), 400, "VALIDATION_ERROR", []string{"label"}},
		{"metadata value type", gbp(`,"metadata":{"a":1}`), 400, "VALIDATION_ERROR", []string{"metadata.a"}},
		{"metadata long value", gbp(`,"metadata":{"a":"` + strings.Repeat("x", 501) + `"}`), 400, "VALIDATION_ERROR", []string{"metadata.a"}},
		{"metadata long key", gbp(`,"metadata":{"` + strings.Repeat("k", 41) + `":"v"}`), 400, "VALIDATION_ERROR", nil},
		{"unknown master", `{"masterFiatAccountId":"fac_nope00000000000000","currency":"GBP"}`, 422, "FIAT_ACCOUNT_NOT_FOUND", nil},
		{"currency mismatch", `{"masterFiatAccountId":"fac_gbp000000000000001","currency":"EUR"}`, 422, "CURRENCY_MISMATCH", nil},
		{"unknown end user", gbp(`,"endUserId":"eus_nope00000000000000"`), 422, "END_USER_NOT_FOUND", nil},
		{"null optionals", gbp(`,"endUserId":null,"label":null,"metadata":null`), 201, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			r := e.do(http.MethodPost, "/api/v1/virtual-accounts", "-", tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.status == 201 {
				return
			}
			var er struct {
				Code    string
				Message string
				Errors  []struct{ Field, Message string }
			}
			r.decode(t, &er)
			if er.Code != tc.code || er.Message == "" {
				t.Errorf("error %s, want code %s", r.body, tc.code)
			}
			for _, f := range tc.fields {
				if !strings.Contains(er.Message, f+":") {
					t.Errorf("message %q does not name %s", er.Message, f)
				}
			}
			if e.m.AccountCount() != 0 {
				t.Errorf("a refused create left %d accounts", e.m.AccountCount())
			}
		})
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, nil)
	form := func(v url.Values) *reply {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL+"/passport/oauth/token", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		r := reply{status: resp.StatusCode, body: b}
		return &r
	}
	def := masterfiatmock.DefaultClient()
	good := url.Values{"grant_type": {"client_credentials"}, "scope": {"PAYMENTS"}, "client_id": {def.ID}, "client_secret": {def.Secret}}
	tests := []struct {
		name   string
		edit   func(url.Values)
		status int
		err    string
	}{
		{"ok", func(url.Values) {}, 200, ""},
		{"wrong secret", func(v url.Values) { v.Set("client_secret", "nope") }, 401, "invalid_client"},
		{"unknown client", func(v url.Values) { v.Set("client_id", "nope") }, 401, "invalid_client"},
		{"grant", func(v url.Values) { v.Set("grant_type", "password") }, 400, "unsupported_grant_type"},
		{"scope", func(v url.Values) { v.Set("scope", "READ") }, 400, "invalid_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := url.Values{}
			for k, x := range good {
				v[k] = append([]string(nil), x...)
			}
			tc.edit(v)
			r := form(v)
			if r.status != tc.status || (tc.err != "" && !strings.Contains(string(r.body), tc.err)) {
				t.Fatalf("%d %s, want %d %s", r.status, r.body, tc.status, tc.err)
			}
			if tc.status != 200 {
				return
			}
			var tr struct {
				AccessToken string `json:"access_token"`
				TokenType   string `json:"token_type"`
				ExpiresIn   int    `json:"expires_in"`
			}
			r.decode(t, &tr)
			if tr.AccessToken == "" || tr.TokenType != "bearer" || tr.ExpiresIn != 3599 {
				t.Fatalf("token %s", r.body)
			}
			if r := e.do(http.MethodGet, "/api/v1/fiat-accounts", tr.AccessToken, ""); r.status != 200 || !strings.Contains(string(r.body), `"MASTER"`) {
				t.Errorf("with the token: %d %s", r.status, r.body)
			}
		})
	}
	for _, tok := range []string{"", "not-a-token"} {
		if r := e.do(http.MethodGet, "/api/v1/virtual-accounts/vac_x", tok, ""); r.status != 401 || !strings.Contains(string(r.body), "UNAUTHORIZED") {
			t.Errorf("token %q: %d %s", tok, r.status, r.body)
		}
	}
}

// The list filters by metadata and pages with a cursor.
func TestList(t *testing.T) {
	e := newEnv(t, nil)
	var want []string
	for i := range 5 {
		ref := "A"
		if i%2 == 1 {
			ref = "B"
		}
		v := e.create(gbp(fmt.Sprintf(`,"metadata":{"clientReference":%q}`, ref)))
		if ref == "A" {
			want = append(want, v.ID)
		}
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		q := url.Values{"metadata[clientReference]": {"A"}, "limit": {"2"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		r := e.do(http.MethodGet, "/api/v1/virtual-accounts?"+q.Encode(), "-", "")
		var l struct {
			Data       []masterfiatmock.VirtualAccount `json:"data"`
			NextCursor *string                         `json:"nextCursor"`
		}
		r.decode(t, &l)
		for _, v := range l.Data {
			got = append(got, v.ID)
		}
		if l.NextCursor == nil || pages > 5 {
			break
		}
		cursor = *l.NextCursor
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("listed %v, want %v", got, want)
	}
	for _, q := range []string{"limit=0", "limit=101", "nope=1", "cursor=vac_unknown"} {
		if r := e.do(http.MethodGet, "/api/v1/virtual-accounts?"+q, "-", ""); r.status != 400 {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
	var adm struct {
		Count            int  `json:"count"`
		CountByReference *int `json:"countByReference"`
	}
	e.do(http.MethodGet, "/__admin/accounts?clientReference=A", "", "").decode(t, &adm)
	if adm.CountByReference == nil || *adm.CountByReference != 3 || e.m.CountByReference("B") != 2 {
		t.Errorf("admin count %+v, B %d", adm, e.m.CountByReference("B"))
	}
}

// The same seed gives the same ids and bank details.
func TestSeedReproducible(t *testing.T) {
	run := func() (string, string) {
		e := newEnv(t, &masterfiatmock.Options{Seed: 42})
		v := e.create(gbp(""))
		a := e.waitStatus(v.ID, "ACTIVE")
		return v.ID, a.BankDetails[0].IBAN
	}
	id1, iban1 := run()
	id2, iban2 := run()
	if id1 != id2 || iban1 != iban2 {
		t.Errorf("seed 42 gave %s/%s then %s/%s", id1, iban1, id2, iban2)
	}
}

func TestAdmin(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		method, path, body string
		status             int
		contains           string
	}{
		{"POST", "/__admin/fiat-accounts", `{"currency":"EUR","country":"LU","label":"LU master"}`, 201, `"country":"LU"`},
		{"POST", "/__admin/fiat-accounts", `{"currency":"EUR","country":"FR"}`, 400, "country"},
		{"POST", "/__admin/fiat-accounts", `{"currency":"EUR","nope":1}`, 400, "nope"},
		{"POST", "/__admin/end-users", `{"name":"John Doe"}`, 201, `"id":"eus_`},
		{"POST", "/__admin/end-users", `{"name":" "}`, 400, "name"},
		{"GET", "/__admin/fiat-accounts", "", 200, "fac_usd000000000000001"},
		{"GET", "/__admin/end-users", "", 200, "eus_vagate000000000001"},
		{"PUT", "/__admin/config", `{"activationDelay":"5ms","unblockDelay":"7ms"}`, 200, `"unblockDelay":"7ms"`},
		{"PUT", "/__admin/config", `{"activationFailureRate":2}`, 400, "activationFailureRate"},
		{"PUT", "/__admin/webhooks/faults", `{"rules":[{"action":"explode"}]}`, 400, "action"},
		{"PUT", "/__admin/webhooks/faults", `{"rules":[{"action":"delay"}]}`, 400, "delay"},
		{"PUT", "/__admin/webhooks/faults", `{"rules":[{"action":"drop","status":"ACTIVE","times":1}]}`, 200, `"action":"drop"`},
		{"GET", "/__admin/webhooks/faults", "", 200, `"status":"ACTIVE"`},
		{"DELETE", "/__admin/webhooks/faults", "", 204, ""},
		{"GET", "/__admin/nope", "", 404, "NOT_FOUND"},
		{"DELETE", "/__admin/reset", "", 204, ""},
		{"GET", "/__admin/config", "", 200, `"activationDelay":"10ms"`},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := e.do(tc.method, tc.path, "", tc.body)
			if r.status != tc.status || !strings.Contains(string(r.body), tc.contains) {
				t.Fatalf("%d %s, want %d containing %s", r.status, r.body, tc.status, tc.contains)
			}
		})
	}
}

// Injected faults answer in the provider's error shape; admin routes are never faulted.
func TestFaults(t *testing.T) {
	e := newEnv(t, nil)
	if r := e.do(http.MethodPost, "/__admin/faults", "", `{"method":"POST","path":"/api/v1/virtual-accounts","action":"error","status":503,"retryAfter":"2","times":1}`); r.status != 201 {
		t.Fatalf("add fault: %d %s", r.status, r.body)
	}
	r := e.do(http.MethodPost, "/api/v1/virtual-accounts", "-", gbp(""))
	if r.status != 503 || r.header.Get("Retry-After") != "2" || !strings.Contains(string(r.body), `"code":"SERVICE_UNAVAILABLE"`) {
		t.Fatalf("faulted create: %d %v %s", r.status, r.header, r.body)
	}
	if e.m.AccountCount() != 0 {
		t.Fatal("a faulted create was stored")
	}
	e.create(gbp(""))
}
