package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/openapi"
)

// CodeFieldImmutable is the problem code for a change to an identity field
// of an allocated account.
const CodeFieldImmutable = "field_immutable"

// account loads the tenant's account and its provider.
func (s *Server) account(c *gin.Context, id string) (*bank.Account, *gateway.Provider, bool) {
	a, err := s.d.Accounts.GetAccount(c.Request.Context(), Tenant(c), id)
	if err != nil {
		fail(c, err)
		return nil, nil, false
	}
	p, ok := s.d.Registry.Get(a.Provider)
	if !ok {
		WriteProblem(c, NewProblem(http.StatusConflict, CodeFailedPrecondition,
			fmt.Sprintf("the account's provider %q is no longer configured", a.Provider)))
		return nil, nil, false
	}
	return a, p, true
}

// merge copies what the provider reports onto the stored account, keeping
// the gateway's own fields (id, tenant, customer, metadata, creation time).
func merge(stored, fresh *bank.Account, now time.Time) {
	wasUnallocated := stored.Status == bank.StatusUnallocated
	stored.Status, stored.ProviderStatus = fresh.Status, fresh.ProviderStatus
	// A provider that does not report a field leaves the stored value.
	for _, f := range []struct {
		dst *string
		src string
	}{
		{&stored.AccountHolderName, fresh.AccountHolderName}, {&stored.AccountName, fresh.AccountName},
		{&stored.DOB, fresh.DOB}, {&stored.NativeLanguageName, fresh.NativeLanguageName},
		{&stored.ClientReference, fresh.ClientReference}, {&stored.Currency, fresh.Currency},
	} {
		if f.src != "" {
			*f.dst = f.src
		}
	}
	if fresh.BankDetails != nil {
		stored.BankDetails = fresh.BankDetails
	}
	if fresh.Balance != nil {
		stored.Balance = fresh.Balance
	}
	stored.Raw = fresh.Raw
	stored.UpdatedAt = now
	if wasUnallocated && fresh.Status != bank.StatusUnallocated && stored.AllocatedAt == nil {
		t := now
		stored.AllocatedAt = &t
	}
}

// save merges what the provider reported into the stored account and tells
// Changed what changed.
func (s *Server) save(ctx context.Context, a *bank.Account, fresh *bank.Account) (*bank.Account, error) {
	var before *bank.Account
	saved, err := s.d.Accounts.UpdateAccount(ctx, a.Tenant, a.ID, func(x *bank.Account) error {
		before = x.Clone()
		merge(x, fresh, time.Now().UTC())
		return nil
	})
	if err == nil {
		s.d.Changed(ctx, before, saved)
	}
	return saved, err
}

// answerSaved stores what the provider answered and writes the account.
func (s *Server) answerSaved(c *gin.Context, a, fresh *bank.Account) {
	saved, err := s.save(c.Request.Context(), a, fresh)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, saved)
}

// GetVirtualAccount returns one account, re-read from the provider on refresh.
func (s *Server) GetVirtualAccount(c *gin.Context, id openapi.AccountID, params openapi.GetVirtualAccountParams) {
	a, p, ok := s.account(c, id)
	if !ok {
		return
	}
	if params.Refresh != nil && *params.Refresh {
		fresh, err := p.GetAccount(c.Request.Context(), a.ProviderAccountID)
		if err != nil {
			fail(c, err)
			return
		}
		s.answerSaved(c, a, fresh)
		return
	}
	c.JSON(http.StatusOK, a)
}

// ListVirtualAccounts pages through the tenant's accounts.
func (s *Server) ListVirtualAccounts(c *gin.Context, params openapi.ListVirtualAccountsParams) {
	limit, fs := pageLimit(params.Limit)
	var f store.AccountFilter
	if params.Provider != nil {
		f.Provider = *params.Provider
	}
	if params.Currency != nil {
		f.Currency = *params.Currency
		if !currencyRE.MatchString(f.Currency) {
			fs = append(fs, FieldError{Pointer: "/query/currency", Detail: "must be an ISO 4217 code of three upper-case letters"})
		}
	}
	if params.Status != nil {
		f.Status = bank.Status(*params.Status)
		if !f.Status.Valid() {
			fs = append(fs, FieldError{Pointer: "/query/status", Detail: "must be a unified status such as ACTIVE or UNALLOCATED"})
		}
	}
	if params.ClientReference != nil {
		f.ClientReference = *params.ClientReference
	}
	if params.CustomerId != nil {
		f.CustomerID = *params.CustomerId
	}
	cursor := ""
	if params.Cursor != nil {
		cursor = *params.Cursor
		if _, err := store.DecodeCursor(cursor); err != nil {
			fs = append(fs, FieldError{Pointer: "/query/cursor", Detail: "is not a cursor this API returned"})
		}
	}
	if len(fs) > 0 {
		invalid(c, "the query is not valid", fs)
		return
	}
	items, next, err := s.d.Accounts.ListAccounts(c.Request.Context(), Tenant(c), f, cursor, limit)
	if err != nil {
		fail(c, err)
		return
	}
	if items == nil {
		items = []*bank.Account{}
	}
	out := gin.H{"items": items}
	if next != "" {
		out["nextCursor"] = next
	}
	c.JSON(http.StatusOK, out)
}

