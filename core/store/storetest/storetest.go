// Package storetest is the contract suite every store implementation passes.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/jobs"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/core/store"
)

// Stores are the implementations under test, built fresh per test.
type Stores struct {
	Accounts store.Accounts
	Jobs     jobs.Store
	Queue    store.Queue
	Events   store.Events
}

// RunConformanceTests runs the contract suite against fresh stores from
// newStores.
func RunConformanceTests(t *testing.T, newStores func(t *testing.T) Stores) {
	t.Run("AccountsCRUD", func(t *testing.T) { testAccounts(t, newStores(t).Accounts) })
	t.Run("AccountsListPaging", func(t *testing.T) { testList(t, newStores(t).Accounts) })
	t.Run("AccountsTenantIsolation", func(t *testing.T) { testIsolation(t, newStores(t).Accounts) })
	t.Run("AccountsConcurrentUpdate", func(t *testing.T) { testConcurrentUpdate(t, newStores(t).Accounts) })
	RunJobsConformanceTests(t, func(t *testing.T) jobs.Store { return newStores(t).Jobs })
	t.Run("Queue", func(t *testing.T) { testQueue(t, newStores(t).Queue) })
	t.Run("Events", func(t *testing.T) { testEvents(t, newStores(t).Events) })
}

// RunJobsConformanceTests runs the job store's part of the suite against
// fresh stores from newStore.
func RunJobsConformanceTests(t *testing.T, newStore func(t *testing.T) jobs.Store) {
	t.Run("Jobs", func(t *testing.T) { testJobs(t, newStore(t)) })
	t.Run("JobsConcurrentWrites", func(t *testing.T) { testJobsConcurrent(t, newStore(t)) })
}

var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func acct(tenant string, n int) *bank.Account {
	return &bank.Account{ID: fmt.Sprintf("va_%03d", n), Tenant: tenant, Provider: "p", ProviderAccountID: fmt.Sprintf("%s-%03d", tenant, n),
		Status: bank.StatusActive, Currency: "USD", ClientReference: fmt.Sprintf("ref-%d", n%3),
		CreatedAt: base.Add(time.Duration(n) * time.Second), Metadata: map[string]string{"n": fmt.Sprint(n)}}
}

