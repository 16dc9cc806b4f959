package batchvamock

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/hook"
	"github.com/vagate/vagate/mocks/mockhttp"
)

// Permissions a token can carry.
const (
	PermissionCreate = "create-virtual-account"
	PermissionRead   = "read-virtual-account"
	PermissionUpdate = "update-virtual-account"
)

// Fixed values of every account the mock creates.
const (
	BicCode     = "BPBKBMHMXXX"
	Category    = "CMS Sub Acct"
	Placeholder = "UNALLOCATED"
)

// Job statuses.
const (
	StatusPending             = "Pending"
	StatusInProgress          = "InProgress"
	StatusCompleted           = "Completed"
	StatusCompletedWithErrors = "CompletedWithErrors"
	StatusCancelled           = "Cancelled"
)

// Limits from the provider's documents.
const (
	MaxItems              = 1000
	MaxClientReference    = 35
	MaxNativeLanguageName = 255
	MaxCustomHeaders      = 10
	MaxHeaderKey          = 50
	MaxHeaderValue        = 500
	MaxBody               = 10 << 20
)

// Callback delivery: attempts in all, and the wait before the first retry (doubling after).
const (
	CallbackAttempts = 3
	callbackBackoff  = 100 * time.Millisecond
)

// currencies the mock bank supports.
var currencies = map[string]bool{"USD": true, "BMD": true, "EUR": true, "GBP": true, "CAD": true}

// Client is one API user of the mock bank.
type Client struct {
	ID, Secret  string
	Permissions []string
	// SigningSecret is the HMAC Message Signing Secret for callbacks.
	SigningSecret string
	// RSAKey enables response signing: callbacks use RSA-PSS and Bcb-Signature-Version rsa-v1.
	RSAKey *rsa.PrivateKey
}

// DefaultClient is the client a mock holds when Options.Clients is nil.
func DefaultClient() Client {
	return Client{
		ID:            "vagate",
		Secret:        "vagate-secret",
		Permissions:   []string{PermissionCreate, PermissionRead, PermissionUpdate},
		SigningSecret: "vagate-signing-secret",
	}
}

func (c *Client) validate() error {
	switch {
	case c.ID == "":
		return errors.New("batchvamock: client id is empty")
	case c.Secret == "":
		return fmt.Errorf("batchvamock: client %s: secret is empty", c.ID)
	case c.SigningSecret == "" && c.RSAKey == nil:
		return fmt.Errorf("batchvamock: client %s: needs a signing secret or an RSA key", c.ID)
	}
	return nil
}

// Options configure a Mock; the zero value gives the defaults.
type Options struct {
	// Clients are the API users; nil means []Client{DefaultClient()}.
	Clients []Client
	// PendingDelay is how long a job stays Pending (0 = 20ms, negative = none).
	PendingDelay time.Duration
	// ProcessDelay is how long a job stays InProgress (0 = 50ms, negative = none).
	ProcessDelay time.Duration
	// ItemFailureRate is the share of items that fail at processing (0 to 1).
	ItemFailureRate float64
	// Seed makes job ids, account numbers, item failures and faults reproducible.
	Seed uint64
	// TokenTTL is the access token lifetime (0 = 1h; negative issues expired tokens, for tests).
	TokenTTL time.Duration
	// CallbackClient sends callbacks (default: 5s timeout, redirects not followed).
	CallbackClient *http.Client
	// BaseURL is the absolute base of statusUrl and resultUrl ("" = http://<request Host>).
	BaseURL string
	// Strict reads the documents' ambiguities the strict way (see the
	// package documentation, # Strict and lenient); false is lenient.
	Strict bool
	// RateLimit is how many API requests per second each client may make
	// before it is answered 429 (0 = no limit); RateBurst is how many it
	// may make at once (0 = RateLimit, at least 1).
	RateLimit float64
	RateBurst int
}

// Config is the part of the options QA can change at run time.
type Config struct {
	PendingDelay    time.Duration
	ProcessDelay    time.Duration
	ItemFailureRate float64
	// RateLimit and RateBurst are Options.RateLimit and Options.RateBurst.
	RateLimit float64
	RateBurst int
}

