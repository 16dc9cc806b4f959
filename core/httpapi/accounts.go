package httpapi

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/vagate/vagate/core/accounts"
	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/pool"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/openapi"
)

// CodeFieldImmutable is the problem code for a change to an identity field
// of an allocated account.
const CodeFieldImmutable = "field_immutable"

// answer writes the account a service call returned, or its error.
func answer(c *gin.Context, a *bank.Account, err error) {
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, a)
}

// GetVirtualAccount returns one account, re-read from the provider on
// refresh, with the provider's own object on include=provider.
func (s *Server) GetVirtualAccount(c *gin.Context, id openapi.AccountID, params openapi.GetVirtualAccountParams) {
	withProvider := params.Include != nil
	if withProvider && !params.Include.Valid() {
		invalid(c, "the query is not valid", []bank.FieldError{{Pointer: "/query/include", Message: "must be provider"}})
		return
	}
	var a *bank.Account
	var err error
	if params.Refresh != nil && *params.Refresh {
		a, err = s.d.Accounts.Refresh(c.Request.Context(), Tenant(c), id)
	} else {
		a, err = s.d.Accounts.Get(c.Request.Context(), Tenant(c), id)
	}
	if err != nil || !withProvider {
		answer(c, a, err)
		return
	}
	c.JSON(http.StatusOK, a.WithProviderData())
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
		if !bank.ValidCurrency(f.Currency) {
			fs = append(fs, bank.FieldError{Pointer: "/query/currency", Message: "must be an ISO 4217 code of three upper-case letters"})
		}
	}
	if params.Status != nil {
		f.Status = bank.Status(*params.Status)
		if !f.Status.Valid() {
			fs = append(fs, bank.FieldError{Pointer: "/query/status", Message: "must be a unified status such as ACTIVE or UNALLOCATED"})
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
			fs = append(fs, bank.FieldError{Pointer: "/query/cursor", Message: "is not a cursor this API returned"})
		}
	}
	if len(fs) > 0 {
		invalid(c, "the query is not valid", fs)
		return
	}
	items, next, err := s.d.Accounts.List(c.Request.Context(), Tenant(c), f, cursor, limit)
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
	a, err := s.d.Accounts.Get(c.Request.Context(), Tenant(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	if upd.Identity() {
		if a.Status == bank.StatusUnallocated {
			var missing []bank.FieldError
			if upd.AccountHolderName == nil {
				missing = append(missing, bank.FieldError{Pointer: "/accountHolderName", Message: "is required to allocate the account"})
			}
			if upd.AccountName == nil {
				missing = append(missing, bank.FieldError{Pointer: "/accountName", Message: "is required to allocate the account"})
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
	// A pooled account allocated directly leaves its pool first; one a
	// claim holds cannot be.
	pooled := s.d.Pool != nil && upd.Identity() && a.Status == bank.StatusUnallocated
	if pooled {
		if err := s.d.Pool.Withdraw(c.Request.Context(), a); err != nil {
			if errors.Is(err, pool.ErrClaimed) {
				WriteProblem(c, NewProblem(http.StatusConflict, CodeFailedPrecondition,
					"the account is being claimed from the pool; it cannot be allocated directly"))
				return
			}
			fail(c, err)
			return
		}
	}
	saved, err := s.d.Accounts.Allocate(c.Request.Context(), a.Tenant, a.ID, upd)
	if err != nil {
		if pooled {
			s.d.Pool.Restore(c.Request.Context(), a, err)
		}
		if bank.Code(err) == bank.FailedPrecondition && !errors.Is(err, accounts.ErrNoProvider) {
			pr := NewProblem(http.StatusConflict, CodeFieldImmutable, "the provider refused to change an identity field of an allocated account")
			WriteProblem(c, pr)
			return
		}
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, saved)
}

func immutableChanges(a *bank.Account, u *provider.Allocation) []bank.FieldError {
	var out []bank.FieldError
	check := func(name string, v *string, cur string) {
		if v != nil && *v != cur {
			out = append(out, bank.FieldError{Pointer: "/" + name, Message: "cannot change once the account is allocated"})
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
	a, err := s.d.Accounts.Block(c.Request.Context(), Tenant(c), id)
	answer(c, a, err)
}

// UnblockVirtualAccount unblocks an account where its provider can.
func (s *Server) UnblockVirtualAccount(c *gin.Context, id openapi.AccountID, _ openapi.UnblockVirtualAccountParams) {
	a, err := s.d.Accounts.Unblock(c.Request.Context(), Tenant(c), id)
	answer(c, a, err)
}

// CloseVirtualAccount closes an account where its provider can; a retry of
// the same close is answered by its Idempotency-Key, any other close of a
// closed account is refused.
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
	a, err := s.d.Accounts.Close(c.Request.Context(), Tenant(c), id, reason)
	answer(c, a, err)
}
