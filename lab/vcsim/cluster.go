package main

import (
	"log"
	"reflect"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// Cluster reconfiguration. 0.24 answers success for dasConfig, drsConfig and vsanConfig
// but stores nothing; the harness stores them (and dpmConfig and the per-VM HA
// overrides), and hands rules, groups and per-VM DRS overrides to 0.24, which keeps them.

func (l *Lab) reconfigureComputeResourceTask(method *simulator.Method) (types.ManagedObjectReference, bool) {
	req := method.Body.(*types.ReconfigureComputeResource_Task)
	spec, ok := req.Spec.(*types.ClusterConfigSpecEx)
	if !ok || req.This != l.cluster {
		return types.ManagedObjectReference{}, false
	}
	return l.reconfigureTask(spec, req.Modify), true
}

// ReconfigureCluster_Task is the older call (ClusterConfigSpec); 0.24 lacks it.
func (l *Lab) reconfigureClusterTask(method *simulator.Method) (types.ManagedObjectReference, bool) {
	req := method.Body.(*types.ReconfigureCluster_Task)
	if req.This != l.cluster {
		return types.ManagedObjectReference{}, false
	}
	spec := &types.ClusterConfigSpecEx{
		DasConfig:       req.Spec.DasConfig,
		DasVmConfigSpec: req.Spec.DasVmConfigSpec,
		DrsConfig:       req.Spec.DrsConfig,
		DrsVmConfigSpec: req.Spec.DrsVmConfigSpec,
		RulesSpec:       req.Spec.RulesSpec,
	}
	return l.reconfigureTask(spec, req.Modify), true
}

func (l *Lab) reconfigureTask(spec *types.ClusterConfigSpecEx, modify bool) types.ManagedObjectReference {
	l.mu.Lock()
	defer l.mu.Unlock()
	return simulator.CreateTask(l.cluster, "reconfigureCluster", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return nil, l.reconfigureCluster(spec, modify)
	}).Run()
}

// reconfigureCluster validates everything first, then lets 0.24 apply rules and groups,
// then applies the harness's part. Caller holds l.mu (or is the start-up code).
func (l *Lab) reconfigureCluster(spec *types.ClusterConfigSpecEx, modify bool) types.BaseMethodFault {
	current := l.clusterConfig()
	next := clusterSettings{
		das:  current.DasConfig,
		drs:  current.DrsConfig,
		vsan: current.VsanConfigInfo,
		dpm:  current.DpmConfigInfo,
	}
	deepCopy(&next.das)
	deepCopy(&next.drs)
	deepCopy(&next.vsan)
	deepCopy(&next.dpm)

	if spec.DasConfig != nil {
		next.das = mergedDas(next.das, spec.DasConfig, modify)
	}
	if spec.DrsConfig != nil {
		next.drs = mergedDrs(next.drs, spec.DrsConfig, modify)
	}
	if spec.VsanConfig != nil {
		next.vsan = mergedPointer(next.vsan, spec.VsanConfig, modify, defaultVsanConfig()).(*types.VsanClusterConfigInfo)
	}
	if spec.DpmConfig != nil {
		next.dpm = mergedPointer(next.dpm, spec.DpmConfig, modify, defaultDpmConfig()).(*types.ClusterDpmConfigInfo)
	}
	if fault := l.validateSettings(&next); fault != nil {
		return fault
	}
	overrides, fault := l.mergedDasOverrides(current.DasVmConfig, spec.DasVmConfigSpec)
	if fault != nil {
		return fault
	}
	wasVsan := isTrue(current.VsanConfigInfo.Enabled)
	wantVsan := isTrue(next.vsan.Enabled)
	if wasVsan && !wantVsan {
		if fault := l.checkVsanCanBeDisabled(); fault != nil {
			return fault
		}
	}

	// Rules, groups, per-VM DRS overrides: 0.24's own code.
	if len(spec.RulesSpec) > 0 || len(spec.GroupSpec) > 0 || len(spec.DrsVmConfigSpec) > 0 {
		res, err := methods.ReconfigureComputeResource_Task(l.ctx, l.client, &types.ReconfigureComputeResource_Task{
			This: l.cluster,
			Spec: &types.ClusterConfigSpecEx{
				RulesSpec:       spec.RulesSpec,
				GroupSpec:       spec.GroupSpec,
				DrsVmConfigSpec: spec.DrsVmConfigSpec,
			},
			Modify: true,
		})
		if err != nil {
			return &types.InvalidArgument{InvalidProperty: "spec"}
		}
		if fault := taskFault(res.Returnval); fault != nil {
			return fault
		}
	}

	if !wasVsan && wantVsan {
		if fault := l.enableVsanDatastore(); fault != nil {
			return fault
		}
	}
	cluster := l.clusterObject()
	simulator.Map.WithLock(cluster, func() {
		cfg := l.clusterConfig()
		cfg.DasConfig = next.das
		cfg.DrsConfig = next.drs
		cfg.VsanConfigInfo = next.vsan
		cfg.DpmConfigInfo = next.dpm
		cfg.DasVmConfig = overrides
		l.syncVsanHostConfig(wantVsan)
		l.syncLegacyConfiguration()
	})
	if wasVsan && !wantVsan {
		if fault := l.disableVsanDatastore(); fault != nil {
			return fault
		}
	}
	log.Printf("cluster reconfigured (modify=%t): HA %t, DRS %t, vSAN %t, %d HA overrides",
		modify, isTrue(next.das.Enabled), isTrue(next.drs.Enabled), wantVsan, len(overrides))
	return nil
}