func testAccounts(t *testing.T, s store.Accounts) {
	ctx := t.Context()
	a := acct("t1", 1)
	if err := s.PutAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	a.Metadata["n"] = "mutated after put"
	got, err := s.GetAccount(ctx, "t1", a.ID)
	if err != nil || got.Metadata["n"] != "1" || got.ProviderAccountID != a.ProviderAccountID {
		t.Fatalf("GetAccount = %+v, %v", got, err)
	}
	if _, err := s.GetAccount(ctx, "t1", "va_missing"); !errors.Is(err, bank.ErrNotFound) {
		t.Errorf("missing: %v, want not found", err)
	}
	byRef, err := s.FindAccount(ctx, "p", a.ProviderAccountID)
	if err != nil || byRef.ID != a.ID || byRef.Tenant != "t1" {
		t.Errorf("FindAccount = %+v, %v", byRef, err)
	}
	up, err := s.UpdateAccount(ctx, "t1", a.ID, func(x *bank.Account) error { x.Status = bank.StatusBlocked; return nil })
	if err != nil || up.Status != bank.StatusBlocked {
		t.Fatalf("UpdateAccount = %+v, %v", up, err)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateAccount(ctx, "t1", a.ID, func(x *bank.Account) error { x.Status = bank.StatusClosed; return boom }); !errors.Is(err, boom) {
		t.Errorf("update error not returned: %v", err)
	}
	if got, _ := s.GetAccount(ctx, "t1", a.ID); got.Status != bank.StatusBlocked {
		t.Errorf("a failed update changed the account: %s", got.Status)
	}
	if _, err := s.UpdateAccount(ctx, "t1", "va_missing", func(*bank.Account) error { return nil }); !errors.Is(err, bank.ErrNotFound) {
		t.Errorf("update missing: %v", err)
	}
}

func testList(t *testing.T, s store.Accounts) {
	ctx := t.Context()
	for _, n := range []int{5, 1, 3, 2, 4, 6, 7} { // out of order on purpose
		if err := s.PutAccount(ctx, acct("t1", n)); err != nil {
			t.Fatal(err)
		}
	}
	list := func() []string {
		var ids []string
		cursor := ""
		for range 10 {
			page, next, err := s.ListAccounts(ctx, "t1", store.AccountFilter{}, cursor, 3)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range page {
				ids = append(ids, a.ID)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		return ids
	}
	const want = "[va_001 va_002 va_003 va_004 va_005 va_006 va_007]"
	if ids := list(); fmt.Sprint(ids) != want {
		t.Errorf("pages = %v, want creation order without gaps or repeats", ids)
	}
	// Updates keep an account's place, once.
	for _, n := range []int{3, 5, 3} {
		a := acct("t1", n)
		a.Status = bank.StatusBlocked
		if err := s.PutAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if ids := list(); fmt.Sprint(ids) != want {
		t.Errorf("pages after updates = %v, want the same creation order, each once", ids)
	}
	got, next, err := s.ListAccounts(ctx, "t1", store.AccountFilter{ClientReference: "ref-1"}, "", 10)
	if err != nil || next != "" || len(got) != 3 { // 1, 4, 7
		t.Errorf("filtered = %d accounts, next %q, %v", len(got), next, err)
	}
	if _, _, err := s.ListAccounts(ctx, "t1", store.AccountFilter{}, "not-a-cursor!", 3); !errors.Is(err, bank.ErrInvalidArgument) {
		t.Errorf("bad cursor: %v, want invalid argument", err)
	}
	got, _, _ = s.ListAccounts(ctx, "t1", store.AccountFilter{Status: bank.StatusClosed}, "", 10)
	if len(got) != 0 {
		t.Errorf("status filter matched %d", len(got))
	}
}

func testIsolation(t *testing.T, s store.Accounts) {
	ctx := t.Context()
	s.PutAccount(ctx, acct("t1", 1))
	if _, err := s.GetAccount(ctx, "t2", "va_001"); !errors.Is(err, bank.ErrNotFound) {
		t.Errorf("tenant t2 read t1's account: %v", err)
	}
	if got, _, _ := s.ListAccounts(ctx, "t2", store.AccountFilter{}, "", 10); len(got) != 0 {
		t.Errorf("tenant t2 lists %d of t1's accounts", len(got))
	}
	if _, err := s.UpdateAccount(ctx, "t2", "va_001", func(*bank.Account) error { return nil }); !errors.Is(err, bank.ErrNotFound) {
		t.Errorf("tenant t2 updated t1's account: %v", err)
	}
}

func testConcurrentUpdate(t *testing.T, s store.Accounts) {
	ctx := t.Context()
	a := acct("t1", 1)
	a.Metadata = map[string]string{"count": "0"}
	s.PutAccount(ctx, a)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			_, err := s.UpdateAccount(ctx, "t1", a.ID, func(x *bank.Account) error {
				var n int
				fmt.Sscan(x.Metadata["count"], &n)
				x.Metadata["count"] = fmt.Sprint(n + 1)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, _ := s.GetAccount(ctx, "t1", a.ID)
	if got.Metadata["count"] != "50" {
		t.Errorf("count = %s after 50 concurrent increments; updates were lost", got.Metadata["count"])
	}
}

func jobRecord(tenant, id string, n int) *jobs.Record {
	rec := &jobs.Record{Header: jobs.Header{Job: bank.Job{ID: id, Tenant: tenant, Status: bank.JobPending, Total: n, CreatedAt: base},
		CustomHeaders: map[string]string{"X-A": "1"}, TraceParent: "00-trace"}}
	for i := range n {
		rec.Items = append(rec.Items, jobs.ItemRecord{Provider: "p", Chunk: i / 2,
			Request: provider.CreateItem{Currency: "USD", ClientReference: fmt.Sprintf("R%d", i), Metadata: map[string]string{"i": fmt.Sprint(i)}},
			Result:  bank.ItemResult{Index: i, Outcome: bank.OutcomePending}})
	}
	return rec
}

func counts(j *bank.Job) string {
	return fmt.Sprintf("created %d failed %d cancelled %d unknown %d", j.Succeeded, j.Failed, j.Cancelled, j.Unknown)
}

func testJobs(t *testing.T, s jobs.Store) {
	ctx := t.Context()
	rec := jobRecord("t1", "job_1", 4)
	rec.Items[3].Result.Outcome = bank.OutcomeCreated // counts derive from the items
	if err := s.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, rec); !errors.Is(err, bank.ErrAlreadyExists) {
		t.Errorf("duplicate job id: %v, want already exists", err)
	}
	rec.Items[0].Request.Metadata["i"] = "mutated after create"
	got, err := s.Get(ctx, "t1", "job_1")
	if err != nil || got.Job.Status != bank.JobPending || len(got.Items) != 4 || got.Job.Tenant != "t1" || got.Job.Total != 4 ||
		got.CustomHeaders["X-A"] != "1" || got.TraceParent != "00-trace" {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	for i, it := range got.Items {
		if it.Result.Index != i || it.Request.ClientReference != fmt.Sprintf("R%d", i) || it.Chunk != i/2 {
			t.Errorf("item %d = %+v", i, it)
		}
	}
	if got.Items[0].Request.Metadata["i"] != "0" {
		t.Errorf("the store shares the caller's item")
	}
	if c := counts(&got.Job); c != "created 1 failed 0 cancelled 0 unknown 0" {
		t.Errorf("counts after create: %s", c)
	}
	h, err := s.Header(ctx, "t1", "job_1")
	if err != nil || h.Job != got.Job || h.TraceParent != "00-trace" {
		t.Errorf("Header = %+v, %v; want %+v", h, err, got.Job)
	}

	// Tenants are apart.
	if _, err := s.Get(ctx, "t2", "job_1"); !errors.Is(err, bank.ErrNotFound) {
		t.Errorf("other tenant read the job: %v", err)
	}
	if _, err := s.Header(ctx, "t2", "job_1"); !errors.Is(err, bank.ErrNotFound) {
		t.Errorf("other tenant read the header: %v", err)
	}
	if _, err := s.Items(ctx, "t2", "job_1", []int{0}); !errors.Is(err, bank.ErrNotFound) {
		t.Errorf("other tenant read an item: %v", err)
	}
	if _, err := s.UpdateHeader(ctx, "t2", "job_1", func(*jobs.Header) error { return nil }); !errors.Is(err, bank.ErrNotFound) {
		t.Errorf("other tenant updated the header: %v", err)
	}
	if _, err := s.UpdateItems(ctx, "t2", "job_1", []int{0}, func(*jobs.ItemRecord) error { return nil }); !errors.Is(err, bank.ErrNotFound) {
		t.Errorf("other tenant updated an item: %v", err)
	}

	// Header updates are saved; the counts are the store's.
	up, err := s.UpdateHeader(ctx, "t1", "job_1", func(h *jobs.Header) error {
		h.Job.Status, h.Queued = bank.JobInProgress, true
		h.Job.Succeeded = 99
		return nil
	})
	if err != nil || up.Job.Status != bank.JobInProgress || !up.Queued || up.Job.Succeeded != 1 {
		t.Fatalf("UpdateHeader = %+v, %v", up, err)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateHeader(ctx, "t1", "job_1", func(h *jobs.Header) error { h.CancelRequested = true; return boom }); !errors.Is(err, boom) {
		t.Errorf("header update error not returned: %v", err)
	}
	h, _ = s.Header(ctx, "t1", "job_1")
	if h.Job.Status != bank.JobInProgress || !h.Queued || h.CancelRequested || h.Job.Succeeded != 1 {
		t.Errorf("header = %+v", h)
	}

	// Items are read and written by index; the counts follow their outcomes.
	its, err := s.Items(ctx, "t1", "job_1", []int{2, 0})
	if err != nil || len(its) != 2 || its[0].Result.Index != 2 || its[1].Result.Index != 0 {
		t.Fatalf("Items = %+v, %v", its, err)
	}
	if _, err := s.Items(ctx, "t1", "job_1", []int{4}); !errors.Is(err, bank.ErrInvalidArgument) {
		t.Errorf("item out of range: %v", err)
	}
	saved, err := s.UpdateItems(ctx, "t1", "job_1", []int{0, 1}, func(it *jobs.ItemRecord) error {
		it.Sent, it.Operation = true, "op-1"
		if it.Result.Index == 0 {
			it.Result.Outcome = bank.OutcomeCreated
		} else {
			it.Result.Outcome, it.Checks = bank.OutcomeUnknown, 1
		}
		return nil
	})
	if err != nil || len(saved) != 2 || saved[0].Result.Outcome != bank.OutcomeCreated || saved[1].Checks != 1 {
		t.Fatalf("UpdateItems = %+v, %v", saved, err)
	}
	if _, err := s.UpdateItems(ctx, "t1", "job_1", []int{2, 3}, func(it *jobs.ItemRecord) error {
		it.Result.Outcome = bank.OutcomeFailed
		if it.Result.Index == 3 {
			return boom
		}
		return nil
	}); !errors.Is(err, boom) {
		t.Errorf("item update error not returned: %v", err)
	}
	if _, err := s.UpdateItems(ctx, "t1", "job_1", []int{1, 4}, func(*jobs.ItemRecord) error { return nil }); err == nil {
		t.Errorf("item out of range updated")
	}
	got, _ = s.Get(ctx, "t1", "job_1")
	if c := counts(&got.Job); c != "created 2 failed 0 cancelled 0 unknown 1" {
		t.Errorf("counts = %s, want created 2 unknown 1 (a failed update counts nothing)", c)
	}
	if it := got.Items[1]; !it.Sent || it.Operation != "op-1" || it.Result.Outcome != bank.OutcomeUnknown || it.Checks != 1 {
		t.Errorf("item 1 = %+v", it)
	}
	if got.Items[2].Result.Outcome != bank.OutcomePending {
		t.Errorf("a failed update changed item 2: %s", got.Items[2].Result.Outcome)
	}
	if got.Job.Status != bank.JobInProgress || !got.Queued {
		t.Errorf("item writes changed the header: %+v", got.Header)
	}
}

// Concurrent writers of one job lose nothing: each item written by its own
// writer, and one item written by all of them.
func testJobsConcurrent(t *testing.T, s jobs.Store) {
	ctx := t.Context()
	const n = 40
	if err := s.Create(ctx, jobRecord("t1", "job_c", n)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Go(func() {
			if _, err := s.UpdateItems(ctx, "t1", "job_c", []int{i}, func(it *jobs.ItemRecord) error {
				it.Result.Outcome = bank.OutcomeCreated
				return nil
			}); err != nil {
				t.Error(err)
			}
			if _, err := s.UpdateItems(ctx, "t1", "job_c", []int{0}, func(it *jobs.ItemRecord) error {
				it.Checks++
				return nil
			}); err != nil {
				t.Error(err)
			}
			if _, err := s.UpdateHeader(ctx, "t1", "job_c", func(h *jobs.Header) error {
				h.Job.Status = bank.JobInProgress
				return nil
			}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := s.Get(ctx, "t1", "job_c")
	if err != nil {
		t.Fatal(err)
	}
	if got.Items[0].Checks != n-1 || got.Job.Succeeded != n-1 {
		t.Errorf("item 0 checked %d times, %d created; want %d and %d: writes were lost", got.Items[0].Checks, got.Job.Succeeded, n-1, n-1)
	}
	for i := 1; i < n; i++ {
		if got.Items[i].Result.Outcome != bank.OutcomeCreated {
			t.Errorf("item %d: %s", i, got.Items[i].Result.Outcome)
		}
	}
}

func testQueue(t *testing.T, q store.Queue) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for i := range 3 {
		if err := q.Enqueue(ctx, "t1", fmt.Sprintf("job_%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for range 3 {
		l, err := q.Dequeue(ctx)
		if err != nil || l.Tenant != "t1" {
			t.Fatalf("Dequeue = %+v %v", l, err)
		}
		seen[l.JobID] = true
		l.Ack()
		l.Ack() // a second call does nothing
	}
	if len(seen) != 3 {
		t.Errorf("dequeued %v, want 3 distinct jobs", seen)
	}
	short, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	if _, err := q.Dequeue(short); err == nil {
		t.Error("Dequeue on an empty queue returned without waiting")
	}

	// A released job (its worker is shutting down) is handed out again at
	// once, exactly once.
	if err := q.Enqueue(ctx, "t2", "job_released"); err != nil {
		t.Fatal(err)
	}
	l, err := q.Dequeue(ctx)
	if err != nil || l.JobID != "job_released" {
		t.Fatalf("Dequeue = %+v %v", l, err)
	}
	l.Release()
	l.Ack() // too late: the lease is already released
	again, cancel3 := context.WithTimeout(ctx, 2*time.Second)
	defer cancel3()
	l2, err := q.Dequeue(again)
	if err != nil || l2.JobID != "job_released" || l2.Tenant != "t2" {
		t.Fatalf("after Release, Dequeue = %+v %v; want job_released of t2 again", l2, err)
	}
	l2.Ack()
	short3, cancel4 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel4()
	if l3, err := q.Dequeue(short3); err == nil {
		t.Errorf("released job handed out twice: %+v", l3)
	}

	// A deferred job comes back once it is due, not before, and once.
	if err := q.Enqueue(ctx, "t3", "job_deferred"); err != nil {
		t.Fatal(err)
	}
	l, err = q.Dequeue(ctx)
	if err != nil || l.JobID != "job_deferred" {
		t.Fatalf("Dequeue = %+v %v", l, err)
	}
	deferred := time.Now()
	l.Defer(300 * time.Millisecond)
	l.Release() // too late: the lease is already deferred
	l4, err := q.Dequeue(ctx)
	if err != nil || l4.JobID != "job_deferred" || l4.Tenant != "t3" {
		t.Fatalf("after Defer, Dequeue = %+v %v", l4, err)
	}
	if d := time.Since(deferred); d < 250*time.Millisecond {
		t.Errorf("deferred job back after %s, before it was due", d)
	}
	l4.Ack()
	short5, cancel5 := context.WithTimeout(ctx, 400*time.Millisecond)
	defer cancel5()
	if l5, err := q.Dequeue(short5); err == nil {
		t.Errorf("deferred job handed out twice: %+v", l5)
	}
}

func testEvents(t *testing.T, s store.Events) {
	ctx := t.Context()
	types := []bank.EventType{bank.EventAccountCreated, bank.EventJobCompleted, bank.EventAccountCreated,
		bank.EventAccountStatusUpdated, bank.EventAccountCreated}
	for i, ty := range types {
		e := &bank.Event{ID: fmt.Sprintf("evt_%d", i), Tenant: "t1", Type: ty, CreatedAt: base.Add(time.Duration(i) * time.Second),
			Data: bank.EventData{Account: acct("t1", i), PreviousStatus: bank.StatusPending}}
		if err := s.AppendEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	s.AppendEvent(ctx, &bank.Event{ID: "evt_other", Tenant: "t2", Type: bank.EventAccountCreated})
	var ids []string
	cursor := ""
	for range 10 {
		page, next, err := s.ListEvents(ctx, "t1", "", cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			ids = append(ids, e.ID)
			if e.Data.Account == nil || e.Data.PreviousStatus != bank.StatusPending || e.CreatedAt.IsZero() {
				t.Errorf("event data lost: %+v", e)
			}
		}
		if len(page) == 0 {
			if next != cursor {
				t.Errorf("an empty page moved the cursor")
			}
			break
		}
		if next == "" {
			t.Fatal("no cursor to resume from")
		}
		cursor = next
	}
	if fmt.Sprint(ids) != "[evt_0 evt_1 evt_2 evt_3 evt_4]" {
		t.Errorf("events = %v, want append order without gaps or repeats", ids)
	}
	// A poller resumes from its cursor and sees only what came since.
	s.AppendEvent(ctx, &bank.Event{ID: "evt_5", Tenant: "t1", Type: bank.EventJobCompleted})
	page, _, _ := s.ListEvents(ctx, "t1", "", cursor, 10)
	if len(page) != 1 || page[0].ID != "evt_5" {
		t.Errorf("resume = %v", page)
	}
	page, _, _ = s.ListEvents(ctx, "t1", bank.EventAccountCreated, "", 10)
	if len(page) != 3 {
		t.Errorf("type filter gave %d events, want 3", len(page))
	}
	if _, _, err := s.ListEvents(ctx, "t1", "", "garbage!", 10); !errors.Is(err, bank.ErrInvalidArgument) {
		t.Errorf("bad cursor: %v", err)
	}
	// Well-formed as a cursor, but no position this store made: a bad
	// cursor too, never a store outage.
	if _, _, err := s.ListEvents(ctx, "t1", "", store.EncodeCursor("x-y|evt_0"), 10); !errors.Is(err, bank.ErrInvalidArgument) {
		t.Errorf("forged cursor: %v, want invalid argument", err)
	}
}
