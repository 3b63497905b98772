package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/esx"
	"github.com/vmware/govmomi/vim25/types"
)

// Inventory names: the contract in docs/vcsim.md.
const (
	datacenterName    = "Lab-DC"
	clusterName       = "Lab-Cluster"
	sharedDatastore   = "shared-ds"
	vsanDatastoreName = "vsanDatastore"
	standardNetwork   = "VM Network"
	dvSwitchName      = "Lab-DSwitch"
	dvPortgroupName   = "Lab-Network"
	templateName      = "debian-template"
	templateGuestID   = "debian11_64Guest" // the newest Debian id govmomi 0.24 knows
	defaultPolicyName = "Lab Default Storage Policy"

	hostMemoryBytes = int64(64) << 30
	hostCores       = 16
)

func hostName(i int) string { return fmt.Sprintf("esx-%02d.lab.local", i+1) }

func (l *Lab) datastoreDir(name string) string {
	return filepath.Join(l.stateDir, "datastores", name)
}

// buildInventory creates the lab inventory through the API, as an administrator would.
func (l *Lab) buildInventory(vsan bool) error {
	ctx := l.ctx
	c := l.client

	dc, err := object.NewRootFolder(c).CreateDatacenter(ctx, datacenterName)
	if err != nil {
		return err
	}
	l.datacenter = dc.Reference()
	folders, err := dc.Folders(ctx)
	if err != nil {
		return err
	}

	cluster, err := folders.HostFolder.CreateCluster(ctx, clusterName, types.ClusterConfigSpecEx{})
	if err != nil {
		return err
	}
	l.cluster = cluster.Reference()
	l.setClusterDefaults()

	// Hosts are copies of the library's ESX template: size them like lab servers first.
	esx.HostSystem.Summary.Hardware.MemorySize = hostMemoryBytes
	esx.HostSystem.Summary.Hardware.NumCpuCores = hostCores
	esx.HostSystem.Summary.Hardware.NumCpuThreads = 2 * hostCores
	esx.HostHardwareInfo.MemorySize = hostMemoryBytes
	esx.HostHardwareInfo.CpuInfo.NumCpuCores = hostCores
	esx.HostHardwareInfo.CpuInfo.NumCpuThreads = 2 * hostCores

	var hosts []*object.HostSystem
	for i := 0; i < l.hosts; i++ {
		task, err := cluster.AddHost(ctx, types.HostConnectSpec{HostName: hostName(i), Force: true}, true, nil, nil)
		if err != nil {
			return err
		}
		info, err := task.WaitForResult(ctx, nil)
		if err != nil {
			return fmt.Errorf("add host %s: %w", hostName(i), err)
		}
		hosts = append(hosts, object.NewHostSystem(c, info.Result.(types.ManagedObjectReference)))
	}

	if err := l.createSharedDatastore(sharedDatastore, l.datastoreDir(sharedDatastore), hosts); err != nil {
		return err
	}
	if err := l.createDistributedSwitch(folders, hosts); err != nil {
		return err
	}
	if err := l.createTemplate(folders, cluster, hosts[0]); err != nil {
		return err
	}
	l.updateClusterSummary()
	l.syncVsanHostConfig(false)
	if vsan {
		enabled := true
		spec := &types.ClusterConfigSpecEx{VsanConfig: &types.VsanClusterConfigInfo{Enabled: &enabled}}
		if fault := l.reconfigureCluster(spec, true); fault != nil {
			return fmt.Errorf("enable vSAN: %T", fault)
		}
	}
	return nil
}

// createSharedDatastore mounts one directory as the same datastore on every host.
func (l *Lab) createSharedDatastore(name, dir string, hosts []*object.HostSystem) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var ref types.ManagedObjectReference
	var mounts []types.DatastoreHostMount
	for _, host := range hosts {
		dss, err := host.ConfigManager().DatastoreSystem(l.ctx)
		if err != nil {
			return err
		}
		ds, err := dss.CreateLocalDatastore(l.ctx, name, dir)
		if err != nil {
			return fmt.Errorf("datastore %s on %s: %w", name, host.Reference().Value, err)
		}
		ref = ds.Reference()
		mounts = append(mounts, types.DatastoreHostMount{Key: host.Reference(), MountInfo: types.HostMountInfo{
			Path: dir, AccessMode: string(types.HostMountModeReadWrite), Mounted: types.NewBool(true), Accessible: types.NewBool(true)}})
	}
	// Each call re-registers the same datastore object: 0.24 keeps only the last host's
	// mount and lists the datastore once per call in its folder. Mend both.
	ds := l.get(ref).(*simulator.Datastore)
	simulator.Map.WithLock(ds, func() {
		ds.Host = mounts
		ds.Summary.MultipleHostAccess = types.NewBool(len(mounts) > 1)
	})
	if folder, ok := l.get(*ds.Parent).(*simulator.Folder); ok {
		simulator.Map.WithLock(folder, func() {
			var children []types.ManagedObjectReference
			for _, child := range folder.ChildEntity {
				if !containsRef(children, child) {
					children = append(children, child)
				}
			}
			folder.ChildEntity = children
		})
	}
	return nil
}

