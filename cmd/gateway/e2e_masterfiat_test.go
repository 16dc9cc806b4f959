package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// mfMock talks to the embedded masterfiat mock's admin API.
type mfMock struct{ url string }

func (m mfMock) do(t *testing.T, method, path, body string, out any) int {
	t.Helper()
	return adminDo(t, m.url, method, path, body, out)
}

// webhookFaults replaces the mock's webhook fault rules.
func (m mfMock) webhookFaults(t *testing.T, rules string) {
	t.Helper()
	if s := m.do(t, "PUT", "/__admin/webhooks/faults", `{"rules":`+rules+`}`, nil); s != 200 {
		t.Fatalf("webhook faults: %d", s)
	}
}

type mfDelivery struct {
	AccountID  string          `json:"accountId"`
	Status     string          `json:"status"`
	Fault      string          `json:"fault"`
	Copy       int             `json:"copy"`
	Headers    http.Header     `json:"headers"`
	Body       json.RawMessage `json:"body"`
	LastStatus int             `json:"lastStatus"`
	Delivered  bool            `json:"delivered"`
	Dropped    bool            `json:"dropped"`
}

// deliveries are the mock's webhook deliveries about one provider account.
func (m mfMock) deliveries(t *testing.T, providerAccountID string) []mfDelivery {
	t.Helper()
	var out struct{ Deliveries []mfDelivery }
	m.do(t, "GET", "/__admin/webhooks/deliveries", "", &out)
	var mine []mfDelivery
	for _, d := range out.Deliveries {
		if d.AccountID == providerAccountID {
			mine = append(mine, d)
		}
	}
	return mine
}

