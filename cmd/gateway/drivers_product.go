//go:build !vagate_example

package main

import "github.com/vagate/vagate/core/provider"

// extraDrivers is empty in the product build (see drivers_example.go).
var extraDrivers []provider.Driver
