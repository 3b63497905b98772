package main

import (
	"context"
	"crypto/x509"
	"log"
	"net"
	"net/http"
	"net/url"
	"sort"
	"sync"

	"github.com/vmware/govmomi/event"
	"github.com/vmware/govmomi/pbm"
	pbmtypes "github.com/vmware/govmomi/pbm/types"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	// Registers the /pbm endpoint (storage policies) with the simulator.
	_ "github.com/vmware/govmomi/pbm/simulator"
)

// Lab holds the simulator and the state the harness adds to it.
type Lab struct {
	ctx      context.Context
	model    *simulator.Model
	service  *simulator.Service
	mux      http.Handler  // the simulator's own handlers (/sdk, /pbm, ...)
	client   *vim25.Client // in-process client with the simulator's internal (privileged) session
	stateDir string
	hosts    int
	sdkAddr  *net.TCPAddr

	// mu serialises the harness's own operations (guarded creates, reconfigurations, host
	// failures) so that each check and the change it guards happen as one step.
	mu sync.Mutex

	datacenter types.ManagedObjectReference
	cluster    types.ManagedObjectReference
	haLog      []*failoverReport
}

// newLab creates an empty simulated vCenter and its handlers; buildInventory fills it.
func newLab(stateDir string, hosts int, sdkAddr *net.TCPAddr) (*Lab, error) {
	model := simulator.VPX()
	// 0.24's vim25 types are vSphere 7.0.1's; its default 6.5 would hide newer types
	// (such as VsanDatastoreInfo) from version-aware clients like pyVmomi.
	about := &model.ServiceContent.About
	about.ApiVersion = "7.0.1.0"
	about.Version = "7.0.1"
	about.Build = "0"
	about.FullName = "VMware vCenter Server 7.0.1 (vcsim-lab, LAB ONLY simulator)"
	// No generated inventory: buildInventory makes the lab's own, with its own names.
	model.Datacenter, model.Cluster, model.ClusterHost, model.Host = 0, 0, 0, 0
	model.Machine, model.Datastore, model.Portgroup, model.Pool, model.App = 0, 0, 0, 0, 0
	if err := model.Create(); err != nil {
		return nil, err
	}
	svc := model.Service
	svc.RegisterEndpoints = true
	user := url.UserPassword(labUser, labPassword)
	svc.Listen = &url.URL{Host: "127.0.0.1:0", User: user}

	// NewServer is the only way to get the simulator's handlers (SOAP, PBM, datastore
	// files) registered; its own listener is closed at once and the harness serves the
	// handlers itself, behind its interceptor and with its own certificate.
	inner := svc.NewServer()
	inner.Close()

	public := &url.URL{Scheme: "https", Host: sdkAddr.String(), Path: "/sdk", User: user}
	svc.Listen = public
	simulator.Map.SessionManager().ServiceHostName = sdkAddr.String()
	for _, setting := range simulator.Map.OptionManager().Setting {
		if option := setting.GetOptionValue(); option.Key == "vcsim.server.url" {
			option.Value = (&url.URL{Scheme: "https", Host: sdkAddr.String(), Path: "/sdk"}).String()
		}
	}

	ctx := context.Background()
	client, err := vim25.NewClient(ctx, svc)
	if err != nil {
		return nil, err
	}
	return &Lab{
		ctx:      ctx,
		model:    model,
		service:  svc,
		mux:      svc.ServeMux,
		client:   client,
		stateDir: stateDir,
		hosts:    hosts,
		sdkAddr:  sdkAddr,
	}, nil
}

func (l *Lab) close() {
	l.model.Remove()
}

