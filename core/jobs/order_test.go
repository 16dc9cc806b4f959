package jobs_test

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/events"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/jobs"
	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/core/store/redistest"
)

// A job's job.completed is recorded after every virtual_account.created
// event it reports, and before anyone can see the job finished: on one
// processor shared with many busy goroutines, with many jobs and chunks at
// once, on the memory store and the Redis store (single node, Cluster and
// Sentinel).
func TestJobCompletedFollowsItsAccounts(t *testing.T) {
	stores := append(slices.Clone(benchStoresBy),
		namedStores{"redis-cluster", func(tb testing.TB) benchStores { return redisStoresOn(tb, redistest.Cluster) }},
		namedStores{"redis-sentinel", func(tb testing.TB) benchStores { return redisStoresOn(tb, redistest.Sentinel) }})
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) { testEventOrder(t, s.open(t)) })
	}
}

func testEventOrder(t *testing.T, st benchStores) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var stop atomic.Bool
	var busy sync.WaitGroup
	defer func() { stop.Store(true); busy.Wait() }()
	for range 32 {
		busy.Go(func() {
			for n := 0; !stop.Load(); n++ {
				if n%1000 == 0 {
					runtime.Gosched()
				}
			}
		})
	}

	f := &bankFake{idempotent: true, maxBatch: 3, delay: time.Millisecond}
	reg := gateway.NewRegistry()
	reg.Register(newProvider(t, f, gateway.Limits{MaxConcurrent: 8}))
	evs := store.NewMemoryEvents()
	rec := events.NewRecorder(evs, nil)
	eng := jobs.New(reg, st.jobs, st.accounts, st.queue, &jobs.Options{Backoff: time.Millisecond,
		OnAccount: func(ctx context.Context, a *bank.Account) {
			runtime.Gosched() // let anything that could overtake it do so
			rec.AccountChanged(ctx, nil, a)
		},
		OnFinish: func(ctx context.Context, j *bank.Job) {
			runtime.Gosched()
			rec.JobFinished(ctx, j)
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { eng.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	const jobsN, itemsN = 12, 10
	ids := make([]string, jobsN)
	var wg sync.WaitGroup
	for n := range jobsN {
		wg.Go(func() {
			j, err := eng.Submit(t.Context(), "t1", &jobs.Spec{Items: items(itemsN)})
			if err != nil {
				t.Error(err)
				return
			}
			ids[n] = j.ID
			wctx, wcancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer wcancel()
			got, err := eng.Wait(wctx, "t1", j.ID)
			if err != nil || !got.Status.Finished() {
				t.Errorf("job %s: %+v, %v", j.ID, got, err)
				return
			}
			// Whoever sees the job finished finds its event recorded.
			if !completedRecorded(t, evs, j.ID) {
				t.Errorf("job %s is finished, and its job.completed is not recorded yet", j.ID)
			}
		})
	}
	wg.Wait()

	all, _, err := evs.ListEvents(t.Context(), "t1", "", "", 10*jobsN*itemsN)
	if err != nil {
		t.Fatal(err)
	}
	owner := map[string]string{} // account id → job id
	for _, id := range ids {
		for i := range itemsN {
			owner[jobs.AccountID(id, i)] = id
		}
	}
	created := map[string]int{}
	completed := map[string]bool{}
	for _, e := range all {
		switch e.Type {
		case bank.EventAccountCreated:
			job := owner[e.Data.Account.ID]
			if completed[job] {
				t.Errorf("virtual_account.created of %s recorded after job.completed of its job %s", e.Data.Account.ID, job)
			}
			created[job]++
		case bank.EventJobCompleted:
			j := e.Data.Job
			if completed[j.ID] {
				t.Errorf("job %s completed twice", j.ID)
			}
			completed[j.ID] = true
			if created[j.ID] != j.Succeeded || j.Succeeded != itemsN {
				t.Errorf("job %s completed reporting %d accounts after %d virtual_account.created events; want %d", j.ID, j.Succeeded, created[j.ID], itemsN)
			}
		}
	}
	if len(completed) != jobsN {
		t.Errorf("%d jobs completed, want %d", len(completed), jobsN)
	}
}

func completedRecorded(t *testing.T, evs store.Events, id string) bool {
	es, _, err := evs.ListEvents(t.Context(), "t1", bank.EventJobCompleted, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Data.Job != nil && e.Data.Job.ID == id {
			return true
		}
	}
	return false
}
