package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/vagate/vagate/core/gateway"
)

// ReferenceParseCreate reads a create request the plain way: json.Valid,
// then a map of raw values per object and one json.Unmarshal per field. It
// is slow and obviously right, and the fuzz test holds ParseCreate's
// answers to it.
var ReferenceParseCreate = referenceParseCreate

func referenceParseCreate(body []byte) (*CreateBody, fields) {
	var f fields
	if len(bytes.TrimSpace(body)) == 0 {
		f.add("", "the body is empty; send a JSON object with items")
		return nil, f
	}
	if !json.Valid(body) {
		f.add("", "the body is not valid JSON")
		return nil, f
	}
	top := f.object("", body, "items", "callbackUrl", "customHeaders")
	if top == nil {
		return nil, f
	}
	out := &CreateBody{}
	out.CallbackURL, _ = f.str("", top, "callbackUrl")
	out.CustomHeaders = f.strMap("", top, "customHeaders")
	if absent(top, "items") {
		f.add("/items", "is required")
		return out, f
	}
	var items []json.RawMessage
	if err := json.Unmarshal(top["items"], &items); err != nil {
		f.add("/items", "must be an array")
		return out, f
	}
	switch {
	case len(items) == 0:
		f.add("/items", "must hold at least 1 item")
		return out, f
	case len(items) > MaxItems:
		f.add("/items", "must hold at most %d items (got %d)", MaxItems, len(items))
		return out, f
	}
	out.Items = make([]*gateway.Item, len(items))
	for i, raw := range items {
		var g fields
		it := referenceParseItem(&g, fmt.Sprintf("/items/%d", i), raw)
		if len(g) == 0 {
			out.Items[i] = it
		}
		f = append(f, g...)
	}
	return out, f
}

func referenceParseItem(f *fields, ptr string, raw json.RawMessage) *gateway.Item {
	m := f.object(ptr, raw, itemFields...)
	if m == nil {
		return nil
	}
	it := &gateway.Item{}
	a := &it.Account
	a.Currency = f.required(ptr, m, "currency")
	it.Provider, _ = f.str(ptr, m, "provider")
	a.Unallocated = f.boolean(ptr, m, "unallocated")
	a.AccountHolderName, _ = f.str(ptr, m, "accountHolderName")
	a.AccountName, _ = f.str(ptr, m, "accountName")
	a.DOB, _ = f.str(ptr, m, "dob")
	a.NativeLanguageName, _ = f.str(ptr, m, "nativeLanguageName")
	a.ClientReference, _ = f.str(ptr, m, "clientReference")
	a.CustomerID, _ = f.str(ptr, m, "customerId")
	a.Metadata = f.strMap(ptr, m, "metadata")
	a.Params = f.strMap(ptr, m, "providerParams")
	return it
}
