package jobsredis_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/jobs"
	"github.com/vagate/vagate/core/jobs/jobsredis"
	"github.com/vagate/vagate/core/store/redistest"
	"github.com/vagate/vagate/core/store/storetest"
)

// The job store's contract on a single node, a Cluster and Sentinel; every
// script runs, so on the Cluster one that touched two hash slots would fail
// with CROSSSLOT.
func TestConformance(t *testing.T) {
	redistest.Run(t, func(t *testing.T, c redis.UniversalClient) {
		scripts := redistest.RecordScripts(t, c)
		storetest.RunJobsConformanceTests(t, func(t *testing.T) jobs.Store {
			return jobsredis.New(c, &jobsredis.Options{Prefix: redistest.Prefix(t, c, "vagate-test")})
		})
		scripts.RequireRan(t, jobsredis.Scripts)
	})
}
