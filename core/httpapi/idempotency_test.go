package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/idempotency"
)

const (
	key1 = "3f2b1c9e-8a4d-4e6f-9b1a-2c3d4e5f6a7b"
	key2 = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
)

// idemServer is a gin engine with the middleware chain in production order
// and a handler whose behaviour each test sets.
type idemServer struct {
	t       *testing.T
	engine  *gin.Engine
	runs    atomic.Int64
	handler func(c *gin.Context, body []byte)
}

func newIdemServer(t *testing.T, store idempotency.Store, opts *IdempotencyOptions) *idemServer {
	s := &idemServer{t: t}
	r := gin.New()
	r.Use(RequestID(), Recovery())
	api := r.Group("/v1", Authenticate(hsConfig()), Idempotency(store, opts))
	h := func(c *gin.Context) {
		s.runs.Add(1)
		body, err := io.ReadAll(c.Request.Body)
		if err != nil {
			t.Errorf("handler reading body: %v", err)
		}
		s.handler(c, body)
	}
	api.POST("/things", h)
	api.GET("/things", h)
	api.DELETE("/things/:id", h)
	s.engine = r
	// The default: a created resource echoing the body, with a counter in it.
	s.handler = func(c *gin.Context, body []byte) {
		n := s.runs.Load()
		c.Header("Location", fmt.Sprintf("/v1/things/%d", n))
		c.Header("X-Thing-Count", fmt.Sprint(n))
		c.Header("Cache-Control", "no-store") // not replayed
		c.Data(http.StatusCreated, "application/json", fmt.Appendf(nil, `{"n":%d,"echo":%q}`, n, body))
	}
	return s
}

type req struct {
	method, path, tenant, key, body string
}

func (s *idemServer) do(r req) *httptest.ResponseRecorder {
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.path == "" {
		r.path = "/v1/things"
	}
	if r.tenant == "" {
		r.tenant = "tenant-a"
	}
	hr := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	hr.Header.Set("Authorization", "Bearer "+must(MintToken(hsConfig(), r.tenant, nil, time.Minute)))
	if r.key != "" {
		hr.Header.Set(HeaderIdempotencyKey, r.key)
	}
	w := httptest.NewRecorder()
	s.engine.ServeHTTP(w, hr)
	return w
}

func memStore() idempotency.Store { return idempotency.NewMemory(nil) }

func TestIdempotencyReplay(t *testing.T) {
	s := newIdemServer(t, memStore(), nil)
	first := s.do(req{key: key1, body: `{"a":1}`})
	if first.Code != http.StatusCreated || first.Header().Get(HeaderIdempotentReplayed) != "" {
		t.Fatalf("first: %d replayed=%q", first.Code, first.Header().Get(HeaderIdempotentReplayed))
	}
	second := s.do(req{key: strings.ToUpper(key1), body: `{"a":1}`}) // UUIDs are case-insensitive
	if s.runs.Load() != 1 {
		t.Fatalf("handler ran %d times; want 1", s.runs.Load())
	}
	if second.Code != first.Code || !bytes.Equal(second.Body.Bytes(), first.Body.Bytes()) {
		t.Fatalf("replay = %d %q; want %d %q", second.Code, second.Body, first.Code, first.Body)
	}
	if got := second.Header().Get(HeaderIdempotentReplayed); got != "true" {
		t.Errorf("Idempotent-Replayed = %q", got)
	}
	for _, h := range []string{"Content-Type", "Location", "X-Thing-Count"} {
		if second.Header().Get(h) != first.Header().Get(h) || first.Header().Get(h) == "" {
			t.Errorf("%s: replay %q, first %q", h, second.Header().Get(h), first.Header().Get(h))
		}
	}
	if second.Header().Get("Cache-Control") != "" {
		t.Error("Cache-Control was replayed; only the documented headers are")
	}
	if a, b := first.Header().Get(HeaderRequestID), second.Header().Get(HeaderRequestID); a == b || b == "" {
		t.Errorf("X-Request-Id %q then %q: the replay must carry its own", a, b)
	}
}

func TestIdempotencyStoresClientErrors(t *testing.T) {
	s := newIdemServer(t, memStore(), nil)
	s.handler = func(c *gin.Context, _ []byte) {
		WriteProblem(c, NewProblem(http.StatusBadRequest, CodeValidationFailed, fmt.Sprint("run ", s.runs.Load())))
	}
	first := s.do(req{key: key1, body: "x"})
	second := s.do(req{key: key1, body: "x"})
	if s.runs.Load() != 1 || second.Code != 400 || !bytes.Equal(first.Body.Bytes(), second.Body.Bytes()) ||
		second.Header().Get("Content-Type") != ProblemContentType {
		t.Fatalf("runs %d; replay %d %s %q", s.runs.Load(), second.Code, second.Body, second.Header().Get("Content-Type"))
	}
}

