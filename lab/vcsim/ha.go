package main

import (
	"fmt"
	"log"
	"sort"
	"strings"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// Host failure and a small model of vSphere HA (documented with its limits in
// docs/vcsim.md). 0.24 cannot fail a host at all.

type restartRecord struct {
	VM                   string   `json:"vm"`
	Priority             string   `json:"priority"`
	From                 string   `json:"from"`
	To                   string   `json:"to"`
	Order                int      `json:"order"`
	AntiAffinityViolated bool     `json:"anti_affinity_violated"`
	ViolatedRules        []string `json:"violated_rules,omitempty"`
}

type notRestartedRecord struct {
	VM       string `json:"vm"`
	Priority string `json:"priority,omitempty"`
	Reason   string `json:"reason"`
}

type failoverReport struct {
	Host         string               `json:"host"`
	FailedAt     time.Time            `json:"failed_at"`
	HAEnabled    bool                 `json:"ha_enabled"`
	RestartDelay float64              `json:"restart_delay"`
	Pending      bool                 `json:"pending"`
	CompletedAt  *time.Time           `json:"completed_at"`
	Restarted    []restartRecord      `json:"restarted"`
	NotRestarted []notRestartedRecord `json:"not_restarted"`

	failed  types.ManagedObjectReference
	victims []types.ManagedObjectReference // VMs that were running on the host
}

var priorityRank = map[string]int{"highest": 5, "high": 4, "medium": 3, "low": 2, "lowest": 1}

// restartPriority is the VM's HA restart priority: its override, else the cluster's.
func (l *Lab) restartPriority(vm types.ManagedObjectReference) string {
	cfg := l.clusterConfig()
	for _, o := range cfg.DasVmConfig {
		if o.Key != vm {
			continue
		}
		if s := o.DasSettings; s != nil && s.RestartPriority != "" && s.RestartPriority != "clusterRestartPriority" {
			return s.RestartPriority
		}
		if p := string(o.RestartPriority); p != "" && p != "clusterRestartPriority" {
			return p
		}
	}
	if s := cfg.DasConfig.DefaultVmSettings; s != nil && s.RestartPriority != "" {
		return s.RestartPriority
	}
	return "medium"
}

func (l *Lab) haActive() bool {
	das := l.clusterConfig().DasConfig
	return isTrue(das.Enabled) && das.HostMonitoring != "disabled"
}

func (l *Lab) dasOption(key string) string {
	for _, o := range l.clusterConfig().DasConfig.Option {
		if v := o.GetOptionValue(); v.Key == key {
			return fmt.Sprint(v.Value)
		}
	}
	return ""
}

func (l *Lab) findHost(id string) *simulator.HostSystem {
	for _, h := range l.clusterHosts() {
		if h.Name == id || h.Self.Value == id {
			return h
		}
	}
	return nil
}

type labError struct {
	status  int
	message string
}

func (e *labError) Error() string { return e.message }

func (l *Lab) setHostState(h *simulator.HostSystem, connection types.HostSystemConnectionState,
	power types.HostSystemPowerState, status types.ManagedEntityStatus) {
	simulator.Map.WithLock(h, func() {
		simulator.Map.Update(h, []types.PropertyChange{
			{Name: "runtime.connectionState", Val: connection},
			{Name: "runtime.powerState", Val: power},
			{Name: "overallStatus", Val: status},
			{Name: "summary.overallStatus", Val: status},
		})
	})
	l.updateClusterSummary()
}

func (l *Lab) setVMState(vm *simulator.VirtualMachine, connection types.VirtualMachineConnectionState, power *types.VirtualMachinePowerState) {
	changes := []types.PropertyChange{
		{Name: "runtime.connectionState", Val: connection},
		{Name: "summary.runtime.connectionState", Val: connection},
	}
	if power != nil {
		changes = append(changes,
			types.PropertyChange{Name: "runtime.powerState", Val: *power},
			types.PropertyChange{Name: "summary.runtime.powerState", Val: *power})
	}
	simulator.Map.WithLock(vm, func() { simulator.Map.Update(vm, changes) })
}

// updateClusterSummary counts only connected hosts as effective, like vCenter.
func (l *Lab) updateClusterSummary() {
	c := l.clusterObject()
	simulator.Map.WithLock(c, func() {
		s := c.Summary.GetComputeResourceSummary()
		s.NumEffectiveHosts, s.EffectiveCpu, s.EffectiveMemory = 0, 0, 0
		for _, h := range l.clusterHosts() {
			if hostConnected(h) {
				s.NumEffectiveHosts++
				s.EffectiveCpu += h.Summary.Hardware.CpuMhz * int32(h.Summary.Hardware.NumCpuCores)
				s.EffectiveMemory += h.Summary.Hardware.MemorySize >> 20
			}
		}
	})
}

// failHost takes a host down and, with HA on, restarts its VMs now or after delay.
func (l *Lab) failHost(id string, delay time.Duration) (*failoverReport, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.findHost(id)
	if h == nil {
		return nil, &labError{404, fmt.Sprintf("no host %q in %s", id, clusterName)}
	}
	if !hostConnected(h) {
		return nil, &labError{409, fmt.Sprintf("host %s is already %s", h.Name, h.Runtime.ConnectionState)}
	}

	l.setHostState(h, types.HostSystemConnectionStateNotResponding, types.HostSystemPowerStateUnknown, types.ManagedEntityStatusGray)
	report := &failoverReport{
		Host: h.Name, FailedAt: time.Now().UTC(), HAEnabled: l.haActive(), RestartDelay: delay.Seconds(),
		Restarted: []restartRecord{}, NotRestarted: []notRestartedRecord{}, failed: h.Self,
	}
	off := types.VirtualMachinePowerStatePoweredOff
	for _, vm := range l.vmsOn(h) {
		if poweredOn(vm) {
			report.victims = append(report.victims, vm.Self)
		}
		l.setVMState(vm, types.VirtualMachineConnectionStateDisconnected, &off)
	}
	l.postEvent(&types.HostConnectionLostEvent{HostEvent: types.HostEvent{Event: types.Event{Host: hostArg(h)}}},
		fmt.Sprintf("Host %s in %s is not responding (lab failure injection)", h.Name, datacenterName))
	log.Printf("host %s failed: %d running VMs down", h.Name, len(report.victims))

	if !report.HAEnabled {
		for _, ref := range report.victims {
			report.NotRestarted = append(report.NotRestarted, notRestartedRecord{VM: l.entityName(ref), Reason: "vSphere HA is not enabled on the cluster"})
		}
		now := time.Now().UTC()
		report.CompletedAt = &now
		l.haLog = append(l.haLog, report)
		return report, nil
	}
	l.postEvent(&types.DasHostFailedEvent{FailedHost: *hostArg(h)},
		fmt.Sprintf("vSphere HA detected a possible host failure of host %s in cluster %s", h.Name, clusterName))
	l.haLog = append(l.haLog, report)
	if delay > 0 {
		report.Pending = true
		go func() {
			time.Sleep(delay)
			l.mu.Lock()
			defer l.mu.Unlock()
			l.restartVMs(report)
		}()
		return report, nil
	}
	l.restartVMs(report)
	return report, nil
}

// restartVMs is the HA model: priority order, usable hosts with memory and datastores,
// mandatory VM/host rules, anti-affinity respected where any host allows it. Caller holds l.mu.
func (l *Lab) restartVMs(report *failoverReport) {
	defer func() {
		now := time.Now().UTC()
		report.Pending = false
		report.CompletedAt = &now
	}()
	failed := l.host(report.failed)
	type item struct {
		vm       *simulator.VirtualMachine
		priority string
	}
	var queue []item
	for _, ref := range report.victims {
		vm := l.vm(ref)
		// Restarted or moved by someone else meanwhile: nothing left for HA to do.
		if vm == nil || poweredOn(vm) || vm.Runtime.Host == nil || *vm.Runtime.Host != report.failed {
			continue
		}
		priority := l.restartPriority(vm.Self)
		if priority == "disabled" {
			report.NotRestarted = append(report.NotRestarted, notRestartedRecord{VM: vm.Name, Priority: priority, Reason: "restart priority disabled"})
			continue
		}
		queue = append(queue, item{vm, priority})
	}
	sort.SliceStable(queue, func(i, j int) bool {
		if priorityRank[queue[i].priority] != priorityRank[queue[j].priority] {
			return priorityRank[queue[i].priority] > priorityRank[queue[j].priority]
		}
		return queue[i].vm.Name < queue[j].vm.Name
	})

	rules := l.rules()
	strict := strings.EqualFold(l.dasOption("das.respectVmVmAntiAffinityRules"), "true")
	var failoverHosts []types.ManagedObjectReference
	if p, ok := l.clusterConfig().DasConfig.AdmissionControlPolicy.(*types.ClusterFailoverHostAdmissionControlPolicy); ok {
		failoverHosts = p.FailoverHosts
	}

	order := 0
	for _, it := range queue {
		vm := it.vm
		var candidates []*simulator.HostSystem
		for _, h := range l.clusterHosts() {
			if hostUsable(h) && l.mountsAll(h, vm) && l.freeMemoryMB(h) >= vmMemoryMB(vm) &&
				rules.allowedByVmHostRules(vm.Self, h.Self) {
				candidates = append(candidates, h)
			}
		}
		if len(candidates) == 0 {
			l.failover(report, vm, it.priority, failed, "no connected host has the datastores, free memory and rule placement for it",
				&types.InsufficientFailoverResourcesFault{})
			continue
		}
		var compliant []*simulator.HostSystem
		for _, h := range candidates {
			if len(l.antiAffinityConflicts(rules, vm, h)) == 0 {
				compliant = append(compliant, h)
			}
		}
		pool := compliant
		if len(compliant) == 0 {
			if strict {
				l.failover(report, vm, it.priority, failed,
					"every host would break a VM anti-affinity rule and das.respectVmVmAntiAffinityRules is true",
					&types.InsufficientFailoverResourcesFault{})
				continue
			}
			pool = candidates
		}
		best := l.bestRestartHost(pool, vm, rules, failoverHosts)
		broken := l.antiAffinityConflicts(rules, vm, best)

		l.setVMState(vm, types.VirtualMachineConnectionStateConnected, nil)
		l.moveVM(vm, best)
		if fault := l.startVM(vm); fault != nil {
			l.failover(report, vm, it.priority, failed, fmt.Sprintf("power on failed: %T", fault), fault)
			continue
		}
		order++
		report.Restarted = append(report.Restarted, restartRecord{
			VM: vm.Name, Priority: it.priority, From: failed.Name, To: best.Name, Order: order,
			AntiAffinityViolated: len(broken) > 0, ViolatedRules: broken,
		})
		ev := &types.VmRestartedOnAlternateHostEvent{
			VmPoweredOnEvent: types.VmPoweredOnEvent{VmEvent: vmEvent(vm, best)},
			SourceHost:       *hostArg(failed),
		}
		l.postEvent(ev, fmt.Sprintf("Virtual machine %s was restarted on %s since %s failed (priority %s, #%d)",
			vm.Name, best.Name, failed.Name, it.priority, order))
		if len(broken) > 0 {
			l.postEvent(&types.DrsRuleViolationEvent{VmEvent: vmEvent(vm, best)},
				fmt.Sprintf("Virtual machine %s on %s violates VM anti-affinity rule(s) %s: no surviving host satisfies them",
					vm.Name, best.Name, strings.Join(broken, ", ")))
		}
	}
}

// bestRestartHost prefers dedicated failover hosts, then hosts an affinity rule points
// to, then the fewest broken rules, then the most free memory, then the name.
func (l *Lab) bestRestartHost(hosts []*simulator.HostSystem, vm *simulator.VirtualMachine, rules clusterRules,
	failoverHosts []types.ManagedObjectReference) *simulator.HostSystem {
	type scored struct {
		h                  *simulator.HostSystem
		failover, affinity int
		broken             int
		free               int64
	}
	var list []scored
	for _, h := range hosts {
		s := scored{h: h, affinity: l.affinityScore(rules, vm, h), broken: len(l.antiAffinityConflicts(rules, vm, h)), free: l.freeMemoryMB(h)}
		if containsRef(failoverHosts, h.Self) {
			s.failover = 1
		}
		list = append(list, s)
	}
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		switch {
		case a.failover != b.failover:
			return a.failover > b.failover
		case a.affinity != b.affinity:
			return a.affinity > b.affinity
		case a.broken != b.broken:
			return a.broken < b.broken
		case a.free != b.free:
			return a.free > b.free
		}
		return a.h.Name < b.h.Name
	})
	return list[0].h
}

