package main

import (
	"log"
	"reflect"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// Guard rails vSphere has and 0.24 lacks: checks made before the library's CreateVM,
// CloneVM and PowerOnVM run, and the placement 0.24 gets wrong.

// childNamed returns the VM or vApp of that name directly in the folder.
func (l *Lab) childNamed(folder *simulator.Folder, name string) *types.ManagedObjectReference {
	for _, ref := range folder.ChildEntity {
		if ref.Type != "VirtualMachine" && ref.Type != "VirtualApp" {
			continue
		}
		if l.entityName(ref) == name {
			found := ref
			return &found
		}
	}
	return nil
}

// datastoreNamed finds a datastore by name in a datacenter.
func (l *Lab) datastoreNamed(dc *simulator.Datacenter, name string) *simulator.Datastore {
	for _, e := range simulator.Map.All("Datastore") {
		ds := e.(*simulator.Datastore)
		if ds.Name == name && dc != nil && l.datacenterOf(ds.Self) == dc {
			return ds
		}
	}
	return nil
}

func hostStateFault(h *simulator.HostSystem) types.BaseMethodFault {
	ref := h.Self
	if !hostConnected(h) {
		return &types.InvalidHostConnectionState{InvalidHostState: types.InvalidHostState{Host: &ref}}
	}
	return &types.InvalidHostState{Host: &ref}
}

// targetHost checks a requested host, or picks one, among the pool's hosts that mount
// the datastore.
func (l *Lab) targetHost(pool types.ManagedObjectReference, requested *types.ManagedObjectReference,
	dsName, dsPath string, dc *simulator.Datacenter) (*simulator.HostSystem, types.BaseMethodFault) {
	hosts, ok := l.computeHosts(pool)
	if !ok {
		return nil, &types.ManagedObjectNotFound{Obj: pool}
	}
	var candidates []*simulator.HostSystem
	for _, h := range hosts {
		if requested != nil && h.Self != *requested {
			continue
		}
		candidates = append(candidates, h)
	}
	if requested != nil && len(candidates) == 0 {
		return nil, invalid("host")
	}
	var withDatastore []*simulator.HostSystem
	for _, h := range candidates {
		if l.mountsDatastore(h, dsName) {
			withDatastore = append(withDatastore, h)
		}
	}
	if len(withDatastore) == 0 {
		if ds := l.datastoreNamed(dc, dsName); ds != nil {
			ref := ds.Self
			return nil, &types.InvalidDatastore{Datastore: &ref, Name: dsName}
		}
		return nil, &types.InvalidDatastorePath{InvalidDatastore: types.InvalidDatastore{Name: dsName}, DatastorePath: dsPath}
	}
	if requested != nil {
		if h := withDatastore[0]; !hostUsable(h) {
			return nil, hostStateFault(h)
		}
		return withDatastore[0], nil
	}
	if h := l.initialPlacement(withDatastore); h != nil {
		return h, nil
	}
	var refs []types.ManagedObjectReference
	for _, h := range withDatastore {
		refs = append(refs, h.Self)
	}
	return nil, &types.NoCompatibleHost{Host: refs}
}

func (l *Lab) createVMTask(method *simulator.Method) (types.ManagedObjectReference, bool) {
	req := method.Body.(*types.CreateVM_Task)
	folder, ok := l.get(req.This).(*simulator.Folder)
	if !ok {
		return types.ManagedObjectReference{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	refuse := func(fault types.BaseMethodFault) (types.ManagedObjectReference, bool) {
		return failedTask(req.This, "createVm", fault), true
	}

	if req.Config.Name == "" {
		return refuse(invalid("config.name"))
	}
	if dup := l.childNamed(folder, req.Config.Name); dup != nil {
		return refuse(&types.DuplicateName{Name: req.Config.Name, Object: *dup})
	}
	if req.Config.Files == nil || req.Config.Files.VmPathName == "" {
		return refuse(invalid("config.files.vmPathName"))
	}
	var path object.DatastorePath
	if !path.FromString(req.Config.Files.VmPathName) || path.Datastore == "" {
		return refuse(&types.InvalidDatastorePath{DatastorePath: req.Config.Files.VmPathName})
	}
	host, fault := l.targetHost(req.Pool, req.Host, path.Datastore, req.Config.Files.VmPathName, l.datacenterOf(req.This))
	if fault != nil {
		return refuse(fault)
	}
	placed := *req
	placed.Host = &host.Self
	res, err := methods.CreateVM_Task(l.ctx, l.client, &placed)
	if err != nil {
		return refuse(&types.SystemError{Reason: err.Error()})
	}
	log.Printf("createVm %q on %s", req.Config.Name, host.Name)
	return res.Returnval, true
}

func (l *Lab) cloneVMTask(method *simulator.Method) (types.ManagedObjectReference, bool) {
	req := method.Body.(*types.CloneVM_Task)
	source := l.vm(req.This)
	if source == nil {
		return types.ManagedObjectReference{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	refuse := func(fault types.BaseMethodFault) (types.ManagedObjectReference, bool) {
		return failedTask(req.This, "cloneVm", fault), true
	}

	folder, ok := l.get(req.Folder).(*simulator.Folder)
	if !ok {
		return refuse(&types.ManagedObjectNotFound{Obj: req.Folder})
	}
	if req.Name == "" {
		return refuse(invalid("name"))
	}
	if dup := l.childNamed(folder, req.Name); dup != nil {
		return refuse(&types.DuplicateName{Name: req.Name, Object: *dup})
	}
	if source.Runtime.Host != nil {
		if h := l.host(*source.Runtime.Host); h != nil && !hostConnected(h) {
			return refuse(hostStateFault(h))
		}
	}

	location := req.Spec.Location
	var sourcePath object.DatastorePath
	sourcePath.FromString(source.Config.Files.VmPathName)
	dsName := sourcePath.Datastore
	if location.Datastore != nil {
		ds, ok := l.get(*location.Datastore).(*simulator.Datastore)
		if !ok {
			return refuse(&types.ManagedObjectNotFound{Obj: *location.Datastore})
		}
		dsName = ds.Name
	}
	pool := location.Pool
	if pool == nil && !isTemplate(source) {
		pool = source.ResourcePool
	}
	if pool == nil && location.Host != nil {
		// vSphere takes the host's root pool when only a host is given.
		if h := l.host(*location.Host); h != nil {
			if cr, ok := l.get(*h.Parent).(*simulator.ClusterComputeResource); ok {
				pool = cr.ResourcePool
			}
		}
	}
	if pool == nil {
		return refuse(invalid("spec.location.pool"))
	}
	host, fault := l.targetHost(*pool, location.Host, dsName, "["+dsName+"]", l.datacenterOf(req.Folder))
	if fault != nil {
		return refuse(fault)
	}

	forwarded := *req
	forwarded.Spec.Location.Pool = pool
	res, err := methods.CloneVM_Task(l.ctx, l.client, &forwarded)
	if err != nil {
		return refuse(&types.SystemError{Reason: err.Error()})
	}
	if taskFault(res.Returnval) != nil {
		return res.Returnval, true
	}
	clone := l.vm(taskResult(res.Returnval).(types.ManagedObjectReference))
	// 0.24 always registers the clone on the source's host; put it where it belongs.
	l.moveVM(clone, host)
	log.Printf("cloneVm %q -> %q on %s", source.Name, req.Name, host.Name)
	if fault := l.applyCloneSpec(clone, &req.Spec); fault != nil {
		// vSphere fails the whole clone (and leaves no VM) when its spec cannot apply.
		if res, err := methods.Destroy_Task(l.ctx, l.client, &types.Destroy_Task{This: clone.Self}); err != nil || taskFault(res.Returnval) != nil {
			log.Printf("cloneVm %q: could not remove the failed clone", req.Name)
		}
		return refuse(fault)
	}
	if req.Spec.PowerOn && !req.Spec.Template {
		if fault := l.powerOn(clone); fault != nil {
			log.Printf("cloneVm %q: power on refused: %T", req.Name, fault)
		}
	}
	return res.Returnval, true
}

// applyCloneSpec applies what 0.24's clone ignores: the hardware and other settings of
// spec.config (0.24 only takes its extraConfig and devices) and spec.customization (which
// 0.24 applies at the next power-on once it is pending, like a guest customization).
func (l *Lab) applyCloneSpec(clone *simulator.VirtualMachine, spec *types.VirtualMachineCloneSpec) types.BaseMethodFault {
	if spec.Config != nil {
		config := *spec.Config
		config.DeviceChange, config.ExtraConfig, config.InstanceUuid = nil, nil, ""
		if !reflect.ValueOf(config).IsZero() {
			res, err := methods.ReconfigVM_Task(l.ctx, l.client, &types.ReconfigVM_Task{This: clone.Self, Spec: config})
			if err != nil {
				return &types.SystemError{Reason: err.Error()}
			}
			if fault := taskFault(res.Returnval); fault != nil {
				return fault
			}
		}
	}
	if spec.Customization != nil {
		res, err := methods.CustomizeVM_Task(l.ctx, l.client, &types.CustomizeVM_Task{This: clone.Self, Spec: *spec.Customization})
		if err != nil {
			return &types.SystemError{Reason: err.Error()}
		}
		return taskFault(res.Returnval)
	}
	return nil
}

func (l *Lab) powerOnVMTask(method *simulator.Method) (types.ManagedObjectReference, bool) {
	req := method.Body.(*types.PowerOnVM_Task)
	vm := l.vm(req.This)
	if vm == nil || isTemplate(vm) || poweredOn(vm) || vm.Runtime.Host == nil {
		return types.ManagedObjectReference{}, false // 0.24's own answers
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if fault := l.powerOnFault(vm); fault != nil {
		return failedTask(req.This, "powerOn", fault), true
	}
	res, err := methods.PowerOnVM_Task(l.ctx, l.client, req)
	if err != nil {
		return failedTask(req.This, "powerOn", &types.SystemError{Reason: err.Error()}), true
	}
	return res.Returnval, true
}

// powerOnFault is what vSphere would refuse: a VM whose host is down, or a power-on that
// would eat HA's failover capacity.
func (l *Lab) powerOnFault(vm *simulator.VirtualMachine) types.BaseMethodFault {
	host := l.host(*vm.Runtime.Host)
	if host != nil && !hostConnected(host) {
		return hostStateFault(host)
	}
	return l.admissionFault(vm)
}

// powerOn powers a VM on in-process after the same checks as a client's power-on
// (caller holds l.mu).
func (l *Lab) powerOn(vm *simulator.VirtualMachine) types.BaseMethodFault {
	if fault := l.powerOnFault(vm); fault != nil {
		return fault
	}
	return l.startVM(vm)
}

// startVM powers a VM on in-process without admission control (HA restarts).
func (l *Lab) startVM(vm *simulator.VirtualMachine) types.BaseMethodFault {
	res, err := methods.PowerOnVM_Task(l.ctx, l.client, &types.PowerOnVM_Task{This: vm.Self})
	if err != nil {
		return &types.SystemError{Reason: err.Error()}
	}
	return taskFault(res.Returnval)
}

// relocateVMTask does the host part of a relocation (0.24 drops the VM from every host's
// list instead of moving it) and hands pool, datastore and folder changes to 0.24.
func (l *Lab) relocateVMTask(method *simulator.Method) (types.ManagedObjectReference, bool) {
	req := method.Body.(*types.RelocateVM_Task)
	vm := l.vm(req.This)
	if vm == nil || req.Spec.Host == nil {
		return types.ManagedObjectReference{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return simulator.CreateTask(req.This, "relocateVm", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		target := l.host(*req.Spec.Host)
		if target == nil {
			return nil, &types.ManagedObjectNotFound{Obj: *req.Spec.Host}
		}
		if !hostUsable(target) {
			return nil, hostStateFault(target)
		}
		if source := l.host(*vm.Runtime.Host); source != nil && !hostConnected(source) {
			return nil, hostStateFault(source)
		}
		if ref := req.Spec.Datastore; ref != nil {
			if !containsRef(target.Datastore, *ref) {
				return nil, &types.InvalidDatastore{Datastore: ref, Name: l.entityName(*ref)}
			}
		} else if !l.mountsAll(target, vm) {
			return nil, &types.InvalidDatastore{Name: "(the VM's datastores)"}
		}
		rest := req.Spec
		rest.Host = nil
		if rest.Datastore != nil || rest.Pool != nil || rest.Folder != nil {
			res, err := methods.RelocateVM_Task(l.ctx, l.client, &types.RelocateVM_Task{This: req.This, Spec: rest, Priority: req.Priority})
			if err != nil {
				return nil, &types.SystemError{Reason: err.Error()}
			}
			if fault := taskFault(res.Returnval); fault != nil {
				return nil, fault
			}
		}
		l.moveVM(vm, target)
		log.Printf("relocateVm %q to %s", vm.Name, target.Name)
		return nil, nil
	}).Run(), true
}
