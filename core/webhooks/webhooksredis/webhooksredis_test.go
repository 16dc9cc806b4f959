package webhooksredis_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/store/redistest"
	"github.com/vagate/vagate/core/webhooks"
	"github.com/vagate/vagate/core/webhooks/webhooksredis"
	"github.com/vagate/vagate/core/webhooks/webhookstest"
)

// The contract suite on a single node, a Cluster and Sentinel, each store
// under a fresh prefix whose keys are deleted afterwards: on the Cluster a
// command touching two hash slots fails with CROSSSLOT.
func TestRedis(t *testing.T) {
	redistest.Run(t, func(t *testing.T, c redis.UniversalClient) {
		webhookstest.Run(t, func(t *testing.T) webhooks.Store {
			return webhooksredis.New(c, &webhooksredis.Options{Prefix: redistest.Prefix(t, c, "vagate-whtest")})
		})
	})
}
