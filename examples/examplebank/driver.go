package examplebank

import "github.com/vagate/vagate/core/provider"

// Driver opens this adapter from its config block; list it in the program
// that serves the provider.
var Driver = provider.Driver{Style: Style, Open: func(decode func(any) error, env provider.Env) (provider.Adapter, error) {
	var c Config
	if err := decode(&c); err != nil {
		return nil, err
	}
	return Open(c, &Options{HTTPClient: env.HTTPClient})
}}