func (l *Lab) createDistributedSwitch(folders *object.DatacenterFolders, hosts []*object.HostSystem) error {
	ctx := l.ctx
	spec := types.DVSCreateSpec{ConfigSpec: &types.VMwareDVSConfigSpec{}}
	spec.ConfigSpec.GetDVSConfigSpec().Name = dvSwitchName
	task, err := folders.NetworkFolder.CreateDVS(ctx, spec)
	if err != nil {
		return err
	}
	info, err := task.WaitForResult(ctx, nil)
	if err != nil {
		return fmt.Errorf("create %s: %w", dvSwitchName, err)
	}
	dvs := object.NewDistributedVirtualSwitch(l.client, info.Result.(types.ManagedObjectReference))
	// Members first: 0.24 gives a new port group to the switch's members only.
	members := &types.DVSConfigSpec{}
	for _, h := range hosts {
		members.Host = append(members.Host, types.DistributedVirtualSwitchHostMemberConfigSpec{
			Operation: string(types.ConfigSpecOperationAdd), Host: h.Reference()})
	}
	if task, err = dvs.Reconfigure(ctx, members); err != nil {
		return err
	}
	if err := task.Wait(ctx); err != nil {
		return fmt.Errorf("add hosts to %s: %w", dvSwitchName, err)
	}
	task, err = dvs.AddPortgroup(ctx, []types.DVPortgroupConfigSpec{{Name: dvPortgroupName,
		Type: string(types.DistributedVirtualPortgroupPortgroupTypeEarlyBinding), NumPorts: 128}})
	if err != nil {
		return err
	}
	return task.Wait(ctx)
}

func (l *Lab) createTemplate(folders *object.DatacenterFolders, cluster *object.ClusterComputeResource, host *object.HostSystem) error {
	ctx := l.ctx
	finder := find.NewFinder(l.client, false)
	finder.SetDatacenter(object.NewDatacenter(l.client, l.datacenter))
	network, err := finder.Network(ctx, standardNetwork)
	if err != nil {
		return err
	}
	backing, err := network.EthernetCardBackingInfo(ctx)
	if err != nil {
		return err
	}
	datastore, err := finder.Datastore(ctx, sharedDatastore)
	if err != nil {
		return err
	}

	var devices object.VirtualDeviceList
	scsi, err := devices.CreateSCSIController("pvscsi")
	if err != nil {
		return err
	}
	devices = append(devices, scsi)
	disk := devices.CreateDisk(scsi.(types.BaseVirtualController), datastore.Reference(),
		fmt.Sprintf("[%s] %s/%s.vmdk", sharedDatastore, templateName, templateName))
	disk.CapacityInKB = 16 << 20
	disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo).ThinProvisioned = types.NewBool(true)
	nic, err := object.EthernetCardTypes().CreateEthernetCard("vmxnet3", backing)
	if err != nil {
		return err
	}
	devices = append(devices, disk, nic)
	changes, err := devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	if err != nil {
		return err
	}
	changes[1].GetVirtualDeviceConfigSpec().FileOperation = types.VirtualDeviceConfigSpecFileOperationCreate

	pool, err := cluster.ResourcePool(ctx)
	if err != nil {
		return err
	}
	spec := types.VirtualMachineConfigSpec{
		Name:         templateName,
		GuestId:      templateGuestID,
		NumCPUs:      2,
		MemoryMB:     4096,
		Annotation:   "Lab template (LAB ONLY)",
		Files:        &types.VirtualMachineFileInfo{VmPathName: fmt.Sprintf("[%s]", sharedDatastore)},
		DeviceChange: changes,
	}
	task, err := folders.VmFolder.CreateVM(ctx, spec, pool, host)
	if err != nil {
		return err
	}
	info, err := task.WaitForResult(ctx, nil)
	if err != nil {
		return fmt.Errorf("create %s: %w", templateName, err)
	}
	return object.NewVirtualMachine(l.client, info.Result.(types.ManagedObjectReference)).MarkAsTemplate(ctx)
}

