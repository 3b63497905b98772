"""Cluster settings that govmomi 0.24 drops and vcsim-lab keeps: HA, DRS, vSAN, overrides, rules.

Each test starts from its own lab: the tests assert exact read-backs from the defaults.
"""

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim, vmodl

from .vsphere import HOSTS, VSAN_DS


@pytest.fixture
def inv(fresh_inv):
    return fresh_inv


def test_ha_settings_persist_and_read_back(inv):
    das = vim.cluster.DasConfigInfo(
        enabled=True, hostMonitoring="enabled", vmMonitoring="vmMonitoringOnly",
        admissionControlEnabled=True,
        admissionControlPolicy=vim.cluster.FailoverLevelAdmissionControlPolicy(failoverLevel=1),
        defaultVmSettings=vim.cluster.DasVmSettings(restartPriority="high", isolationResponse="powerOff"))
    inv.reconfigure(vim.cluster.ConfigSpecEx(dasConfig=das))

    read = inv.cluster.configurationEx.dasConfig
    assert read.enabled is True
    assert read.hostMonitoring == "enabled"
    assert read.vmMonitoring == "vmMonitoringOnly"
    assert read.admissionControlEnabled is True
    assert isinstance(read.admissionControlPolicy, vim.cluster.FailoverLevelAdmissionControlPolicy)
    assert read.admissionControlPolicy.failoverLevel == 1
    assert read.defaultVmSettings.restartPriority == "high"
    assert read.defaultVmSettings.isolationResponse == "powerOff"
    # The older `configuration` view says the same.
    assert inv.cluster.configuration.dasConfig.enabled is True
    assert inv.cluster.configuration.dasConfig.defaultVmSettings.restartPriority == "high"


def test_modify_true_merges_like_vsphere(inv):
    inv.enable_ha(defaultVmSettings=vim.cluster.DasVmSettings(restartPriority="high", isolationResponse="shutdown"),
                  admissionControlPolicy=vim.cluster.FailoverResourcesAdmissionControlPolicy(
                      cpuFailoverResourcesPercent=30, memoryFailoverResourcesPercent=40, autoComputePercentages=False))
    # Only the restart priority changes; everything else must stay.
    inv.reconfigure(vim.cluster.ConfigSpecEx(dasConfig=vim.cluster.DasConfigInfo(
        defaultVmSettings=vim.cluster.DasVmSettings(restartPriority="low"))))
    read = inv.config.dasConfig
    assert read.enabled is True
    assert read.defaultVmSettings.restartPriority == "low"
    assert read.defaultVmSettings.isolationResponse == "shutdown"
    policy = read.admissionControlPolicy
    assert isinstance(policy, vim.cluster.FailoverResourcesAdmissionControlPolicy)
    assert (policy.cpuFailoverResourcesPercent, policy.memoryFailoverResourcesPercent) == (30, 40)
    assert policy.autoComputePercentages is False

    # Same policy type: merged; another type: replaces it.
    inv.reconfigure(vim.cluster.ConfigSpecEx(dasConfig=vim.cluster.DasConfigInfo(
        admissionControlPolicy=vim.cluster.FailoverResourcesAdmissionControlPolicy(memoryFailoverResourcesPercent=50))))
    policy = inv.config.dasConfig.admissionControlPolicy
    assert (policy.cpuFailoverResourcesPercent, policy.memoryFailoverResourcesPercent) == (30, 50)
    failover_host = inv.host(HOSTS[3])
    inv.reconfigure(vim.cluster.ConfigSpecEx(dasConfig=vim.cluster.DasConfigInfo(
        admissionControlPolicy=vim.cluster.FailoverHostAdmissionControlPolicy(failoverHosts=[failover_host]))))
    policy = inv.config.dasConfig.admissionControlPolicy
    assert isinstance(policy, vim.cluster.FailoverHostAdmissionControlPolicy)
    assert [h.name for h in policy.failoverHosts] == [HOSTS[3]]

    # Options merge by key.
    option = vim.option.OptionValue
    inv.reconfigure(vim.cluster.ConfigSpecEx(dasConfig=vim.cluster.DasConfigInfo(
        option=[option(key="das.isolationaddress0", value="10.0.0.1"), option(key="das.usedefaultisolationaddress", value="false")])))
    inv.reconfigure(vim.cluster.ConfigSpecEx(dasConfig=vim.cluster.DasConfigInfo(
        option=[option(key="das.isolationaddress0", value="10.0.0.2")])))
    assert {o.key: o.value for o in inv.config.dasConfig.option} == {
        "das.isolationaddress0": "10.0.0.2", "das.usedefaultisolationaddress": "false"}


