package parentprimarymock_test

import (
	"net/http"
	"testing"
)

// A lost account is gone: reads answer 404, unlike an API delete.
func TestAdminForget(t *testing.T) {
	e := newEnv(t, nil)
	a := e.create(createBody("0b6e4a8e-4a43-4f0e-9d55-6a7d2f3e1c01", "REF-LOST"))
	if r := e.admin(http.MethodDelete, "/__admin/accounts/"+a.ID, nil); r.status != http.StatusNoContent {
		t.Fatalf("forget: %d %s", r.status, r.body)
	}
	if r := e.do(http.MethodGet, pathVirtual+"/"+a.ID, nil, nil); r.status != http.StatusNotFound {
		t.Fatalf("read after forget: %d %s", r.status, r.body)
	}
	if r := e.admin(http.MethodDelete, "/__admin/accounts/"+a.ID, nil); r.status != http.StatusNotFound {
		t.Fatalf("forget twice: %d %s", r.status, r.body)
	}
	if n := e.m.AccountCount(); n != 0 {
		t.Fatalf("%d accounts held, want 0", n)
	}
}
