package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vagate/vagate/config"
	"github.com/vagate/vagate/openapi/client"
)

// Exit codes of the ops CLI, for scripts:
//
//	0  done (jobs watch: the job completed without errors)
//	1  the command failed locally (bad usage, unreachable gateway, invalid config)
//	3  the gateway refused the request (the problem is printed to stderr)
//	4  jobs watch: the job finished with errors or was cancelled
const (
	exitFailed    = 1
	exitRefused   = 3
	exitJobFailed = 4
)

// exitError carries a command's exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode is the process exit code for err.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitFailed
}

// ctlCommands are the ops CLI's commands and their usage.
var ctlCommands = map[string]string{
	"providers": "providers",
	"jobs":      "jobs get|results|watch|cancel JOB_ID",
	"accounts":  "accounts get ACCOUNT_ID | accounts list [-provider P] [-currency C] [-status S]",
	"pool":      "pool ls | pool replenish -currency C [-provider P] [-count N]",
	"events":    "events tail [-type T] [-follow]",
	"webhooks":  "webhooks ls | webhooks redeliver ENDPOINT_ID EVENT_ID",
	"config":    "config check FILE",
}

// ctl is one ops CLI command over the unified API through the generated
// client. Flags: -url (default $VAGATE_URL, else http://127.0.0.1:8080),
// -token (default $VAGATE_TOKEN), -o table|json.
func ctl(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) error {
	if cmd == "config" {
		return configCheck(args, stdout)
	}
	sub := ""
	if cmd != "providers" {
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			return ctlUsage(cmd)
		}
		sub, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet(cmd+" "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", envOr("VAGATE_URL", "http://127.0.0.1:8080"), "gateway URL")
	tok := fs.String("token", os.Getenv("VAGATE_TOKEN"), "bearer token (default $VAGATE_TOKEN)")
	out := fs.String("o", "table", "output: table or json")
	provider := fs.String("provider", "", "provider")
	currency := fs.String("currency", "", "currency")
	status := fs.String("status", "", "account status")
	count := fs.Int("count", 0, "accounts to create (pool replenish)")
	evType := fs.String("type", "", "event type (events tail)")
	follow := fs.Bool("follow", false, "keep polling for new events (events tail)")
	interval := fs.Duration("interval", 500*time.Millisecond, "polling interval (jobs watch, events tail -follow)")
	// Flags may come before or after the positional arguments.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return &exitError{exitFailed, err}
		}
		if fs.NArg() == 0 {
			break
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	if *out != "table" && *out != "json" {
		return &exitError{exitFailed, fmt.Errorf("-o must be table or json, not %q", *out)}
	}
	c, err := client.NewClientWithResponses(strings.TrimRight(*base, "/"), client.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		if *tok != "" {
			r.Header.Set("Authorization", "Bearer "+*tok)
		}
		return nil
	}))
	if err != nil {
		return err
	}
	p := &printer{w: stdout, json: *out == "json"}
	need := func(n int) error {
		if len(pos) != n {
			return ctlUsage(cmd)
		}
		return nil
	}
	switch cmd + " " + sub {
	case "providers ":
		r, err := c.ListProvidersWithResponse(ctx)
		return p.list(r, err, "NAME\tSTYLE\tBREAKER\tERROR RATE\tIN FLIGHT\tCURRENCIES", func(m obj) string {
			h := m.obj("health")
			return fmt.Sprintf("%s\t%s\t%s\t%.0f%%\t%v\t%s", m.s("name"), m.s("style"), h.s("breakerState"), h.f("recentErrorRate")*100, h.get("inFlight"), m.join("currencies"))
		})
	case "jobs get":
		if err := need(1); err != nil {
			return err
		}
		r, err := c.GetJobWithResponse(ctx, pos[0])
		return p.one(r, err, jobLine)
	case "jobs cancel":
		if err := need(1); err != nil {
			return err
		}
		r, err := c.CancelJobWithResponse(ctx, pos[0], nil)
		return p.one(r, err, jobLine)
	case "jobs results":
		if err := need(1); err != nil {
			return err
		}
		r, err := c.GetJobResultsWithResponse(ctx, pos[0], nil)
		return p.list(r, err, "INDEX\tPROVIDER\tOUTCOME\tACCOUNT\tERROR", func(m obj) string {
			return fmt.Sprintf("%v\t%s\t%s\t%s\t%s", m.get("index"), m.s("provider"), m.s("outcome"), m.obj("account").s("id"), m.obj("error").s("message"))
		})
	case "jobs watch":
		if err := need(1); err != nil {
			return err
		}
		return watchJob(ctx, c, pos[0], *interval, p)
	case "accounts get":
		if err := need(1); err != nil {
			return err
		}
		r, err := c.GetVirtualAccountWithResponse(ctx, pos[0], nil)
		return p.one(r, err, accountLine)
	case "accounts list":
		params := &client.ListVirtualAccountsParams{}
		if *provider != "" {
			params.Provider = provider
		}
		if *currency != "" {
			params.Currency = currency
		}
		if *status != "" {
			s := client.StatusFilter(*status)
			params.Status = &s
		}
		r, err := c.ListVirtualAccountsWithResponse(ctx, params)
		return p.list(r, err, "ID\tPROVIDER\tCURRENCY\tSTATUS\tHOLDER", accountLine)
	case "pool ls":
		r, err := c.GetPoolWithResponse(ctx)
		return p.list(r, err, "PROVIDER\tCURRENCY\tAVAILABLE\tTARGET\tLOW\tPENDING", func(m obj) string {
			return fmt.Sprintf("%s\t%s\t%v\t%v\t%v\t%v", m.s("provider"), m.s("currency"), m.get("available"), m.get("target"), m.get("lowWatermark"), m.get("pending"))
		})
	case "pool replenish":
		body := client.PoolReplenishRequest{Currency: *currency}
		if *provider != "" {
			body.Provider = provider
		}
		if *count > 0 {
			body.Count = count
		}
		r, err := c.ReplenishPoolWithResponse(ctx, nil, body)
		return p.one(r, err, func(m obj) string { return "replenishing: job " + m.s("id") + m.s("jobId") + " " + m.s("status") })
	case "events tail":
		return tailEvents(ctx, c, *evType, *follow, *interval, p)
	case "webhooks ls":
		r, err := c.ListWebhookEndpointsWithResponse(ctx)
		return p.list(r, err, "ID\tURL\tENABLED\tEVENTS", func(m obj) string {
			return fmt.Sprintf("%s\t%s\t%v\t%s", m.s("id"), m.s("url"), m.get("enabled"), m.join("events"))
		})
	case "webhooks redeliver":
		if err := need(2); err != nil {
			return err
		}
		r, err := c.RedeliverWebhookEventWithResponse(ctx, pos[0], pos[1], nil)
		return p.one(r, err, func(m obj) string { return "redelivery queued: event " + m.s("eventId") + " " + m.s("status") })
	}
	return ctlUsage(cmd)
}

