package main

import (
	"sort"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// Host capacity, cluster rules and VM moves, shared by initial placement (create, clone),
// admission control and the HA restart model. Memory is the only resource modelled.

func hostConnected(h *simulator.HostSystem) bool {
	return h.Runtime.ConnectionState == types.HostSystemConnectionStateConnected
}

func hostUsable(h *simulator.HostSystem) bool {
	return hostConnected(h) && !h.Runtime.InMaintenanceMode
}

func hostMemoryMB(h *simulator.HostSystem) int64 {
	return h.Summary.Hardware.MemorySize >> 20
}

func vmMemoryMB(vm *simulator.VirtualMachine) int64 {
	if vm.Config == nil {
		return 0
	}
	return int64(vm.Config.Hardware.MemoryMB)
}

func poweredOn(vm *simulator.VirtualMachine) bool {
	return vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn
}

func isTemplate(vm *simulator.VirtualMachine) bool {
	return vm.Config != nil && vm.Config.Template
}

// vmsOn returns the VMs registered on a host.
func (l *Lab) vmsOn(h *simulator.HostSystem) []*simulator.VirtualMachine {
	var vms []*simulator.VirtualMachine
	for _, ref := range h.Vm {
		if vm := l.vm(ref); vm != nil {
			vms = append(vms, vm)
		}
	}
	sort.Slice(vms, func(i, j int) bool { return vms[i].Name < vms[j].Name })
	return vms
}

// usedMemoryMB is the configured memory of the host's powered-on VMs.
func (l *Lab) usedMemoryMB(h *simulator.HostSystem) int64 {
	var used int64
	for _, vm := range l.vmsOn(h) {
		if poweredOn(vm) {
			used += vmMemoryMB(vm)
		}
	}
	return used
}

func (l *Lab) freeMemoryMB(h *simulator.HostSystem) int64 {
	return hostMemoryMB(h) - l.usedMemoryMB(h)
}

func (l *Lab) vmCount(h *simulator.HostSystem) int {
	n := 0
	for _, vm := range l.vmsOn(h) {
		if !isTemplate(vm) {
			n++
		}
	}
	return n
}

func (l *Lab) mountsDatastore(h *simulator.HostSystem, name string) bool {
	for _, ref := range h.Datastore {
		if l.entityName(ref) == name {
			return true
		}
	}
	return false
}

// mountsAll reports whether the host mounts every datastore the VM uses.
func (l *Lab) mountsAll(h *simulator.HostSystem, vm *simulator.VirtualMachine) bool {
	for _, ref := range vm.Datastore {
		if !containsRef(h.Datastore, ref) {
			return false
		}
	}
	return true
}

// computeHosts returns the hosts of the compute resource that owns a resource pool (or
// vApp), sorted by name.
func (l *Lab) computeHosts(pool types.ManagedObjectReference) ([]*simulator.HostSystem, bool) {
	var owner types.ManagedObjectReference
	switch p := l.get(pool).(type) {
	case *simulator.ResourcePool:
		owner = p.Owner
	case *simulator.VirtualApp:
		owner = p.Owner
	default:
		return nil, false
	}
	var refs []types.ManagedObjectReference
	switch cr := l.get(owner).(type) {
	case *simulator.ClusterComputeResource:
		refs = cr.Host
	case *mo.ComputeResource:
		refs = cr.Host
	default:
		return nil, false
	}
	var hosts []*simulator.HostSystem
	for _, ref := range refs {
		if h := l.host(ref); h != nil {
			hosts = append(hosts, h)
		}
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].Name < hosts[j].Name })
	return hosts, true
}

// initialPlacement is a DRS-like choice for a new VM: the usable host with the fewest
// VMs, then the most free memory, then by name; nil when no host is usable.
func (l *Lab) initialPlacement(candidates []*simulator.HostSystem) *simulator.HostSystem {
	var best *simulator.HostSystem
	for _, h := range candidates {
		if !hostUsable(h) {
			continue
		}
		if best == nil || l.vmCount(h) < l.vmCount(best) ||
			(l.vmCount(h) == l.vmCount(best) && l.freeMemoryMB(h) > l.freeMemoryMB(best)) {
			best = h
		}
	}
	return best
}

