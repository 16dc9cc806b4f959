package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/core/store/redistest"
	"github.com/vagate/vagate/mocks/batchvamock"
)

// failoverNodeTimeout is the Cluster's node timeout and Sentinel's
// down-after time in the failover drills: how long a master may be silent
// before it is failed over.
// (1s made a healthy master look dead when the CPU was starved, and its
// replica then took over while it still took writes.)
const failoverNodeTimeout = 2 * time.Second

// A master of a Redis Cluster (3 masters, one replica each) is killed while
// clients create accounts for the tenant whose slot it holds: its replica
// is promoted, the gateway finds it without a restart, and every job it
// accepted finishes with one account per item.
func TestClusterFailoverMidLoad(t *testing.T) {
	t.Parallel() // with the Sentinel drill: each runs Redis of its own
	d := redistest.Start(t, failoverNodeTimeout, "cluster-replicas")
	addrs := redistest.Addrs(d.Env[redistest.EnvCluster])
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { cc.Close() })
	prefix := redistest.Prefix(t, cc, "vagate-failover")
	cfg, mock := sharedSetupWith(t, fmt.Sprintf("store:\n  driver: redis\n  prefix: %s\n  redis:\n    cluster:\n      addrs: %s\n",
		prefix, strings.Join(addrs, ",")), &batchvamock.Options{PendingDelay: 10 * time.Millisecond, ProcessDelay: 10 * time.Millisecond})
	tok := mintToken(t, "dev", "", "-config", cfg)
	g := startGateway(t, "-config", cfg)

	master, err := cc.MasterForKey(t.Context(), store.TenantTag(prefix, "dev"))
	if err != nil {
		t.Fatal(err)
	}
	victim := master.Options().Addr
	before := clusterNodes(t, addrs, victim)
	f := failover(t, g, tok, mock, "CFAIL", func() { d.Kill(t, victim) })
	t.Logf("Cluster failover (master %s of tenant dev killed, node timeout %s): %s", victim, failoverNodeTimeout, f)
	// The drill is one failover: the victim's replica now holds its slots,
	// and every other master is still master.
	after := clusterNodes(t, addrs, victim)
	for addr, n := range before {
		want := n.master
		if addr == victim || n.masterOf == before[victim].id {
			want = !n.master
		}
		if after[addr].master != want {
			t.Errorf("%s went from master %v to %v: a failover other than the victim's happened (before: %v, after: %v)", addr, n.master, after[addr].master, before, after)
		}
	}
}

// Sentinel's primary (one replica, three sentinels) is killed while
// clients create accounts: Sentinel promotes the replica, the gateway
// follows without a restart, and every job it accepted finishes with one
// account per item.
func TestSentinelFailoverMidLoad(t *testing.T) {
	t.Parallel()
	d := redistest.Start(t, failoverNodeTimeout, "sentinel")
	sentinels := redistest.Addrs(d.Env[redistest.EnvSentinel])
	master := d.Env[redistest.EnvSentinelMaster]
	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: master, SentinelAddrs: sentinels})
	t.Cleanup(func() { fc.Close() })
	prefix := redistest.Prefix(t, fc, "vagate-failover")
	cfg, mock := sharedSetupWith(t, fmt.Sprintf("store:\n  driver: redis\n  prefix: %s\n  redis:\n    sentinel:\n      masterName: %s\n      addrs: %s\n",
		prefix, master, strings.Join(sentinels, ",")), &batchvamock.Options{PendingDelay: 10 * time.Millisecond, ProcessDelay: 10 * time.Millisecond})
	tok := mintToken(t, "dev", "", "-config", cfg)
	g := startGateway(t, "-config", cfg)

	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinels[0]})
	defer sc.Close()
	hp, err := sc.GetMasterAddrByName(t.Context(), master).Result()
	if err != nil || len(hp) != 2 {
		t.Fatalf("primary of %s: %v %v", master, hp, err)
	}
	victim := hp[0] + ":" + hp[1]
	f := failover(t, g, tok, mock, "SFAIL", func() { d.Kill(t, victim) })
	t.Logf("Sentinel failover (primary %s killed, down-after %s): %s", victim, failoverNodeTimeout, f)
}

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	id       string
	master   bool
	masterOf string // the id of the master a replica follows
}

// clusterNodes reads CLUSTER NODES from a node other than skip, by address;
// a node marked failed counts as no master.
func clusterNodes(t *testing.T, addrs []string, skip string) map[string]clusterNode {
	t.Helper()
	for _, a := range addrs {
		if a == skip {
			continue
		}
		c := redis.NewClient(&redis.Options{Addr: a})
		defer c.Close()
		out, err := c.ClusterNodes(t.Context()).Result()
		if err != nil {
			t.Fatal(err)
		}
		nodes := map[string]clusterNode{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			if len(f) < 4 {
				continue
			}
			addr, _, _ := strings.Cut(f[1], "@")
			flags := "," + f[2] + ","
			nodes[addr] = clusterNode{id: f[0], master: strings.Contains(flags, ",master,") && !strings.Contains(flags, ",fail,"), masterOf: f[3]}
		}
		return nodes
	}
	t.Fatal("no node to ask")
	return nil
}

// failoverFigures is what a failover drill measured.
type failoverFigures struct {
	sent, accepted, failed int
	// statuses counts the failed requests by HTTP status (0: no answer).
	statuses map[int]int
	// failedFor spans the first to the last failed request after the kill;
	// recovered is from the kill to the end of the last failed request.
	failedFor, recovered time.Duration
	// slowest is the longest a request took after the kill.
	slowest time.Duration
	// lost are accepted jobs the gateway no longer knows or never finished;
	// duplicates are items with more than one account at the provider.
	lost, duplicates int
}