// setClusterDefaults gives the cluster the settings vSphere gives a new cluster (HA off
// but configured, DRS fully automated, vSAN off): what a client reads before changing them.
func (l *Lab) setClusterDefaults() {
	cfg := l.clusterConfig()
	cfg.DasConfig = defaultDasConfig()
	cfg.DrsConfig = defaultDrsConfig()
	cfg.VsanConfigInfo = defaultVsanConfig()
	cfg.DpmConfigInfo = defaultDpmConfig()
	l.syncLegacyConfiguration()
}

func defaultDasConfig() types.ClusterDasConfigInfo {
	return types.ClusterDasConfigInfo{
		Enabled:                 types.NewBool(false),
		VmMonitoring:            string(types.ClusterDasConfigInfoVmMonitoringStateVmMonitoringDisabled),
		HostMonitoring:          string(types.ClusterDasConfigInfoServiceStateEnabled),
		VmComponentProtecting:   string(types.ClusterDasConfigInfoServiceStateDisabled),
		FailoverLevel:           1,
		AdmissionControlEnabled: types.NewBool(true),
		AdmissionControlPolicy: &types.ClusterFailoverResourcesAdmissionControlPolicy{
			CpuFailoverResourcesPercent:    25,
			MemoryFailoverResourcesPercent: 25,
			FailoverLevel:                  1,
			AutoComputePercentages:         types.NewBool(true),
		},
		DefaultVmSettings: &types.ClusterDasVmSettings{
			RestartPriority:        string(types.ClusterDasVmSettingsRestartPriorityMedium),
			RestartPriorityTimeout: 600,
			IsolationResponse:      string(types.ClusterDasVmSettingsIsolationResponseNone),
			VmToolsMonitoringSettings: &types.ClusterVmToolsMonitoringSettings{
				Enabled:          types.NewBool(false),
				VmMonitoring:     string(types.ClusterDasConfigInfoVmMonitoringStateVmMonitoringDisabled),
				ClusterSettings:  types.NewBool(true),
				FailureInterval:  30,
				MinUpTime:        120,
				MaxFailures:      3,
				MaxFailureWindow: 3600,
			},
		},
		HBDatastoreCandidatePolicy: string(types.ClusterDasConfigInfoHBDatastoreCandidateAllFeasibleDsWithUserPreference),
	}
}

func defaultDrsConfig() types.ClusterDrsConfigInfo {
	return types.ClusterDrsConfigInfo{
		Enabled:                   types.NewBool(true),
		EnableVmBehaviorOverrides: types.NewBool(true),
		DefaultVmBehavior:         types.DrsBehaviorFullyAutomated,
		VmotionRate:               3,
	}
}

func defaultVsanConfig() *types.VsanClusterConfigInfo {
	return &types.VsanClusterConfigInfo{
		Enabled: types.NewBool(false),
		DefaultConfig: &types.VsanClusterConfigInfoHostDefaultInfo{
			AutoClaimStorage: types.NewBool(false),
			ChecksumEnabled:  types.NewBool(false),
		},
	}
}

func defaultDpmConfig() *types.ClusterDpmConfigInfo {
	return &types.ClusterDpmConfigInfo{
		Enabled:             types.NewBool(false),
		DefaultDpmBehavior:  types.DpmBehaviorAutomated,
		HostPowerActionRate: 3,
	}
}

// syncLegacyConfiguration keeps the older `configuration` view equal to configurationEx.
func (l *Lab) syncLegacyConfiguration() {
	c := l.clusterObject()
	cfg := l.clusterConfig()
	c.Configuration = types.ClusterConfigInfo{
		DasConfig:   cfg.DasConfig,
		DasVmConfig: cfg.DasVmConfig,
		DrsConfig:   cfg.DrsConfig,
		DrsVmConfig: cfg.DrsVmConfig,
		Rule:        cfg.Rule,
	}
}