type clusterSettings struct {
	das  types.ClusterDasConfigInfo
	drs  types.ClusterDrsConfigInfo
	vsan *types.VsanClusterConfigInfo
	dpm  *types.ClusterDpmConfigInfo
}

func mergedDas(stored types.ClusterDasConfigInfo, spec *types.ClusterDasConfigInfo, modify bool) types.ClusterDasConfigInfo {
	if !modify {
		stored = defaultDasConfig()
	}
	mergeValue(reflect.ValueOf(&stored).Elem(), reflect.ValueOf(spec).Elem())
	return stored
}

func mergedDrs(stored types.ClusterDrsConfigInfo, spec *types.ClusterDrsConfigInfo, modify bool) types.ClusterDrsConfigInfo {
	if !modify {
		stored = defaultDrsConfig()
	}
	mergeValue(reflect.ValueOf(&stored).Elem(), reflect.ValueOf(spec).Elem())
	return stored
}

// mergedPointer merges spec into stored (a copy), or into the defaults when modify=false.
func mergedPointer(stored, spec interface{}, modify bool, defaults interface{}) interface{} {
	base := stored
	if !modify || reflect.ValueOf(stored).IsNil() {
		base = defaults
	}
	mergeValue(reflect.ValueOf(base).Elem(), reflect.ValueOf(spec).Elem())
	return base
}

// mergeValue applies vSphere's modify=true rule to one data object: every property set
// in src replaces dst's; unset ones (nil, "", 0) are kept. Nested data objects merge
// property by property, a polymorphic property of another type is replaced, and option
// lists merge by key.
func mergeValue(dst, src reflect.Value) {
	for i := 0; i < src.NumField(); i++ {
		field := src.Type().Field(i)
		s, d := src.Field(i), dst.Field(i)
		if field.Anonymous {
			if s.Kind() == reflect.Struct {
				mergeValue(d, s)
			}
			continue
		}
		if s.IsZero() {
			continue
		}
		switch {
		case s.Kind() == reflect.Ptr && s.Elem().Kind() == reflect.Struct && !d.IsNil():
			mergeValue(d.Elem(), s.Elem())
			continue
		case s.Kind() == reflect.Interface && !d.IsNil() && d.Elem().Type() == s.Elem().Type() &&
			s.Elem().Kind() == reflect.Ptr && s.Elem().Elem().Kind() == reflect.Struct:
			mergeValue(d.Elem().Elem(), s.Elem().Elem())
			continue
		case s.Type() == reflect.TypeOf([]types.BaseOptionValue(nil)):
			d.Set(reflect.ValueOf(mergedOptions(d.Interface().([]types.BaseOptionValue), s.Interface().([]types.BaseOptionValue))))
			continue
		}
		d.Set(s)
	}
}

func mergedOptions(stored, changes []types.BaseOptionValue) []types.BaseOptionValue {
	out := append([]types.BaseOptionValue(nil), stored...)
	for _, change := range changes {
		replaced := false
		for i, o := range out {
			if o.GetOptionValue().Key == change.GetOptionValue().Key {
				out[i] = change
				replaced = true
			}
		}
		if !replaced {
			out = append(out, change)
		}
	}
	return out
}

