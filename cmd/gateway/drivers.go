package main

import (
	"fmt"
	"strings"

	"github.com/vagate/vagate/adapters/batchva"
	"github.com/vagate/vagate/adapters/masterfiat"
	"github.com/vagate/vagate/adapters/parentprimary"
	"github.com/vagate/vagate/adapters/subaccount"
	"github.com/vagate/vagate/core/provider"
)

// drivers are the provider styles this gateway opens: one driver per
// adapter package. Adding a provider style is one entry here (and a config
// block naming its style); extraDrivers holds those a build tag adds.
var drivers = append([]provider.Driver{
	batchva.Driver,
	subaccount.Driver,
	parentprimary.Driver,
	masterfiat.Driver,
}, extraDrivers...)

// driverFor returns the driver of style, or an error naming the known styles.
func driverFor(style string) (provider.Driver, error) {
	names := make([]string, len(drivers))
	for i, d := range drivers {
		if d.Style == style {
			return d, nil
		}
		names[i] = d.Style
	}
	return provider.Driver{}, fmt.Errorf("style: unknown provider style %q (known: %s)", style, strings.Join(names, ", "))
}