func (f *failoverFigures) String() string {
	return fmt.Sprintf("%d creates sent, %d accepted, %d failed during the failover (over %s; by status %v); recovered %s after the kill; slowest request %s; %d accepted jobs lost; %d duplicate accounts",
		f.sent, f.accepted, f.failed, f.failedFor.Round(time.Millisecond), f.statuses, f.recovered.Round(time.Millisecond), f.slowest.Round(time.Millisecond), f.lost, f.duplicates)
}

// failover runs creates of one item each (clientReference <ref>-<worker>-<n>)
// against g from several clients, kills a Redis node with kill after a
// second, keeps on until every request has succeeded for 2s, then checks
// every accepted job. It fails the test when the gateway does not recover
// within 30s, loses an accepted job or makes an account twice.
func failover(t *testing.T, g *gw, tok string, mock *batchvamock.Mock, ref string, kill func()) *failoverFigures {
	t.Helper()
	const workers = 4
	client := &http.Client{Timeout: 15 * time.Second}
	var (
		mu         sync.Mutex
		f          = failoverFigures{statuses: map[int]int{}}
		killedAt   time.Time
		firstFail  time.Time
		lastFail   time.Time
		lastOK     time.Time
		accepted   = map[string]string{} // clientReference → job id
		acceptedAt = map[string]time.Time{}
	)
	create := func(ref string) (int, string) {
		body := fmt.Sprintf(`{"items":[{"currency":"USD","unallocated":true,"clientReference":%q}]}`, ref)
		req, _ := http.NewRequest("POST", g.base+"/v1/virtual-accounts", bytes.NewReader([]byte(body)))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", uuid.NewString())
		resp, err := client.Do(req)
		if err != nil {
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var acc struct{ JobID string }
		json.Unmarshal(b, &acc)
		return resp.StatusCode, acc.JobID
	}
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				r := fmt.Sprintf("%s-%d-%d", ref, w, n)
				start := time.Now()
				status, job := create(r)
				end := time.Now()
				mu.Lock()
				f.sent++
				after := !killedAt.IsZero() && start.After(killedAt)
				if after {
					f.slowest = max(f.slowest, end.Sub(start))
				}
				if status == http.StatusAccepted {
					f.accepted++
					accepted[r] = job
					acceptedAt[r] = end
					lastOK = end
				} else {
					f.failed++
					f.statuses[status]++
					if firstFail.IsZero() {
						firstFail = end
					}
					lastFail = end
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(time.Second)
	mu.Lock()
	failedBefore := f.failed
	killedAt = time.Now()
	mu.Unlock()
	if failedBefore > 0 {
		t.Errorf("%d creates failed before the kill", failedBefore)
	}
	kill()
	deadline := killedAt.Add(30 * time.Second)
	for {
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		calm := time.Since(killedAt) > 2*time.Second && lastOK.After(lastFail) && time.Since(lastFail) > 2*time.Second
		mu.Unlock()
		if calm {
			break
		}
		if time.Now().After(deadline) {
			stop()
			wg.Wait()
			t.Fatalf("the gateway did not recover within 30s of the kill: %d of %d creates failed; logs:\n%s", f.failed, f.sent, g.logs.all())
		}
	}
	stop()
	wg.Wait()
	if !lastFail.IsZero() {
		f.failedFor = lastFail.Sub(firstFail)
		f.recovered = lastFail.Sub(killedAt)
	}

	// Every accepted job is there and finishes, with one account per item;
	// checked by several clients at once.
	deadline = time.Now().Add(60 * time.Second)
	refs := make(chan string)
	var check sync.WaitGroup
	for range 8 {
		check.Go(func() {
			for r := range refs {
				lost, dup := checkAccepted(t, g, tok, mock, r, accepted[r], deadline)
				mu.Lock()
				if lost {
					f.lost++
					t.Logf("(job of %s accepted %s after the kill)", r, acceptedAt[r].Sub(killedAt).Round(time.Millisecond))
				}
				if dup {
					f.duplicates++
				}
				mu.Unlock()
			}
		})
	}
	for r := range accepted {
		refs <- r
	}
	close(refs)
	check.Wait()
	if f.accepted == 0 {
		t.Errorf("no create was accepted: %s", &f)
	}
	return &f
}

// checkAccepted waits until the job id (of the item with clientReference
// r) finishes; it reports the job lost when the gateway no longer knows it
// or it has not finished by deadline, and dup when the provider holds more
// than one account for r.
func checkAccepted(t *testing.T, g *gw, tok string, mock *batchvamock.Mock, r, id string, deadline time.Time) (lost, dup bool) {
	for {
		resp := g.do(t, "GET", "/v1/jobs/"+id, tok, "")
		if resp.status == http.StatusNotFound {
			t.Errorf("job %s (%s), accepted, is gone; its log:\n%s", id, r, linesWith(g.logs.all(), id))
			return true, false
		}
		var j struct{ Status string }
		json.Unmarshal(resp.body, &j)
		if resp.status == http.StatusOK && (j.Status == "Completed" || j.Status == "CompletedWithErrors" || j.Status == "Cancelled") {
			if j.Status != "Completed" {
				t.Errorf("job %s (%s) ended %s", id, r, j.Status)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("job %s (%s) is still %s (HTTP %d) long after the failover; its log:\n%s", id, r, j.Status, resp.status, linesWith(g.logs.all(), id))
			return true, false
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := mock.CountByReference(r); n > 1 {
		t.Errorf("%s: %d accounts at the provider, want 1", r, n)
		return false, true
	}
	return false, false
}

// linesWith is the lines of logs that contain s.
func linesWith(logs, s string) string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