func (l *Lab) failover(report *failoverReport, vm *simulator.VirtualMachine, priority string, failed *simulator.HostSystem,
	reason string, fault types.BaseMethodFault) {
	report.NotRestarted = append(report.NotRestarted, notRestartedRecord{VM: vm.Name, Priority: priority, Reason: reason})
	l.postEvent(&types.VmFailoverFailed{VmEvent: vmEvent(vm, failed), Reason: &types.LocalizedMethodFault{Fault: fault, LocalizedMessage: reason}},
		fmt.Sprintf("vSphere HA could not restart %s: %s", vm.Name, reason))
}

// recoverHost brings a failed host back. Its remaining VMs reconnect, powered off.
func (l *Lab) recoverHost(id string) (map[string]interface{}, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.findHost(id)
	if h == nil {
		return nil, &labError{404, fmt.Sprintf("no host %q in %s", id, clusterName)}
	}
	if hostConnected(h) {
		return nil, &labError{409, fmt.Sprintf("host %s is connected", h.Name)}
	}
	l.setHostState(h, types.HostSystemConnectionStateConnected, types.HostSystemPowerStatePoweredOn, types.ManagedEntityStatusGreen)
	var vms []map[string]string
	for _, vm := range l.vmsOn(h) {
		if vm.Runtime.ConnectionState != types.VirtualMachineConnectionStateConnected {
			l.setVMState(vm, types.VirtualMachineConnectionStateConnected, nil)
		}
		vms = append(vms, map[string]string{"name": vm.Name, "power_state": string(vm.Runtime.PowerState)})
	}
	l.postEvent(&types.HostConnectedEvent{HostEvent: types.HostEvent{Event: types.Event{Host: hostArg(h)}}},
		fmt.Sprintf("Connected to %s in %s (lab recovery)", h.Name, datacenterName))
	if vms == nil {
		vms = []map[string]string{}
	}
	return map[string]interface{}{"host": h.Name, "connection_state": h.Runtime.ConnectionState, "vms": vms}, nil
}

