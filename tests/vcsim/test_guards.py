"""Guard rails vSphere has and govmomi 0.24 lacks, and where clones land."""

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim, vmodl

from .vsphere import HOSTS, SHARED_DS, host_of


def create_spec(name, path=f"[{SHARED_DS}]"):
    return vim.vm.ConfigSpec(name=name, guestId="otherGuest64", memoryMB=512, numCPUs=1,
                             files=vim.vm.FileInfo(vmPathName=path))


def test_create_vm_on_an_unknown_datastore_is_a_fault_not_a_crash(inv):
    task = inv.dc.vmFolder.CreateVM_Task(config=create_spec("lost", "[no-such-ds] lost/lost.vmx"),
                                         pool=inv.cluster.resourcePool)
    with pytest.raises(vim.fault.InvalidDatastorePath) as raised:
        WaitForTask(task, si=inv.si)
    assert raised.value.datastorePath == "[no-such-ds] lost/lost.vmx"
    assert raised.value.name == "no-such-ds"
    assert inv.vm("lost") is None, "no half-made VM left behind"
    # The server is alive and still creates VMs.
    task = inv.dc.vmFolder.CreateVM_Task(config=create_spec("found"), pool=inv.cluster.resourcePool)
    WaitForTask(task, si=inv.si)
    assert inv.vm("found").runtime.host.name in HOSTS


def test_create_vm_with_a_malformed_path_or_no_name(inv):
    for config in (create_spec("bad-path", "no brackets"), create_spec("")):
        task = inv.dc.vmFolder.CreateVM_Task(config=config, pool=inv.cluster.resourcePool)
        with pytest.raises((vim.fault.InvalidDatastorePath, vmodl.fault.InvalidArgument)):
            WaitForTask(task, si=inv.si)
    assert inv.vm("bad-path") is None


def test_duplicate_names_in_a_folder(inv):
    WaitForTask(inv.dc.vmFolder.CreateVM_Task(config=create_spec("twin"), pool=inv.cluster.resourcePool), si=inv.si)
    first = inv.vm("twin")
    task = inv.dc.vmFolder.CreateVM_Task(config=create_spec("twin"), pool=inv.cluster.resourcePool)
    with pytest.raises(vim.fault.DuplicateName) as raised:
        WaitForTask(task, si=inv.si)
    assert raised.value.name == "twin" and raised.value.object == first
    with pytest.raises(vim.fault.DuplicateName):
        inv.clone("twin")
    assert [v.name for v in inv.dc.vmFolder.childEntity].count("twin") == 1

    # The same name in another folder is fine, as in vSphere.
    other = inv.dc.vmFolder.CreateFolder("other")
    WaitForTask(other.CreateVM_Task(config=create_spec("twin"), pool=inv.cluster.resourcePool), si=inv.si)
    assert [v.name for v in other.childEntity] == ["twin"]


def test_clone_honours_location_host_and_spreads_otherwise(inv):
    pinned = inv.clone("pinned", host=HOSTS[2])
    assert host_of(pinned) == HOSTS[2]
    assert pinned in inv.host(HOSTS[2]).vm
    assert [h.name for h in inv.cluster.host if pinned in h.vm] == [HOSTS[2]], "registered on one host only"

    spread = [inv.clone(f"spread-{i}") for i in range(3)]
    assert len({host_of(vm) for vm in spread}) == 3, "a DRS-like placement puts new VMs on the emptiest hosts"
    for vm in spread:
        assert vm.runtime.host.name in HOSTS and vm in vm.runtime.host.vm
        assert vm.config.template is False and vm.resourcePool == inv.cluster.resourcePool


def test_clone_with_power_on_and_unknown_references(inv):
    vm = inv.clone("started", power_on=True)
    assert vm.runtime.powerState == "poweredOn"

    spec = vim.vm.CloneSpec(location=vim.vm.RelocateSpec(pool=inv.cluster.resourcePool,
                                                         datastore=vim.Datastore("datastore-404", inv.si._stub)))
    with pytest.raises(vmodl.fault.ManagedObjectNotFound):
        WaitForTask(inv.template.Clone(folder=inv.dc.vmFolder, name="nowhere", spec=spec), si=inv.si)
    spec = vim.vm.CloneSpec(location=vim.vm.RelocateSpec(datastore=inv.datastore(SHARED_DS)))
    with pytest.raises(vmodl.fault.InvalidArgument):  # a template clone needs a pool (or a host)
        WaitForTask(inv.template.Clone(folder=inv.dc.vmFolder, name="poolless", spec=spec), si=inv.si)
    assert inv.vm("nowhere") is None and inv.vm("poolless") is None