func TestIdempotencyMismatch(t *testing.T) {
	s := newIdemServer(t, memStore(), nil)
	s.do(req{key: key1, body: `{"a":1}`})
	for _, r := range []req{
		{key: key1, body: `{"a":2}`},
		{key: key1, body: `{"a":1}`, path: "/v1/things?dry=true"},
	} {
		w := s.do(r)
		if w.Code != http.StatusUnprocessableEntity {
			t.Fatalf("%+v: status %d; want 422", r, w.Code)
		}
		if p := decodeProblem(t, w); p.Code != CodeIdempotencyKeyReused {
			t.Errorf("code = %q", p.Code)
		}
	}
	if s.runs.Load() != 1 {
		t.Errorf("handler ran %d times; want 1", s.runs.Load())
	}
}

func TestIdempotencyInFlight(t *testing.T) {
	s := newIdemServer(t, memStore(), nil)
	entered, release := make(chan struct{}), make(chan struct{})
	s.handler = func(c *gin.Context, _ []byte) {
		close(entered)
		<-release
		c.String(http.StatusCreated, "done")
	}
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- s.do(req{key: key1, body: "b"}) }()
	<-entered

	w := s.do(req{key: key1, body: "b"})
	if w.Code != http.StatusConflict || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("while in flight: %d Retry-After %q; want 409 and 1", w.Code, w.Header().Get("Retry-After"))
	}
	if p := decodeProblem(t, w); p.Code != CodeIdempotencyKeyInFlight {
		t.Errorf("code = %q", p.Code)
	}
	close(release)
	if first := <-done; first.Code != http.StatusCreated {
		t.Fatalf("first: %d", first.Code)
	}
	if w := s.do(req{key: key1, body: "b"}); w.Code != http.StatusCreated || w.Body.String() != "done" || w.Header().Get(HeaderIdempotentReplayed) != "true" {
		t.Errorf("after completion: %d %q", w.Code, w.Body)
	}
	if s.runs.Load() != 1 {
		t.Errorf("handler ran %d times", s.runs.Load())
	}
}

func TestIdempotencyInvalidKey(t *testing.T) {
	s := newIdemServer(t, memStore(), nil)
	for _, k := range []string{"abc", "3f2b1c9e8a4d4e6f9b1a2c3d4e5f6a7b", "{3f2b1c9e-8a4d-4e6f-9b1a-2c3d4e5f6a7b}", "urn:uuid:3f2b1c9e-8a4d-4e6f-9b1a-2c3d4e5f6a7b", "3f2b1c9e-8a4d-4e6f-9b1a-2c3d4e5f6a7z"} {
		w := s.do(req{key: k, body: "b"})
		if w.Code != http.StatusBadRequest {
			t.Fatalf("key %q: status %d; want 400", k, w.Code)
		}
		p := decodeProblem(t, w)
		if p.Code != CodeInvalidIdempotencyKey || len(p.Errors) != 1 || p.Errors[0].Pointer != "/headers/Idempotency-Key" {
			t.Errorf("key %q: problem %+v", k, p)
		}
	}
	if s.runs.Load() != 0 {
		t.Errorf("handler ran %d times", s.runs.Load())
	}
}

func TestIdempotencyRetryableReleases(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			s := newIdemServer(t, memStore(), nil)
			s.handler = func(c *gin.Context, _ []byte) {
				if s.runs.Load() == 1 {
					c.String(status, "try again")
					return
				}
				c.String(http.StatusCreated, "ok")
			}
			if w := s.do(req{key: key1, body: "b"}); w.Code != status {
				t.Fatalf("first: %d", w.Code)
			}
			if w := s.do(req{key: key1, body: "b"}); w.Code != http.StatusCreated || w.Header().Get(HeaderIdempotentReplayed) != "" {
				t.Fatalf("retry: %d replayed=%q; want a fresh 201", w.Code, w.Header().Get(HeaderIdempotentReplayed))
			}
			if w := s.do(req{key: key1, body: "b"}); w.Header().Get(HeaderIdempotentReplayed) != "true" {
				t.Fatalf("third: not replayed")
			}
			if s.runs.Load() != 2 {
				t.Errorf("handler ran %d times; want 2", s.runs.Load())
			}
		})
	}
}