// --- admission control (loose, memory only) -------------------------------------------

func (l *Lab) admissionFault(vm *simulator.VirtualMachine) types.BaseMethodFault {
	das := l.clusterConfig().DasConfig
	if !isTrue(das.Enabled) || !isTrue(das.AdmissionControlEnabled) {
		return nil
	}
	if vm.Runtime.Host == nil || !containsRef(l.clusterObject().Host, *vm.Runtime.Host) {
		return nil
	}
	var used int64
	for _, h := range l.clusterHosts() {
		if hostConnected(h) {
			used += l.usedMemoryMB(h)
		}
	}
	capacity := l.failoverCapacityMB(das)
	if used+vmMemoryMB(vm) > capacity {
		log.Printf("admission control: power on %s refused (%d MB running + %d MB > %d MB usable)", vm.Name, used, vmMemoryMB(vm), capacity)
		return &types.InsufficientFailoverResourcesFault{}
	}
	return nil
}

// failoverCapacityMB is the memory left for running VMs once the policy's reserve is
// set aside.
func (l *Lab) failoverCapacityMB(das types.ClusterDasConfigInfo) int64 {
	var total int64
	var sizes []int64
	all := l.clusterHosts()
	for _, h := range all {
		if hostConnected(h) {
			total += hostMemoryMB(h)
			sizes = append(sizes, hostMemoryMB(h))
		}
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] > sizes[j] })
	largest := func(n int32) int64 {
		var sum int64
		for i := 0; i < int(n) && i < len(sizes); i++ {
			sum += sizes[i]
		}
		return sum
	}
	switch p := das.AdmissionControlPolicy.(type) {
	case *types.ClusterFailoverLevelAdmissionControlPolicy:
		return total - largest(p.FailoverLevel)
	case *types.ClusterFailoverResourcesAdmissionControlPolicy:
		percent := int64(p.MemoryFailoverResourcesPercent)
		if isTrue(p.AutoComputePercentages) {
			level := int64(p.FailoverLevel)
			if level < 1 {
				level = 1
			}
			percent = (100*level + int64(len(all)) - 1) / int64(len(all))
		}
		return total * (100 - percent) / 100
	case *types.ClusterFailoverHostAdmissionControlPolicy:
		for _, ref := range p.FailoverHosts {
			if h := l.host(ref); h != nil && hostConnected(h) {
				total -= hostMemoryMB(h)
			}
		}
		return total
	}
	level := das.FailoverLevel
	if level < 1 {
		level = 1
	}
	return total - largest(level)
}
