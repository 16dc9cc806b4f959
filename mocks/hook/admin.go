package hook

import (
	"encoding/json"
	"net/http"
)

// adminView is what GET answers: the script under "rule" (as the shared
// injector first served it) and its rules again under "rules" (as the
// masterfiat mock first served them).
type adminView struct {
	Rule  Faults `json:"rule"`
	Rules []Rule `json:"rules"`
	Stats Stats  `json:"stats"`
}

// AdminHandler serves the webhook fault admin API at AdminPath and AdminAliasPath.
func (o *Outbox) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{AdminPath, AdminAliasPath} {
		mux.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) {
			f, st := o.Faults()
			writeJSON(w, http.StatusOK, adminView{Rule: f, Rules: f.Rules, Stats: st})
		})
		mux.HandleFunc("PUT "+p, func(w http.ResponseWriter, r *http.Request) {
			var f Faults
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&f); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "INVALID_RULE", "message": err.Error()})
				return
			}
			if err := o.SetFaults(f); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "INVALID_RULE", "message": err.Error()})
				return
			}
			f, _ = o.Faults()
			writeJSON(w, http.StatusOK, f)
		})
		mux.HandleFunc("DELETE "+p, func(w http.ResponseWriter, r *http.Request) {
			o.SetFaults(Faults{})
			w.WriteHeader(http.StatusNoContent)
		})
	}
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
