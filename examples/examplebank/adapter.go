package examplebank

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// Style is the provider style name this package implements.
const Style = "examplebank"

// Provider limits.
const (
	MaxName      = 140
	MaxReference = 64
)

// Compile-time guard: the adapter implements the required interface only.
var _ provider.Adapter = (*Adapter)(nil)

// Adapter speaks the example bank's wire format.
type Adapter struct {
	cfg  Config
	base string
	hc   *http.Client
}

// Open validates cfg and returns an adapter.
func Open(cfg Config, opts *Options) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("examplebank: %w", err)
	}
	if len(cfg.Currencies) == 0 {
		cfg.Currencies = append([]string(nil), DefaultCurrencies...)
	}
	a := &Adapter{cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/"), hc: &http.Client{Timeout: 30 * time.Second}}
	if opts != nil && opts.HTTPClient != nil {
		a.hc = opts.HTTPClient
	}
	return a, nil
}

// Capabilities declares one account per call with an idempotency key, and
// nothing else.
func (a *Adapter) Capabilities() provider.Capabilities {
	return provider.Capabilities{
		Style:            Style,
		Currencies:       append([]string(nil), a.cfg.Currencies...),
		MaxBatch:         1,
		IdempotentCreate: true,
		Limits:           provider.Limits{ClientReference: MaxReference, AccountName: MaxName, AccountHolderName: MaxName},
	}
}

// ErrorCode classifies the adapter's errors with provider.ClassifyHTTP.
func (a *Adapter) ErrorCode(err error) bank.ErrorCode { return provider.ClassifyHTTP(err) }

// ItemKey is the Idempotency-Key of item i of a request with requestKey: a
// UUID v5 derived from it, so a resend of the same request sends the same
// keys. Without a request key each call gets a fresh random key.
func ItemKey(requestKey string, i int) string {
	if requestKey == "" {
		return uuid.NewString()
	}
	ns, err := uuid.Parse(requestKey)
	if err != nil {
		ns = uuid.NewSHA1(uuid.NameSpaceOID, []byte(requestKey))
	}
	return uuid.NewSHA1(ns, fmt.Appendf(nil, "examplebank-item-%d", i)).String()
}

// CreateAccounts creates each item with its own keyed POST, in order. With
// one item (what the gateway sends: MaxBatch is 1) a failure is the call's
// error. With several, a refused item fails alone; any other failure stops
// the call, and the items after it are reported not sent (Unavailable) —
// or, when it hit the first item, it is the call's error.
func (a *Adapter) CreateAccounts(ctx context.Context, req *provider.CreateRequest) (*provider.CreateResult, error) {
	items := make([]provider.ItemResult, len(req.Items))
	for i := range req.Items {
		acc, err := a.createOne(ctx, ItemKey(req.IdempotencyKey, i), &req.Items[i])
		if err == nil {
			items[i].Account = acc
			continue
		}
		if len(req.Items) == 1 {
			return nil, err
		}
		if refused(a.ErrorCode(err)) {
			items[i].Err = err
			continue
		}
		if i == 0 {
			return nil, err
		}
		items[i].Err = err
		for j := i + 1; j < len(items); j++ {
			items[j].Err = &bank.Error{Code: bank.Unavailable, Err: fmt.Errorf("not sent: item %d of the request failed first (%v)", i, err)}
		}
		break
	}
	return &provider.CreateResult{Items: items}, nil
}

// refused reports whether a code means the provider examined the item and
// created nothing because of the item itself.
func refused(c bank.ErrorCode) bool {
	return c == bank.InvalidArgument || c == bank.AlreadyExists || c == bank.FailedPrecondition
}

func (a *Adapter) createOne(ctx context.Context, key string, it *provider.CreateItem) (*bank.Account, error) {
	body := createBody{Currency: it.Currency, HolderName: it.AccountHolderName, Name: it.AccountName, Reference: it.ClientReference}
	raw, err := a.do(ctx, http.MethodPost, "/v1/accounts", key, body, http.StatusCreated)
	if err != nil {
		return nil, err
	}
	return toAccount("create", raw)
}

// GetAccount reads one account by its id.
func (a *Adapter) GetAccount(ctx context.Context, ref string) (*bank.Account, error) {
	raw, err := a.do(ctx, http.MethodGet, "/v1/accounts/"+url.PathEscape(ref), "", nil, http.StatusOK)
	if err != nil {
		return nil, err
	}
	return toAccount("get", raw)
}

// do performs one authenticated HTTP exchange and returns a success body.
func (a *Adapter) do(ctx context.Context, method, path, key string, in any, want int) ([]byte, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	req.Header.Set("Authorization", "Bearer "+string(a.cfg.APIKey))
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return provider.ReadJSON(resp, resp.StatusCode == want, nil, decodeError)
}
