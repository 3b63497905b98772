"""Host failure injection and the HA restart model (docs/vcsim.md, "Host failure and the HA model").

Every test has a lab of its own (`fresh_inv`, `fresh_vcsim`): failures are not undone.
"""

import time

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim

from .vsphere import HOSTS, host_of

H1, H2, H3, H4 = HOSTS


def running_vm(inv, name, host, priority=None, memory_mb=None):
    vm = inv.clone(name, host=host)
    if memory_mb:
        WaitForTask(vm.ReconfigVM_Task(vim.vm.ConfigSpec(memoryMB=memory_mb)), si=inv.si)
    if priority:
        inv.set_priority(vm, priority)
    inv.power_on(vm)
    return vm


def test_failed_host_restarts_vms_by_priority_respecting_anti_affinity(fresh_vcsim, fresh_inv):
    inv = fresh_inv
    inv.enable_ha()
    harbor = [running_vm(inv, "harbor-1", H1, "high"), running_vm(inv, "harbor-2", H2),
              running_vm(inv, "harbor-3", H3, "low")]
    inv.add_anti_affinity("harbor-spread", harbor)
    db = running_vm(inv, "db", H1, "highest")
    cache = running_vm(inv, "cache", H1, "lowest")
    scratch = running_vm(inv, "scratch", H1, "disabled")
    idle = inv.clone("idle", host=H1)  # powered off: HA has nothing to restart

    report = fresh_vcsim.fail_host(H1)

    assert report["host"] == H1 and report["ha_enabled"] is True and report["pending"] is False
    assert [(r["vm"], r["priority"], r["order"]) for r in report["restarted"]] == [
        ("db", "highest", 1), ("harbor-1", "high", 2), ("cache", "lowest", 3)]
    by_vm = {r["vm"]: r for r in report["restarted"]}
    # esx-04 is the only surviving host without another harbor VM.
    assert by_vm["harbor-1"]["to"] == H4 and by_vm["harbor-1"]["anti_affinity_violated"] is False
    assert all(r["from"] == H1 and r["to"] != H1 for r in report["restarted"])
    assert report["not_restarted"] == [{"vm": "scratch", "priority": "disabled", "reason": "restart priority disabled"}]

    # What pyVmomi sees.
    failed = inv.host(H1)
    assert failed.runtime.connectionState == "notResponding"
    assert failed.summary.runtime.connectionState == "notResponding"
    assert failed.overallStatus == "gray"
    assert inv.cluster.summary.numEffectiveHosts == 3 and inv.cluster.summary.numHosts == 4
    for vm in (db, harbor[0], cache):
        assert vm.runtime.powerState == "poweredOn" and vm.runtime.connectionState == "connected"
        assert host_of(vm) != H1 and vm in vm.runtime.host.vm
    assert host_of(harbor[0]) == H4
    assert len({host_of(vm) for vm in harbor}) == 3, "anti-affinity still holds"
    for vm in (scratch, idle):
        assert host_of(vm) == H1
        assert vm.runtime.powerState == "poweredOff" and vm.runtime.connectionState == "disconnected"

    restarts = inv.events("VmRestartedOnAlternateHostEvent")
    assert [e.vm.name for e in restarts] == ["db", "harbor-1", "cache"], "restart order, highest priority first"
    assert all(e.sourceHost.name == H1 for e in restarts)
    assert [e.failedHost.name for e in inv.events("DasHostFailedEvent")] == [H1]
    assert inv.events("DrsRuleViolationEvent") == []
    assert fresh_vcsim.control("GET", "/ha/log").json()[0]["restarted"] == report["restarted"]

    # Recovery: the host reconnects, its leftover VMs come back connected and powered off.
    recovered = fresh_vcsim.recover_host(H1)
    assert recovered["connection_state"] == "connected"
    assert {v["name"]: v["power_state"] for v in recovered["vms"]} == {"scratch": "poweredOff", "idle": "poweredOff",
                                                                        "debian-template": "poweredOff"}
    assert failed.runtime.connectionState == "connected" and failed.runtime.powerState == "poweredOn"
    assert scratch.runtime.connectionState == "connected" and scratch.runtime.powerState == "poweredOff"
    assert inv.cluster.summary.numEffectiveHosts == 4
    assert host_of(harbor[0]) == H4, "no rebalancing after recovery"
    inv.power_on(scratch)
    assert [e.host.name for e in inv.events("HostConnectedEvent")][-1] == H1


def test_anti_affinity_is_broken_only_when_no_host_satisfies_it(fresh_vcsim, fresh_inv):
    inv = fresh_inv
    inv.enable_ha()
    vms = [running_vm(inv, f"node-{i}", host) for i, host in enumerate(HOSTS)]
    inv.add_anti_affinity("spread-4", vms)

    report = fresh_vcsim.fail_host(H2)
    [restart] = report["restarted"]
    assert restart["vm"] == "node-1" and restart["anti_affinity_violated"] is True
    assert restart["violated_rules"] == ["spread-4"]
    assert vms[1].runtime.powerState == "poweredOn" and host_of(vms[1]) != H2
    [violation] = inv.events("DrsRuleViolationEvent")
    assert violation.vm.name == "node-1" and "spread-4" in violation.fullFormattedMessage


