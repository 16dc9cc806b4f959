package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vagate/vagate/config"
)

// serveTest serves h with the gateway's server limits on a loopback port.
func serveTest(t *testing.T, h http.Handler, l config.HTTPLimits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, limited := httpServer(ln, h, &l)
	go srv.Serve(limited)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestSlowBodyIsCutOffAfterReadTimeout(t *testing.T) {
	readErr := make(chan error, 1)
	addr := serveTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
		w.WriteHeader(http.StatusBadRequest)
	}), config.HTTPLimits{MaxConnections: 16, ReadTimeout: config.Duration(300 * time.Millisecond), WriteTimeout: config.Duration(time.Minute)})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Promise 1000 bytes, send 10, then go quiet.
	io.WriteString(c, "POST /v1/providers/batchva/webhooks HTTP/1.1\r\nHost: gw\r\nContent-Length: 1000\r\n\r\n0123456789")
	select {
	case err := <-readErr:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("reading the slow body: %v, want a deadline error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a client trickling its body was still being read after 10s (read timeout 300ms)")
	}
	// The server closes the connection: the client reads its end, not a hang.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Error("the connection was still open 10s after the read timeout")
	}
}

func TestConnectionsBeyondTheCapWaitWhileAcceptedOnesAreServed(t *testing.T) {
	addr := serveTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}), config.HTTPLimits{MaxConnections: 2, ReadTimeout: config.Duration(time.Minute), WriteTimeout: config.Duration(time.Minute)})

	// Connection 1: a keep-alive client that has been served once.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 1}}
	t.Cleanup(client.CloseIdleConnections)
	healthz := func() error {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	}
	if err := healthz(); err != nil {
		t.Fatal(err)
	}
	// Connection 2: a client that connects and sends nothing, taking the last slot.
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// Connection 3: beyond the cap, it waits to be accepted.
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	io.WriteString(extra, "GET /healthz HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
	extra.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := extra.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a connection beyond the cap of 2 was served (read: %v)", err)
	}
	// The accepted keep-alive connection is still served.
	if err := healthz(); err != nil {
		t.Fatalf("/healthz on an accepted connection while at the cap: %v", err)
	}
	// Once a slot frees, the waiting connection is accepted and answered.
	idle.Close()
	extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	status, err := bufio.NewReader(extra).ReadString('\n')
	if err != nil || !strings.Contains(status, "200") {
		t.Errorf("the waiting connection after a slot freed: %q, %v", status, err)
	}
}