// deepCopy copies the data objects reachable from v (a pointer) in place, so merging never
// touches the stored configuration before validation passed.
func deepCopy(v interface{}) {
	val := reflect.ValueOf(v).Elem()
	val.Set(copyValue(val))
}

func copyValue(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Ptr:
		if v.IsNil() {
			return v
		}
		c := reflect.New(v.Elem().Type())
		c.Elem().Set(copyValue(v.Elem()))
		return c
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		c := reflect.New(v.Type()).Elem()
		c.Set(copyValue(v.Elem()))
		return c
	case reflect.Struct:
		c := reflect.New(v.Type()).Elem()
		for i := 0; i < v.NumField(); i++ {
			if c.Field(i).CanSet() {
				c.Field(i).Set(copyValue(v.Field(i)))
			}
		}
		return c
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			c.Index(i).Set(copyValue(v.Index(i)))
		}
		return c
	}
	return v
}

func isTrue(b *bool) bool { return b != nil && *b }

func invalid(property string) types.BaseMethodFault {
	return &types.InvalidArgument{InvalidProperty: property}
}

func oneOf(value string, allowed ...string) bool {
	if value == "" {
		return true
	}
	for _, a := range allowed {
		if value == a {
			return true
		}
	}
	return false
}

var restartPriorities = []string{"disabled", "lowest", "low", "medium", "high", "highest"}

func (l *Lab) validateSettings(s *clusterSettings) types.BaseMethodFault {
	das := s.das
	switch {
	case !oneOf(das.HostMonitoring, "enabled", "disabled"):
		return invalid("dasConfig.hostMonitoring")
	case !oneOf(das.VmComponentProtecting, "enabled", "disabled"):
		return invalid("dasConfig.vmComponentProtecting")
	case !oneOf(das.VmMonitoring, "vmMonitoringDisabled", "vmMonitoringOnly", "vmAndAppMonitoring"):
		return invalid("dasConfig.vmMonitoring")
	case das.FailoverLevel < 0 || int(das.FailoverLevel) >= l.hosts:
		return invalid("dasConfig.failoverLevel")
	}
	if vm := das.DefaultVmSettings; vm != nil {
		if !oneOf(vm.RestartPriority, restartPriorities...) {
			return invalid("dasConfig.defaultVmSettings.restartPriority")
		}
		if !oneOf(vm.IsolationResponse, "none", "powerOff", "shutdown") {
			return invalid("dasConfig.defaultVmSettings.isolationResponse")
		}
		if t := vm.VmToolsMonitoringSettings; t != nil && !oneOf(t.VmMonitoring, "vmMonitoringDisabled", "vmMonitoringOnly", "vmAndAppMonitoring") {
			return invalid("dasConfig.defaultVmSettings.vmToolsMonitoringSettings.vmMonitoring")
		}
	}
	switch p := das.AdmissionControlPolicy.(type) {
	case *types.ClusterFailoverLevelAdmissionControlPolicy:
		if p.FailoverLevel < 1 || int(p.FailoverLevel) >= l.hosts {
			return invalid("dasConfig.admissionControlPolicy.failoverLevel")
		}
	case *types.ClusterFailoverResourcesAdmissionControlPolicy:
		if p.CpuFailoverResourcesPercent < 0 || p.CpuFailoverResourcesPercent > 100 {
			return invalid("dasConfig.admissionControlPolicy.cpuFailoverResourcesPercent")
		}
		if p.MemoryFailoverResourcesPercent < 0 || p.MemoryFailoverResourcesPercent > 100 {
			return invalid("dasConfig.admissionControlPolicy.memoryFailoverResourcesPercent")
		}
		if p.FailoverLevel < 0 || int(p.FailoverLevel) >= l.hosts {
			return invalid("dasConfig.admissionControlPolicy.failoverLevel")
		}
	case *types.ClusterFailoverHostAdmissionControlPolicy:
		if len(p.FailoverHosts) == 0 || len(p.FailoverHosts) >= l.hosts {
			return invalid("dasConfig.admissionControlPolicy.failoverHosts")
		}
		for _, h := range p.FailoverHosts {
			if !containsRef(l.clusterObject().Host, h) {
				return invalid("dasConfig.admissionControlPolicy.failoverHosts")
			}
		}
	}
	if !oneOf(string(s.drs.DefaultVmBehavior), "manual", "partiallyAutomated", "fullyAutomated") {
		return invalid("drsConfig.defaultVmBehavior")
	}
	if s.drs.VmotionRate < 0 || s.drs.VmotionRate > 5 {
		return invalid("drsConfig.vmotionRate")
	}
	if s.dpm != nil && !oneOf(string(s.dpm.DefaultDpmBehavior), "manual", "automated") {
		return invalid("dpmConfig.defaultDpmBehavior")
	}
	return nil
}

