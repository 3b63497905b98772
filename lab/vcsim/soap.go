package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// An override takes over one SOAP method. It returns the Task to answer with, or
// handled=false to let the simulator serve the request unchanged.
type override func(l *Lab, method *simulator.Method) (task types.ManagedObjectReference, handled bool)

// The library dispatches a method to the Go method of the same name on the object it
// targets; its objects cannot be wrapped without breaking its own type switches. So the
// harness intercepts these calls at the HTTP layer instead, before the library sees them.
var overrides = map[string]override{
	"ReconfigureComputeResource_Task": (*Lab).reconfigureComputeResourceTask,
	"ReconfigureCluster_Task":         (*Lab).reconfigureClusterTask,
	"CreateVM_Task":                   (*Lab).createVMTask,
	"CloneVM_Task":                    (*Lab).cloneVMTask,
	"PowerOnVM_Task":                  (*Lab).powerOnVMTask,
	"RelocateVM_Task":                 (*Lab).relocateVMTask,
}

var vimTypes = types.TypeFunc()

var morefType = reflect.TypeOf(types.ManagedObjectReference{})

// typeFunc resolves vim25 type names, also when a client prefixes them ("vim25:Foo").
// pyVmomi types a reference held in an xsd:anyType (such as removeKey) "ManagedObject",
// which vCenter accepts and 0.24 decodes as nil.
func typeFunc(name string) (reflect.Type, bool) {
	if i := strings.IndexByte(name, ':'); i >= 0 {
		if t, ok := vimTypes(name); ok {
			return t, ok
		}
		name = name[i+1:]
	}
	if name == "ManagedObject" {
		return morefType, true
	}
	return vimTypes(name)
}

func (l *Lab) sdkHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/pbm") {
			l.servePBM(w, r)
			return
		}
		if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/sdk") {
			l.mux.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if fn, method := l.intercepted(body); fn != nil && l.authenticated(r) {
			if task, handled := l.run(fn, method); handled {
				writeTaskResponse(w, method.Name, task)
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		l.mux.ServeHTTP(w, r)
	})
}

var vcSessionCookie = regexp.MustCompile(`<(?:[A-Za-z0-9_]+:)?vcSessionCookie[^>]*>\s*"?([^"<\s]+)"?\s*</`)

// servePBM serves the storage policy API where vCenter has it (/pbm/sdk; 0.24 only
// answers /pbm) and accepts the vCenter session the way PBM clients present it: in a
// vcSessionCookie SOAP header rather than as an HTTP cookie.
func (l *Lab) servePBM(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/pbm/sdk" {
		r.URL.Path = "/pbm"
	}
	if _, err := r.Cookie(soap.SessionCookieName); err != nil && r.Method == http.MethodPost {
		body, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if m := vcSessionCookie.FindSubmatch(body); m != nil {
			r.AddCookie(&http.Cookie{Name: soap.SessionCookieName, Value: string(m[1])})
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	l.mux.ServeHTTP(w, r)
}

// intercepted decodes the request only when it may name an overridden method.
func (l *Lab) intercepted(body []byte) (override, *simulator.Method) {
	candidate := false
	for name := range overrides {
		if bytes.Contains(body, []byte(name)) {
			candidate = true
			break
		}
	}
	if !candidate {
		return nil, nil
	}
	method, err := simulator.UnmarshalBody(typeFunc, body)
	if err != nil {
		return nil, nil // the simulator answers with its own fault
	}
	if fn := overrides[method.Name]; fn != nil {
		return fn, method
	}
	return nil, nil
}

// run applies an override; a panic in it is logged and turned into a failed request
// handled by the simulator, never a dead server.
func (l *Lab) run(fn override, method *simulator.Method) (task types.ManagedObjectReference, handled bool) {
	defer func() {
		if p := recover(); p != nil {
			log.Printf("override %s panicked: %v", method.Name, p)
			handled = false
		}
	}()
	return fn(l, method)
}

const currentTimeProbe = `<?xml version="1.0" encoding="UTF-8"?>` +
	`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>` +
	`<CurrentTime xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this></CurrentTime>` +
	`</soapenv:Body></soapenv:Envelope>`

// authenticated asks the simulator whether the request's session cookie is logged in
// (CurrentTime needs a session). Unauthenticated calls go to the simulator untouched,
// which refuses them with NotAuthenticated exactly as it does any other call.
func (l *Lab) authenticated(r *http.Request) bool {
	probe := httptest.NewRequest(http.MethodPost, "/sdk", strings.NewReader(currentTimeProbe))
	for _, c := range r.Cookies() {
		probe.AddCookie(c)
	}
	// The simulator records these on the session it finds: keep them the client's.
	probe.RemoteAddr = r.RemoteAddr
	probe.Header.Set("User-Agent", r.UserAgent())
	probe.Header.Set("Content-Type", "text/xml; charset=utf-8")
	recorder := httptest.NewRecorder()
	l.mux.ServeHTTP(recorder, probe)
	return recorder.Code == http.StatusOK
}

func writeTaskResponse(w http.ResponseWriter, methodName string, task types.ManagedObjectReference) {
	var value bytes.Buffer
	_ = xml.EscapeText(&value, []byte(task.Value))
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+
		`<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" `+
		`xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" `+
		`xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`+
		`<soapenv:Body><%sResponse xmlns="urn:vim25"><returnval type="Task">%s</returnval></%sResponse>`+
		`</soapenv:Body></soapenv:Envelope>`, methodName, value.String(), methodName)
}

// failedTask records a task that failed with fault on obj, the way vSphere reports a
// rejected *_Task call: the call succeeds, the task carries the fault.
func failedTask(obj types.ManagedObjectReference, name string, fault types.BaseMethodFault) types.ManagedObjectReference {
	log.Printf("%s on %s refused: %T %+v", name, obj, fault, fault)
	return simulator.CreateTask(obj, name, func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return nil, fault
	}).Run()
}

// taskFault returns the fault of a finished in-process task (nil when it succeeded).
func taskFault(ref types.ManagedObjectReference) types.BaseMethodFault {
	task, ok := simulator.Map.Get(ref).(*simulator.Task)
	if !ok || task.Info.Error == nil {
		return nil
	}
	return task.Info.Error.Fault
}

func taskResult(ref types.ManagedObjectReference) types.AnyType {
	if task, ok := simulator.Map.Get(ref).(*simulator.Task); ok {
		return task.Info.Result
	}
	return nil
}