def test_modify_false_replaces_with_defaults_for_unset_properties(inv):
    inv.enable_ha(vmMonitoring="vmAndAppMonitoring",
                  defaultVmSettings=vim.cluster.DasVmSettings(restartPriority="highest", isolationResponse="powerOff"))
    inv.reconfigure(vim.cluster.ConfigSpecEx(dasConfig=vim.cluster.DasConfigInfo(enabled=True)), modify=False)
    read = inv.config.dasConfig
    assert read.enabled is True
    assert read.vmMonitoring == "vmMonitoringDisabled"
    assert read.defaultVmSettings.restartPriority == "medium"
    assert read.defaultVmSettings.isolationResponse == "none"


def test_drs_settings_persist(inv):
    inv.reconfigure(vim.cluster.ConfigSpecEx(drsConfig=vim.cluster.DrsConfigInfo(enabled=True, defaultVmBehavior="partiallyAutomated")))
    assert inv.config.drsConfig.defaultVmBehavior == "partiallyAutomated"
    inv.reconfigure(vim.cluster.ConfigSpecEx(drsConfig=vim.cluster.DrsConfigInfo(enabled=False)))
    read = inv.config.drsConfig
    assert read.enabled is False
    assert read.defaultVmBehavior == "partiallyAutomated"
    assert inv.cluster.configuration.drsConfig.enabled is False


def test_bad_values_fail_the_task_and_change_nothing(inv):
    before = inv.config.dasConfig
    bad = [
        vim.cluster.DasConfigInfo(enabled=True, hostMonitoring="sometimes"),
        vim.cluster.DasConfigInfo(enabled=True, defaultVmSettings=vim.cluster.DasVmSettings(restartPriority="urgent")),
        vim.cluster.DasConfigInfo(enabled=True, admissionControlPolicy=vim.cluster.FailoverLevelAdmissionControlPolicy(failoverLevel=4)),
        vim.cluster.DasConfigInfo(enabled=True, admissionControlPolicy=vim.cluster.FailoverResourcesAdmissionControlPolicy(
            cpuFailoverResourcesPercent=120, memoryFailoverResourcesPercent=10)),
    ]
    for das in bad:
        with pytest.raises(vmodl.fault.InvalidArgument) as raised:
            inv.reconfigure(vim.cluster.ConfigSpecEx(dasConfig=das))
        assert raised.value.invalidProperty.startswith("dasConfig.")
    with pytest.raises(vmodl.fault.InvalidArgument) as raised:
        inv.reconfigure(vim.cluster.ConfigSpecEx(drsConfig=vim.cluster.DrsConfigInfo(defaultVmBehavior="yolo")))
    assert raised.value.invalidProperty == "drsConfig.defaultVmBehavior"
    after = inv.config.dasConfig
    assert after.enabled is False and after.hostMonitoring == before.hostMonitoring
    assert after.defaultVmSettings.restartPriority == "medium"


def test_older_reconfigure_cluster_call(inv):
    spec = vim.cluster.ConfigSpec(dasConfig=vim.cluster.DasConfigInfo(enabled=True, admissionControlEnabled=False),
                                  drsConfig=vim.cluster.DrsConfigInfo(defaultVmBehavior="manual"))
    WaitForTask(inv.cluster.ReconfigureCluster_Task(spec=spec, modify=True), si=inv.si)
    assert inv.config.dasConfig.enabled is True
    assert inv.config.dasConfig.admissionControlEnabled is False
    assert inv.config.drsConfig.defaultVmBehavior == "manual"
    assert inv.config.drsConfig.enabled is True


def test_vsan_enable_creates_the_vsan_datastore_and_disable_removes_it(inv):
    inv.reconfigure(vim.cluster.ConfigSpecEx(vsanConfig=vim.vsan.cluster.ConfigInfo(
        enabled=True, defaultConfig=vim.vsan.cluster.ConfigInfo.HostDefaultInfo(autoClaimStorage=True))))
    read = inv.config.vsanConfigInfo
    assert read.enabled is True and read.defaultConfig.autoClaimStorage is True
    assert read.defaultConfig.uuid
    members = inv.config.vsanHostConfig
    assert sorted(m.hostSystem.name for m in members) == HOSTS
    assert all(m.enabled and m.clusterInfo.uuid == read.defaultConfig.uuid for m in members)

    ds = inv.datastore(VSAN_DS)
    assert ds is not None
    assert ds.summary.type == "vsan"
    assert isinstance(ds.info, vim.host.VsanDatastoreInfo)
    assert sorted(m.key.name for m in ds.host) == HOSTS
    assert ds in inv.cluster.datastore and ds in inv.dc.datastore
    assert [d.name for d in inv.dc.datastoreFolder.childEntity].count(VSAN_DS) == 1
    for host in inv.cluster.host:
        assert VSAN_DS in [d.name for d in host.datastore]
        assert host.config.vsanHostConfig.enabled is True

    # A VM on vSAN blocks disabling it, like vSphere refuses to pull storage from under VMs.
    vm = inv.clone("on-vsan", datastore=VSAN_DS)
    assert [d.name for d in vm.datastore] == [VSAN_DS]
    with pytest.raises(vim.fault.ResourceInUse):
        inv.reconfigure(vim.cluster.ConfigSpecEx(vsanConfig=vim.vsan.cluster.ConfigInfo(enabled=False)))
    assert inv.config.vsanConfigInfo.enabled is True
    WaitForTask(vm.Destroy_Task(), si=inv.si)

    inv.reconfigure(vim.cluster.ConfigSpecEx(vsanConfig=vim.vsan.cluster.ConfigInfo(enabled=False)))
    assert inv.config.vsanConfigInfo.enabled is False
    assert inv.config.vsanConfigInfo.defaultConfig.autoClaimStorage is True
    assert inv.datastore(VSAN_DS) is None
    assert VSAN_DS not in [d.name for d in inv.dc.datastore]
    assert all(VSAN_DS not in [d.name for d in h.datastore] for h in inv.cluster.host)


