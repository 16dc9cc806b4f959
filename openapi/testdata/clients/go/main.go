// Command client is what an integrator writes against a Go client generated
// from openapi/openapi.yaml with oapi-codegen's default settings
// (scripts/check-clients generates vagateclient and type-checks this file;
// it is not run).
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/vagate/vagate/openapi/testdata/clients/go/vagateclient"
)

func main() {
	if err := run(context.Background(), os.Getenv("BASE"), os.Getenv("TOKEN")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, base, token string) error {
	auth := func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
	c, err := vagateclient.NewClientWithResponses(base, vagateclient.WithRequestEditorFn(auth))
	if err != nil {
		return err
	}
	// A named item and an unallocated one; optional fields stay unset.
	holder, name, ref := "Jane Smith", "Jane Smith", "REF-1"
	unallocated := true
	wait := "wait=10"
	created, err := c.CreateVirtualAccountsWithResponse(ctx, &vagateclient.CreateVirtualAccountsParams{Prefer: &wait},
		vagateclient.CreateVirtualAccountsRequest{Items: []vagateclient.CreateAccountItem{
			{Currency: "USD", AccountHolderName: &holder, AccountName: &name, ClientReference: &ref},
			{Currency: "USD", Unallocated: &unallocated},
		}})
	if err != nil {
		return err
	}
	// jobId is in either answer: 200 (the job finished while waiting) or 202.
	var jobID string
	switch {
	case created.JSON200 != nil:
		jobID = created.JSON200.JobId
		fmt.Println("finished:", created.JSON200.Status, created.JSON200.Succeeded, "created")
	case created.JSON202 != nil:
		jobID = created.JSON202.JobId
	case created.ApplicationproblemJSON400 != nil:
		p := created.ApplicationproblemJSON400
		if p.Errors != nil {
			for _, f := range *p.Errors {
				fmt.Println(f.Pointer, f.Detail)
			}
		}
		return fmt.Errorf("%s: %s", p.Code, p.Title)
	default:
		return fmt.Errorf("create: HTTP %d", created.StatusCode())
	}
	results, err := c.GetJobResultsWithResponse(ctx, jobID, nil)
	if err != nil || results.JSON200 == nil {
		return fmt.Errorf("results: %v", err)
	}
	for _, it := range results.JSON200.Items {
		if it.Outcome == vagateclient.OutcomeSent || it.Account == nil {
			continue
		}
		fmt.Println(it.Index, it.Account.Id, it.Account.Status)
	}
	csv, err := c.GetJobResultsCsvWithResponse(ctx, jobID)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(csv.Body)
	return err
}
