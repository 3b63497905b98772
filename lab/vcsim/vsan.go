package main

import (
	"log"
	"os"

	"github.com/google/uuid"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// vSAN: like vSphere, the vsanDatastore appears when vSAN is enabled on the cluster and
// goes away when it is disabled. It is backed by a directory (0.24 keeps VM files on the
// local file system), so its url is that directory, not vSphere's ds:///vmfs/volumes/vsan:…

// vsanDatastore returns the cluster's vSAN datastore, or nil.
func (l *Lab) vsanDatastore() *simulator.Datastore {
	for _, ref := range l.clusterObject().Datastore {
		if ds, ok := l.get(ref).(*simulator.Datastore); ok && ds.Summary.Type == "vsan" {
			return ds
		}
	}
	return nil
}

func (l *Lab) enableVsanDatastore() types.BaseMethodFault {
	if l.vsanDatastore() != nil {
		return nil
	}
	var hosts []*object.HostSystem
	for _, h := range l.clusterHosts() {
		hosts = append(hosts, object.NewHostSystem(l.client, h.Self))
	}
	dir := l.datastoreDir(vsanDatastoreName)
	if err := l.createSharedDatastore(vsanDatastoreName, dir, hosts); err != nil {
		log.Printf("vSAN datastore: %s", err)
		return &types.VsanFault{}
	}
	var ds *simulator.Datastore
	for _, ref := range l.clusterObject().Datastore {
		if d, ok := l.get(ref).(*simulator.Datastore); ok && d.Name == vsanDatastoreName {
			ds = d
		}
	}
	if ds == nil {
		return &types.VsanFault{}
	}
	simulator.Map.WithLock(ds, func() {
		info := *ds.Info.GetDatastoreInfo()
		ds.Info = &types.VsanDatastoreInfo{DatastoreInfo: info, MembershipUuid: uuid.New().String()}
		ds.Summary.Type = "vsan"
		ds.Summary.MultipleHostAccess = types.NewBool(true)
		ds.Capability.PerFileThinProvisioningSupported = true
	})
	log.Printf("vSAN enabled: %s (%s) mounted on %d hosts", ds.Name, ds.Self.Value, len(ds.Host))
	return nil
}

func (l *Lab) checkVsanCanBeDisabled() types.BaseMethodFault {
	if ds := l.vsanDatastore(); ds != nil && len(ds.Vm) > 0 {
		return &types.ResourceInUse{Type: "Datastore", Name: ds.Name}
	}
	return nil
}

func (l *Lab) disableVsanDatastore() types.BaseMethodFault {
	ds := l.vsanDatastore()
	if ds == nil {
		return nil
	}
	res, err := methods.Destroy_Task(l.ctx, l.client, &types.Destroy_Task{This: ds.Self})
	if err != nil {
		return &types.VsanFault{}
	}
	if fault := taskFault(res.Returnval); fault != nil {
		return fault
	}
	_ = os.RemoveAll(l.datastoreDir(vsanDatastoreName))
	log.Printf("vSAN disabled: %s removed", vsanDatastoreName)
	return nil
}

// syncVsanHostConfig lists every host as a vSAN member (or not) in configurationEx and in
// each host's config. Caller holds the cluster's lock.
func (l *Lab) syncVsanHostConfig(enabled bool) {
	cfg := l.clusterConfig()
	cfg.VsanHostConfig = nil
	clusterUUID := ""
	if enabled {
		if cfg.VsanConfigInfo.DefaultConfig == nil {
			cfg.VsanConfigInfo.DefaultConfig = &types.VsanClusterConfigInfoHostDefaultInfo{}
		}
		if cfg.VsanConfigInfo.DefaultConfig.Uuid == "" {
			cfg.VsanConfigInfo.DefaultConfig.Uuid = uuid.New().String()
		}
		clusterUUID = cfg.VsanConfigInfo.DefaultConfig.Uuid
	}
	for _, h := range l.clusterHosts() {
		ref := h.Self
		member := types.VsanHostConfigInfo{Enabled: types.NewBool(enabled), HostSystem: &ref}
		if enabled {
			member.ClusterInfo = &types.VsanHostConfigInfoClusterInfo{Uuid: clusterUUID, NodeUuid: uuid.NewSHA1(uuid.NameSpaceOID, []byte(h.Name)).String()}
		}
		cfg.VsanHostConfig = append(cfg.VsanHostConfig, member)
		if h.Config != nil {
			hostCopy := member
			h.Config.VsanHostConfig = &hostCopy
		}
	}
}
