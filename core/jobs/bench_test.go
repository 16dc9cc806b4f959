package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/jobs"
	"github.com/vagate/vagate/core/jobs/jobsmem"
	"github.com/vagate/vagate/core/jobs/jobsredis"
	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/core/store/redistest"
)

// benchStores are the state a benchmark runs on.
type benchStores struct {
	jobs     jobs.Store
	accounts store.Accounts
	queue    store.Queue
}

func memoryStores(testing.TB) benchStores {
	mem := store.NewMemory()
	return benchStores{jobs: jobsmem.New(), accounts: mem, queue: mem}
}

// redisStores uses the real Redis at REDIS_URL (default the local one)
// under a fresh key prefix, removed afterwards; it fails, never skips, when
// Redis is not there.
func redisStores(tb testing.TB) benchStores { return redisStoresOn(tb, redistest.Single) }

// redisStoresOn is redisStores on the given Redis topology (see redistest).
func redisStoresOn(tb testing.TB, top redistest.Topology) benchStores {
	c := redistest.Client(tb, top)
	prefix := redistest.Prefix(tb, c, "vagate-bench")
	r := store.NewRedis(c, &store.RedisOptions{Prefix: prefix})
	return benchStores{jobs: jobsredis.New(c, &jobsredis.Options{Prefix: prefix}), accounts: r, queue: r}
}

// countingJobs counts the bytes that go into and come out of a job store,
// as the JSON of what each call carries.
type countingJobs struct {
	jobs.Store
	bytes atomic.Int64
}

func (s *countingJobs) count(v any) {
	b, _ := json.Marshal(v)
	s.bytes.Add(int64(len(b)))
}

func (s *countingJobs) Create(ctx context.Context, rec *jobs.Record) error {
	s.count(rec)
	return s.Store.Create(ctx, rec)
}

func (s *countingJobs) Get(ctx context.Context, tenant, id string) (*jobs.Record, error) {
	rec, err := s.Store.Get(ctx, tenant, id)
	s.count(rec)
	return rec, err
}

func (s *countingJobs) Header(ctx context.Context, tenant, id string) (*jobs.Header, error) {
	h, err := s.Store.Header(ctx, tenant, id)
	s.count(h)
	return h, err
}

func (s *countingJobs) UpdateHeader(ctx context.Context, tenant, id string, fn func(*jobs.Header) error) (*jobs.Header, error) {
	h, err := s.Store.UpdateHeader(ctx, tenant, id, fn)
	s.count(h) // read, then written
	s.count(h)
	return h, err
}

func (s *countingJobs) Items(ctx context.Context, tenant, id string, idx []int) ([]jobs.ItemRecord, error) {
	its, err := s.Store.Items(ctx, tenant, id, idx)
	s.count(its)
	return its, err
}

func (s *countingJobs) UpdateItems(ctx context.Context, tenant, id string, idx []int, fn func(*jobs.ItemRecord) error) ([]jobs.ItemRecord, error) {
	its, err := s.Store.UpdateItems(ctx, tenant, id, idx, fn)
	s.count(its) // read, then written
	s.count(its)
	return its, err
}

// runJobs submits jobs of n items to a per-item provider (MaxBatch 1) with
// the given latency, b.N times, each run to completion.
func runJobs(b *testing.B, st benchStores, n int, latency time.Duration) {
	f := &bankFake{idempotent: true, maxBatch: 1, delay: latency}
	// The provider's bulkhead is the only bound on its creates in flight.
	reg := gateway.NewRegistry()
	reg.Register(newProvider(b, f, gateway.Limits{MaxConcurrent: 8}))
	eng := jobs.New(reg, st.jobs, st.accounts, st.queue, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { eng.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	b.ResetTimer()
	for range b.N {
		j, err := eng.Submit(b.Context(), "t1", &jobs.Spec{Items: items(n)})
		if err != nil {
			b.Fatal(err)
		}
		wctx, wcancel := context.WithTimeout(b.Context(), 5*time.Minute)
		got, err := eng.Wait(wctx, "t1", j.ID)
		wcancel()
		if err != nil || got.Status != bank.JobCompleted || got.Succeeded != n {
			b.Fatalf("job = %+v, %v", got, err)
		}
	}
	b.StopTimer()
}

// namedStores opens one kind of state.
type namedStores struct {
	name string
	open func(testing.TB) benchStores
}

var benchStoresBy = []namedStores{{"memory", memoryStores}, {"redis", redisStores}}

// BenchmarkJob1000 runs 1000 items to completion on a per-item provider
// that answers at once: the cost is the engine's and its store's (targets:
// 1.5 s on memory, 3 s on Redis).
func BenchmarkJob1000(b *testing.B) {
	for _, s := range benchStoresBy {
		b.Run(s.name, func(b *testing.B) {
			runJobs(b, s.open(b), 1000, 0)
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/job")
		})
	}
}

// BenchmarkJob1000Latency20ms runs 1000 items on a per-item provider that
// takes 20 ms a call, 8 calls at a time; ideal is 1000×20ms/8 = 2.5 s, and
// x-ideal is the time taken over that (target: 1.3).
func BenchmarkJob1000Latency20ms(b *testing.B) {
	const ideal = 1000 * 20 * time.Millisecond / 8
	for _, s := range benchStoresBy {
		b.Run(s.name, func(b *testing.B) {
			runJobs(b, s.open(b), 1000, 20*time.Millisecond)
			per := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(per.Seconds(), "s/job")
			b.ReportMetric(float64(per)/float64(ideal), "x-ideal")
		})
	}
}

// BenchmarkJobStoreBytes counts the bytes moved to and from the job store
// per item, for jobs of 100 and 1000 items: it should not grow with the job.
func BenchmarkJobStoreBytes(b *testing.B) {
	for _, s := range benchStoresBy {
		for _, n := range []int{100, 1000} {
			b.Run(fmt.Sprintf("%s/%d", s.name, n), func(b *testing.B) {
				st := s.open(b)
				c := &countingJobs{Store: st.jobs}
				st.jobs = c
				runJobs(b, st, n, 0)
				b.ReportMetric(float64(c.bytes.Load())/float64(b.N*n), "storeB/item")
			})
		}
	}
}