func TestIdempotencyPanicReleases(t *testing.T) {
	s := newIdemServer(t, memStore(), nil)
	s.handler = func(c *gin.Context, _ []byte) {
		if s.runs.Load() == 1 {
			panic("boom")
		}
		c.String(http.StatusCreated, "ok")
	}
	if w := s.do(req{key: key1}); w.Code != http.StatusInternalServerError {
		t.Fatalf("panic: %d", w.Code)
	}
	if w := s.do(req{key: key1}); w.Code != http.StatusCreated {
		t.Fatalf("retry after panic: %d %s", w.Code, w.Body)
	}
}

func TestIdempotencyTenantsIndependent(t *testing.T) {
	s := newIdemServer(t, memStore(), nil)
	a := s.do(req{tenant: "tenant-a", key: key1, body: "same"})
	b := s.do(req{tenant: "tenant-b", key: key1, body: "same"})
	if s.runs.Load() != 2 || b.Header().Get(HeaderIdempotentReplayed) != "" || bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) {
		t.Fatalf("runs %d; tenant b got %q (replayed %q), tenant a got %q", s.runs.Load(), b.Body, b.Header().Get(HeaderIdempotentReplayed), a.Body)
	}
	// Routes are scopes too: the same key on DELETE is a different request.
	if w := s.do(req{method: http.MethodDelete, path: "/v1/things/1", key: key1}); w.Code != http.StatusCreated || s.runs.Load() != 3 {
		t.Fatalf("DELETE with the same key: %d, runs %d", w.Code, s.runs.Load())
	}
}

func TestIdempotencyConcurrent(t *testing.T) {
	s := newIdemServer(t, memStore(), nil)
	inner := s.handler
	s.handler = func(c *gin.Context, body []byte) {
		time.Sleep(20 * time.Millisecond)
		inner(c, body)
	}
	const n = 50
	codes := make([]int, n)
	bodies := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			w := s.do(req{key: key1, body: `{"same":true}`})
			codes[i], bodies[i] = w.Code, w.Body.String()
		})
	}
	close(start)
	wg.Wait()
	if s.runs.Load() != 1 {
		t.Fatalf("handler ran %d times; want 1", s.runs.Load())
	}
	created := 0
	for i, c := range codes {
		switch c {
		case http.StatusCreated:
			created++
			if bodies[i] != bodies[indexOf(codes, http.StatusCreated)] {
				t.Errorf("request %d got a different body %q", i, bodies[i])
			}
		case http.StatusConflict:
		default:
			t.Errorf("request %d: status %d", i, c)
		}
	}
	if created == 0 {
		t.Error("no request got the 201")
	}
}

func indexOf(xs []int, x int) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

func TestIdempotencyPassThrough(t *testing.T) {
	s := newIdemServer(t, memStore(), nil)
	s.do(req{method: http.MethodGet, key: "not-a-uuid"}) // GET ignores the header
	s.do(req{method: http.MethodGet, key: "not-a-uuid"})
	s.do(req{body: "x"}) // no key: no protection, no error
	s.do(req{body: "x"})
	if s.runs.Load() != 4 {
		t.Errorf("handler ran %d times; want 4", s.runs.Load())
	}
}

func TestIdempotencyBody(t *testing.T) {
	s := newIdemServer(t, memStore(), &IdempotencyOptions{MaxBody: 16})
	w := s.do(req{key: key1, body: "0123456789abcdef"}) // exactly the limit
	if w.Code != http.StatusCreated || !strings.Contains(w.Body.String(), `0123456789abcdef`) {
		t.Fatalf("at the limit: %d %s (the handler must see the whole body)", w.Code, w.Body)
	}
	w = s.do(req{key: key2, body: "0123456789abcdefX"})
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("over the limit: %d", w.Code)
	}
	if p := decodeProblem(t, w); p.Code != CodePayloadTooLarge {
		t.Errorf("code = %q", p.Code)
	}
	if s.runs.Load() != 1 {
		t.Errorf("handler ran %d times; want 1", s.runs.Load())
	}
}

// brokenStore fails every call.
type brokenStore struct{}

func (brokenStore) Begin(context.Context, string, string, string) (*idempotency.Claim, *idempotency.Record, error) {
	return nil, nil, errors.New("connection refused")
}
func (brokenStore) Complete(context.Context, *idempotency.Claim, *idempotency.Record) error {
	return errors.New("connection refused")
}
func (brokenStore) Release(context.Context, *idempotency.Claim) error {
	return errors.New("connection refused")
}

