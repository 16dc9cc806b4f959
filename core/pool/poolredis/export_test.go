package poolredis

import "github.com/redis/go-redis/v9"

// Scripts are the Lua scripts the store runs, by name.
var Scripts = map[string]*redis.Script{
	"add":        addScript,
	"take":       takeScript,
	"finish":     finishScript,
	"release":    releaseScript,
	"quarantine": quarantineScript,
	"abandon":    abandonScript,
	"recover":    recoverScript,
	"due":        dueScript,
	"withdraw":   withdrawScript,
	"restore":    restoreScript,
	"stats":      statsScript,
	"configure":  configureScript,
	"lock":       lockScript,
	"unlock":     unlockScript,
	"trim":       trimScript,
}
