package hook_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/hook"
)

// sink receives messages; status answers the n-th request (1-based), nil = 200.
type sink struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []string
	reqs   []*http.Request
	status func(n int) int
}

func newSink(t *testing.T, status func(n int) int) *sink {
	s := &sink{status: status}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, string(b))
		s.reqs = append(s.reqs, r.Clone(t.Context()))
		n := len(s.bodies)
		s.mu.Unlock()
		if s.status != nil {
			w.WriteHeader(s.status(n))
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.bodies)
}

func newOutbox(t *testing.T, opts *hook.Options) *hook.Outbox {
	o := hook.New(opts)
	t.Cleanup(o.Close)
	return o
}

// sig is the test's signature of a body.
func sig(body []byte) string { return fmt.Sprintf("sig:%q", body) }

func msg(url string, i int) hook.Message {
	return hook.Message{URL: url, Event: "E", Status: fmt.Sprint(i), Body: []byte(fmt.Sprint(i)),
		Sign: func(b []byte) (http.Header, error) {
			h := http.Header{}
			h.Set("X-Sig", sig(b))
			return h, nil
		}}
}

// settle waits until no record is pending: each is dropped, delivered or out of attempts.
func settle(t *testing.T, o *hook.Outbox, attempts int) []hook.Delivery {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ds := o.Deliveries()
		done := true
		for _, d := range ds {
			done = done && (d.Dropped || d.Delivered || d.Attempts == attempts)
		}
		if done {
			return ds
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries never settled: %+v", ds)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults hook.Faults
		want   string // bodies received, in order (sorted for "delay": each waits on its own)
		stats  hook.Stats
		fault  string // of the first record
	}{
		{"none", hook.Faults{}, "[0 1 2 3]", hook.Stats{Deliveries: 4}, ""},
		{"drop all", hook.Faults{DropRate: 1}, "[]", hook.Stats{Deliveries: 4, Dropped: 4}, "drop"},
		{"duplicate all", hook.Faults{DuplicateRate: 1}, "[0 0 1 1 2 2 3 3]", hook.Stats{Deliveries: 4, Duplicated: 4}, "duplicate"},
		{"reorder", hook.Faults{ReorderRate: 1, MaxHold: fault.Duration(time.Second)}, "[1 0 3 2]", hook.Stats{Deliveries: 4, Reordered: 2}, "reorder"},
		{"delay", hook.Faults{Delay: fault.Duration(20 * time.Millisecond)}, "[0 1 2 3]", hook.Stats{Deliveries: 4, Delayed: 4}, "delay"},
		{"corrupt", hook.Faults{CorruptRate: 1}, "[0 1 2 3]", hook.Stats{Deliveries: 4, Corrupted: 4}, "corrupt"},
		{"rule by status, twice", hook.Faults{Rules: []hook.Rule{{Action: hook.Drop, Status: "1"}, {Action: hook.Drop, Times: 2}}},
			"[3]", hook.Stats{Deliveries: 4, Dropped: 3}, "drop"},
		{"rule for another event", hook.Faults{Rules: []hook.Rule{{Action: hook.Drop, Event: "F"}}}, "[0 1 2 3]", hook.Stats{Deliveries: 4}, ""},
		{"rule delay overtaken", hook.Faults{Rules: []hook.Rule{{Action: hook.Delay, Status: "0", Delay: fault.Duration(100 * time.Millisecond)}}},
			"[1 2 3 0]", hook.Stats{Deliveries: 4, Delayed: 1}, "delay"},
		{"duplicate and corrupt", hook.Faults{DuplicateRate: 1, Rules: []hook.Rule{{Action: hook.Corrupt, Times: 1}}},
			"[0 0 1 1 2 2 3 3]", hook.Stats{Deliveries: 4, Duplicated: 4, Corrupted: 1}, "duplicate,corrupt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSink(t, nil)
			o := newOutbox(t, &hook.Options{Seed: 3})
			if err := o.SetFaults(tc.faults); err != nil {
				t.Fatal(err)
			}
			for i := range 4 {
				o.Send(msg(s.srv.URL, i))
			}
			ds := settle(t, o, 3)
			time.Sleep(20 * time.Millisecond)
			got := s.got()
			if tc.name == "delay" {
				slices.Sort(got)
			}
			if got := "[" + strings.Join(got, " ") + "]"; got != tc.want {
				t.Errorf("received %s, want %s", got, tc.want)
			}
			if _, st := o.Faults(); st != tc.stats {
				t.Errorf("stats %+v, want %+v", st, tc.stats)
			}
			if ds[0].Fault != tc.fault {
				t.Errorf("first record's fault %q, want %q", ds[0].Fault, tc.fault)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			for i, r := range s.reqs {
				corrupt := r.Header.Get("X-Sig") != sig([]byte(s.bodies[i]))
				if want := strings.Contains(ds[0].Fault, "corrupt") && i < 2 || tc.faults.CorruptRate == 1; corrupt != want {
					t.Errorf("request %d: signature %q over %q, corrupt %v, want %v", i, r.Header.Get("X-Sig"), s.bodies[i], corrupt, want)
				}
			}
		})
	}
}