// mergedDasOverrides applies dasVmConfigSpec (add / edit / remove) to a copy of the
// stored per-VM HA overrides.
func (l *Lab) mergedDasOverrides(stored []types.ClusterDasVmConfigInfo, specs []types.ClusterDasVmConfigSpec) ([]types.ClusterDasVmConfigInfo, types.BaseMethodFault) {
	out := append([]types.ClusterDasVmConfigInfo(nil), stored...)
	deepCopy(&out)
	find := func(key types.ManagedObjectReference) int {
		for i := range out {
			if out[i].Key == key {
				return i
			}
		}
		return -1
	}
	for _, spec := range specs {
		switch spec.Operation {
		case types.ArrayUpdateOperationRemove:
			key, ok := moref(spec.RemoveKey)
			if !ok {
				return nil, invalid("dasVmConfigSpec.removeKey")
			}
			i := find(key)
			if i < 0 {
				return nil, invalid("dasVmConfigSpec.removeKey")
			}
			out = append(out[:i], out[i+1:]...)
			continue
		case types.ArrayUpdateOperationAdd, types.ArrayUpdateOperationEdit:
		default:
			return nil, invalid("dasVmConfigSpec.operation")
		}
		if spec.Info == nil {
			return nil, invalid("dasVmConfigSpec.info")
		}
		info := *spec.Info
		deepCopy(&info)
		if fault := l.validateDasOverride(&info); fault != nil {
			return nil, fault
		}
		i := find(info.Key)
		if spec.Operation == types.ArrayUpdateOperationAdd {
			if i >= 0 {
				return nil, invalid("dasVmConfigSpec.info.key")
			}
			out = append(out, info)
			continue
		}
		if i < 0 {
			return nil, invalid("dasVmConfigSpec.info.key")
		}
		mergeValue(reflect.ValueOf(&out[i]).Elem(), reflect.ValueOf(&info).Elem())
	}
	return out, nil
}

func (l *Lab) validateDasOverride(info *types.ClusterDasVmConfigInfo) types.BaseMethodFault {
	vm := l.vm(info.Key)
	if vm == nil || vm.Runtime.Host == nil || !containsRef(l.clusterObject().Host, *vm.Runtime.Host) {
		return invalid("dasVmConfigSpec.info.key")
	}
	if !oneOf(string(info.RestartPriority), append(restartPriorities, "clusterRestartPriority")...) {
		return invalid("dasVmConfigSpec.info.restartPriority")
	}
	if s := info.DasSettings; s != nil {
		if !oneOf(s.RestartPriority, append(restartPriorities, "clusterRestartPriority")...) {
			return invalid("dasVmConfigSpec.info.dasSettings.restartPriority")
		}
		if !oneOf(s.IsolationResponse, "none", "powerOff", "shutdown", "clusterIsolationResponse") {
			return invalid("dasVmConfigSpec.info.dasSettings.isolationResponse")
		}
	}
	return nil
}

// moref reads an xsd:anyType key (removeKey) that holds a managed object reference.
func moref(v interface{}) (types.ManagedObjectReference, bool) {
	switch k := v.(type) {
	case types.ManagedObjectReference:
		return k, true
	case *types.ManagedObjectReference:
		return *k, true
	}
	log.Printf("removeKey: unexpected %T %v", v, v)
	return types.ManagedObjectReference{}, false
}

func containsRef(refs []types.ManagedObjectReference, ref types.ManagedObjectReference) bool {
	for _, r := range refs {
		if r == ref {
			return true
		}
	}
	return false
}