// moveVM re-registers a VM on another host (what a vMotion or an HA restart leaves behind).
func (l *Lab) moveVM(vm *simulator.VirtualMachine, to *simulator.HostSystem) {
	if vm.Runtime.Host != nil && *vm.Runtime.Host == to.Self {
		return
	}
	if vm.Runtime.Host != nil {
		if from := l.host(*vm.Runtime.Host); from != nil {
			simulator.Map.RemoveReference(from, &from.Vm, vm.Self)
		}
	}
	simulator.Map.AppendReference(to, &to.Vm, vm.Self)
	ref := to.Self
	simulator.Map.WithLock(vm, func() {
		simulator.Map.Update(vm, []types.PropertyChange{
			{Name: "runtime.host", Val: &ref},
			{Name: "summary.runtime.host", Val: &ref},
		})
	})
}

// --- cluster rules ------------------------------------------------------------------------

type vmHostRule struct {
	name      string
	vms       []types.ManagedObjectReference
	affine    []types.ManagedObjectReference // must run on one of these hosts
	antiAffin []types.ManagedObjectReference // must not run on these hosts
}

type clusterRules struct {
	antiAffinity map[string][]types.ManagedObjectReference // rule name -> VMs
	affinity     map[string][]types.ManagedObjectReference
	vmHostMust   []vmHostRule
}

func (l *Lab) rules() clusterRules {
	cfg := l.clusterConfig()
	vmGroups := map[string][]types.ManagedObjectReference{}
	hostGroups := map[string][]types.ManagedObjectReference{}
	for _, g := range cfg.Group {
		switch g := g.(type) {
		case *types.ClusterVmGroup:
			vmGroups[g.Name] = g.Vm
		case *types.ClusterHostGroup:
			hostGroups[g.Name] = g.Host
		}
	}
	r := clusterRules{antiAffinity: map[string][]types.ManagedObjectReference{}, affinity: map[string][]types.ManagedObjectReference{}}
	for _, rule := range cfg.Rule {
		info := rule.GetClusterRuleInfo()
		if info.Enabled != nil && !*info.Enabled {
			continue
		}
		switch rule := rule.(type) {
		case *types.ClusterAntiAffinityRuleSpec:
			r.antiAffinity[info.Name] = rule.Vm
		case *types.ClusterAffinityRuleSpec:
			r.affinity[info.Name] = rule.Vm
		case *types.ClusterVmHostRuleInfo:
			if isTrue(info.Mandatory) {
				r.vmHostMust = append(r.vmHostMust, vmHostRule{
					name: info.Name, vms: vmGroups[rule.VmGroupName],
					affine: hostGroups[rule.AffineHostGroupName], antiAffin: hostGroups[rule.AntiAffineHostGroupName],
				})
			}
		}
	}
	return r
}

// allowedByVmHostRules applies mandatory ("must") VM/host rules.
func (r clusterRules) allowedByVmHostRules(vm types.ManagedObjectReference, h types.ManagedObjectReference) bool {
	for _, rule := range r.vmHostMust {
		if !containsRef(rule.vms, vm) {
			continue
		}
		if rule.affine != nil && !containsRef(rule.affine, h) {
			return false
		}
		if containsRef(rule.antiAffin, h) {
			return false
		}
	}
	return true
}

// antiAffinityConflicts names the anti-affinity rules the VM would break on the host:
// another powered-on VM of the same rule already runs there.
func (l *Lab) antiAffinityConflicts(r clusterRules, vm *simulator.VirtualMachine, h *simulator.HostSystem) []string {
	var broken []string
	for name, members := range r.antiAffinity {
		if !containsRef(members, vm.Self) {
			continue
		}
		for _, other := range l.vmsOn(h) {
			if other.Self != vm.Self && poweredOn(other) && containsRef(members, other.Self) {
				broken = append(broken, name)
				break
			}
		}
	}
	sort.Strings(broken)
	return broken
}

// affinityScore counts powered-on VMs on the host that an affinity rule wants near the VM.
func (l *Lab) affinityScore(r clusterRules, vm *simulator.VirtualMachine, h *simulator.HostSystem) int {
	score := 0
	for _, members := range r.affinity {
		if !containsRef(members, vm.Self) {
			continue
		}
		for _, other := range l.vmsOn(h) {
			if other.Self != vm.Self && poweredOn(other) && containsRef(members, other.Self) {
				score++
			}
		}
	}
	return score
}
