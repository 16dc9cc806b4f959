package batchva

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
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
const Style = "batchva"

// MaxItems is the most items the provider accepts in one job.
const MaxItems = 1000

// Compile-time guards for the optional interfaces the adapter implements:
// the gateway derives its capabilities from them.
var (
	_ provider.Adapter         = (*Adapter)(nil)
	_ provider.Poller          = (*Adapter)(nil)
	_ provider.Allocator       = (*Adapter)(nil)
	_ provider.WebhookVerifier = (*Adapter)(nil)
)

// Adapter speaks the batch provider's wire format.
type Adapter struct {
	cfg    Config
	base   *url.URL
	hc     *http.Client
	now    func() time.Time
	rsaKey *rsa.PublicKey

	tokens provider.TokenCache
	nonces nonceCache
}

// Open validates cfg and returns an adapter.
func Open(cfg Config, opts *Options) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("batchva: %w", err)
	}
	if len(cfg.Currencies) == 0 {
		cfg.Currencies = append([]string(nil), DefaultCurrencies...)
	}
	if cfg.Country == "" {
		cfg.Country = "BM"
	}
	base, _ := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	a := &Adapter{cfg: cfg, base: base, hc: &http.Client{Timeout: 30 * time.Second}, now: time.Now}
	if opts != nil && opts.HTTPClient != nil {
		a.hc = opts.HTTPClient
	}
	if opts != nil && opts.Now != nil {
		a.now = opts.Now
	}
	if cfg.RSAPublicKey != "" {
		a.rsaKey, _ = parsePublicKey(cfg.RSAPublicKey)
	}
	a.tokens.Now = a.now
	return a, nil
}

// Capabilities declares the provider's facts: batches of MaxItems, an
// idempotency key, unallocated accounts. Asynchronous creates, allocation
// and webhooks follow from the interfaces the adapter implements.
func (a *Adapter) Capabilities() provider.Capabilities {
	return provider.Capabilities{
		Style:            Style,
		Currencies:       append([]string(nil), a.cfg.Currencies...),
		MaxBatch:         MaxItems,
		IdempotentCreate: true,
		Unallocated:      true,
		Limits: provider.Limits{
			ClientReference:    35,
			NativeLanguageName: 255,
			CustomHeaders:      10,
			CustomHeaderKey:    50,
			CustomHeaderValue:  500,
		},
	}
}

// ErrorCode classifies the adapter's errors.
func (a *Adapter) ErrorCode(err error) bank.ErrorCode {
	var se *provider.StatusError
	if errors.As(err, &se) && se.StatusCode == http.StatusConflict && se.ProviderCode == "FIELD_IMMUTABLE" {
		return bank.FailedPrecondition
	}
	var ie *ItemError
	if errors.As(err, &ie) {
		// The provider examined the item and refused it: nothing was created.
		return bank.FailedPrecondition
	}
	return provider.ClassifyHTTP(err)
}

// chunkKey derives the Idempotency-Key of chunk i from the request key.
func chunkKey(key string, i int) string {
	if key == "" {
		return ""
	}
	ns, err := uuid.Parse(key)
	if err != nil {
		ns = uuid.NewSHA1(uuid.NameSpaceOID, []byte(key))
	}
	return uuid.NewSHA1(ns, fmt.Appendf(nil, "batchva-chunk-%d", i)).String()
}

// CreateAccounts submits one provider job per chunk of up to 1000 items and
// returns a pending result whose operation lists the provider's jobs with
// the status and result URLs it returned for them.
func (a *Adapter) CreateAccounts(ctx context.Context, req *provider.CreateRequest) (*provider.CreateResult, error) {
	var jobs []jobRef
	for start, i := 0, 0; start < len(req.Items); start, i = start+MaxItems, i+1 {
		end := min(start+MaxItems, len(req.Items))
		body := createRequest{CallbackURL: a.cfg.CallbackURL, CustomHeaders: req.CustomHeaders}
		for _, it := range req.Items[start:end] {
			// dob and nativeLanguageName go with unallocated items too: they
			// may be set while an account is unallocated.
			ci := createItem{Currency: it.Currency, ClientReference: it.ClientReference, Unallocated: it.Unallocated,
				DOB: it.DOB, NativeLanguageName: it.NativeLanguageName}
			if !it.Unallocated {
				ci.AccountHolderName, ci.AccountName = it.AccountHolderName, it.AccountName
			}
			body.Items = append(body.Items, ci)
		}
		hdr := http.Header{}
		if k := chunkKey(req.IdempotencyKey, i); k != "" {
			hdr.Set("Idempotency-Key", k)
		}
		var acc jobAccepted
		if _, err := a.do(ctx, http.MethodPost, "/v1/virtual-accounts", hdr, body, http.StatusAccepted, &acc); err != nil {
			return nil, err
		}
		j, err := a.jobRef(&acc)
		if err != nil {
			return nil, &provider.MalformedError{Op: "create", Err: err}
		}
		jobs = append(jobs, j)
	}
	op, err := json.Marshal(jobs)
	if err != nil {
		return nil, err
	}
	return &provider.CreateResult{Pending: true, Operation: string(op)}, nil
}

