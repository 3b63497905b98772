#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vsphere_vm
short_description: Deploy a registry VM on a vSphere cluster, from a template or from scratch
version_added: 0.1.0
description:
  - Creates a VM in a cluster, cloned from O(template) or created empty, on a named datastore (typically the
    cluster's vSAN datastore) with an optional storage policy; sets CPUs, memory, disks and network; powers it on
    or off; removes it.
  - Everything is checked before anything is created - the cluster, O(host), O(datastore) (and that the cluster's
    hosts mount it), O(template), O(network), O(storage_policy) - and a VM name that is already taken elsewhere,
    or more than once, is refused. vCenter itself accepts duplicate VM names; this module never creates one.
  - An existing VM is reconciled - CPUs, memory, disks (added or grown, never shrunk or removed), network of the
    first adapter, storage policy and power state - and only the options you set are compared.
    O(template), O(host) and O(guest_id) only apply when the VM is created.
  - O(storage_policy) is applied when the VM and its disks are created and compared afterwards with the policy
    that the storage policy service (PBM) associates with the VM home. Where PBM reports no policy at all (the
    lab's vCenter simulator stores no associations) the module warns and does not compare it.
author:
  - registryops.harbor maintainers (@registryops)
extends_documentation_fragment:
  - registryops.harbor.vsphere
attributes:
  check_mode:
    support: full
    description: In check mode every look-up and check runs, nothing is created, changed or powered.
  diff_mode:
    support: full
    description: Shows the VM (placement, hardware, policy, power) before and after.
options:
  name:
    description: Name of the VM; unique in vCenter (the module refuses to make a second VM of the same name).
    type: str
    required: true
  datacenter:
    description: Datacenter of the cluster and the VM; needed only when names repeat across datacenters.
    type: str
  cluster:
    description: Cluster the VM is created in (its root resource pool). Required to create a VM.
    type: str
  host:
    description:
      - A host of O(cluster) to create the VM on; without it vCenter (DRS) chooses.
      - Not used for an existing VM (DRS moves VMs; see registryops.harbor.vsphere_vm_rules).
    type: str
  datastore:
    description:
      - Datastore of the VM's files and disks, for example the vSAN datastore C(vsanDatastore). Required to create
        a VM. For an existing VM it is checked; a VM on another datastore is an error (move it with Storage
        vMotion, or remove it).
    type: str
  template:
    description: VM or template to clone the new VM from; without it an empty VM is created.
    type: str
  storage_policy:
    description:
      - Name of a VM storage policy (SPBM), for example C(vSAN Default Storage Policy), applied to the VM home and
        its disks.
    type: str
  guest_id:
    description: Guest OS identifier of a VM created from scratch.
    type: str
    default: otherLinux64Guest
  num_cpus:
    description: Number of virtual CPUs. Changing it on a powered-on VM needs CPU hot add.
    type: int
  memory_mb:
    description: Memory in MiB. Changing it on a powered-on VM needs memory hot add.
    type: int
  disks:
    description:
      - Disks in order (the first is the boot disk). Missing disks are added (thin), smaller ones grown.
      - Disks beyond the list are left alone; shrinking a disk is an error.
    type: list
    elements: dict
    suboptions:
      size_gb:
        description: Size in GiB.
        type: int
        required: true
  network:
    description: Port group (standard or distributed) of the VM's first network adapter (added if it has none).
    type: str
  state:
    description:
      - V(present) makes sure the VM exists (a new one stays powered off) and leaves its power state alone.
      - V(poweredon) and V(poweredoff) also set the power state (power off is immediate, not a guest shutdown).
      - V(absent) powers the VM off and deletes it with its disks.
    type: str
    choices: [present, absent, poweredon, poweredoff]
    default: present
  wait_for_ip:
    description: With O(state=poweredon), wait until VMware Tools report an IP address.
    type: bool
    default: false
  wait_for_ip_timeout:
    description: Seconds to wait for the IP address before failing.
    type: int
    default: 300
"""

EXAMPLES = r"""
- name: A Harbor VM from the Debian template on the vSAN datastore
  registryops.harbor.vsphere_vm:
    hostname: vcenter.example.com
    username: administrator@vsphere.local
    password: "{{ vault_vcenter_password }}"
    datacenter: dc1
    cluster: registry
    name: harbor-1
    template: debian-12-template
    datastore: vsanDatastore
    storage_policy: vSAN Default Storage Policy
    num_cpus: 4
    memory_mb: 8192
    disks:
      - size_gb: 40
      - size_gb: 500
    network: registry-pg
    state: poweredon
    wait_for_ip: true
  delegate_to: localhost

- name: Retire it
  registryops.harbor.vsphere_vm:
    name: harbor-1
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
vm:
  description: The VM after the run (empty when it was removed or, in check mode, not yet created).
  returned: always
  type: dict
  sample:
    name: harbor-1
    moid: vm-1042
    instance_uuid: 50211c8a-0e6f-4d5b-9b3c-5e1d35c3c1aa
    cluster: registry
    host: esx2.example.com
    datastore: vsanDatastore
    storage_policy: vSAN Default Storage Policy
    num_cpus: 4
    memory_mb: 8192
    disks: [{size_gb: 40}, {size_gb: 500}]
    network: registry-pg
    power_state: poweredOn
    ip_address: 10.20.0.11
changes:
  description: What the run changed or, in check mode, would change (created, removed, the options that differed).
  returned: always
  type: list
  elements: str
  sample: [created, "memory_mb: 4096 -> 8192", "power: poweredOff -> poweredOn"]
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.registryops.harbor.plugins.module_utils.vsphere.connection import (
    VSphereError, run, vsphere_argument_spec)

try:
    from pyVmomi import vim
except ImportError:  # pragma: no cover - reported by VSphere()
    pass

GIB_IN_KB = 1024 * 1024
SCSI_CONTROLLER_KEY = -100  # a temporary key that ties the new disks to the new controller


def datastore_of(vm):
    path = vm.config.files.vmPathName if vm.config and vm.config.files else ""
    return path[1:path.index("]")] if path.startswith("[") and "]" in path else None


def vm_disks(vm):
    """The VM's disks in controller and unit order (the device list itself may be in any order)."""
    devices = vm.config.hardware.device if vm.config else []
    disks = [device for device in devices if isinstance(device, vim.vm.device.VirtualDisk)]
    controllers = dict((device.key, (getattr(device, "busNumber", 0), type(device).__name__))
                       for device in devices if isinstance(device, vim.vm.device.VirtualController))
    return sorted(disks, key=lambda disk: (controllers.get(disk.controllerKey, (99, "")), disk.unitNumber or 0))


def vm_nics(vm):
    devices = vm.config.hardware.device if vm.config else []
    return [device for device in devices if isinstance(device, vim.vm.device.VirtualEthernetCard)]


def nic_network_name(vm, nic, networks):
    backing = nic.backing
    if isinstance(backing, vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo):
        for network in networks:
            if isinstance(network, vim.dvs.DistributedVirtualPortgroup) and network.key == backing.port.portgroupKey:
                return network.name
        return backing.port.portgroupKey
    if getattr(backing, "network", None) is not None:
        return backing.network.name
    return getattr(backing, "deviceName", None)


def describe(vsphere, vm, with_policy):
    """The VM in this module's vocabulary."""
    networks = list(vm.network)
    nics = vm_nics(vm)
    runtime_host = vm.runtime.host
    owner = vm.resourcePool.owner if vm.resourcePool is not None else None
    return dict(
        name=vm.name,
        moid=vm._moId,
        instance_uuid=vm.config.instanceUuid if vm.config else None,
        cluster=owner.name if isinstance(owner, vim.ClusterComputeResource) else None,
        host=runtime_host.name if runtime_host is not None else None,
        datastore=datastore_of(vm),
        storage_policy=vsphere.storage_policy_of(vm) if with_policy else None,
        num_cpus=vm.config.hardware.numCPU if vm.config else None,
        memory_mb=vm.config.hardware.memoryMB if vm.config else None,
        disks=[dict(size_gb=int(disk.capacityInKB // GIB_IN_KB)) for disk in vm_disks(vm)],
        network=nic_network_name(vm, nics[0], networks) if nics else None,
        power_state=str(vm.runtime.powerState),
        ip_address=vm.guest.ipAddress if vm.guest else None,
    )


class VmModule(object):
    def __init__(self, module, vsphere):
        self.module = module
        self.params = module.params
        self.vsphere = vsphere
        self.changes = []

    # -- look-ups, all before any write ----------------------------------------------------------------
    def find_vm(self):
        """The VM of this name, None when there is none; an error when the name is taken more than once."""
        found = self.vsphere.find(vim.VirtualMachine, self.params["name"], self.datacenter)
        if len(found) > 1:
            where = ", ".join(sorted("%s (%s)" % (vm._moId, datastore_of(vm)) for vm in found))
            raise VSphereError("%d VMs are named %r: %s; rename or remove the extra ones, this module manages one"
                               % (len(found), self.params["name"], where))
        return found[0] if found else None

    def resolve(self, vm):
        """Look up every object the options name; raise before anything is written."""
        p, vsphere = self.params, self.vsphere
        creating = vm is None
        self.cluster = self.host = self.datastore = self.template = self.network = self.policy_id = None
        if p["cluster"]:
            self.cluster = vsphere.one(vim.ClusterComputeResource, p["cluster"], "cluster", self.datacenter)
        if creating:
            missing = [key for key in ("cluster", "datastore") if not p[key]]
            if missing:
                raise VSphereError("VM %r does not exist; creating it needs %s" % (p["name"], " and ".join(missing)))
        if p["host"] and creating:
            hosts = dict((host.name, host) for host in self.cluster.host)
            if p["host"] not in hosts:
                raise VSphereError("host %r is not in cluster %r (its hosts: %s)"
                                   % (p["host"], self.cluster.name, ", ".join(sorted(hosts)) or "none"))
            self.host = hosts[p["host"]]
        if p["datastore"]:
            self.datastore = vsphere.one(vim.Datastore, p["datastore"], "datastore", self.datacenter)
            if creating:
                mounted = set(mount.key for mount in self.datastore.host)
                candidates = [self.host] if self.host else list(self.cluster.host)
                if not any(host in mounted for host in candidates):
                    raise VSphereError("datastore %r is not mounted on %s" % (
                        p["datastore"], "host %r" % p["host"] if self.host else "any host of cluster %r" % p["cluster"]))
            elif datastore_of(vm) != p["datastore"]:
                raise VSphereError("VM %r exists on datastore %r, not %r; move it (Storage vMotion) or remove it"
                                   % (p["name"], datastore_of(vm), p["datastore"]))
        if p["template"] and creating:
            self.template = vsphere.one(vim.VirtualMachine, p["template"], "template or VM", self.datacenter)
        if p["network"]:
            self.network = vsphere.one(vim.Network, p["network"], "network", self.datacenter)
        if p["storage_policy"]:
            self.policy_id = vsphere.storage_policy(p["storage_policy"])
        if self.cluster is not None and not creating:
            owner = vm.resourcePool.owner if vm.resourcePool is not None else None
            if owner != self.cluster:
                raise VSphereError("VM %r exists in %r, not in cluster %r; refusing to make a second VM of that name"
                                   % (p["name"], owner.name if owner is not None else "no cluster", p["cluster"]))

    # -- building specs -------------------------------------------------------------------------------
    def nic_backing(self):
        network = self.network
        if isinstance(network, vim.dvs.DistributedVirtualPortgroup):
            port = vim.dvs.PortConnection(portgroupKey=network.key,
                                          switchUuid=network.config.distributedVirtualSwitch.uuid)
            return vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(port=port)
        return vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName=network.name, network=network)

    @staticmethod
    def new_controller_spec():
        controller = vim.vm.device.ParaVirtualSCSIController(key=SCSI_CONTROLLER_KEY, busNumber=0, sharedBus="noSharing")
        return vim.vm.device.VirtualDeviceSpec(operation="add", device=controller)

    def new_nic_spec(self):
        nic = vim.vm.device.VirtualVmxnet3(key=-300, backing=self.nic_backing(), addressType="generated",
                                           connectable=vim.vm.device.VirtualDevice.ConnectInfo(
                                               startConnected=True, allowGuestControl=True))
        return vim.vm.device.VirtualDeviceSpec(operation="add", device=nic)

    def profile_spec(self):
        return [vim.vm.DefinedProfileSpec(profileId=self.policy_id)] if self.policy_id else None

    def new_disk_spec(self, size_gb, controller_key, unit_number):
        disk = vim.vm.device.VirtualDisk(
            key=-(200 + unit_number), controllerKey=controller_key, unitNumber=unit_number,
            capacityInKB=size_gb * GIB_IN_KB,
            backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
                diskMode="persistent", thinProvisioned=True, datastore=self.datastore))
        return vim.vm.device.VirtualDeviceSpec(operation="add", fileOperation="create", device=disk,
                                               profile=self.profile_spec())

    def create_spec(self):
        p = self.params
        devices = [self.new_controller_spec()]
        for index, disk in enumerate(p["disks"] or []):
            devices.append(self.new_disk_spec(disk["size_gb"], SCSI_CONTROLLER_KEY, free_units(set())[index]))
        if self.network is not None:
            devices.append(self.new_nic_spec())
        return vim.vm.ConfigSpec(name=p["name"], guestId=p["guest_id"], numCPUs=p["num_cpus"] or 1,
                                 memoryMB=p["memory_mb"] or 1024, deviceChange=devices, vmProfile=self.profile_spec(),
                                 files=vim.vm.FileInfo(vmPathName="[%s]" % self.datastore.name))

    def reconfig_spec(self, vm, current):
        """Changes to an existing VM (also right after a clone), and their description."""
        p = self.params
        spec, notes = vim.vm.ConfigSpec(), []
        powered_on = vm.runtime.powerState == vim.VirtualMachine.PowerState.poweredOn
        if p["num_cpus"] is not None and p["num_cpus"] != current["num_cpus"]:
            if powered_on and not vm.config.cpuHotAddEnabled:
                raise VSphereError("VM %r is powered on without CPU hot add: power it off to change num_cpus "
                                   "(state: poweredoff)" % vm.name)
            spec.numCPUs = p["num_cpus"]
            notes.append("num_cpus: %s -> %s" % (current["num_cpus"], p["num_cpus"]))
        if p["memory_mb"] is not None and p["memory_mb"] != current["memory_mb"]:
            if powered_on and not vm.config.memoryHotAddEnabled:
                raise VSphereError("VM %r is powered on without memory hot add: power it off to change memory_mb "
                                   "(state: poweredoff)" % vm.name)
            spec.memoryMB = p["memory_mb"]
            notes.append("memory_mb: %s -> %s" % (current["memory_mb"], p["memory_mb"]))
        device_changes = self.disk_changes(vm, notes) + self.network_changes(vm, current, notes)
        if self.policy_id and current["storage_policy"] is None and not self.just_created:
            # vCenter associates a policy with every VM on vSAN; none at all means it cannot tell (the lab
            # simulator never can), and re-applying on every run would never converge
            self.module.warn("vCenter reports no storage policy for VM %r; storage_policy is not compared" % vm.name)
        elif self.policy_id and current["storage_policy"] not in (None, p["storage_policy"]):
            spec.vmProfile = self.profile_spec()
            for disk in vm_disks(vm):
                device_changes.append(vim.vm.device.VirtualDeviceSpec(operation="edit", device=disk,
                                                                      profile=self.profile_spec()))
            notes.append("storage_policy: %s -> %s" % (current["storage_policy"], p["storage_policy"]))
        if device_changes:
            spec.deviceChange = device_changes
        return (spec if notes else None), notes

    def disk_changes(self, vm, notes):
        wanted = self.params["disks"]
        if wanted is None:
            return []
        existing = vm_disks(vm)
        changes = []
        for index, disk in enumerate(existing[:len(wanted)]):
            size_kb = wanted[index]["size_gb"] * GIB_IN_KB
            if size_kb < disk.capacityInKB:
                raise VSphereError("disk %d of VM %r has %d GiB; disks are never shrunk (asked: %d GiB)"
                                   % (index + 1, vm.name, disk.capacityInKB // GIB_IN_KB, wanted[index]["size_gb"]))
            if size_kb > disk.capacityInKB:
                disk.capacityInKB = size_kb
                disk.capacityInBytes = size_kb * 1024
                changes.append(vim.vm.device.VirtualDeviceSpec(operation="edit", device=disk))
                notes.append("disk %d: grown to %d GiB" % (index + 1, wanted[index]["size_gb"]))
        extra = wanted[len(existing):]
        if extra:
            controller_key, used = self.scsi_controller(vm)
            if controller_key is None:
                controller_key = SCSI_CONTROLLER_KEY
                changes.append(self.new_controller_spec())
            units = free_units(used)
            if len(extra) > len(units):
                raise VSphereError("VM %r has no room for %d more disks on its SCSI controller" % (vm.name, len(extra)))
            if self.datastore is None:
                self.datastore = vm.datastore[0] if vm.datastore else None
            for offset, disk in enumerate(extra):
                changes.append(self.new_disk_spec(disk["size_gb"], controller_key, units[offset]))
                notes.append("disk %d: added, %d GiB" % (len(existing) + offset + 1, disk["size_gb"]))
        return changes

    @staticmethod
    def scsi_controller(vm):
        for device in vm.config.hardware.device:
            if isinstance(device, vim.vm.device.VirtualSCSIController):
                used = set(d.unitNumber for d in vm.config.hardware.device
                           if getattr(d, "controllerKey", None) == device.key)
                return device.key, used
        return None, set()

    def network_changes(self, vm, current, notes):
        if self.network is None or current["network"] == self.params["network"]:
            return []
        nics = vm_nics(vm)
        if nics:
            nic = nics[0]
            nic.backing = self.nic_backing()
            notes.append("network: %s -> %s" % (current["network"], self.params["network"]))
            return [vim.vm.device.VirtualDeviceSpec(operation="edit", device=nic)]
        notes.append("network: adapter added on %s" % self.params["network"])
        return [self.new_nic_spec()]

    # -- the run --------------------------------------------------------------------------------------
    def predicted(self, current):
        """What the VM will look like, for check mode and the diff."""
        p = self.params
        after = dict(current or {})
        if current is None:
            after = dict(name=p["name"], moid=None, instance_uuid=None, cluster=p["cluster"], host=p["host"],
                         datastore=p["datastore"], storage_policy=p["storage_policy"], num_cpus=p["num_cpus"],
                         memory_mb=p["memory_mb"], disks=[], network=p["network"], power_state="poweredOff",
                         ip_address=None)
        for key in ("storage_policy", "num_cpus", "memory_mb", "network"):
            if p[key] is not None:
                after[key] = p[key]
        if p["disks"] is not None:
            disks = list(after.get("disks") or [])
            for index, disk in enumerate(p["disks"]):
                if index < len(disks):
                    disks[index] = dict(size_gb=max(disks[index]["size_gb"], disk["size_gb"]))
                else:
                    disks.append(dict(size_gb=disk["size_gb"]))
            after["disks"] = disks
        if p["state"] in ("poweredon", "poweredoff"):
            after["power_state"] = "poweredOn" if p["state"] == "poweredon" else "poweredOff"
        return after

    def run(self):
        p, vsphere = self.params, self.vsphere
        check = self.module.check_mode
        self.datacenter = vsphere.datacenter(p["datacenter"])
        vm = self.find_vm()
        with_policy = bool(p["storage_policy"])
        before = describe(vsphere, vm, with_policy) if vm else None

        if p["state"] == "absent":
            if vm is not None:
                self.changes.append("removed")
                if not check:
                    name = vm.name  # the VM may be gone as soon as Destroy_Task returns
                    if vm.runtime.powerState != vim.VirtualMachine.PowerState.poweredOff:
                        vsphere.wait(vm.PowerOffVM_Task(), "powering off VM %r" % name)
                    vsphere.wait(vm.Destroy_Task(), "removing VM %r" % name)
            return self.finish(before, {})

        self.resolve(vm)
        self.just_created = vm is None
        if vm is None:
            self.changes.append("created from %s" % p["template"] if p["template"] else "created")
            if check:
                self.set_power(None, "poweredOff")
                return self.finish(before, self.predicted(None))
            vm = self.create()
        current = describe(vsphere, vm, with_policy)
        spec, notes = self.reconfig_spec(vm, current)
        if spec is not None:
            self.changes.extend(notes)
            if not check:
                vsphere.wait(vm.ReconfigVM_Task(spec=spec), "reconfiguring VM %r" % vm.name)
        self.set_power(vm, current["power_state"])
        if check:
            return self.finish(before, self.predicted(current))
        if p["state"] == "poweredon" and p["wait_for_ip"]:
            self.wait_for_ip(vm)
        after = describe(vsphere, vm, with_policy)
        self.verify(after)
        return self.finish(before, after)

    def create(self):
        p, vsphere = self.params, self.vsphere
        datacenter = self.datacenter or vsphere.datacenter_of(self.cluster)
        folder = datacenter.vmFolder
        pool = self.cluster.resourcePool
        if self.template is not None:
            location = vim.vm.RelocateSpec(datastore=self.datastore, pool=pool, host=self.host,
                                           profile=self.profile_spec())
            spec = vim.vm.CloneSpec(location=location, powerOn=False, template=False)
            task = self.template.CloneVM_Task(folder=folder, name=p["name"], spec=spec)
            what = "cloning %r into VM %r" % (self.template.name, p["name"])
        else:
            task = folder.CreateVM_Task(config=self.create_spec(), pool=pool, host=self.host)
            what = "creating VM %r" % p["name"]
        return vsphere.wait(task, what)

    def set_power(self, vm, power_state):
        state = self.params["state"]
        wanted = {"poweredon": "poweredOn", "poweredoff": "poweredOff"}.get(state)
        if wanted is None or wanted == power_state:
            return
        self.changes.append("power: %s -> %s" % (power_state, wanted))
        if self.module.check_mode:
            return
        if wanted == "poweredOn":
            self.vsphere.wait(vm.PowerOnVM_Task(), "powering on VM %r" % vm.name)
        else:
            self.vsphere.wait(vm.PowerOffVM_Task(), "powering off VM %r" % vm.name)

    def wait_for_ip(self, vm):
        timeout = self.params["wait_for_ip_timeout"]
        deadline = time.time() + timeout
        while not (vm.guest and vm.guest.ipAddress):
            if time.time() > deadline:
                raise VSphereError("VM %r reported no IP address within %d seconds (are VMware Tools running and "
                                   "the network up?)" % (vm.name, timeout))
            time.sleep(2)

    def verify(self, after):
        """Read back what was set: vCenter (or a simulator) may accept a change and keep something else."""
        p = self.params
        wrong = []
        for key in ("num_cpus", "memory_mb", "network", "storage_policy", "datastore"):
            if key == "storage_policy" and after[key] is None:
                continue  # not reported by vCenter: see reconfig_spec()
            if p[key] is not None and after[key] != p[key]:
                wrong.append("%s is %r, not %r" % (key, after[key], p[key]))
        if p["disks"] is not None:
            sizes = [disk["size_gb"] for disk in after["disks"][:len(p["disks"])]]
            if len(sizes) < len(p["disks"]) or any(have < want["size_gb"] for have, want in zip(sizes, p["disks"])):
                wrong.append("disks are %s" % after["disks"])
        if wrong:
            raise VSphereError("VM %r does not read back as set: %s" % (p["name"], "; ".join(wrong)))

    def finish(self, before, after):
        result = dict(changed=bool(self.changes), vm=after, changes=self.changes)
        if self.module._diff:
            result["diff"] = dict(before=before or {}, after=after)
        self.module.exit_json(**result)


def free_units(used):
    """SCSI unit numbers for new disks: 0-15 without 7 (the controller's own)."""
    return [unit for unit in range(16) if unit != 7 and unit not in used]


def main():
    argument_spec = vsphere_argument_spec()
    argument_spec.update(
        name=dict(type="str", required=True),
        datacenter=dict(type="str"),
        cluster=dict(type="str"),
        host=dict(type="str"),
        datastore=dict(type="str"),
        template=dict(type="str"),
        storage_policy=dict(type="str"),
        guest_id=dict(type="str", default="otherLinux64Guest"),
        num_cpus=dict(type="int"),
        memory_mb=dict(type="int"),
        disks=dict(type="list", elements="dict", options=dict(size_gb=dict(type="int", required=True))),
        network=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent", "poweredon", "poweredoff"]),
        wait_for_ip=dict(type="bool", default=False),
        wait_for_ip_timeout=dict(type="int", default=300),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    for key in ("num_cpus", "memory_mb", "wait_for_ip_timeout"):
        if p[key] is not None and p[key] < 1:
            module.fail_json(msg="%s must be at least 1, not %d" % (key, p[key]))
    room = len(free_units(set()))
    if len(p["disks"] or []) > room:
        module.fail_json(msg="at most %d disks fit on one SCSI controller, not %d" % (room, len(p["disks"])))
    for index, disk in enumerate(p["disks"] or []):
        if disk["size_gb"] < 1:
            module.fail_json(msg="disks[%d].size_gb must be at least 1, not %d" % (index, disk["size_gb"]))
    run(module, lambda vsphere: VmModule(module, vsphere).run())


if __name__ == "__main__":
    main()