def test_vsan_from_start_flag(vcsim_binary, tmp_path):
    from pyVim.connect import Disconnect

    from .process import VcsimProcess
    from .vsphere import Inventory

    with VcsimProcess(vcsim_binary, tmp_path / "vsan", "-vsan") as lab:
        si = lab.connect()
        try:
            inventory = Inventory(si)
            assert inventory.config.vsanConfigInfo.enabled is True
            assert inventory.datastore(VSAN_DS).summary.type == "vsan"
        finally:
            Disconnect(si)


def test_per_vm_ha_overrides_add_edit_remove(inv):
    vm = inv.clone("override-me")
    info = vim.cluster.DasVmConfigInfo(key=vm, dasSettings=vim.cluster.DasVmSettings(
        restartPriority="highest", isolationResponse="shutdown"))
    inv.reconfigure(vim.cluster.ConfigSpecEx(dasVmConfigSpec=[vim.cluster.DasVmConfigSpec(operation="add", info=info)]))
    [read] = inv.config.dasVmConfig
    assert read.key == vm
    assert (read.dasSettings.restartPriority, read.dasSettings.isolationResponse) == ("highest", "shutdown")

    # Adding twice is refused; editing merges (isolation response kept).
    with pytest.raises(vmodl.fault.InvalidArgument):
        inv.reconfigure(vim.cluster.ConfigSpecEx(dasVmConfigSpec=[vim.cluster.DasVmConfigSpec(operation="add", info=info)]))
    inv.set_priority(vm, "disabled", operation="edit")
    [read] = inv.config.dasVmConfig
    assert (read.dasSettings.restartPriority, read.dasSettings.isolationResponse) == ("disabled", "shutdown")
    assert inv.cluster.configuration.dasVmConfig[0].dasSettings.restartPriority == "disabled"

    # An override without dasSettings can be edited (0.24 crashes on this one).
    other = inv.clone("legacy-override")
    legacy = vim.cluster.DasVmConfigInfo(key=other, restartPriority="low")
    inv.reconfigure(vim.cluster.ConfigSpecEx(dasVmConfigSpec=[vim.cluster.DasVmConfigSpec(operation="add", info=legacy)]))
    inv.set_priority(other, "high", operation="edit")
    by_vm = {o.key.name: o for o in inv.config.dasVmConfig}
    assert by_vm["legacy-override"].dasSettings.restartPriority == "high"

    inv.reconfigure(vim.cluster.ConfigSpecEx(dasVmConfigSpec=[vim.cluster.DasVmConfigSpec(operation="remove", removeKey=vm)]))
    assert [o.key.name for o in inv.config.dasVmConfig] == ["legacy-override"]


def test_drs_rules_and_groups_read_back(inv):
    vms = [inv.clone(f"rule-vm-{i}") for i in range(3)]
    inv.add_anti_affinity("harbor-spread", vms)
    [rule] = inv.config.rule
    assert isinstance(rule, vim.cluster.AntiAffinityRuleSpec)
    assert rule.name == "harbor-spread" and rule.enabled is True
    assert sorted(v.name for v in rule.vm) == ["rule-vm-0", "rule-vm-1", "rule-vm-2"]
    assert rule.key and rule.ruleUuid
    assert inv.cluster.configuration.rule[0].name == "harbor-spread"

    group = vim.cluster.VmGroup(name="harbor-vms", vm=vms[:2])
    inv.reconfigure(vim.cluster.ConfigSpecEx(groupSpec=[vim.cluster.GroupSpec(operation="add", info=group)]))
    assert [(g.name, sorted(v.name for v in g.vm)) for g in inv.config.group] == [("harbor-vms", ["rule-vm-0", "rule-vm-1"])]

    # Rules and HA settings in one call: both land.
    inv.reconfigure(vim.cluster.ConfigSpecEx(
        dasConfig=vim.cluster.DasConfigInfo(enabled=True),
        rulesSpec=[vim.cluster.RuleSpec(operation="remove", removeKey=rule.key)]))
    assert inv.config.rule == [] and inv.config.dasConfig.enabled is True