// jobRef is one provider job of an operation: its id and the URLs the
// provider gave for it.
type jobRef struct {
	ID        string `json:"jobId"`
	StatusURL string `json:"statusUrl,omitempty"`
	ResultURL string `json:"resultUrl,omitempty"`
}

// jobRef checks a 202 answer: a job id, and status and result URLs on the
// provider's own origin (the bearer token goes to them, so never to another
// host).
func (a *Adapter) jobRef(acc *jobAccepted) (jobRef, error) {
	if acc.JobID == "" || strings.ContainsAny(acc.JobID, ",[]") {
		return jobRef{}, fmt.Errorf("bad jobId %q", acc.JobID)
	}
	for name, v := range map[string]string{"statusUrl": acc.StatusURL, "resultUrl": acc.ResultURL} {
		u, err := url.Parse(v)
		if err != nil || !strings.EqualFold(u.Scheme, a.base.Scheme) || !strings.EqualFold(u.Host, a.base.Host) {
			return jobRef{}, fmt.Errorf("%s %q is not on the provider's origin %s://%s", name, v, a.base.Scheme, a.base.Host)
		}
	}
	return jobRef{ID: acc.JobID, StatusURL: acc.StatusURL, ResultURL: acc.ResultURL}, nil
}

// parseOperation reads an operation: the JSON list CreateAccounts makes, or
// the comma-separated job ids of earlier versions (whose URLs are derived).
func (a *Adapter) parseOperation(op string) ([]jobRef, error) {
	var jobs []jobRef
	if strings.HasPrefix(op, "[") {
		if err := json.Unmarshal([]byte(op), &jobs); err != nil {
			return nil, fmt.Errorf("batchva: operation %q: %w", op, err)
		}
	} else {
		for _, id := range strings.Split(op, ",") {
			jobs = append(jobs, jobRef{ID: id})
		}
	}
	for i, j := range jobs {
		if j.ID == "" {
			return nil, fmt.Errorf("batchva: operation %q: job %d has no id", op, i)
		}
		if j.StatusURL == "" {
			jobs[i].StatusURL = a.base.String() + "/v1/virtual-accounts/jobs/" + url.PathEscape(j.ID)
		}
		if j.ResultURL == "" {
			jobs[i].ResultURL = a.base.String() + "/v1/virtual-accounts/jobs/" + url.PathEscape(j.ID) + "/results"
		}
	}
	return jobs, nil
}

// PollCreate checks every provider job of the operation; once all have
// finished it fetches their results and maps them back to request items.
func (a *Adapter) PollCreate(ctx context.Context, operation string, req *provider.CreateRequest) (*provider.CreateResult, error) {
	jobs, err := a.parseOperation(operation)
	if err != nil {
		return nil, err
	}
	if want := (len(req.Items) + MaxItems - 1) / MaxItems; len(jobs) != want {
		return nil, fmt.Errorf("batchva: operation has %d jobs, request needs %d", len(jobs), want)
	}
	statuses := make([]string, len(jobs))
	for i, j := range jobs {
		var st jobStatus
		if _, err := a.doURL(ctx, http.MethodGet, j.StatusURL, nil, nil, http.StatusOK, &st); err != nil {
			return nil, err
		}
		if !finished(st.Status) {
			return &provider.CreateResult{Pending: true, Operation: operation}, nil
		}
		statuses[i] = st.Status
	}
	items := make([]provider.ItemResult, len(req.Items))
	for i, j := range jobs {
		id := j.ID
		start := i * MaxItems
		end := min(start+MaxItems, len(req.Items))
		var res jobResults
		raw, err := a.doURL(ctx, http.MethodGet, j.ResultURL, nil, nil, http.StatusOK, &res)
		if err != nil {
			return nil, err
		}
		rawItems := rawResultItems(raw)
		seen := make([]bool, end-start)
		for k, ri := range res.Items {
			if ri.Index < 0 || ri.Index >= end-start || seen[ri.Index] {
				return nil, &provider.MalformedError{Op: "results", Err: fmt.Errorf("job %s: bad item index %d", id, ri.Index)}
			}
			seen[ri.Index] = true
			items[start+ri.Index] = a.itemResult(&ri, rawItems, k)
			items[start+ri.Index].ProviderJobID = id
		}
		for k, ok := range seen {
			if ok {
				continue
			}
			if statuses[i] == "Cancelled" {
				items[start+k] = provider.ItemResult{ProviderJobID: id,
					Err: &ItemError{Code: "CANCELLED", Message: "the provider job was cancelled before this item was processed"}}
				continue
			}
			items[start+k] = provider.ItemResult{Err: &provider.MalformedError{Op: "results", Err: fmt.Errorf("job %s finished without a result for item %d", id, k)}}
		}
	}
	return &provider.CreateResult{Items: items}, nil
}

func finished(s string) bool {
	return s == "Completed" || s == "CompletedWithErrors" || s == "Cancelled"
}

