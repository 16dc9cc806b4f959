package fault

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// WebhookRule scripts faults on a mock's outbound callbacks. Every delivery
// may be dropped (DropRate), sent twice (DuplicateRate), held back and sent
// after the next one (ReorderRate: out of order; a held delivery goes out
// on its own after MaxHold), and delayed (Delay plus uniform Jitter).
type WebhookRule struct {
	Delay         Duration `json:"delay,omitempty"`
	Jitter        Duration `json:"jitter,omitempty"`
	DropRate      float64  `json:"dropRate,omitempty"`
	DuplicateRate float64  `json:"duplicateRate,omitempty"`
	ReorderRate   float64  `json:"reorderRate,omitempty"`
	// MaxHold bounds how long a reordered delivery waits for a successor (default 2s).
	MaxHold Duration `json:"maxHold,omitempty"`
}

// Validate checks a webhook rule.
func (w *WebhookRule) Validate() error {
	for name, r := range map[string]float64{"dropRate": w.DropRate, "duplicateRate": w.DuplicateRate, "reorderRate": w.ReorderRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("%s: must be between 0 and 1", name)
		}
	}
	if w.Delay < 0 || w.Jitter < 0 || w.MaxHold < 0 {
		return fmt.Errorf("delay: must not be negative")
	}
	return nil
}

// WebhookStats counts what the webhook faults did.
type WebhookStats struct {
	Deliveries int `json:"deliveries"`
	Dropped    int `json:"dropped"`
	Duplicated int `json:"duplicated"`
	Reordered  int `json:"reordered"`
	Delayed    int `json:"delayed"`
}

type webhookState struct {
	rule  WebhookRule
	stats WebhookStats
	held  func()
	timer *time.Timer
}

// SetWebhooks installs the webhook rule (replacing any earlier one).
func (in *Injector) SetWebhooks(w WebhookRule) error {
	if err := w.Validate(); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.wh.rule = w
	return nil
}

// Webhooks returns the webhook rule and what it has done.
func (in *Injector) Webhooks() (WebhookRule, WebhookStats) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.wh.rule, in.wh.stats
}

// Deliver sends one outbound callback through the webhook faults: send is
// called zero, one or two times, now or later, in the order the rule says.
func (in *Injector) Deliver(send func()) {
	in.mu.Lock()
	w := &in.wh
	r := w.rule
	w.stats.Deliveries++
	roll := func(rate float64) bool { return rate > 0 && (rate >= 1 || in.rng.Float64() < rate) }
	if roll(r.DropRate) {
		w.stats.Dropped++
		in.mu.Unlock()
		return
	}
	times := 1
	if roll(r.DuplicateRate) {
		w.stats.Duplicated++
		times = 2
	}
	delay := time.Duration(r.Delay)
	if r.Jitter > 0 {
		delay += time.Duration(in.rng.Int64N(int64(r.Jitter) + 1))
	}
	if delay > 0 {
		w.stats.Delayed++
	}
	out := func() {
		for range times {
			send()
		}
	}
	var release func()
	if w.held != nil { // this one overtakes the held one
		release, w.held = w.held, nil
		w.timer.Stop()
	} else if roll(r.ReorderRate) {
		w.stats.Reordered++
		w.held = out
		hold := time.Duration(r.MaxHold)
		if hold <= 0 {
			hold = 2 * time.Second
		}
		w.timer = time.AfterFunc(hold, func() {
			in.mu.Lock()
			h := w.held
			w.held = nil
			in.mu.Unlock()
			if h != nil {
				h()
			}
		})
		in.mu.Unlock()
		return
	}
	in.mu.Unlock()
	go func() {
		if delay > 0 {
			time.Sleep(delay)
		}
		out()
		if release != nil {
			release()
		}
	}()
}

// webhookAdmin serves GET/PUT/DELETE /__admin/faults/webhooks.
func (in *Injector) webhookAdmin(mux *http.ServeMux) {
	mux.HandleFunc("GET /__admin/faults/webhooks", func(w http.ResponseWriter, r *http.Request) {
		rule, stats := in.Webhooks()
		writeJSON(w, http.StatusOK, map[string]any{"rule": rule, "stats": stats})
	})
	mux.HandleFunc("PUT /__admin/faults/webhooks", func(w http.ResponseWriter, r *http.Request) {
		var rule WebhookRule
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rule); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "INVALID_RULE", "message": err.Error()})
			return
		}
		if err := in.SetWebhooks(rule); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "INVALID_RULE", "message": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, rule)
	})
	mux.HandleFunc("DELETE /__admin/faults/webhooks", func(w http.ResponseWriter, r *http.Request) {
		in.SetWebhooks(WebhookRule{})
		w.WriteHeader(http.StatusNoContent)
	})
}