func TestReproducibleForSeed(t *testing.T) {
	pattern := func(seed uint64) string {
		o := newOutbox(t, &hook.Options{Seed: seed})
		o.SetFaults(hook.Faults{DropRate: 0.5})
		for i := range 40 {
			o.Send(msg("http://127.0.0.1:1/", i))
		}
		var b strings.Builder
		for _, d := range o.Deliveries() {
			b.WriteString(map[bool]string{true: "x", false: "."}[d.Dropped])
		}
		return b.String()
	}
	a, b := pattern(7), pattern(7)
	if a != b {
		t.Errorf("same seed, different faults:\n%s\n%s", a, b)
	}
	if n := strings.Count(a, "x"); n < 8 || n > 32 {
		t.Errorf("rate 0.5 dropped %d/40", n)
	}
}

func TestRetriesInOrder(t *testing.T) {
	tests := []struct {
		name      string
		status    func(n int) int
		attempts  []int
		delivered bool
		received  int
	}{
		{"first answer 2xx", nil, []int{1, 1}, true, 2},
		{"two failures then success", func(n int) int {
			if n < 3 {
				return 500
			}
			return 204
		}, []int{3, 1}, true, 4},
		{"always failing", func(int) int { return 503 }, []int{2, 2}, false, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSink(t, tc.status)
			o := newOutbox(t, &hook.Options{Attempts: max(2, slices.Max(tc.attempts)), Backoff: 10 * time.Millisecond})
			o.Send(msg(s.srv.URL, 0))
			o.Send(msg(s.srv.URL, 1))
			ds := settle(t, o, max(2, slices.Max(tc.attempts)))
			for i, d := range ds {
				if d.Attempts != tc.attempts[i] || d.Delivered != tc.delivered || d.Headers.Get("X-Sig") != sig([]byte(fmt.Sprint(i))) {
					t.Errorf("record %d: %+v", i, d)
				}
			}
			got := s.got()
			if len(got) != tc.received || got[len(got)-1] != "1" {
				t.Errorf("received %v: the second message must wait for the first's retries", got)
			}
		})
	}
}