func rawResultItems(raw []byte) []json.RawMessage {
	var r struct {
		Items []struct {
			VirtualAccount json.RawMessage `json:"virtualAccount"`
		} `json:"items"`
	}
	json.Unmarshal(raw, &r)
	out := make([]json.RawMessage, len(r.Items))
	for i, it := range r.Items {
		out[i] = it.VirtualAccount
	}
	return out
}

func (a *Adapter) itemResult(ri *resultItem, raws []json.RawMessage, k int) provider.ItemResult {
	switch {
	case ri.Status == "Succeeded" && ri.VirtualAccount != nil && ri.VirtualAccount.VirtualAccountNumber != "":
		var raw json.RawMessage
		if k < len(raws) {
			raw = raws[k]
		}
		return provider.ItemResult{Account: a.toAccount(ri.VirtualAccount, raw)}
	case ri.Status == "Failed":
		e := &ItemError{Code: "FAILED", Message: "the provider refused the item"}
		if ri.Error != nil {
			e.Code, e.Message = ri.Error.Error, ri.Error.Message
		}
		return provider.ItemResult{Err: e}
	}
	return provider.ItemResult{Err: &provider.MalformedError{Op: "results", Err: fmt.Errorf("item %d: status %q without an account", ri.Index, ri.Status)}}
}

// ItemError is the provider's refusal of one item of a job.
type ItemError struct {
	Code    string
	Message string
}

// Error gives the provider's code and message.
func (e *ItemError) Error() string { return e.Code + ": " + e.Message }

// ProviderErrorCode is the provider's code for the item (bank.ProviderCoder).
func (e *ItemError) ProviderErrorCode() string { return e.Code }

// GetAccount reads one account by its virtual account number.
func (a *Adapter) GetAccount(ctx context.Context, ref string) (*bank.Account, error) {
	var w wireAccount
	raw, err := a.do(ctx, http.MethodGet, "/v1/virtual-accounts/"+url.PathEscape(ref), nil, nil, http.StatusOK, &w)
	if err != nil {
		return nil, err
	}
	return a.account(&w, raw)
}

func (a *Adapter) account(w *wireAccount, raw []byte) (*bank.Account, error) {
	if w.VirtualAccountNumber == "" {
		return nil, &provider.MalformedError{Op: "account", Err: errors.New("no virtualAccountNumber")}
	}
	return a.toAccount(w, raw), nil
}

// Allocate sends the one-time allocation or a clientReference change.
func (a *Adapter) Allocate(ctx context.Context, ref string, al *provider.Allocation) (*bank.Account, error) {
	body := patchRequest{
		AccountHolderName: al.AccountHolderName, AccountName: al.AccountName, DOB: al.DOB,
		NativeLanguageName: al.NativeLanguageName, ClientReference: al.ClientReference,
	}
	var w wireAccount
	raw, err := a.do(ctx, http.MethodPatch, "/v1/virtual-accounts/"+url.PathEscape(ref), nil, body, http.StatusOK, &w)
	if err != nil {
		return nil, err
	}
	return a.account(&w, raw)
}

// bearer returns a valid access token, fetching one when needed.
func (a *Adapter) bearer(ctx context.Context) (string, error) {
	if a.cfg.Token != "" {
		return string(a.cfg.Token), nil
	}
	return a.tokens.Get(func() (string, time.Duration, error) {
		var tr tokenResponse
		body := tokenRequest{ClientID: a.cfg.ClientID, ClientSecret: string(a.cfg.ClientSecret)}
		if _, err := a.send(ctx, http.MethodPost, a.base.String()+"/v1/auth/token", nil, body, "", http.StatusOK, &tr); err != nil {
			return "", 0, err
		}
		return tr.AccessToken, time.Duration(tr.ExpiresIn) * time.Second, nil
	})
}

func (a *Adapter) dropToken() { a.tokens.Drop() }

// do sends an authenticated request to path under the base URL.
func (a *Adapter) do(ctx context.Context, method, path string, hdr http.Header, in any, want int, out any) ([]byte, error) {
	return a.doURL(ctx, method, a.base.String()+path, hdr, in, want, out)
}

// doURL sends an authenticated request to an absolute URL.
func (a *Adapter) doURL(ctx context.Context, method, target string, hdr http.Header, in any, want int, out any) ([]byte, error) {
	tok, err := a.bearer(ctx)
	if err != nil {
		return nil, err
	}
	raw, err := a.send(ctx, method, target, hdr, in, tok, want, out)
	var se *provider.StatusError
	if errors.As(err, &se) && se.StatusCode == http.StatusUnauthorized && a.cfg.Token == "" {
		a.dropToken()
	}
	return raw, err
}

// send performs one HTTP exchange with target and decodes a success body into out.
func (a *Adapter) send(ctx context.Context, method, target string, hdr http.Header, in any, tok string, want int, out any) ([]byte, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return provider.ReadJSON(resp, resp.StatusCode == want, out, decodeError)
}

func decodeError(body []byte) (string, string) {
	var e wireError
	if json.Unmarshal(body, &e) != nil {
		return "", ""
	}
	return e.Error, e.Message
}