func ctlUsage(cmd string) error {
	return &exitError{exitFailed, fmt.Errorf("usage: gateway %s", ctlCommands[cmd])}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// configCheck validates a config file without starting anything.
func configCheck(args []string, stdout io.Writer) error {
	if len(args) != 2 || args[0] != "check" {
		return ctlUsage("config")
	}
	if _, err := config.Load(args[1]); err != nil {
		return &exitError{exitFailed, err}
	}
	fmt.Fprintf(stdout, "%s: valid\n", args[1])
	return nil
}

// answer is what every generated response offers.
type answer interface{ StatusCode() int }

// body reads a generated response's status and body, turning a transport
// error or a refusal into the command's error.
func body(r answer, err error) ([]byte, error) {
	if err != nil {
		return nil, &exitError{exitFailed, err}
	}
	b := bodyOf(r)
	if r.StatusCode() >= 400 {
		var prob struct{ Code, Detail string }
		json.Unmarshal(b, &prob)
		if prob.Code == "" {
			return nil, &exitError{exitRefused, fmt.Errorf("the gateway answered %d", r.StatusCode())}
		}
		return nil, &exitError{exitRefused, fmt.Errorf("the gateway answered %d %s: %s", r.StatusCode(), prob.Code, prob.Detail)}
	}
	return b, nil
}

// bodyOf is the Body field every generated response has.
func bodyOf(r answer) []byte {
	v := reflect.ValueOf(r)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if f := v.FieldByName("Body"); f.IsValid() && f.Kind() == reflect.Slice {
		return f.Bytes()
	}
	return nil
}

// obj is a decoded JSON object with lenient accessors for tables.
type obj map[string]any

func (m obj) get(k string) any {
	if v, ok := m[k]; ok && v != nil {
		return v
	}
	return ""
}
func (m obj) s(k string) string { s, _ := m[k].(string); return s }
func (m obj) f(k string) float64 {
	f, _ := m[k].(float64)
	return f
}
func (m obj) obj(k string) obj { o, _ := m[k].(map[string]any); return o }
func (m obj) join(k string) string {
	xs, _ := m[k].([]any)
	var out []string
	for _, x := range xs {
		out = append(out, fmt.Sprint(x))
	}
	return strings.Join(out, ",")
}

// printer writes answers as tables or as the JSON the gateway sent.
type printer struct {
	w    io.Writer
	json bool
}

func (p *printer) raw(b []byte) {
	var buf bytes.Buffer
	if json.Indent(&buf, b, "", "  ") != nil {
		p.w.Write(b)
		return
	}
	buf.WriteByte('\n')
	p.w.Write(buf.Bytes())
}

func (p *printer) one(r answer, err error, line func(obj) string) error {
	b, err := body(r, err)
	if err != nil {
		return err
	}
	if p.json {
		p.raw(b)
		return nil
	}
	var m obj
	json.Unmarshal(b, &m)
	fmt.Fprintln(p.w, line(m))
	return nil
}

func (p *printer) list(r answer, err error, header string, row func(obj) string) error {
	b, err := body(r, err)
	if err != nil {
		return err
	}
	if p.json {
		p.raw(b)
		return nil
	}
	var v struct{ Items []obj }
	json.Unmarshal(b, &v)
	tw := tabwriter.NewWriter(p.w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, m := range v.Items {
		fmt.Fprintln(tw, row(m))
	}
	return tw.Flush()
}

func jobLine(m obj) string {
	return fmt.Sprintf("%s %s: %v/%v settled (succeeded %v, failed %v, cancelled %v, unknown %v)", m.s("id"), m.s("status"),
		settled(m), m.get("total"), m.get("succeeded"), m.get("failed"), m.get("cancelled"), m.get("unknown"))
}

func settled(m obj) int {
	return int(m.f("succeeded") + m.f("failed") + m.f("cancelled") + m.f("unknown"))
}

func accountLine(m obj) string {
	return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", m.s("id"), m.s("provider"), m.s("currency"), m.s("status"), m.s("accountHolderName"))
}

// watchJob polls a job, drawing a progress bar, until it finishes: exit 0
// when it completed, exitJobFailed when it finished with errors or was cancelled.
func watchJob(ctx context.Context, c *client.ClientWithResponses, id string, every time.Duration, p *printer) error {
	for {
		r, err := c.GetJobWithResponse(ctx, id)
		b, err := body(r, err)
		if err != nil {
			return err
		}
		var m obj
		json.Unmarshal(b, &m)
		total := max(int(m.f("total")), 1)
		done := settled(m)
		finished := r.JSON200 != nil && r.JSON200.Status != client.JobStatusPending && r.JSON200.Status != client.JobStatusInProgress
		if p.json {
			if finished {
				p.raw(b)
			}
		} else {
			const width = 30
			n := done * width / total
			fmt.Fprintf(p.w, "\r[%s%s] %3d%% %d/%d %s", strings.Repeat("#", n), strings.Repeat(".", width-n), done*100/total, done, total, m.s("status"))
			if finished {
				fmt.Fprintln(p.w)
			}
		}
		if finished {
			if r.JSON200.Status == client.JobStatusCompleted {
				return nil
			}
			return &exitError{exitJobFailed, fmt.Errorf("job %s finished %s (failed %d, unknown %d, cancelled %d)", id, r.JSON200.Status,
				r.JSON200.Failed, r.JSON200.Unknown, r.JSON200.Cancelled)}
		}
		select {
		case <-ctx.Done():
			return &exitError{exitFailed, ctx.Err()}
		case <-time.After(every):
		}
	}
}

// tailEvents prints the event log from its start, then, with follow, new
// events as they come.
func tailEvents(ctx context.Context, c *client.ClientWithResponses, t string, follow bool, every time.Duration, p *printer) error {
	params := &client.ListEventsParams{}
	if t != "" {
		et := client.EventTypeFilter(t)
		params.Type = &et
	}
	for {
		r, err := c.ListEventsWithResponse(ctx, params)
		b, err := body(r, err)
		if err != nil {
			return err
		}
		var v struct {
			Items      []json.RawMessage
			NextCursor string
		}
		json.Unmarshal(b, &v)
		for _, e := range v.Items {
			if p.json {
				fmt.Fprintln(p.w, string(e))
				continue
			}
			var m obj
			json.Unmarshal(e, &m)
			fmt.Fprintf(p.w, "%s\t%s\t%s\n", m.s("createdAt"), m.s("type"), m.s("id"))
		}
		if v.NextCursor != "" {
			params.Cursor = &v.NextCursor
		}
		if len(v.Items) > 0 {
			continue // more may be waiting
		}
		if !follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}