def test_admission_control_refuses_power_on_beyond_failover_capacity(fresh_inv):
    inv = fresh_inv
    # 4 x 64 GiB hosts, failover level 1: 192 GiB usable for running VMs.
    inv.enable_ha(admissionControlEnabled=True,
                  admissionControlPolicy=vim.cluster.FailoverLevelAdmissionControlPolicy(failoverLevel=1))
    big = []
    for i in range(4):
        vm = inv.clone(f"big-{i}")
        WaitForTask(vm.ReconfigVM_Task(vim.vm.ConfigSpec(memoryMB=60 * 1024)), si=inv.si)
        big.append(vm)
    for vm in big[:3]:
        inv.power_on(vm)
    with pytest.raises(vim.fault.InsufficientFailoverResourcesFault):
        inv.power_on(big[3])
    assert big[3].runtime.powerState == "poweredOff"

    # Without admission control the same power-on goes through.
    inv.reconfigure(vim.cluster.ConfigSpecEx(dasConfig=vim.cluster.DasConfigInfo(admissionControlEnabled=False)))
    inv.power_on(big[3])
    assert big[3].runtime.powerState == "poweredOn"


def test_percentage_policy_reserves_its_share(fresh_inv):
    inv = fresh_inv
    inv.enable_ha(admissionControlPolicy=vim.cluster.FailoverResourcesAdmissionControlPolicy(
        cpuFailoverResourcesPercent=50, memoryFailoverResourcesPercent=50, autoComputePercentages=False))
    vms = []
    for i in range(3):
        vm = inv.clone(f"half-{i}")
        WaitForTask(vm.ReconfigVM_Task(vim.vm.ConfigSpec(memoryMB=60 * 1024)), si=inv.si)
        vms.append(vm)
    inv.power_on(vms[0])
    inv.power_on(vms[1])  # 120 GiB of 128 GiB usable
    with pytest.raises(vim.fault.InsufficientFailoverResourcesFault):
        inv.power_on(vms[2])


def test_relocate_moves_the_vm_between_hosts(inv):
    vm = inv.clone("mover", host=HOSTS[0], power_on=True)
    WaitForTask(vm.RelocateVM_Task(spec=vim.vm.RelocateSpec(host=inv.host(HOSTS[1]))), si=inv.si)
    assert host_of(vm) == HOSTS[1]
    assert vm in inv.host(HOSTS[1]).vm and vm not in inv.host(HOSTS[0]).vm
    assert vm.runtime.powerState == "poweredOn"
    with pytest.raises(vmodl.fault.ManagedObjectNotFound):
        WaitForTask(vm.RelocateVM_Task(spec=vim.vm.RelocateSpec(host=vim.HostSystem("host-404", inv.si._stub))), si=inv.si)
    assert host_of(vm) == HOSTS[1]


def test_clone_applies_config_and_customization(inv):
    custom = vim.vm.customization.Specification(
        identity=vim.vm.customization.LinuxPrep(hostName=vim.vm.customization.FixedName(name="harbor-a"), domain="lab.local"),
        globalIPSettings=vim.vm.customization.GlobalIPSettings(dnsServerList=["10.0.0.53"]),
        nicSettingMap=[vim.vm.customization.AdapterMapping(adapter=vim.vm.customization.IPSettings(
            ip=vim.vm.customization.FixedIp(ipAddress="10.0.0.11"), subnetMask="255.255.255.0", gateway=["10.0.0.1"]))])
    spec = vim.vm.CloneSpec(
        location=vim.vm.RelocateSpec(pool=inv.cluster.resourcePool, datastore=inv.datastore(SHARED_DS)),
        config=vim.vm.ConfigSpec(numCPUs=4, memoryMB=8192, annotation="harbor node"),
        customization=custom, powerOn=True)
    task = inv.template.Clone(folder=inv.dc.vmFolder, name="custom", spec=spec)
    WaitForTask(task, si=inv.si)
    vm = task.info.result
    assert (vm.config.hardware.numCPU, vm.config.hardware.memoryMB) == (4, 8192)
    assert vm.config.annotation == "harbor node"
    assert vm.runtime.powerState == "poweredOn"
    assert vm.guest.hostName == "harbor-a" and vm.guest.ipAddress == "10.0.0.11"

    # A customization that does not fit the VM fails the clone and leaves nothing behind.
    spec.customization.nicSettingMap = spec.customization.nicSettingMap * 2
    with pytest.raises(vim.fault.NicSettingMismatch):
        WaitForTask(inv.template.Clone(folder=inv.dc.vmFolder, name="misfit", spec=spec), si=inv.si)
    assert inv.vm("misfit") is None
