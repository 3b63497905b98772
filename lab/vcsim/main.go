// Command vcsim-lab is the lab's vCenter simulator (LAB ONLY, never production).
//
// It serves govmomi 0.24's simulator (Debian's golang-github-vmware-govmomi-dev) with a
// fixed lab inventory and adds, in this package, what the lab needs and 0.24 lacks:
// persisted HA/DRS/vSAN cluster settings, a vSAN datastore, host failure with an HA
// restart model, and guard rails on VM creation. docs/vcsim.md is the contract.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// Fixed lab credentials: documented in docs/vcsim.md, never used outside the lab.
const (
	labUser     = "administrator@vsphere.local"
	labPassword = "VMware1!"
)

type options struct {
	listen        string
	controlListen string
	stateDir      string
	infoFile      string
	hosts         int
	vsan          bool
}

func parseOptions() options {
	var o options
	flag.StringVar(&o.listen, "listen", "127.0.0.1:8989", "SOAP API address (HTTPS); port 0 picks a free port")
	flag.StringVar(&o.controlListen, "control-listen", "127.0.0.1:8990", "lab control endpoint address (HTTP); port 0 picks a free port")
	flag.StringVar(&o.stateDir, "state-dir", "", "directory for datastores, certificate and info file (emptied at start; required)")
	flag.StringVar(&o.infoFile, "info-file", "", "where to write connection details as JSON (default STATE-DIR/vcsim.json)")
	flag.IntVar(&o.hosts, "hosts", 4, "number of hosts in the cluster (2-16)")
	flag.BoolVar(&o.vsan, "vsan", false, "start with vSAN enabled on the cluster")
	flag.Parse()
	if o.stateDir == "" {
		fail("-state-dir is required")
	}
	if o.hosts < 2 || o.hosts > 16 {
		fail("-hosts must be between 2 and 16")
	}
	if o.infoFile == "" {
		o.infoFile = filepath.Join(o.stateDir, "vcsim.json")
	}
	return o
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "vcsim-lab: "+format+"\n", args...)
	os.Exit(2)
}

// resetDir empties dir (creating it when missing): every start is a fresh lab.
func resetDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	started := time.Now()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("vcsim-lab: ")
	opts := parseOptions()
	// Before anything else: a stop request right after "ready" must still shut down cleanly.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)

	stateDir, err := filepath.Abs(opts.stateDir)
	if err != nil {
		fail("%s", err)
	}
	if err := resetDir(stateDir); err != nil {
		fail("state dir: %s", err)
	}

	sdkListener, err := net.Listen("tcp", opts.listen)
	if err != nil {
		fail("listen %s: %s", opts.listen, err)
	}
	controlListener, err := net.Listen("tcp", opts.controlListen)
	if err != nil {
		fail("listen %s: %s", opts.controlListen, err)
	}
	sdkAddr := sdkListener.Addr().(*net.TCPAddr)

	cert, err := newSelfSignedCert(filepath.Join(stateDir, "cert.pem"))
	if err != nil {
		fail("certificate: %s", err)
	}

	lab, err := newLab(stateDir, opts.hosts, sdkAddr)
	if err != nil {
		fail("inventory: %s", err)
	}
	if err := lab.buildInventory(opts.vsan); err != nil {
		fail("inventory: %s", err)
	}

	sdkServer := &http.Server{
		Handler:   lab.sdkHandler(),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert.tls}, MinVersion: tls.VersionTLS12},
		ErrorLog:  log.New(os.Stderr, "vcsim-lab: https: ", log.LstdFlags),
	}
	controlServer := &http.Server{Handler: lab.controlHandler()}
	go func() {
		if err := sdkServer.ServeTLS(sdkListener, "", ""); err != http.ErrServerClosed {
			log.Fatalf("SOAP server: %s", err)
		}
	}()
	go func() {
		if err := controlServer.Serve(controlListener); err != http.ErrServerClosed {
			log.Fatalf("control server: %s", err)
		}
	}()

	// Objects clients expect that are created through the API itself (PBM lives behind /pbm).
	if err := lab.createDefaultStoragePolicy(cert.pool); err != nil {
		fail("storage policy: %s", err)
	}

	controlAddr := controlListener.Addr().(*net.TCPAddr)
	info := map[string]interface{}{
		"url":         fmt.Sprintf("https://%s/sdk", sdkAddr),
		"hostname":    sdkAddr.IP.String(),
		"port":        sdkAddr.Port,
		"username":    labUser,
		"password":    labPassword,
		"ca_file":     cert.file,
		"thumbprint":  cert.thumbprint,
		"control_url": fmt.Sprintf("http://%s", controlAddr),
		"pid":         os.Getpid(),
		"startup_ms":  time.Since(started).Milliseconds(),
	}
	data, _ := json.Marshal(info)
	tmp := opts.infoFile + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		fail("info file: %s", err)
	}
	if err := os.Rename(tmp, opts.infoFile); err != nil {
		fail("info file: %s", err)
	}
	fmt.Printf("vcsim-lab: ready %s\n", data)
	log.Printf("ready in %s: %s (control %s)", time.Since(started).Round(time.Millisecond), info["url"], info["control_url"])

	sig := <-stop
	log.Printf("%s: stopping", sig)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = controlServer.Shutdown(ctx)
	_ = sdkServer.Shutdown(ctx)
	lab.close()
	_ = os.Remove(opts.infoFile)
}