func TestCancelResetClose(t *testing.T) {
	s := newSink(t, nil)
	o := newOutbox(t, &hook.Options{})
	o.SetFaults(hook.Faults{Delay: fault.Duration(200 * time.Millisecond)})
	a, b := msg(s.srv.URL, 0), msg(s.srv.URL, 1)
	a.Target, b.Target = "a", "b"
	o.Send(a)
	o.Send(b)
	o.Cancel("a")
	time.Sleep(300 * time.Millisecond)
	if got := s.got(); !slices.Equal(got, []string{"1"}) {
		t.Errorf("received %v, want only the message of the target not cancelled", got)
	}
	o.Send(a)
	o.Reset()
	if f, st := o.Faults(); f.Delay != 0 || st.Deliveries != 0 || len(o.Deliveries()) != 0 {
		t.Errorf("after Reset: faults %+v, stats %+v, %d records", f, st, len(o.Deliveries()))
	}
	time.Sleep(300 * time.Millisecond)
	if got := s.got(); len(got) != 1 {
		t.Errorf("received %v: a delivery survived Reset", got)
	}
	o.Close()
	o.Send(a)
	if n := len(o.Deliveries()); n != 0 {
		t.Errorf("%d records after Close", n)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		f    hook.Faults
		ok   bool
	}{
		{"empty", hook.Faults{}, true},
		{"rates", hook.Faults{DropRate: 0.1, DuplicateRate: 1, ReorderRate: 0.5, CorruptRate: 0.2}, true},
		{"rate above 1", hook.Faults{CorruptRate: 1.5}, false},
		{"negative delay", hook.Faults{Delay: -1}, false},
		{"negative hold", hook.Faults{MaxHold: -1}, false},
		{"rule", hook.Faults{Rules: []hook.Rule{{Action: hook.Reorder, Event: "E", Times: 1}}}, true},
		{"unknown action", hook.Faults{Rules: []hook.Rule{{Action: "explode"}}}, false},
		{"delay without delay", hook.Faults{Rules: []hook.Rule{{Action: hook.Delay}}}, false},
		{"negative times", hook.Faults{Rules: []hook.Rule{{Action: hook.Drop, Times: -1}}}, false},
		{"rule rate", hook.Faults{Rules: []hook.Rule{{Action: hook.Drop, Rate: 2}}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.f.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate = %v, want ok=%v", err, tc.ok)
			}
			o := hook.New(nil)
			defer o.Close()
			if err := o.SetFaults(tc.f); (err == nil) != tc.ok {
				t.Errorf("SetFaults = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// Both admin paths serve one script, in the JSON each was first written for.
func TestAdminAPI(t *testing.T) {
	o := newOutbox(t, nil)
	srv := httptest.NewServer(o.AdminHandler())
	t.Cleanup(srv.Close)
	do := func(method, path, body string, out any) int {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if out != nil {
			json.NewDecoder(res.Body).Decode(out)
		}
		return res.StatusCode
	}
	tests := []struct {
		name, method, path, body string
		status                   int
		check                    func(f hook.Faults) bool
	}{
		{"rates", "PUT", hook.AdminPath, `{"duplicateRate":0.5,"delay":"10ms"}`, 200,
			func(f hook.Faults) bool {
				return f.DuplicateRate == 0.5 && f.Delay == fault.Duration(10*time.Millisecond) && len(f.Rules) == 0
			}},
		{"rules at the alias", "PUT", hook.AdminAliasPath, `{"rules":[{"action":"drop","status":"ACTIVE","times":1}]}`, 200,
			func(f hook.Faults) bool {
				return f.DuplicateRate == 0 && len(f.Rules) == 1 && f.Rules[0].Status == "ACTIVE"
			}},
		{"unknown field", "PUT", hook.AdminPath, `{"dropRate":1,"bogus":1}`, 400, nil},
		{"bad rule", "PUT", hook.AdminAliasPath, `{"rules":[{"action":"delay"}]}`, 400, nil},
		{"bad rate", "PUT", hook.AdminPath, `{"dropRate":3}`, 400, nil},
		{"not JSON", "PUT", hook.AdminPath, `nope`, 400, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f hook.Faults
			if got := do(tc.method, tc.path, tc.body, &f); got != tc.status {
				t.Fatalf("%s %s: %d, want %d", tc.method, tc.path, got, tc.status)
			}
			if tc.check != nil && !tc.check(f) {
				t.Errorf("answer %+v", f)
			}
		})
	}
	m := msg("http://127.0.0.1:1/", 0)
	m.Status = "ACTIVE"
	o.Send(m)
	for _, p := range []string{hook.AdminPath, hook.AdminAliasPath} {
		var view struct {
			Rule  hook.Faults
			Rules []hook.Rule
			Stats hook.Stats
		}
		if do("GET", p, "", &view) != 200 || len(view.Rules) != 1 || view.Rules[0].Fired != 1 || len(view.Rule.Rules) != 1 || view.Stats.Dropped != 1 {
			t.Errorf("GET %s: %+v", p, view)
		}
	}
	if do("DELETE", hook.AdminAliasPath, "", nil) != 204 {
		t.Error("DELETE")
	}
	if f, _ := o.Faults(); len(f.Rules) != 0 {
		t.Errorf("after DELETE: %+v", f)
	}
}