func (c Config) clean() Config {
	c.PendingDelay = max(c.PendingDelay, 0)
	c.ProcessDelay = max(c.ProcessDelay, 0)
	c.ItemFailureRate = min(max(c.ItemFailureRate, 0), 1)
	c.RateLimit = max(c.RateLimit, 0)
	c.RateBurst = max(c.RateBurst, 0)
	if c.RateLimit > 0 && c.RateBurst == 0 {
		c.RateBurst = max(int(c.RateLimit), 1)
	}
	return c
}

// CallbackRecord is one callback the mock sent (or tried to send, or dropped by a webhook fault).
type CallbackRecord struct {
	JobID    string          `json:"jobId"`
	ClientID string          `json:"clientId"`
	URL      string          `json:"url"`
	Headers  http.Header     `json:"headers"`
	Body     json.RawMessage `json:"body"`
	Attempts int             `json:"attempts"`
	// LastStatus is the HTTP status of the last attempt (0 when it got no answer).
	LastStatus int    `json:"lastStatus"`
	LastError  string `json:"lastError,omitempty"`
	Delivered  bool   `json:"delivered"`
	// Fault lists the webhook faults applied (package hook), comma-separated.
	Fault string `json:"fault,omitempty"`
	// Copy is 2 for the second delivery of a duplicated callback.
	Copy    int  `json:"copy,omitempty"`
	Dropped bool `json:"dropped,omitempty"`
}

// Mock is the in-memory provider; it is an http.Handler. Its Base serves
// it, holds its fault injector and the outbox of its callbacks, and gives
// it Reset (jobs, accounts, idempotency keys, callbacks and faults are
// forgotten, running jobs stopped, the options' configuration restored;
// clients and the token key stay) and Close (jobs and callbacks stop).
type Mock struct {
	*mockhttp.Base
	opts     Options
	defaults Config
	jwtKey   []byte
	wg       sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	ctx      context.Context // cancelled by Reset and Close: stops jobs
	cancel   context.CancelFunc
	cfg      Config
	clients  map[string]*Client
	jobs     map[string]*job
	jobOrder []*job
	accounts map[string]*account
	accOrder []*account
	idem     map[string][]byte        // owner + "\x00" + key → stored 202 body
	limiters map[string]*rate.Limiter // by client, for the current rate config
	rng      *mrand.Rand
	next     uint64 // next account number
}

// New returns a running mock; it panics if a client in opts is invalid.
func New(opts *Options) *Mock {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Clients == nil {
		o.Clients = []Client{DefaultClient()}
	}
	o.PendingDelay = orDefault(o.PendingDelay, 20*time.Millisecond)
	o.ProcessDelay = orDefault(o.ProcessDelay, 50*time.Millisecond)
	if o.TokenTTL == 0 {
		o.TokenTTL = time.Hour
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	m := &Mock{
		opts: o,
		defaults: Config{PendingDelay: o.PendingDelay, ProcessDelay: o.ProcessDelay, ItemFailureRate: o.ItemFailureRate,
			RateLimit: o.RateLimit, RateBurst: o.RateBurst}.clean(),
		jwtKey:  make([]byte, 32),
		clients: map[string]*Client{},
	}
	rand.Read(m.jwtKey)
	for i := range o.Clients {
		if err := m.AddClient(o.Clients[i]); err != nil {
			panic(err)
		}
	}
	m.Base = mockhttp.NewBase(&mockhttp.BaseOptions{
		Faults: fault.Options{Seed: o.Seed, ErrorBody: faultBody},
		Webhooks: &hook.Options{Seed: o.Seed, Client: o.CallbackClient, Attempts: CallbackAttempts,
			Backoff: callbackBackoff, UserAgent: "batchvamock"},
		Reset: m.resetState,
		Stop:  m.stop,
	})
	m.routes()
	m.mu.Lock()
	m.resetLocked()
	m.mu.Unlock()
	return m
}

func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// resetLocked forgets jobs, accounts and keys and restores the
// configuration and random sources of the options.
func (m *Mock) resetLocked() {
	if m.cancel != nil {
		m.cancel()
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	if m.closed {
		m.cancel()
	}
	m.cfg = m.defaults
	m.limiters = map[string]*rate.Limiter{}
	m.jobs = map[string]*job{}
	m.jobOrder = nil
	m.accounts = map[string]*account{}
	m.accOrder = nil
	m.idem = map[string][]byte{}
	m.rng = mrand.New(mrand.NewPCG(m.opts.Seed, m.opts.Seed^0x5eed0fba7c4a11))
	m.next = 1_000_000_000 + m.rng.Uint64N(8_000_000_000)
}

// resetState stops running jobs and forgets the mock's own state (Base.Reset).
func (m *Mock) resetState() {
	m.mu.Lock()
	m.resetLocked()
	m.mu.Unlock()
}

// stop stops job processing and waits for it (Base.Close).
func (m *Mock) stop() {
	m.mu.Lock()
	m.closed = true
	m.cancel()
	m.mu.Unlock()
	m.wg.Wait()
}

// AddClient adds an API user; the id must be new.
func (m *Mock) AddClient(c Client) error {
	if err := c.validate(); err != nil {
		return err
	}
	c.Permissions = slices.Clone(c.Permissions)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.clients[c.ID]; ok {
		return fmt.Errorf("batchvamock: client %s exists", c.ID)
	}
	m.clients[c.ID] = &c
	return nil
}

func (m *Mock) client(id string) (Client, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.clients[id]
	if !ok {
		return Client{}, false
	}
	return *c, true
}

// SetConfig changes the delays and failure rate of jobs created from now
// on, and the rate limit of requests from now on.
func (m *Mock) SetConfig(c Config) {
	m.mu.Lock()
	m.cfg = c.clean()
	m.limiters = map[string]*rate.Limiter{}
	m.mu.Unlock()
}

// allow takes one request of client from its rate limit; when none is
// left it returns false and how long until one is.
func (m *Mock) allow(client string) (bool, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cfg.RateLimit <= 0 {
		return true, 0
	}
	l := m.limiters[client]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(m.cfg.RateLimit), m.cfg.RateBurst)
		m.limiters[client] = l
	}
	r := l.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return false, d
	}
	return true, 0
}

