package parentprimarymock_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/vagate/vagate/mocks/parentprimarymock"
	"github.com/vagate/vagate/mocks/seedcheck"
)

// readSeed reads one example of the provider's document from testdata/seed.
func readSeed(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "seed", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// unsigned sends body as the document shows its examples: no headers but
// the content type.
func (e *env) unsigned(method, path string, body []byte) resp {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return e.send(req)
}

const uuidRE = `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`

// The document's example values (shared/seeds 003), sent as it shows
// them: unsigned in lenient mode (its four headers are Optional), signed in
// strict mode. The create answers 200 with the example answer's members,
// equal except where the provider makes the value per call; beyond them
// only the documented externalReference and the mock's own
// productParameters and availableBalance (package documentation). The
// delete answers 200 with no content, and a resent create the same account.
func TestSeedExamples(t *testing.T) {
	request, answer := readSeed(t, "create-request.json"), readSeed(t, "create-response.json")
	generated := seedcheck.Generated{
		// The example's id is its own parentAccountId: a new account cannot
		// have its parent's id.
		"id": uuidRE,
		// The example's primaryAccountId differs from its parentAccountId;
		// the mock answers the parent the account was created under.
		"primaryAccountId": uuidRE,
		// Typed date-time, shown as a date: the mock answers RFC 3339 in UTC.
		"createDate": `^\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\d(\.\d+)?Z)?$`,
	}
	extraAllowed := map[string]bool{"externalReference": true, "productParameters": true, "availableBalance": true}
	for _, strict := range []bool{false, true} {
		mode := map[bool]string{false: "lenient, unsigned", true: "strict, signed"}[strict]
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, &parentprimarymock.Options{Strict: strict})
			send := func(method, path string, body []byte) resp {
				if strict {
					return e.do(method, path, body, nil)
				}
				return e.unsigned(method, path, body)
			}
			r := send(http.MethodPost, pathVirtual, request)
			if r.status != http.StatusOK {
				t.Fatalf("create: %d %s, want 200", r.status, r.body)
			}
			for _, d := range seedcheck.Compare(answer, r.body, generated) {
				t.Errorf("create: %s", d)
			}
			for _, x := range seedcheck.Extra(answer, r.body) {
				if !extraAllowed[x] {
					t.Errorf("create: the answer has %s, which neither the document nor the package documentation names", x)
				}
			}
			var created account
			r.decode(t, &created)
			if again := send(http.MethodPost, pathVirtual, request); again.status != http.StatusOK || !bytes.Contains(again.body, []byte(created.ID)) {
				t.Errorf("the same create again: %d %s, want the account %s", again.status, again.body, created.ID)
			}
			del := []byte(`{"idempotencyKey":"` + uuid.NewString() + `","requestedBy":"ops@example.com","reason":"Customer left","notes":null}`)
			r = send(http.MethodDelete, pathVirtual+"/"+created.ID, del)
			if r.status != http.StatusOK || len(r.body) != 0 {
				t.Errorf("delete: %d %q, want 200 with no content", r.status, r.body)
			}
			if n := e.m.AccountCount(); n != 1 {
				t.Errorf("the mock holds %d accounts, want 1", n)
			}
		})
	}
}
