package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browserPath finds Debian's chromium. Without one the test is skipped,
// unless VAGATE_BROWSER_REQUIRED is set (as .ci/run sets it), when it fails.
func browserPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("VAGATE_BROWSER_REQUIRED") != "" {
		t.Fatal("no chromium found and VAGATE_BROWSER_REQUIRED is set: apt-get install -y chromium")
	}
	t.Skip("no chromium found (apt-get install -y chromium); set VAGATE_BROWSER_REQUIRED=1 to fail instead")
	return ""
}

// TestConsoleInBrowser drives the operator console in chromium against the
// embedded gateway: log in with an operator token, see the four providers,
// script a masterfiat fault in the QA panel and see its breaker open, remove
// the fault and see it close again, and see a job's progress bar reach
// 100%. A screenshot per step goes to $VAGATE_SCREENSHOTS (default: the
// test's temporary directory).
func TestConsoleInBrowser(t *testing.T) {
	chrome := browserPath(t)
	shots := os.Getenv("VAGATE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t)
	op := mintToken(t, "ops", "operator,operator-actions")
	tenant := mintToken(t, "qa", "create-virtual-account,read-virtual-account")
	acct := mfCreate(t, g, tenant, "GBP", "CONSOLE-1")

	alloc, cancelAlloc := chromedp.NewExecAllocator(t.Context(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1400, 1600))...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()

	step := 0
	shot := func(name string) {
		t.Helper()
		step++
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(80))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		p := filepath.Join(shots, fmt.Sprintf("console-%02d-%s.jpg", step, name))
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s", p)
	}
	// waitFor polls a JavaScript condition in the page.
	waitFor := func(what, js string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
				shot("failed")
				t.Fatalf("%s: not seen within %s; page:\n%s", what, within, page)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	breaker := func(name string) string {
		return `(document.querySelector('.provider[data-provider="` + name + `"] .state')||{}).dataset?.state`
	}

	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(g.base+"/console"), chromedp.WaitVisible("#token")); err != nil {
		t.Fatal(err)
	}
	shot("login")
	if hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("app").hidden`)); err != nil || !hidden {
		t.Fatal("the console shows its panels before a token is given")
	}
	// A tenant's token is refused.
	if err := chromedp.Do(ctx, chromedp.SetValue("#token", tenant), chromedp.Click("#login-btn")); err != nil {
		t.Fatal(err)
	}
	waitFor("a tenant token refused", `document.getElementById("login-error").textContent.includes("operator")`, 10*time.Second)
	if err := chromedp.Do(ctx, chromedp.SetValue("#token", op), chromedp.Click("#login-btn")); err != nil {
		t.Fatal(err)
	}
	waitFor("four providers", `document.querySelectorAll(".provider").length === 4`, 10*time.Second)
	shot("providers")

	// Script a masterfiat fault through the QA panel while the account is read
	// at the provider (each read is a provider call).
	waitFor("QA panel", `!document.getElementById("qa").hidden && document.querySelectorAll("#qa-mock option").length === 4`, 10*time.Second)
	if err := chromedp.Do(ctx,
		chromedp.SetValue("#qa-mock", "masterfiat"),
		chromedp.SetValue("#qa-action", "error"),
		chromedp.SetValue("#qa-status", "503"),
		chromedp.SetValue("#qa-rate", "100"),
		chromedp.Click("#qa-add")); err != nil {
		t.Fatal(err)
	}
	waitFor("fault added", `document.getElementById("qa-msg").textContent.includes("fault added to masterfiat")`, 10*time.Second)
	waitFor("rule listed", `document.querySelectorAll("#qa-rules tbody tr").length === 1`, 10*time.Second)
	shot("fault")
	stop := traffic(g.base, tenant, "/v1/virtual-accounts/"+acct.ID+"?refresh=true")
	defer stop()
	waitFor("masterfiat breaker open", breaker("masterfiat")+` === "open"`, 20*time.Second)
	shot("breaker-open")

	if err := chromedp.Do(ctx, chromedp.Click("#qa-clear")); err != nil {
		t.Fatal(err)
	}
	waitFor("fault removed", `document.querySelectorAll("#qa-rules tbody tr").length === 0`, 10*time.Second)
	waitFor("masterfiat breaker closed", breaker("masterfiat")+` === "closed"`, 30*time.Second)
	stop()
	shot("breaker-closed")

	// A job's progress bar reaches 100%.
	items := make([]string, 5)
	for i := range items {
		items[i] = fmt.Sprintf(`{"provider":"masterfiat","currency":"GBP","accountHolderName":"Jane Smith","accountName":"Jane","clientReference":"CONSOLE-JOB-%d"}`, i)
	}
	r := g.do(t, "POST", "/v1/virtual-accounts", tenant, `{"items":[`+strings.Join(items, ",")+`]}`)
	want(t, r, 202, "create a job")
	id, _ := r.json(t)["jobId"].(string)
	waitFor("job progress 100%", `(document.querySelector('[data-job="`+id+`"]')||{}).dataset?.progress === "100"`, 20*time.Second)
	shot("job-done")
	t.Logf("browser steps took %s", time.Since(start).Round(time.Second))
}

// traffic reads path every 100ms with tok until the returned stop is called.
func traffic(base, tok, path string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			req, _ := http.NewRequest("GET", base+path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	})
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}