func (m *Mock) config() Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg
}

// CountByReference counts the accounts held with clientReference, across all users.
func (m *Mock) CountByReference(clientReference string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, a := range m.accOrder {
		if a.ClientReference != nil && *a.ClientReference == clientReference {
			n++
		}
	}
	return n
}

// AccountCount counts the accounts held, across all users.
func (m *Mock) AccountCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.accOrder)
}

// Allocation is what the mock knows of one account's allocation.
type Allocation struct {
	Number            string
	Allocated         bool
	AccountHolderName string
	// Attempts are the distinct holders identity PATCHes named, accepted
	// or refused, in order.
	Attempts []string
}

// Allocations lists every account held with its allocation, in creation order.
func (m *Mock) Allocations() []Allocation {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Allocation, len(m.accOrder))
	for i, a := range m.accOrder {
		out[i] = Allocation{Number: a.VirtualAccountNumber, Allocated: a.Allocated, AccountHolderName: a.AccountHolderName,
			Attempts: slices.Clone(a.holders)}
	}
	return out
}

// JobCount counts the jobs held, across all users.
func (m *Mock) JobCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.jobOrder)
}

// Callbacks returns a copy of the callbacks sent so far, oldest first.
func (m *Mock) Callbacks() []CallbackRecord {
	ds := m.Outbox().Deliveries()
	out := make([]CallbackRecord, len(ds))
	for i, d := range ds {
		info, _ := d.Info.(callbackInfo)
		out[i] = CallbackRecord{JobID: info.jobID, ClientID: info.clientID, URL: d.URL, Headers: d.Headers, Body: d.Body,
			Attempts: d.Attempts, LastStatus: d.LastStatus, LastError: d.LastError, Delivered: d.Delivered,
			Fault: d.Fault, Copy: d.Copy, Dropped: d.Dropped}
	}
	return out
}

// newID returns a version 4 UUID drawn from the seeded source; m.mu must be held.
func (m *Mock) newID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], m.rng.Uint64())
	binary.LittleEndian.PutUint64(b[8:], m.rng.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return uuid.UUID(b).String()
}

// newNumber returns the next ten-digit account number; m.mu must be held.
func (m *Mock) newNumber() string {
	n := m.next
	m.next++
	return fmt.Sprintf("%010d", n)
}
