package hook

import (
	"fmt"

	"github.com/vagate/vagate/mocks/fault"
)

// Actions a Rule can take on a matching message.
const (
	// Drop records the message as dropped and sends nothing.
	Drop = "drop"
	// Duplicate sends the message twice in a row.
	Duplicate = "duplicate"
	// Delay holds the message for Rule.Delay while the target's later messages overtake it.
	Delay = "delay"
	// Reorder holds the message until the target's next one has been sent (or Faults.MaxHold passed).
	Reorder = "reorder"
	// Corrupt sends the message with a signature over another body, so it does not verify.
	Corrupt = "corrupt"
)

// Rule is one scripted webhook fault. It matches messages by event name and
// by the status they carry ("" = any), fires with probability Rate (0 =
// always) at most Times times (0 = unbounded), and takes Action.
type Rule struct {
	Action string         `json:"action"`
	Event  string         `json:"event,omitempty"`
	Status string         `json:"status,omitempty"`
	Rate   float64        `json:"rate,omitempty"`
	Times  int            `json:"times,omitempty"`
	Delay  fault.Duration `json:"delay,omitempty"`
	// Fired counts how often the rule has fired.
	Fired int `json:"fired"`
}

// Validate checks a rule before it is installed.
func (r *Rule) Validate() error {
	switch r.Action {
	case Drop, Duplicate, Reorder, Corrupt:
	case Delay:
		if r.Delay <= 0 {
			return fmt.Errorf("delay: a delay rule needs a positive delay")
		}
	default:
		return fmt.Errorf("action: unknown webhook fault %q (%s, %s, %s, %s, %s)", r.Action, Drop, Duplicate, Delay, Reorder, Corrupt)
	}
	if r.Rate < 0 || r.Rate > 1 {
		return fmt.Errorf("rate: must be between 0 and 1")
	}
	if r.Times < 0 {
		return fmt.Errorf("times: must not be negative")
	}
	if r.Delay < 0 {
		return fmt.Errorf("delay: must not be negative")
	}
	return nil
}

// Faults is a mock's webhook fault script. The rates apply to every
// message: it may be dropped (DropRate), sent twice (DuplicateRate), signed
// over another body (CorruptRate), held back until the target's next
// message has gone out (ReorderRate; a held message goes out on its own
// after MaxHold), and delayed (Delay plus uniform Jitter). Rules add faults
// to the messages they match: the first rule that matches and fires applies.
type Faults struct {
	Delay         fault.Duration `json:"delay,omitempty"`
	Jitter        fault.Duration `json:"jitter,omitempty"`
	DropRate      float64        `json:"dropRate,omitempty"`
	DuplicateRate float64        `json:"duplicateRate,omitempty"`
	ReorderRate   float64        `json:"reorderRate,omitempty"`
	CorruptRate   float64        `json:"corruptRate,omitempty"`
	// MaxHold bounds how long a reordered message waits for a successor (default 2s).
	MaxHold fault.Duration `json:"maxHold,omitempty"`
	Rules   []Rule         `json:"rules"`
}

// Validate checks a script before it is installed.
func (f *Faults) Validate() error {
	for _, r := range []struct {
		name string
		rate float64
	}{{"dropRate", f.DropRate}, {"duplicateRate", f.DuplicateRate}, {"reorderRate", f.ReorderRate}, {"corruptRate", f.CorruptRate}} {
		if r.rate < 0 || r.rate > 1 {
			return fmt.Errorf("%s: must be between 0 and 1", r.name)
		}
	}
	switch {
	case f.Delay < 0:
		return fmt.Errorf("delay: must not be negative")
	case f.Jitter < 0:
		return fmt.Errorf("jitter: must not be negative")
	case f.MaxHold < 0:
		return fmt.Errorf("maxHold: must not be negative")
	}
	for i := range f.Rules {
		if err := f.Rules[i].Validate(); err != nil {
			return fmt.Errorf("rules[%d].%w", i, err)
		}
	}
	return nil
}

// Stats counts what the webhook faults did.
type Stats struct {
	// Deliveries counts the messages handed to the outbox.
	Deliveries int `json:"deliveries"`
	Dropped    int `json:"dropped"`
	Duplicated int `json:"duplicated"`
	Reordered  int `json:"reordered"`
	Delayed    int `json:"delayed"`
	Corrupted  int `json:"corrupted"`
}
