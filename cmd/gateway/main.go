// Command gateway runs vagate.
//
//	gateway [serve] [-config FILE] [-listen ADDR] [-mock-port N]
//	gateway token -tenant T [-permissions a,b] [-ttl 24h] [-config FILE]
//	gateway providers | jobs get|results|watch|cancel ID | accounts get ID|list
//	        | pool ls|replenish | events tail | webhooks ls|redeliver [-url U] [-token T] [-o json]
//	gateway config check FILE
//
// The ops commands talk to a running gateway (-url, default $VAGATE_URL)
// with a token (-token, default $VAGATE_TOKEN) through the client generated
// from openapi/openapi.yaml. Exit codes: 0 done, 1 failed locally, 3 the
// gateway refused, 4 jobs watch saw the job finish with errors or cancelled.
//
// With no config file the gateway starts its embedded default: the memory
// store and every bundled provider mock in the same process, on loopback
// ports, and prints a development token and a request to try.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vagate/vagate/config"
	"github.com/vagate/vagate/core/httpapi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(exitCode(err))
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr)
	case "token":
		return token(args, stdout, stderr)
	case "help":
		fmt.Fprintln(stdout, "usage: gateway [serve] [-config FILE] | gateway token -tenant T [-permissions a,b] [-ttl 24h]")
		return nil
	}
	if _, ok := ctlCommands[cmd]; ok {
		return ctl(ctx, cmd, args, stdout, stderr)
	}
	return fmt.Errorf("unknown command %q (serve, token, help, providers, jobs, accounts, pool, events, webhooks, config)", cmd)
}

// loadConfig reads -config (or $VAGATE_CONFIG); without one it is the
// embedded development setup, the only one the development secret works in.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		path = os.Getenv("VAGATE_CONFIG")
	}
	if path == "" {
		return config.Development(nil)
	}
	return config.Load(path)
}

func token(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "config file (default: the embedded development setup)")
	tenant := fs.String("tenant", "", "tenant (the token's subject), required")
	perms := fs.String("permissions", strings.Join(httpapi.AllPermissions(), ","), "comma-separated permissions")
	ttl := fs.Duration("ttl", 24*time.Hour, "lifetime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *tenant == "" {
		return errors.New("token: -tenant is required")
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	ac, err := authConfig(&cfg.Auth)
	if err != nil {
		return err
	}
	var list []string
	for _, p := range strings.Split(*perms, ",") {
		if p = strings.TrimSpace(p); p != "" {
			list = append(list, p)
		}
	}
	tok, err := httpapi.MintToken(ac, *tenant, list, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