// waitDelivery waits until a delivery about the account carrying status has
// an outcome (answered or dropped) and returns it.
func (m mfMock) waitDelivery(t *testing.T, providerAccountID, status string, copy int) mfDelivery {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, d := range m.deliveries(t, providerAccountID) {
			if d.Status == status && d.Copy == copy && (d.LastStatus != 0 || d.Dropped) {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivered %s webhook (copy %d) for %s: %+v", status, copy, providerAccountID, m.deliveries(t, providerAccountID))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type mfAccount struct {
	ID                string `json:"id"`
	Provider          string `json:"provider"`
	ProviderAccountID string `json:"providerAccountId"`
	Status            string `json:"status"`
	ProviderStatus    string `json:"providerStatus"`
	Currency          string `json:"currency"`
	AccountHolderName string `json:"accountHolderName"`
	AccountName       string `json:"accountName"`
	ClientReference   string `json:"clientReference"`
	BankDetails       []struct {
		IBAN          string `json:"iban"`
		BIC           string `json:"bic"`
		AccountNumber string `json:"accountNumber"`
		RoutingCodes  []struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"routingCodes"`
	} `json:"bankDetails"`
}

// mfCreate runs a one-item job at the masterfiat provider and returns the account it made.
func mfCreate(t *testing.T, g *gw, tok, currency, ref string) mfAccount {
	t.Helper()
	item := `{"provider":"masterfiat","currency":"` + currency + `","accountHolderName":"Jane Smith","accountName":"Jane ` + currency +
		`","clientReference":"` + ref + `"}`
	res := runOneItem[struct {
		Outcome string    `json:"outcome"`
		Account mfAccount `json:"account"`
	}](t, g, tok, item)
	if res.Outcome != "created" {
		t.Fatalf("item = %+v, want created", res)
	}
	return res.Account
}

func mfRead(t *testing.T, r *reply, what string) mfAccount {
	t.Helper()
	want(t, r, 200, what)
	var a mfAccount
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("%s: %s", what, r.body)
	}
	return a
}

// mfWait polls the stored account (never refreshed from the provider) until it has status.
func mfWait(t *testing.T, g *gw, tok, id, status string) mfAccount {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a := mfRead(t, g.do(t, "GET", "/v1/virtual-accounts/"+id, tok, ""), "get")
		if a.Status == status {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("account %s is %s, want %s", id, a.Status, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mfTransitions lists the account's status_updated events as "FROM>TO".
func mfTransitions(t *testing.T, g *gw, tok, id string) []string {
	t.Helper()
	r := g.do(t, "GET", "/v1/events?type=virtual_account.status_updated&limit=200", tok, "")
	want(t, r, 200, "events")
	var evs struct {
		Items []struct {
			Data struct {
				Account        mfAccount `json:"account"`
				PreviousStatus string    `json:"previousStatus"`
			} `json:"data"`
		} `json:"items"`
	}
	json.Unmarshal(r.body, &evs)
	var out []string
	for _, e := range evs.Items {
		if e.Data.Account.ID == id {
			out = append(out, e.Data.PreviousStatus+">"+e.Data.Account.Status)
		}
	}
	return out
}

// subsequence reports whether want appear in xs in order (others may come between).
func subsequence(xs []string, want ...string) bool {
	for _, x := range xs {
		if len(want) > 0 && x == want[0] {
			want = want[1:]
		}
	}
	return len(want) == 0
}

func count(xs []string, x string) int {
	n := 0
	for _, y := range xs {
		if y == x {
			n++
		}
	}
	return n
}

// The masterfiat provider through the real binary: asynchronous activation
// by verified webhook, block, unblock through UNBLOCKING, close; forged
// webhooks change nothing; duplicate and out-of-order webhooks leave the
// right final state; a dropped webhook is made good by the polling fallback.
func TestEndToEndMasterFiat(t *testing.T) {
	g := startGateway(t)
	mock := mfMock{g.mocks["masterfiat"]}
	if mock.url == "" {
		t.Fatalf("no embedded masterfiat mock: %v", g.mocks)
	}
	tok := mintToken(t, "mf-e2e", "")
	hook := "/v1/providers/masterfiat/webhooks"

	a := mfCreate(t, g, tok, "GBP", "MF-E2E-1")
	if a.Provider != "masterfiat" || a.Status != "PENDING" || a.ProviderStatus != "CREATED" || a.ClientReference != "MF-E2E-1" ||
		a.AccountName != "Jane GBP" || a.AccountHolderName != "Jane Smith" || !strings.HasPrefix(a.ProviderAccountID, "vac_") {
		t.Fatalf("created = %+v", a)
	}
	var genuine mfDelivery

	t.Run("activated by a verified webhook", func(t *testing.T) {
		act := mfWait(t, g, tok, a.ID, "ACTIVE")
		if act.ProviderStatus != "ACTIVE" || len(act.BankDetails) != 1 || len(act.BankDetails[0].AccountNumber) != 8 ||
			len(act.BankDetails[0].RoutingCodes) != 1 || act.BankDetails[0].RoutingCodes[0].Type != "SORT_CODE" {
			t.Errorf("active = %+v", act)
		}
		genuine = mock.waitDelivery(t, a.ProviderAccountID, "ACTIVE", 0)
		if genuine.LastStatus != http.StatusNoContent || !genuine.Delivered {
			t.Errorf("the gateway answered the ACTIVE webhook %d", genuine.LastStatus)
		}
	})

	t.Run("block, block again, unblock through UNBLOCKING", func(t *testing.T) {
		b := mfRead(t, g.do(t, "POST", "/v1/virtual-accounts/"+a.ID+"/block", tok, "", "Idempotency-Key", uuid.NewString()), "block")
		if b.Status != "BLOCKED" || b.ProviderStatus != "BLOCKED" {
			t.Fatalf("blocked = %+v", b)
		}
		b = mfRead(t, g.do(t, "POST", "/v1/virtual-accounts/"+a.ID+"/block", tok, ""), "block again")
		if b.Status != "BLOCKED" {
			t.Fatalf("blocked again = %+v", b)
		}
		u := mfRead(t, g.do(t, "POST", "/v1/virtual-accounts/"+a.ID+"/unblock", tok, "", "Idempotency-Key", uuid.NewString()), "unblock")
		if u.Status != "UNBLOCKING" || u.ProviderStatus != "UNBLOCKING" {
			t.Fatalf("unblocking = %+v", u)
		}
		mfWait(t, g, tok, a.ID, "ACTIVE")
	})

	t.Run("forged webhooks change nothing", func(t *testing.T) {
		forged := bytes.Replace(genuine.Body, []byte(`"status":"ACTIVE"`), []byte(`"status":"CLOSED"`), 1)
		if bytes.Equal(forged, genuine.Body) {
			t.Fatalf("cannot forge %s", genuine.Body)
		}
		for name, hdr := range map[string][]string{
			"tampered body, genuine headers": {"Digest", genuine.Headers.Get("Digest"), "Signature-Input", genuine.Headers.Get("Signature-Input"),
				"Signature", genuine.Headers.Get("Signature")},
			"bad signature": {"Signature-Input", genuine.Headers.Get("Signature-Input"), "Signature", "fr1=:" + strings.Repeat("0", 64) + ":"},
			"no signature":  nil,
		} {
			r := g.do(t, "POST", hook, "", string(forged), hdr...)
			if r.status != http.StatusUnauthorized {
				t.Errorf("%s: %d %s, want 401", name, r.status, r.body)
			}
		}
		if got := mfRead(t, g.do(t, "GET", "/v1/virtual-accounts/"+a.ID, tok, ""), "get"); got.Status != "ACTIVE" {
			t.Fatalf("after forged webhooks the account is %s", got.Status)
		}
	})

	t.Run("close is terminal", func(t *testing.T) {
		c := mfRead(t, g.do(t, "DELETE", "/v1/virtual-accounts/"+a.ID, tok, `{"reason":"customer left"}`, "Idempotency-Key", uuid.NewString()), "close")
		if c.Status != "CLOSED" || c.ProviderStatus != "CLOSED" {
			t.Fatalf("closed = %+v", c)
		}
		r := g.do(t, "POST", "/v1/virtual-accounts/"+a.ID+"/block", tok, "")
		want(t, r, 409, "block a CLOSED account")
		if r.json(t)["code"] != "failed_precondition" {
			t.Errorf("problem = %s", r.body)
		}
		want(t, g.do(t, "POST", "/v1/virtual-accounts/"+a.ID+"/unblock", tok, ""), 409, "unblock a CLOSED account")
		tr := mfTransitions(t, g, tok, a.ID)
		if !subsequence(tr, "PENDING>ACTIVE", "ACTIVE>BLOCKED", "BLOCKED>UNBLOCKING", "UNBLOCKING>ACTIVE", "ACTIVE>CLOSED") ||
			tr[len(tr)-1] != "ACTIVE>CLOSED" {
			t.Errorf("status_updated events %v", tr)
		}
		r = g.do(t, "GET", "/v1/events?type=virtual_account.closed", tok, "")
		if !bytes.Contains(r.body, []byte(a.ID)) {
			t.Errorf("no virtual_account.closed event: %s", r.body)
		}
	})

	t.Run("duplicate and out-of-order webhooks", func(t *testing.T) {
		mock.webhookFaults(t, `[{"action":"duplicate","status":"ACTIVE"},{"action":"delay","status":"UNBLOCKING","delay":"1s"}]`)
		t.Cleanup(func() { mock.webhookFaults(t, `[]`) })
		e := mfCreate(t, g, tok, "EUR", "MF-E2E-2")
		mfWait(t, g, tok, e.ID, "ACTIVE")
		mock.waitDelivery(t, e.ProviderAccountID, "ACTIVE", 2) // the duplicate was answered too
		mfRead(t, g.do(t, "POST", "/v1/virtual-accounts/"+e.ID+"/block", tok, ""), "block")
		mfRead(t, g.do(t, "POST", "/v1/virtual-accounts/"+e.ID+"/unblock", tok, ""), "unblock")
		mfWait(t, g, tok, e.ID, "ACTIVE")
		late := mock.waitDelivery(t, e.ProviderAccountID, "UNBLOCKING", 0) // held back, arrives after ACTIVE
		if late.Fault != "delay" || late.LastStatus != http.StatusNoContent {
			t.Errorf("late delivery %+v", late)
		}
		if got := mfRead(t, g.do(t, "GET", "/v1/virtual-accounts/"+e.ID, tok, ""), "get"); got.Status != "ACTIVE" || len(got.BankDetails) != 1 ||
			!strings.HasPrefix(got.BankDetails[0].IBAN, "DE") {
			t.Fatalf("after a late UNBLOCKING webhook the account is %+v", got)
		}
		tr := mfTransitions(t, g, tok, e.ID)
		if count(tr, "PENDING>ACTIVE") != 1 || count(tr, "UNBLOCKING>ACTIVE") != 1 || tr[len(tr)-1] != "UNBLOCKING>ACTIVE" {
			t.Errorf("status_updated events %v", tr)
		}
	})

	t.Run("dropped webhook: the polling fallback activates", func(t *testing.T) {
		mock.webhookFaults(t, `[{"action":"drop"}]`)
		t.Cleanup(func() { mock.webhookFaults(t, `[]`) })
		u := mfCreate(t, g, tok, "USD", "MF-E2E-3")
		if d := mock.waitDelivery(t, u.ProviderAccountID, "ACTIVE", 0); !d.Dropped {
			t.Fatalf("delivery %+v, want dropped", d)
		}
		act := mfWait(t, g, tok, u.ID, "ACTIVE")
		// routingCodes as the document types it: one object, the ABA code.
		if len(act.BankDetails) != 1 || len(act.BankDetails[0].RoutingCodes) != 1 || act.BankDetails[0].RoutingCodes[0].Type != "ABA" {
			t.Errorf("active = %+v", act)
		}
		if tr := mfTransitions(t, g, tok, u.ID); strings.Join(tr, " ") != "PENDING>ACTIVE" {
			t.Errorf("status_updated events %v", tr)
		}
		if !strings.Contains(g.logs.all(), `"account_id":"`+u.ID+`"`) {
			t.Errorf("no reconcile log line for %s", u.ID)
		}
	})

	// The first account reached ACTIVE by its webhook, not by polling.
	for _, line := range strings.Split(g.logs.all(), "\n") {
		if strings.Contains(line, "reconcile: account updated") && strings.Contains(line, `"account_id":"`+a.ID+`"`) {
			t.Errorf("account %s was updated by the polling fallback: %s", a.ID, line)
		}
	}
}
