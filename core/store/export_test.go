package store

import "github.com/redis/go-redis/v9"

// Scripts are the Lua scripts the Redis store runs, by name.
var Scripts = map[string]*redis.Script{"promote": promoteScript}
