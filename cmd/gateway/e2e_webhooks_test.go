package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/vagate/vagate/mocks/batchvamock"
)

// hook is one delivery a receiver answered.
type hook struct {
	id, typ string
	header  http.Header
	body    []byte
}

// hookReceiver is the platform's side: a loopback HTTP server that records
// the deliveries it acknowledges. It can be down (nothing listening on its
// port), answer with an error, hang, or redirect.
type hookReceiver struct {
	t    *testing.T
	addr string
	mu   sync.Mutex
	srv  *http.Server
	got  []hook
	// status answers every delivery (0: 200); hang holds it until release.
	status int
	hang   chan struct{}
	// inFlight counts deliveries being held.
	inFlight int
}

// newHookReceiver listens on a free loopback port.
func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hookReceiver{t: t, addr: ln.Addr().String()}
	h.serve(ln)
	t.Cleanup(func() { h.release(); h.down() })
	return h
}

func (h *hookReceiver) url() string { return "http://" + h.addr + "/hooks" }

func (h *hookReceiver) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(h.handle)}
	h.mu.Lock()
	h.srv = srv
	h.mu.Unlock()
	go srv.Serve(ln)
}

func (h *hookReceiver) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	hang, status := h.hang, h.status
	if hang != nil {
		h.inFlight++
	}
	h.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
		h.mu.Lock()
		h.inFlight--
		status = h.status
		h.mu.Unlock()
	}
	if status != 0 && status != 200 {
		w.WriteHeader(status)
		return
	}
	var e struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	json.Unmarshal(body, &e)
	h.mu.Lock()
	h.got = append(h.got, hook{id: e.ID, typ: e.Type, header: r.Header.Clone(), body: body})
	h.mu.Unlock()
}

// down stops listening: deliveries find nothing at the port.
func (h *hookReceiver) down() {
	h.mu.Lock()
	srv := h.srv
	h.srv = nil
	h.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// up listens again on the same port.
func (h *hookReceiver) up() {
	h.t.Helper()
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", h.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		h.t.Fatalf("receiver back up on %s: %v", h.addr, err)
	}
	h.serve(ln)
}

// holdAll makes deliveries hang until release.
func (h *hookReceiver) holdAll() {
	h.mu.Lock()
	h.hang = make(chan struct{})
	h.mu.Unlock()
}

func (h *hookReceiver) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hang != nil {
		close(h.hang)
		h.hang = nil
	}
}

func (h *hookReceiver) held() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.inFlight
}

