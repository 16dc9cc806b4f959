//go:build vagate_example

package main

import (
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/examples/examplebank"
)

// extraDrivers adds the example provider style, for builds with the
// vagate_example tag only: the product binary ships no example style.
var extraDrivers = []provider.Driver{examplebank.Driver}