// UpdateVirtualAccount allocates an unallocated account once, or changes the
// client reference at any time.
func (s *Server) UpdateVirtualAccount(c *gin.Context, id openapi.AccountID, _ openapi.UpdateVirtualAccountParams) {
	body, ok := jsonBody(c)
	if !ok {
		return
	}
	upd, fs := ParseUpdate(body)
	if len(fs) > 0 {
		invalid(c, "the update is not valid; nothing was changed", fs)
		return
	}
	a, p, ok := s.account(c, id)
	if !ok {
		return
	}
	if upd.Identity() {
		if a.Status == bank.StatusUnallocated {
			var missing []FieldError
			if upd.AccountHolderName == nil {
				missing = append(missing, FieldError{Pointer: "/accountHolderName", Detail: "is required to allocate the account"})
			}
			if upd.AccountName == nil {
				missing = append(missing, FieldError{Pointer: "/accountName", Detail: "is required to allocate the account"})
			}
			if len(missing) > 0 {
				invalid(c, "allocating an account sets both names", missing)
				return
			}
		} else if changed := immutableChanges(a, upd); len(changed) > 0 {
			pr := NewProblem(http.StatusConflict, CodeFieldImmutable,
				"the account is allocated: its identity fields cannot change; clientReference still can")
			pr.Errors = changed
			WriteProblem(c, pr)
			return
		} else {
			// The same values again (a resent allocation): only the reference can change.
			upd.AccountHolderName, upd.AccountName, upd.DOB, upd.NativeLanguageName = nil, nil, nil, nil
			if upd.ClientReference == nil {
				c.JSON(http.StatusOK, a)
				return
			}
		}
	}
	fresh, err := p.Allocate(c.Request.Context(), a.ProviderAccountID, upd)
	if err != nil {
		if bank.Code(err) == bank.FailedPrecondition {
			pr := NewProblem(http.StatusConflict, CodeFieldImmutable, "the provider refused to change an identity field of an allocated account")
			WriteProblem(c, pr)
			return
		}
		fail(c, err)
		return
	}
	s.answerSaved(c, a, fresh)
}

func immutableChanges(a *bank.Account, u *provider.Allocation) []FieldError {
	var out []FieldError
	check := func(name string, v *string, cur string) {
		if v != nil && *v != cur {
			out = append(out, FieldError{Pointer: "/" + name, Detail: "cannot change once the account is allocated"})
		}
	}
	check("accountHolderName", u.AccountHolderName, a.AccountHolderName)
	check("accountName", u.AccountName, a.AccountName)
	check("dob", u.DOB, a.DOB)
	check("nativeLanguageName", u.NativeLanguageName, a.NativeLanguageName)
	return out
}

// BlockVirtualAccount blocks an account where its provider can.
func (s *Server) BlockVirtualAccount(c *gin.Context, id openapi.AccountID, _ openapi.BlockVirtualAccountParams) {
	s.lifecycle(c, id, (*gateway.Provider).Block)
}

// UnblockVirtualAccount unblocks an account where its provider can.
func (s *Server) UnblockVirtualAccount(c *gin.Context, id openapi.AccountID, _ openapi.UnblockVirtualAccountParams) {
	s.lifecycle(c, id, (*gateway.Provider).Unblock)
}

func (s *Server) lifecycle(c *gin.Context, id string, call func(*gateway.Provider, context.Context, string) (*bank.Account, error)) {
	a, p, ok := s.account(c, id)
	if !ok {
		return
	}
	fresh, err := call(p, c.Request.Context(), a.ProviderAccountID)
	if err != nil {
		fail(c, err)
		return
	}
	s.answerSaved(c, a, fresh)
}

// CloseVirtualAccount closes an account where its provider can.
func (s *Server) CloseVirtualAccount(c *gin.Context, id openapi.AccountID, _ openapi.CloseVirtualAccountParams) {
	body, ok := jsonBody(c)
	if !ok {
		return
	}
	reason, fs := ParseClose(body)
	if len(fs) > 0 {
		invalid(c, "the close request is not valid; nothing was changed", fs)
		return
	}
	a, p, ok := s.account(c, id)
	if !ok {
		return
	}
	if a.Status == bank.StatusClosed {
		// Terminal: a retry of the same close is answered by its
		// Idempotency-Key; any other close is refused.
		WriteProblem(c, NewProblem(http.StatusConflict, CodeFailedPrecondition, "the account is already closed"))
		return
	}
	if reason.RequestedBy == "" {
		reason.RequestedBy = Tenant(c)
	}
	// One close per account: a resend carries the same provider key.
	reason.IdempotencyKey = uuid.NewSHA1(uuid.NameSpaceURL, []byte("vagate:close:"+a.Tenant+":"+a.ID)).String()
	fresh, err := p.Close(c.Request.Context(), a.ProviderAccountID, reason)
	if err != nil {
		fail(c, err)
		return
	}
	s.answerSaved(c, a, fresh)
}
