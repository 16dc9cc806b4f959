package jobsredis

import "github.com/redis/go-redis/v9"

// Scripts are the Lua scripts the store runs, by name.
var Scripts = map[string]*redis.Script{"create": createScript, "items": itemsScript}