def test_strict_anti_affinity_option_leaves_the_vm_down(fresh_vcsim, fresh_inv):
    inv = fresh_inv
    inv.enable_ha(option=[vim.option.OptionValue(key="das.respectVmVmAntiAffinityRules", value="true")])
    vms = [running_vm(inv, f"node-{i}", host) for i, host in enumerate(HOSTS)]
    inv.add_anti_affinity("spread-4", vms)

    report = fresh_vcsim.fail_host(H3)
    assert report["restarted"] == []
    [down] = report["not_restarted"]
    assert down["vm"] == "node-2" and "anti-affinity" in down["reason"]
    assert vms[2].runtime.powerState == "poweredOff" and host_of(vms[2]) == H3
    [failed] = inv.events("VmFailoverFailed")
    assert failed.vm.name == "node-2"


def test_without_ha_vms_stay_down_and_cannot_be_powered_on(fresh_vcsim, fresh_inv):
    inv = fresh_inv
    vm = running_vm(inv, "lonely", H2)
    report = fresh_vcsim.fail_host(H2)
    assert report["ha_enabled"] is False and report["restarted"] == []
    assert report["not_restarted"] == [{"vm": "lonely", "reason": "vSphere HA is not enabled on the cluster"}]
    assert vm.runtime.powerState == "poweredOff" and vm.runtime.connectionState == "disconnected"
    with pytest.raises(vim.fault.InvalidHostConnectionState):
        inv.power_on(vm)
    # New VMs avoid the dead host; a host cannot fail twice.
    assert all(host_of(inv.clone(f"new-{i}")) != H2 for i in range(4))
    assert fresh_vcsim.control("POST", f"/hosts/{H2}/fail").status_code == 409

    fresh_vcsim.recover_host(H2)
    inv.power_on(vm)
    assert vm.runtime.powerState == "poweredOn" and host_of(vm) == H2


def test_the_template_is_unusable_while_its_host_is_down(fresh_vcsim, fresh_inv):
    inv = fresh_inv
    template_host = inv.template.runtime.host.name
    fresh_vcsim.fail_host(template_host)
    with pytest.raises(vim.fault.InvalidHostConnectionState):
        inv.clone("from-a-dead-host")
    fresh_vcsim.recover_host(template_host)
    assert inv.clone("from-a-live-host").runtime.host.name in HOSTS


def test_restart_delay_shows_the_outage_before_the_restart(fresh_vcsim, fresh_inv):
    inv = fresh_inv
    inv.enable_ha()
    vm = running_vm(inv, "patient", H4)
    report = fresh_vcsim.fail_host(H4, restart_delay=1.0)
    assert report["pending"] is True and report["restarted"] == []
    assert vm.runtime.powerState == "poweredOff" and vm.runtime.connectionState == "disconnected"
    deadline = time.monotonic() + 10
    while vm.runtime.powerState != "poweredOn" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert vm.runtime.powerState == "poweredOn" and host_of(vm) != H4
    [logged] = fresh_vcsim.control("GET", "/ha/log").json()
    assert logged["pending"] is False and logged["completed_at"]
    assert [r["vm"] for r in logged["restarted"]] == ["patient"]


def test_restarts_need_free_memory(fresh_vcsim, fresh_inv):
    inv = fresh_inv
    inv.enable_ha(admissionControlEnabled=False)
    for host in (H2, H3, H4):
        running_vm(inv, f"filler-{host[:6]}", host, memory_mb=40 * 1024)
    small = running_vm(inv, "small", H1, "high", memory_mb=16 * 1024)
    huge = running_vm(inv, "huge", H1, "highest", memory_mb=30 * 1024)

    report = fresh_vcsim.fail_host(H1)
    assert [r["vm"] for r in report["restarted"]] == ["small"]
    assert [(d["vm"], d["priority"]) for d in report["not_restarted"]] == [("huge", "highest")]
    assert huge.runtime.powerState == "poweredOff" and small.runtime.powerState == "poweredOn"
    assert [e.vm.name for e in inv.events("VmFailoverFailed")] == ["huge"]


def test_mandatory_vm_host_rule_and_failover_hosts(fresh_vcsim, fresh_inv):
    inv = fresh_inv
    app = running_vm(inv, "app", H1)
    other = running_vm(inv, "other", H1)
    inv.reconfigure(vim.cluster.ConfigSpecEx(groupSpec=[
        vim.cluster.GroupSpec(operation="add", info=vim.cluster.VmGroup(name="app-vms", vm=[app])),
        vim.cluster.GroupSpec(operation="add", info=vim.cluster.HostGroup(name="app-hosts", host=[inv.host(H1), inv.host(H3)])),
    ], rulesSpec=[vim.cluster.RuleSpec(operation="add", info=vim.cluster.VmHostRuleInfo(
        name="app-must-run-on", enabled=True, mandatory=True, vmGroupName="app-vms", affineHostGroupName="app-hosts"))]))
    # esx-02 is the dedicated failover host: HA tries it first for VMs allowed there.
    inv.enable_ha(admissionControlPolicy=vim.cluster.FailoverHostAdmissionControlPolicy(failoverHosts=[inv.host(H2)]))

    report = fresh_vcsim.fail_host(H1)
    placed = {r["vm"]: r["to"] for r in report["restarted"]}
    assert placed == {"app": H3, "other": H2}
    assert host_of(app) == H3 and host_of(other) == H2