func TestIdempotencyStoreUnavailable(t *testing.T) {
	s := newIdemServer(t, brokenStore{}, nil)
	w := s.do(req{key: key1, body: "b"})
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d; want 503", w.Code)
	}
	if p := decodeProblem(t, w); p.Code != CodeIdempotencyUnavailable || strings.Contains(p.Detail, "refused") {
		t.Errorf("problem %+v", p)
	}
	if s.runs.Load() != 0 {
		t.Error("the handler ran without protection")
	}
	if w := s.do(req{body: "b"}); w.Code != http.StatusCreated {
		t.Errorf("without a key the store is not needed: %d", w.Code)
	}
}

// TestIdempotencyRedis runs replay and in-flight through the real Redis store.
func TestIdempotencyRedis(t *testing.T) {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opt)
	t.Cleanup(func() { _ = client.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at %s unreachable: %v (start redis-server or set REDIS_URL)", url, err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "vagate-httpapi-test-" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx := context.Background()
		iter := client.Scan(ctx, 0, "{"+prefix+":*", 100).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
	})
	s := newIdemServer(t, idempotency.NewRedis(client, &idempotency.Options{Prefix: prefix, TTL: time.Minute}), nil)
	first := s.do(req{key: key1, body: `{"a":"\u00e9"}`})
	second := s.do(req{key: key1, body: `{"a":"\u00e9"}`})
	if s.runs.Load() != 1 || second.Code != first.Code || !bytes.Equal(first.Body.Bytes(), second.Body.Bytes()) ||
		second.Header().Get(HeaderIdempotentReplayed) != "true" || second.Header().Get("Location") != first.Header().Get("Location") {
		t.Fatalf("runs %d; first %d %q; replay %d %q", s.runs.Load(), first.Code, first.Body, second.Code, second.Body)
	}
	if w := s.do(req{key: key1, body: "other"}); w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("mismatch: %d", w.Code)
	}
}

// A request that runs longer than the store timeout (Prefer: wait=8 against
// a 5 s timeout) is still recorded, and its retry is a replay, not a rerun.
func TestIdempotencyRecordsRequestsLongerThanStoreTimeout(t *testing.T) {
	s := newIdemServer(t, memStore(), &IdempotencyOptions{StoreTimeout: 50 * time.Millisecond})
	next := s.handler
	s.handler = func(c *gin.Context, body []byte) {
		time.Sleep(200 * time.Millisecond) // four store timeouts
		next(c, body)
	}
	first := s.do(req{key: key1, body: `{"a":1}`})
	second := s.do(req{key: key1, body: `{"a":1}`})
	if s.runs.Load() != 1 || second.Header().Get(HeaderIdempotentReplayed) != "true" || !bytes.Equal(first.Body.Bytes(), second.Body.Bytes()) {
		t.Fatalf("handler ran %d times, second replayed=%q; want one run and a replay", s.runs.Load(), second.Header().Get(HeaderIdempotentReplayed))
	}
}

// RequestIdentity is the same for a retry of a keyed request, whatever
// became of its record, and differs by tenant, key and body.
func TestRequestIdentity(t *testing.T) {
	var ids []string
	run := func(r req) {
		s := newIdemServer(t, memStore(), nil) // a fresh store: the record is lost
		s.handler = func(c *gin.Context, _ []byte) { ids = append(ids, RequestIdentity(c)); c.Status(http.StatusAccepted) }
		s.do(r)
	}
	run(req{key: key1, body: `{"a":1}`})
	run(req{key: key1, body: `{"a":1}`})
	run(req{key: key1, body: `{"a":1}`, tenant: "tenant-b"})
	run(req{key: key2, body: `{"a":1}`})
	run(req{key: key1, body: `{"a":2}`})
	run(req{body: `{"a":1}`})
	if ids[0] == "" || ids[0] != ids[1] {
		t.Fatalf("identity of a retry: %q then %q; want the same, non-empty", ids[0], ids[1])
	}
	seen := map[string]bool{ids[0]: true}
	for i, id := range ids[2:5] {
		if seen[id] {
			t.Errorf("case %d: identity %q repeats another request's", i+2, id)
		}
		seen[id] = true
	}
	if ids[5] != "" {
		t.Errorf("identity without a key = %q, want empty", ids[5])
	}
}