func (h *hookReceiver) hooks() []hook {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

// waitFor waits until the receiver has acknowledged a delivery of every
// event id in ids.
func (h *hookReceiver) waitFor(t *testing.T, ids []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		have := map[string]bool{}
		for _, k := range h.hooks() {
			have[k.id] = true
		}
		var missing []string
		for _, id := range ids {
			if !have[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %d of %d events never arrived: %v", within, len(missing), len(ids), missing)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitType waits for a delivery of an event of type typ (about subject, if
// given: a job or account id in its body) and returns it.
func (h *hookReceiver) waitType(t *testing.T, typ, subject string) hook {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, k := range h.hooks() {
			if k.typ == typ && strings.Contains(string(k.body), subject) {
				return k
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s delivery about %q", typ, subject)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// verified checks a delivery with the Standard Webhooks library.
func verified(t *testing.T, secret string, k hook) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(k.body, k.header); err != nil {
		t.Errorf("%s %s does not verify with the Standard Webhooks library: %v", k.typ, k.id, err)
	}
}

// keepSecret adds a signing secret to what no gateway log may contain.
func keepSecret(s string) {
	mintedMu.Lock()
	minted = append(minted, s, strings.TrimPrefix(s, "whsec_"))
	mintedMu.Unlock()
}

// register creates a webhook endpoint and returns its id and secret.
func register(t *testing.T, g *gw, tok, body string) (id, secret string) {
	t.Helper()
	r := g.do(t, "POST", "/v1/webhook-endpoints", tok, body, "Idempotency-Key", uuid.NewString())
	want(t, r, 201, "register endpoint")
	var ep struct{ ID, Secret string }
	json.Unmarshal(r.body, &ep)
	if !strings.HasPrefix(ep.Secret, "whsec_") {
		t.Fatalf("no secret in %s", r.body)
	}
	keepSecret(ep.Secret)
	return ep.ID, ep.Secret
}

// createJob creates n named USD accounts in one job, with the given extra
// top-level fields, and returns the job id.
func createJob(t *testing.T, g *gw, tok string, n int, extra string) string {
	t.Helper()
	var items []string
	for i := range n {
		items = append(items, fmt.Sprintf(`{"currency":"USD","accountHolderName":"Hook Ltd","accountName":"Hook %d"}`, i))
	}
	r := g.do(t, "POST", "/v1/virtual-accounts", tok, `{`+extra+`"items":[`+strings.Join(items, ",")+`]}`, "Idempotency-Key", uuid.NewString())
	want(t, r, 202, "create")
	id, _ := r.json(t)["jobId"].(string)
	return id
}

// eventIDs lists the tenant's event log.
func eventIDs(t *testing.T, g *gw, tok string) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for {
		r := g.do(t, "GET", "/v1/events?limit=200&cursor="+cursor, tok, "")
		want(t, r, 200, "events")
		var page struct {
			Items      []struct{ ID string }
			NextCursor string
		}
		json.Unmarshal(r.body, &page)
		for _, e := range page.Items {
			ids = append(ids, e.ID)
		}
		if len(page.Items) == 0 {
			return ids
		}
		cursor = page.NextCursor
	}
}

// jobEvent is the id of the job.completed event of a job.
func jobEvent(t *testing.T, g *gw, tok, jobID string) string {
	t.Helper()
	r := g.do(t, "GET", "/v1/events?type=job.completed&limit=200", tok, "")
	want(t, r, 200, "events")
	var page struct {
		Items []struct {
			ID   string
			Data struct{ Job struct{ ID string } }
		}
	}
	json.Unmarshal(r.body, &page)
	for _, e := range page.Items {
		if e.Data.Job.ID == jobID {
			return e.ID
		}
	}
	t.Fatalf("no job.completed event for %s: %s", jobID, r.body)
	return ""
}

// webhookConfig writes a config: embedded mocks, the given store block and
// webhooks block.
func webhookConfig(t *testing.T, storeBlock, hooksBlock string) string {
	t.Helper()
	doc := "auth:\n  secret: webhook-e2e-test-secret-0123456789abcdef\nmocks:\n  embedded: true\n" + storeBlock + "webhooks:\n" + hooksBlock
	p := filepath.Join(t.TempDir(), "vagate.yaml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The platform's first webhook, through the binary in its embedded
// development setup (which allowlists loopback): a registered endpoint gets
// job.completed (as the job's callbackUrl, with its customHeaders) and
// virtual_account.created, each verified by the Standard Webhooks library;
// after a rotation every delivery verifies with the old secret and the new
// during the overlap; the attempts are readable.
func TestWebhooksEndToEnd(t *testing.T) {
	t.Setenv("VAGATE_LOG_LEVEL", "debug") // the most the gateway logs: still no secret
	g := startGateway(t)
	tok := mintToken(t, "dev", "")
	rc := newHookReceiver(t)
	epID, secret := register(t, g, tok, `{"url":"`+rc.url()+`","description":"e2e"}`)

	jobID := createJob(t, g, tok, 2, `"callbackUrl":"`+rc.url()+`","customHeaders":{"X-Batch":"onboarding-42"},`)
	g.waitJob(t, tok, jobID)
	done := rc.waitType(t, "job.completed", jobID)
	verified(t, secret, done)
	if done.header.Get("X-Batch") != "onboarding-42" || done.header.Get("webhook-id") != done.id {
		t.Errorf("job.completed headers: %v", done.header)
	}
	created := rc.waitType(t, "virtual_account.created", "")
	verified(t, secret, created)
	var jobDone int
	for _, k := range rc.hooks() {
		if k.typ == "job.completed" && k.id == done.id {
			jobDone++
		}
	}
	if jobDone != 1 {
		t.Errorf("job.completed arrived %d times, want once (callbackUrl and subscription are one delivery)", jobDone)
	}

	r := g.do(t, "POST", "/v1/webhook-endpoints/"+epID+"/rotate-secret", tok, `{"overlapSeconds":3600}`, "Idempotency-Key", uuid.NewString())
	want(t, r, 200, "rotate")
	var rot struct{ Secret string }
	json.Unmarshal(r.body, &rot)
	keepSecret(rot.Secret)
	if rot.Secret == "" || rot.Secret == secret {
		t.Fatalf("rotation answered %s", r.body)
	}
	job2 := createJob(t, g, tok, 1, "")
	g.waitJob(t, tok, job2)
	after := rc.waitType(t, "job.completed", job2)
	verified(t, secret, after)     // a receiver not yet switched over
	verified(t, rot.Secret, after) // and one that has

	r = g.do(t, "GET", "/v1/webhook-endpoints/"+epID+"/deliveries/"+done.id, tok, "")
	want(t, r, 200, "delivery")
	var d struct {
		Status   string
		Attempts []struct {
			StatusCode int
			Trigger    string
		}
	}
	json.Unmarshal(r.body, &d)
	if d.Status != "succeeded" || len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 200 {
		t.Errorf("delivery %s", r.body)
	}
	r = g.do(t, "GET", "/v1/webhook-endpoints", tok, "")
	if strings.Contains(string(r.body), strings.TrimPrefix(rot.Secret, "whsec_")) {
		t.Error("the list shows a secret")
	}
}

// The receiver is down for a while, then up: every event recorded since the
// endpoint was registered arrives (at least once, each under its event id),
// none lost.
func TestWebhooksReceiverDownThenUp(t *testing.T) {
	cfg := webhookConfig(t, "", "  allowlist: [127.0.0.0/8]\n  retrySchedule: [50ms, 100ms, 200ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms]\n")
	g := startGateway(t, "-config", cfg)
	tok := mintToken(t, "dev", "", "-config", cfg)
	rc := newHookReceiver(t)
	register(t, g, tok, `{"url":"`+rc.url()+`"}`)
	rc.down()
	var jobs []string
	for range 3 {
		jobs = append(jobs, createJob(t, g, tok, 3, ""))
	}
	for _, j := range jobs {
		g.waitJob(t, tok, j)
	}
	time.Sleep(600 * time.Millisecond) // several attempts fail meanwhile
	if n := len(rc.hooks()); n != 0 {
		t.Fatalf("a receiver that is down got %d deliveries", n)
	}
	rc.up()
	ids := eventIDs(t, g, tok)
	if len(ids) < 12 { // 9 accounts created, 3 jobs completed
		t.Fatalf("only %d events in the log", len(ids))
	}
	rc.waitFor(t, ids, 15*time.Second)
	bodies := map[string]string{}
	for _, k := range rc.hooks() {
		if b, ok := bodies[k.id]; ok && b != string(k.body) {
			t.Errorf("event %s arrived twice with different bodies", k.id)
		}
		bodies[k.id] = string(k.body)
		if k.header.Get("webhook-id") != k.id {
			t.Errorf("webhook-id %s for event %s", k.header.Get("webhook-id"), k.id)
		}
	}
}

// Two instances share Redis; the one delivering is killed (SIGKILL) with
// deliveries in flight: the other takes them over after the visibility
// timeout, and every event arrives.
func TestWebhooksSurviveKilledInstance(t *testing.T) {
	url := redisURL(t)
	prefix := freshPrefix(t, url, "vagate-e2e-wh")
	mock := batchvamock.New(&batchvamock.Options{PendingDelay: 20 * time.Millisecond, ProcessDelay: 20 * time.Millisecond})
	defer mock.Close()
	storeBlock := fmt.Sprintf("store:\n  driver: redis\n  redisUrl: %s\n  prefix: %s\njobs:\n  visibilityTimeout: 1s\n", url, prefix)
	cfg := webhookConfig(t, storeBlock, "  allowlist: [127.0.0.0/8]\n  visibilityTimeout: 1s\n  retrySchedule: [100ms, 200ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms]\n")
	tok := mintToken(t, "dev", "", "-config", cfg)
	a := startGateway(t, "-config", cfg)
	rc := newHookReceiver(t)
	register(t, a, tok, `{"url":"`+rc.url()+`"}`)
	rc.holdAll()
	var jobs []string
	for range 3 {
		jobs = append(jobs, createJob(t, a, tok, 3, ""))
	}
	for _, j := range jobs {
		a.waitJob(t, tok, j)
	}
	deadline := time.Now().Add(10 * time.Second)
	for rc.held() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("A has %d deliveries in flight, want at least 4", rc.held())
		}
		time.Sleep(10 * time.Millisecond)
	}
	b := startGateway(t, "-config", cfg)
	a.kill(t) // mid-delivery: A holds the tasks of the deliveries in flight
	rc.release()
	ids := eventIDs(t, b, tok)
	if len(ids) < 12 {
		t.Fatalf("only %d events in the log", len(ids))
	}
	rc.waitFor(t, ids, 20*time.Second)
}

// Registration through the binary refuses, as a 400 naming /url, a URL at
// loopback (no allowlist here), a private or metadata address, [::1], and
// a host name resolving to loopback.
func TestWebhooksRegistrationRefusesInternalTargets(t *testing.T) {
	cfg := webhookConfig(t, "", "  allowlist: []\n")
	g := startGateway(t, "-config", cfg)
	tok := mintToken(t, "dev", "", "-config", cfg)
	for _, tc := range []struct{ name, url string }{
		{"127.0.0.1 without allowlist", "https://127.0.0.1:9443/hooks"},
		{"10.x", "https://10.0.0.1/hooks"},
		{"169.254.169.254", "https://169.254.169.254/latest/meta-data/"},
		{"[::1]", "https://[::1]:9443/hooks"},
		{"a host name resolving to loopback", "https://localhost:9443/hooks"},
		{"http to a public address", "http://93.184.216.34/hooks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := g.do(t, "POST", "/v1/webhook-endpoints", tok, `{"url":"`+tc.url+`"}`, "Idempotency-Key", uuid.NewString())
			want(t, r, 400, "register "+tc.url)
			var p struct {
				Code   string
				Errors []struct{ Pointer, Detail string }
			}
			json.Unmarshal(r.body, &p)
			if p.Code != "validation_failed" || len(p.Errors) != 1 || p.Errors[0].Pointer != "/url" {
				t.Errorf("problem %s", r.body)
			}
		})
	}
}

// deliveryOf reads the delivery of an event to an endpoint, waiting until
// it has an attempt.
func deliveryOf(t *testing.T, g *gw, tok, epID, eventID string) (status string, attempts []map[string]any) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := g.do(t, "GET", "/v1/webhook-endpoints/"+epID+"/deliveries/"+eventID, tok, "")
		var d struct {
			Status   string
			Attempts []map[string]any
		}
		json.Unmarshal(r.body, &d)
		if r.status == 200 && len(d.Attempts) > 0 {
			return d.Status, d.Attempts
		}
		if time.Now().After(deadline) {
			t.Fatalf("no attempt at %s: %d %s", eventID, r.status, r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Delivery checks the address it connects to, not only registration: an
// endpoint registered where loopback was allowlisted gets nothing from an
// instance without that allowlist (the attempt is logged as refused), and a
// receiver redirecting to an internal address is not followed.
func TestWebhooksDeliveryRefusesInternalTargets(t *testing.T) {
	t.Run("127.0.0.1 without allowlist, at delivery", func(t *testing.T) {
		url := redisURL(t)
		prefix := freshPrefix(t, url, "vagate-e2e-wh")
		storeBlock := fmt.Sprintf("store:\n  driver: redis\n  redisUrl: %s\n  prefix: %s\n", url, prefix)
		open := webhookConfig(t, storeBlock, "  allowlist: [127.0.0.0/8]\n  retrySchedule: []\n")
		closed := webhookConfig(t, storeBlock, "  allowlist: []\n  retrySchedule: []\n")
		tok := mintToken(t, "dev", "", "-config", open)
		rc := newHookReceiver(t)
		a := startGateway(t, "-config", open)
		epID, _ := register(t, a, tok, `{"url":"`+rc.url()+`","events":["job.completed"]}`)
		a.term(t)
		b := startGateway(t, "-config", closed)
		job := createJob(t, b, tok, 1, "")
		b.waitJob(t, tok, job)
		status, attempts := deliveryOf(t, b, tok, epID, jobEvent(t, b, tok, job))
		if e, _ := attempts[0]["error"].(string); status != "failed" || !strings.Contains(e, "refused") || !strings.Contains(e, "loopback") {
			t.Errorf("delivery %s, attempts %v; want failed, refused as loopback", status, attempts)
		}
		if n := len(rc.hooks()); n != 0 {
			t.Errorf("the receiver got %d deliveries", n)
		}
	})
	for _, target := range []string{"http://10.0.0.1/hooks", "http://169.254.169.254/latest/meta-data/", "http://[::1]:1/hooks"} {
		t.Run("a redirect to "+target, func(t *testing.T) {
			cfg := webhookConfig(t, "", "  allowlist: [127.0.0.1/32]\n  retrySchedule: []\n")
			g := startGateway(t, "-config", cfg)
			tok := mintToken(t, "dev", "", "-config", cfg)
			redir := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target, http.StatusFound)
			})}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go redir.Serve(ln)
			defer redir.Close()
			epID, _ := register(t, g, tok, `{"url":"http://`+ln.Addr().String()+`/hooks","events":["job.completed"]}`)
			job := createJob(t, g, tok, 1, "")
			g.waitJob(t, tok, job)
			status, attempts := deliveryOf(t, g, tok, epID, jobEvent(t, g, tok, job))
			e, _ := attempts[0]["error"].(string)
			if status != "failed" || attempts[0]["statusCode"] != 302.0 || !strings.Contains(e, "redirects are not followed") {
				t.Errorf("delivery %s, attempts %v; want failed on the 302, not followed", status, attempts)
			}
		})
	}
}

// A receiver that hangs does not slow deliveries to another endpoint.
func TestWebhooksHangingReceiverDoesNotSlowOthers(t *testing.T) {
	cfg := webhookConfig(t, "", "  allowlist: [127.0.0.0/8]\n  workers: 8\n  perEndpoint: 2\n  attemptTimeout: 8s\n")
	g := startGateway(t, "-config", cfg)
	tok := mintToken(t, "dev", "", "-config", cfg)
	slow, fast := newHookReceiver(t), newHookReceiver(t)
	slow.holdAll()
	t.Cleanup(slow.release) // before the gateway stops: runs first
	register(t, g, tok, `{"url":"`+slow.url()+`"}`)
	register(t, g, tok, `{"url":"`+fast.url()+`"}`)
	start := time.Now()
	var jobs []string
	for range 4 {
		jobs = append(jobs, createJob(t, g, tok, 4, ""))
	}
	for _, j := range jobs {
		g.waitJob(t, tok, j)
	}
	ids := eventIDs(t, g, tok)
	if len(ids) < 20 {
		t.Fatalf("only %d events", len(ids))
	}
	fast.waitFor(t, ids, 8*time.Second)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the healthy endpoint took %s to get %d events while the other hung (attempt timeout 8s)", took, len(ids))
	}
	if slow.held() == 0 {
		t.Error("the hanging receiver holds no delivery: the test did not hang it")
	}
}
