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
		var logged *loggedError
		if !errors.As(err, &logged) {
			fmt.Fprintln(os.Stderr, "gateway:", err)
		}
		os.Exit(exitCode(err))
	}
}

// loggedError is an error already reported in the log: main only exits.
type loggedError struct{ err error }

func (e *loggedError) Error() string { return e.err.Error() }

// Unwrap returns the error that was logged.
func (e *loggedError) Unwrap() error { return e.err }

// usage is the command line, printed by help and -h.
const usage = `usage:
  gateway [serve] [-config FILE] [-listen ADDR] [-mock-port N]
  gateway token -tenant T [-permissions a,b] [-ttl 24h] [-config FILE]
  gateway help
  gateway providers | jobs get|results|watch|cancel | accounts get|list | pool ls|replenish
          | events tail | webhooks ls|redeliver | config check FILE   (the ops CLI; -h on each)
`

// parseFlags parses args into fs. Errors are reported on stderr; asked for
// with -h or -help, the usage goes to stdout and parseFlags returns
// flag.ErrHelp, which run turns into success.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fmt.Fprintf(fs.Output(), "\nflags of %s:\n", fs.Name())
		fs.PrintDefaults()
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--h" || a == "--help" {
			fs.SetOutput(stdout)
			break
		}
	}
	return fs.Parse(args)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, stdout, stderr)
	case "token":
		err = token(args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		if _, ok := ctlCommands[cmd]; ok {
			return ctl(ctx, cmd, args, stdout, stderr)
		}
		return fmt.Errorf("unknown command %q (serve, token, help, providers, jobs, accounts, pool, events, webhooks, config)", cmd)
	}
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// configPath is -config, else $VAGATE_CONFIG; "" is the embedded setup.
func configPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return os.Getenv("VAGATE_CONFIG")
}

// loadConfig reads the config file at path; without one (path "") it is
// the embedded development setup, the only one the development secret
// works in.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Development(nil)
	}
	return config.Load(path)
}

// token mints a token. With a config file it reads only the file's auth
// section, so the variables the rest of the file references need not be set.
func token(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "config file, of which only the auth section is read (default $VAGATE_CONFIG, else the embedded development setup)")
	tenant := fs.String("tenant", "", "tenant (the token's subject), required")
	perms := fs.String("permissions", strings.Join(httpapi.AllPermissions(), ","), "comma-separated permissions")
	ttl := fs.Duration("ttl", 24*time.Hour, "lifetime")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if *tenant == "" {
		return errors.New("token: -tenant is required")
	}
	var auth *config.Auth
	if path := configPath(*cfgPath); path != "" {
		a, err := config.LoadAuth(path)
		if err != nil {
			return err
		}
		auth = a
	} else {
		cfg, err := config.Development(nil)
		if err != nil {
			return err
		}
		auth = &cfg.Auth
	}
	ac, err := authConfig(auth)
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
