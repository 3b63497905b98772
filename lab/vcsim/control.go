package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The lab control endpoint (LAB ONLY, plain HTTP on loopback, no authentication): the
// out-of-band "power switch" that fails and recovers hosts. Contract in docs/vcsim.md.

func writeJSON(w http.ResponseWriter, status int, body interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(body)
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{"error": message})
}

func (l *Lab) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("/hosts", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			writeError(w, http.StatusMethodNotAllowed, "GET only")
			return
		}
		writeJSON(w, http.StatusOK, l.hostList())
	})
	mux.HandleFunc("/hosts/", l.hostAction)
	mux.HandleFunc("/ha/log", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			writeError(w, http.StatusMethodNotAllowed, "GET only")
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		log := l.haLog
		if log == nil {
			log = []*failoverReport{}
		}
		writeJSON(w, http.StatusOK, log)
	})
	return mux
}

func (l *Lab) hostList() []map[string]interface{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []map[string]interface{}{}
	for _, h := range l.clusterHosts() {
		vms := []string{}
		for _, vm := range l.vmsOn(h) {
			vms = append(vms, vm.Name)
		}
		out = append(out, map[string]interface{}{
			"name":                h.Name,
			"moid":                h.Self.Value,
			"connection_state":    h.Runtime.ConnectionState,
			"power_state":         h.Runtime.PowerState,
			"in_maintenance_mode": h.Runtime.InMaintenanceMode,
			"vms":                 vms,
		})
	}
	return out
}

// hostAction serves POST /hosts/{name or moid}/fail and /hosts/{name or moid}/recover.
func (l *Lab) hostAction(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/hosts/"), "/")
	if len(parts) != 2 || parts[0] == "" || (parts[1] != "fail" && parts[1] != "recover") {
		writeError(w, http.StatusNotFound, "use POST /hosts/{name}/fail or /hosts/{name}/recover")
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "POST only")
		return
	}
	var (
		body interface{}
		err  error
	)
	if parts[1] == "fail" {
		var delay time.Duration
		if raw := r.URL.Query().Get("restart_delay"); raw != "" {
			seconds, perr := strconv.ParseFloat(raw, 64)
			if perr != nil || seconds < 0 || seconds > 600 {
				writeError(w, http.StatusBadRequest, "restart_delay must be a number of seconds between 0 and 600")
				return
			}
			delay = time.Duration(seconds * float64(time.Second))
		}
		body, err = l.failHostJSON(parts[0], delay)
	} else {
		body, err = l.recoverHost(parts[0])
	}
	var le *labError
	if errors.As(err, &le) {
		writeError(w, le.status, le.message)
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// failHostJSON renders the report while holding the lock, since delayed restarts update it.
func (l *Lab) failHostJSON(id string, delay time.Duration) (json.RawMessage, error) {
	report, err := l.failHost(id, delay)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return json.Marshal(report)
}