// createDefaultStoragePolicy adds the lab's default policy through /pbm (PBM has no
// in-process client), logged in like any client and verifying the lab certificate.
func (l *Lab) createDefaultStoragePolicy(roots *x509.CertPool) error {
	u := &url.URL{Scheme: "https", Host: l.sdkAddr.String(), Path: "/sdk"}
	sc := soap.NewClient(u, false)
	sc.DefaultTransport().TLSClientConfig.RootCAs = roots
	vc, err := vim25.NewClient(l.ctx, sc)
	if err != nil {
		return err
	}
	if err := session.NewManager(vc).Login(l.ctx, url.UserPassword(labUser, labPassword)); err != nil {
		return err
	}
	defer func() { _ = session.NewManager(vc).Logout(l.ctx) }()
	pc, err := pbm.NewClient(l.ctx, vc)
	if err != nil {
		return err
	}
	_, err = pc.CreateProfile(l.ctx, pbmtypes.PbmCapabilityProfileCreateSpec{
		Name:         defaultPolicyName,
		Description:  "Lab default: no requirements (LAB ONLY)",
		Category:     string(pbmtypes.PbmProfileCategoryEnumREQUIREMENT),
		ResourceType: pbmtypes.PbmProfileResourceType{ResourceType: string(pbmtypes.PbmProfileResourceTypeEnumSTORAGE)},
		Constraints:  &pbmtypes.PbmCapabilitySubProfileConstraints{},
	})
	return err
}

// --- small accessors on the simulator's registry ---------------------------------------

func (l *Lab) get(ref types.ManagedObjectReference) mo.Reference {
	return simulator.Map.Get(ref)
}

func (l *Lab) clusterObject() *simulator.ClusterComputeResource {
	return l.get(l.cluster).(*simulator.ClusterComputeResource)
}

func (l *Lab) clusterConfig() *types.ClusterConfigInfoEx {
	return l.clusterObject().ConfigurationEx.(*types.ClusterConfigInfoEx)
}

func (l *Lab) host(ref types.ManagedObjectReference) *simulator.HostSystem {
	h, _ := l.get(ref).(*simulator.HostSystem)
	return h
}

func (l *Lab) vm(ref types.ManagedObjectReference) *simulator.VirtualMachine {
	vm, _ := l.get(ref).(*simulator.VirtualMachine)
	return vm
}

// clusterHosts returns the cluster's hosts sorted by name (deterministic choices).
func (l *Lab) clusterHosts() []*simulator.HostSystem {
	var hosts []*simulator.HostSystem
	for _, ref := range l.clusterObject().Host {
		if h := l.host(ref); h != nil {
			hosts = append(hosts, h)
		}
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].Name < hosts[j].Name })
	return hosts
}

func (l *Lab) entityName(ref types.ManagedObjectReference) string {
	if e, ok := l.get(ref).(mo.Entity); ok {
		return e.Entity().Name
	}
	return ref.Value
}

// datacenterOf walks up the inventory to the entity's datacenter.
func (l *Lab) datacenterOf(ref types.ManagedObjectReference) *simulator.Datacenter {
	for i := 0; i < 64; i++ {
		obj := l.get(ref)
		if dc, ok := obj.(*simulator.Datacenter); ok {
			return dc
		}
		e, ok := obj.(mo.Entity)
		if !ok || e.Entity().Parent == nil {
			return nil
		}
		ref = *e.Entity().Parent
	}
	return nil
}

// postEvent records an event in the simulator's EventManager (QueryEvents shows it) and
// in the log.
func (l *Lab) postEvent(ev types.BaseEvent, message string) {
	e := ev.GetEvent()
	e.FullFormattedMessage = message
	dc := l.get(l.datacenter).(*simulator.Datacenter)
	if e.Datacenter == nil {
		e.Datacenter = &types.DatacenterEventArgument{Datacenter: dc.Self, EntityEventArgument: types.EntityEventArgument{Name: dc.Name}}
	}
	if e.ComputeResource == nil {
		c := l.clusterObject()
		e.ComputeResource = &types.ComputeResourceEventArgument{ComputeResource: c.Self, EntityEventArgument: types.EntityEventArgument{Name: c.Name}}
	}
	if err := event.NewManager(l.client).PostEvent(l.ctx, ev); err != nil {
		log.Printf("posting event: %s", err)
	}
	log.Printf("event %T: %s", ev, message)
}

func hostArg(h *simulator.HostSystem) *types.HostEventArgument {
	return &types.HostEventArgument{Host: h.Self, EntityEventArgument: types.EntityEventArgument{Name: h.Name}}
}

func vmArg(vm *simulator.VirtualMachine) *types.VmEventArgument {
	return &types.VmEventArgument{Vm: vm.Self, EntityEventArgument: types.EntityEventArgument{Name: vm.Name}}
}

func vmEvent(vm *simulator.VirtualMachine, host *simulator.HostSystem) types.VmEvent {
	return types.VmEvent{Event: types.Event{Vm: vmArg(vm), Host: hostArg(host)}}
}
