"""registryops.harbor.vsphere_cluster, vsphere_vm, vsphere_vm_rules and the vsphere_ha role, run through
ansible-playbook against the lab's vCenter simulator (docs/vcsim.md), every result read back with pyVmomi.

Each test gets a simulator of its own (a fresh inventory, ~0.2 s to start). Check mode is proven by
reading the whole cluster and VM inventory before and after: nothing may differ.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import pytest
import yaml
from pyVim.task import WaitForTask
from pyVmomi import vim

from ..vcsim.conftest import fresh_inv, fresh_vcsim, vcsim_binary  # noqa: F401  (fixtures reused)
from ..vcsim.vsphere import CLUSTER, HOSTS, SHARED_DS, TEMPLATE, VSAN_DS
from .ansible_runner import REPO, VENV_BIN, run_tasks

POLICY = "vSAN Default Storage Policy"


def connection_env(lab):
    """The modules' connection options, through their environment fallbacks (VMWARE_*)."""
    return dict(VMWARE_HOST=lab.info["hostname"], VMWARE_PORT=str(lab.info["port"]),
                VMWARE_USER=lab.info["username"], VMWARE_PASSWORD=lab.info["password"],
                VMWARE_VALIDATE_CERTS="false")


def run(lab, module, check=False, diff=False, env=None, **args):
    """One module call; returns its result (with `failed`)."""
    extra_env = dict(connection_env(lab), **(env or {}))
    # run_tasks' URL is for the Harbor modules' group defaults, unused here
    rc, results = run_tasks([{"name": module, "registryops.harbor." + module: args}], "http://127.0.0.1:9",
                            check=check, diff=diff, extra_env=extra_env)
    return results[0]


def snapshot(inv):
    """Everything the modules could change, as plain data: the cluster configuration and every VM."""
    config = inv.config
    das, drs, vsan = config.dasConfig, config.drsConfig, config.vsanConfigInfo
    policy = das.admissionControlPolicy
    vms = {}
    for vm in inv.all(vim.VirtualMachine):
        vms[vm._moId] = dict(
            name=vm.name, power=str(vm.runtime.powerState), host=vm.runtime.host.name, cpus=vm.config.hardware.numCPU,
            memory=vm.config.hardware.memoryMB, path=vm.config.files.vmPathName,
            devices=sorted((type(d).__name__, getattr(d, "capacityInKB", None)) for d in vm.config.hardware.device))
    return dict(
        das=(das.enabled, das.hostMonitoring, das.vmMonitoring, das.admissionControlEnabled, type(policy).__name__,
             getattr(policy, "failoverLevel", None), das.defaultVmSettings.isolationResponse,
             das.defaultVmSettings.restartPriority),
        drs=(drs.enabled, str(drs.defaultVmBehavior)),
        vsan=(vsan.enabled, vsan.defaultConfig.autoClaimStorage),
        rules=sorted((r.name, r.enabled, sorted(v.name for v in r.vm)) for r in config.rule or []),
        overrides=sorted((o.key.name, o.dasSettings.restartPriority, o.dasSettings.isolationResponse)
                         for o in config.dasVmConfig or []),
        datastores=sorted(ds.name for ds in inv.all(vim.Datastore)),
        vms=vms,
    )


def vm_count(inv):
    return len(inv.all(vim.VirtualMachine))


def enable_vsan(lab):
    result = run(lab, "vsphere_cluster", cluster=CLUSTER, vsan_enabled=True)
    assert not result["failed"], result


def registry_vm(lab, name, check=False, diff=False, **extra):
    args = dict(name=name, cluster=CLUSTER, template=TEMPLATE, datastore=VSAN_DS, storage_policy=POLICY,
                num_cpus=2, memory_mb=2048, disks=[{"size_gb": 16}, {"size_gb": 30}], network="VM Network")
    args.update(extra)
    return run(lab, "vsphere_vm", check=check, diff=diff, **args)


def disk_sizes_gb(vm):
    """Disk sizes in unit order (the simulator's device list is not in that order after an edit)."""
    disks = [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk)]
    return [d.capacityInKB // (1024 * 1024) for d in sorted(disks, key=lambda d: (d.controllerKey, d.unitNumber))]


def nic_network(vm, inv):
    nic = next(d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualEthernetCard))
    backing = nic.backing
    if isinstance(backing, vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo):
        return next(pg.name for pg in inv.all(vim.dvs.DistributedVirtualPortgroup)
                    if pg.key == backing.port.portgroupKey)
    return backing.network.name


# -- vsphere_cluster ---------------------------------------------------------------------------------------

HA_DRS_VSAN = dict(cluster=CLUSTER, ha_enabled=True, ha_host_monitoring=True, ha_admission_control="host_failures",
                   ha_failover_level=1, ha_isolation_response="powerOff", ha_vm_monitoring="vmMonitoringOnly",
                   ha_restart_priority="high", drs_enabled=True, drs_automation_level="fullyAutomated",
                   vsan_enabled=True, vsan_auto_claim_disks=True)


def test_cluster_check_mode_apply_idempotence_diff(fresh_vcsim, fresh_inv):
    before = snapshot(fresh_inv)
    checked = run(fresh_vcsim, "vsphere_cluster", check=True, diff=True, **HA_DRS_VSAN)
    assert checked["changed"] and not checked["failed"], checked
    assert checked["diff"]["before"]["ha_enabled"] is False and checked["diff"]["after"]["ha_enabled"] is True
    assert checked["diff"]["before"]["vsan_enabled"] is False and checked["diff"]["after"]["vsan_enabled"] is True
    assert snapshot(fresh_inv) == before  # check mode: nothing changed on the simulator

    applied = run(fresh_vcsim, "vsphere_cluster", diff=True, **HA_DRS_VSAN)
    assert applied["changed"] and not applied["failed"], applied
    assert set(applied["changes"]) == {"ha_enabled", "ha_admission_control", "ha_failover_level",
                                       "ha_isolation_response", "ha_vm_monitoring", "ha_restart_priority",
                                       "vsan_enabled", "vsan_auto_claim_disks"}  # DRS was already so
    config = fresh_inv.config
    das = config.dasConfig
    assert das.enabled and das.hostMonitoring == "enabled" and das.vmMonitoring == "vmMonitoringOnly"
    assert das.admissionControlEnabled
    assert isinstance(das.admissionControlPolicy, vim.cluster.FailoverLevelAdmissionControlPolicy)
    assert das.admissionControlPolicy.failoverLevel == 1
    assert das.defaultVmSettings.isolationResponse == "powerOff"
    assert das.defaultVmSettings.restartPriority == "high"
    assert config.drsConfig.enabled and config.drsConfig.defaultVmBehavior == "fullyAutomated"
    assert config.vsanConfigInfo.enabled and config.vsanConfigInfo.defaultConfig.autoClaimStorage
    vsan_ds = fresh_inv.datastore(VSAN_DS)
    assert vsan_ds is not None and vsan_ds.summary.type == "vsan"
    assert applied["cluster"]["hosts"] == HOSTS

    again = run(fresh_vcsim, "vsphere_cluster", **HA_DRS_VSAN)
    assert not again["changed"] and not again["failed"], again
    assert again["changes"] == {}

    # only the options given are compared and changed
    settled = snapshot(fresh_inv)
    manual = run(fresh_vcsim, "vsphere_cluster", diff=True, cluster=CLUSTER, drs_automation_level="manual")
    assert manual["changed"] and list(manual["changes"]) == ["drs_automation_level"]
    assert manual["diff"]["before"]["drs_automation_level"] == "fullyAutomated"
    after = snapshot(fresh_inv)
    assert after["drs"] == (True, "manual")
    assert after["das"] == settled["das"] and after["vsan"] == settled["vsan"]

    # another admission control policy replaces the first one
    percent = run(fresh_vcsim, "vsphere_cluster", cluster=CLUSTER, ha_admission_control="percentage",
                  ha_cpu_failover_percent=25, ha_memory_failover_percent=30)
    assert percent["changed"], percent
    policy = fresh_inv.config.dasConfig.admissionControlPolicy
    assert isinstance(policy, vim.cluster.FailoverResourcesAdmissionControlPolicy)
    assert (policy.cpuFailoverResourcesPercent, policy.memoryFailoverResourcesPercent) == (25, 30)
    assert not policy.autoComputePercentages
    assert not run(fresh_vcsim, "vsphere_cluster", cluster=CLUSTER, ha_admission_control="percentage",
                   ha_cpu_failover_percent=25, ha_memory_failover_percent=30)["changed"]
    off = run(fresh_vcsim, "vsphere_cluster", cluster=CLUSTER, ha_admission_control="disabled")
    assert off["changed"] and not fresh_inv.config.dasConfig.admissionControlEnabled


def test_cluster_errors_before_any_write(fresh_vcsim, fresh_inv):
    before = snapshot(fresh_inv)
    cases = [
        (dict(cluster="Nope", ha_enabled=True), "no cluster named 'Nope'", "Lab-Cluster"),
        (dict(cluster=CLUSTER, ha_enabled=True, ha_admission_control="host_failures", ha_failover_level=4),
         "less than the cluster's 4 hosts", None),
        (dict(cluster=CLUSTER, ha_admission_control="percentage", ha_cpu_failover_percent=150,
              ha_memory_failover_percent=20), "between 1 and 100", None),
        (dict(cluster=CLUSTER, ha_failover_level=1), "only used with ha_admission_control=host_failures", None),
        (dict(cluster=CLUSTER, ha_admission_control="host_failures"), "ha_failover_level", None),
        (dict(cluster=CLUSTER, drs_automation_level="sometimes"), "drs_automation_level", None),
        (dict(cluster=CLUSTER, datacenter="Elsewhere", ha_enabled=True), "no datacenter named 'Elsewhere'", "Lab-DC"),
    ]
    for args, message, listed in cases:
        result = run(fresh_vcsim, "vsphere_cluster", **args)
        assert result["failed"] and message in result["msg"], (args, result)
        if listed:
            assert listed in result["msg"]  # the error says what exists
    assert snapshot(fresh_inv) == before


def test_connection_errors_and_secrets(fresh_vcsim, fresh_inv):
    lab = fresh_vcsim
    wrong = run(lab, "vsphere_cluster", env={"VMWARE_PASSWORD": "not-the-password"}, cluster=CLUSTER, ha_enabled=True)
    assert wrong["failed"] and "refused the login" in wrong["msg"] and "not-the-password" not in json.dumps(wrong)

    # certificate verification is on by default: the lab's self-signed certificate is refused...
    strict = run(lab, "vsphere_cluster", env={"VMWARE_VALIDATE_CERTS": "true"}, cluster=CLUSTER)
    assert strict["failed"] and "TLS" in strict["msg"] and "validate_certs" in strict["msg"], strict
    # ...and accepted once the system trusts its CA (OpenSSL reads SSL_CERT_FILE)
    trusted = run(lab, "vsphere_cluster", env={"VMWARE_VALIDATE_CERTS": "true", "SSL_CERT_FILE": lab.info["ca_file"]},
                  cluster=CLUSTER, drs_enabled=True)
    assert not trusted["failed"] and not trusted["changed"], trusted

    closed = run(lab, "vsphere_cluster", env={"VMWARE_PORT": "9"}, cluster=CLUSTER)
    assert closed["failed"] and "cannot reach vCenter at 127.0.0.1:9" in closed["msg"]

    # options given in the task itself: the password never shows in the result or the invocation
    rc, results = run_tasks([{"registryops.harbor.vsphere_cluster": {
        "hostname": lab.info["hostname"], "port": lab.info["port"], "username": lab.info["username"],
        "password": lab.info["password"], "validate_certs": False, "cluster": CLUSTER, "drs_enabled": True}}],
        "http://127.0.0.1:9")
    assert not results[0]["failed"], results[0]
    assert lab.info["password"] not in json.dumps(results)


# -- vsphere_vm --------------------------------------------------------------------------------------------


def test_vm_clone_on_vsan_lifecycle(fresh_vcsim, fresh_inv):
    lab, inv = fresh_vcsim, fresh_inv
    enable_vsan(lab)

    before = snapshot(inv)
    checked = registry_vm(lab, "harbor-1", check=True, diff=True, state="poweredon")
    assert checked["changed"] and not checked["failed"], checked
    assert checked["changes"] == ["created from debian-template", "power: poweredOff -> poweredOn"]
    assert checked["diff"]["before"] == {} and checked["diff"]["after"]["datastore"] == VSAN_DS
    assert snapshot(inv) == before and inv.vm("harbor-1") is None

    created = registry_vm(lab, "harbor-1", diff=True)
    assert created["changed"] and not created["failed"], created
    vm = inv.vm("harbor-1")
    assert vm.config.files.vmPathName.startswith("[%s]" % VSAN_DS)
    assert [ds.name for ds in vm.datastore] == [VSAN_DS]
    assert vm.config.hardware.numCPU == 2 and vm.config.hardware.memoryMB == 2048
    assert disk_sizes_gb(vm) == [16, 30]  # the template's 16 GiB disk, plus one
    assert nic_network(vm, inv) == "VM Network"
    assert vm.runtime.powerState == "poweredOff"  # present: created, not powered on
    assert vm.resourcePool.owner.name == CLUSTER
    assert created["vm"]["moid"] == vm._moId and created["vm"]["disks"] == [{"size_gb": 16}, {"size_gb": 30}]

    again = registry_vm(lab, "harbor-1")
    assert not again["changed"] and not again["failed"], again

    grown = registry_vm(lab, "harbor-1", diff=True, memory_mb=4096, disks=[{"size_gb": 20}, {"size_gb": 30},
                                                                          {"size_gb": 5}], network="Lab-Network")
    assert grown["changed"], grown
    assert grown["changes"] == ["memory_mb: 2048 -> 4096", "disk 1: grown to 20 GiB", "disk 3: added, 5 GiB",
                                "network: VM Network -> Lab-Network"]
    assert grown["diff"]["before"]["memory_mb"] == 2048 and grown["diff"]["after"]["memory_mb"] == 4096
    vm = inv.vm("harbor-1")
    assert vm.config.hardware.memoryMB == 4096 and disk_sizes_gb(vm) == [20, 30, 5]
    assert nic_network(vm, inv) == "Lab-Network"

    on = run(lab, "vsphere_vm", name="harbor-1", state="poweredon")
    assert on["changed"] and inv.vm("harbor-1").runtime.powerState == "poweredOn"
    assert not run(lab, "vsphere_vm", name="harbor-1", state="poweredon")["changed"]
    hot = run(lab, "vsphere_vm", name="harbor-1", num_cpus=4)
    assert hot["failed"] and "CPU hot add" in hot["msg"] and inv.vm("harbor-1").config.hardware.numCPU == 2
    off = run(lab, "vsphere_vm", name="harbor-1", state="poweredoff", check=True)
    assert off["changed"] and inv.vm("harbor-1").runtime.powerState == "poweredOn"
    assert run(lab, "vsphere_vm", name="harbor-1", state="poweredoff")["changed"]
    assert inv.vm("harbor-1").runtime.powerState == "poweredOff"

    shrink = registry_vm(lab, "harbor-1", disks=[{"size_gb": 10}])
    assert shrink["failed"] and "never shrunk" in shrink["msg"]

    count = vm_count(inv)
    assert run(lab, "vsphere_vm", name="harbor-1", state="absent", check=True)["changed"]
    assert vm_count(inv) == count
    gone = run(lab, "vsphere_vm", name="harbor-1", state="absent", diff=True)
    assert gone["changed"] and gone["diff"]["after"] == {} and inv.vm("harbor-1") is None
    assert not run(lab, "vsphere_vm", name="harbor-1", state="absent")["changed"]


def test_vm_from_scratch_on_a_distributed_port_group(fresh_vcsim, fresh_inv):
    lab, inv = fresh_vcsim, fresh_inv
    enable_vsan(lab)
    args = dict(name="scratch-1", cluster=CLUSTER, datastore=VSAN_DS, host=HOSTS[2], num_cpus=1, memory_mb=1024,
                disks=[{"size_gb": 8}, {"size_gb": 4}], network="Lab-Network", state="poweredon")
    created = run(lab, "vsphere_vm", **args)
    assert created["changed"] and not created["failed"], created
    vm = inv.vm("scratch-1")
    assert vm.config.guestId == "otherLinux64Guest" and disk_sizes_gb(vm) == [8, 4]
    assert nic_network(vm, inv) == "Lab-Network" and vm.runtime.host.name == HOSTS[2]
    assert vm.runtime.powerState == "poweredOn" and vm.config.files.vmPathName.startswith("[%s]" % VSAN_DS)
    assert not run(lab, "vsphere_vm", **args)["changed"]


def test_vm_refuses_bad_input_before_creating_anything(fresh_vcsim, fresh_inv):
    lab, inv = fresh_vcsim, fresh_inv
    enable_vsan(lab)
    before = snapshot(inv)
    cases = [
        (dict(datastore="nfs-missing"), "no datastore named 'nfs-missing'"),
        (dict(template="centos-template"), "no template or VM named 'centos-template'"),
        (dict(network="DMZ"), "no network named 'DMZ'"),
        (dict(storage_policy="Gold"), "no storage policy named 'Gold'"),
        (dict(host="esx-99.lab.local"), "host 'esx-99.lab.local' is not in cluster"),
        (dict(cluster="Other"), "no cluster named 'Other'"),
        (dict(datastore=None), "creating it needs datastore"),
        (dict(disks=[{"size_gb": 0}]), "at least 1"),
    ]
    for extra, message in cases:
        result = registry_vm(lab, "harbor-x", **extra)
        assert result["failed"] and message in result["msg"], (extra, result)
    assert "vSAN Default Storage Policy" in registry_vm(lab, "harbor-x", storage_policy="Gold")["msg"]
    assert snapshot(inv) == before  # not even a half-made VM

    # a name vCenter holds twice (the simulator, like vCenter, allows it in two folders)
    folder = inv.dc.vmFolder.CreateFolder("elsewhere")
    inv.clone("dup", folder=None)
    inv.clone("dup", folder=folder)
    count = vm_count(inv)
    twice = registry_vm(lab, "dup")
    assert twice["failed"] and "2 VMs are named 'dup'" in twice["msg"], twice
    assert vm_count(inv) == count

    # the name is taken by a VM on another datastore: never a second one, never a silent pass
    inv.clone("taken", datastore=SHARED_DS)
    count = vm_count(inv)
    taken = registry_vm(lab, "taken")
    assert taken["failed"] and "exists on datastore 'shared-ds', not 'vsanDatastore'" in taken["msg"], taken
    assert vm_count(inv) == count


def test_wait_for_ip_is_bounded(fresh_vcsim, fresh_inv):
    lab, inv = fresh_vcsim, fresh_inv
    enable_vsan(lab)
    started = time.monotonic()
    result = registry_vm(lab, "harbor-ip", state="poweredon", wait_for_ip=True, wait_for_ip_timeout=3)
    assert result["failed"] and "no IP address within 3 seconds" in result["msg"], result
    assert time.monotonic() - started < 30

    # VMware Tools report an address (the simulator takes it through extraConfig)
    vm = inv.vm("harbor-ip")
    spec = vim.vm.ConfigSpec(extraConfig=[vim.option.OptionValue(key="SET.guest.ipAddress", value="192.0.2.11")])
    WaitForTask(vm.ReconfigVM_Task(spec=spec), si=inv.si)
    ready = registry_vm(lab, "harbor-ip", state="poweredon", wait_for_ip=True, wait_for_ip_timeout=3)
    assert not ready["failed"] and ready["vm"]["ip_address"] == "192.0.2.11", ready


# -- vsphere_vm_rules --------------------------------------------------------------------------------------


def test_rules_anti_affinity_overrides_and_spread(fresh_vcsim, fresh_inv):
    lab, inv = fresh_vcsim, fresh_inv
    enable_vsan(lab)
    # two of the three on the same host, as a manual DRS (or an operator) may leave them
    for name, host in (("harbor-1", HOSTS[0]), ("harbor-2", HOSTS[0]), ("harbor-3", HOSTS[1])):
        result = registry_vm(lab, name, host=host, state="poweredon")
        assert not result["failed"], result
    names = ["harbor-1", "harbor-2", "harbor-3"]
    args = dict(cluster=CLUSTER, name="harbor-anti-affinity", vms=names, ha_restart_priority="highest",
                ha_isolation_response="powerOff", spread=True)

    before = snapshot(inv)
    checked = run(lab, "vsphere_vm_rules", check=True, diff=True, **args)
    assert checked["changed"] and not checked["failed"], checked
    assert checked["shared_hosts"] == {} and checked["diff"]["before"]["shared_hosts"] == {HOSTS[0]: ["harbor-1",
                                                                                                         "harbor-2"]}
    assert "harbor-2 moved esx-01.lab.local -> esx-03.lab.local" in checked["changes"]
    assert snapshot(inv) == before

    applied = run(lab, "vsphere_vm_rules", diff=True, **args)
    assert applied["changed"] and not applied["failed"], applied
    assert applied["rule"] == {"name": "harbor-anti-affinity", "enabled": True, "mandatory": False, "vms": names}
    rule = next(r for r in inv.config.rule if r.name == "harbor-anti-affinity")
    assert isinstance(rule, vim.cluster.AntiAffinityRuleSpec) and rule.enabled
    assert sorted(vm.name for vm in rule.vm) == names
    overrides = {o.key.name: o.dasSettings for o in inv.config.dasVmConfig}
    assert {name: (overrides[name].restartPriority, overrides[name].isolationResponse) for name in names} == {
        name: ("highest", "powerOff") for name in names}
    hosts = {name: inv.vm(name).runtime.host.name for name in names}
    assert len(set(hosts.values())) == 3, hosts  # never two on one host
    assert applied["placement"] == hosts and applied["shared_hosts"] == {}

    again = run(lab, "vsphere_vm_rules", **args)
    assert not again["changed"] and again["changes"] == [], again

    # one option changes, the other override field is kept
    low = run(lab, "vsphere_vm_rules", diff=True, cluster=CLUSTER, name="harbor-anti-affinity", vms=names,
              ha_restart_priority="high")
    assert low["changed"] and low["changes"] == ["%s: restart priority highest -> high" % n for n in names]
    overrides = {o.key.name: o.dasSettings for o in inv.config.dasVmConfig}
    assert {(overrides[n].restartPriority, overrides[n].isolationResponse) for n in names} == {("high", "powerOff")}

    # the rule's members follow the list
    fewer = run(lab, "vsphere_vm_rules", cluster=CLUSTER, name="harbor-anti-affinity", vms=names[:2])
    assert fewer["changed"] and sorted(v.name for v in inv.config.rule[0].vm) == names[:2]

    removed = run(lab, "vsphere_vm_rules", cluster=CLUSTER, name="harbor-anti-affinity", vms=names, state="absent")
    assert removed["changed"] and not removed["failed"], removed
    assert not [r for r in inv.config.rule or [] if r.name == "harbor-anti-affinity"]
    assert not [o for o in inv.config.dasVmConfig or [] if o.key.name in names]
    assert not run(lab, "vsphere_vm_rules", cluster=CLUSTER, name="harbor-anti-affinity", vms=names,
                   state="absent")["changed"]


def test_rules_errors_before_any_write(fresh_vcsim, fresh_inv):
    lab, inv = fresh_vcsim, fresh_inv
    inv.clone("harbor-1")
    inv.clone("harbor-2")
    before = snapshot(inv)
    cases = [
        (dict(vms=["harbor-1", "harbor-9"]), "no VM named 'harbor-9' in cluster"),
        (dict(vms=["harbor-1"]), "at least two different VMs"),
        (dict(vms=["harbor-1", "harbor-1"]), "at least two different VMs"),
        (dict(vms=["harbor-1", "harbor-2"], ha_restart_priority="urgent"), "ha_restart_priority"),
        (dict(vms=["harbor-1", "harbor-2"], cluster="Nope"), "no cluster named 'Nope'"),
    ]
    for extra, message in cases:
        args = dict({"cluster": CLUSTER, "name": "r"}, **extra)
        result = run(lab, "vsphere_vm_rules", **args)
        assert result["failed"] and message in result["msg"], (extra, result)
    assert snapshot(inv) == before


# -- the role, end to end ----------------------------------------------------------------------------------


# play 1 of playbooks/ha_vsphere.yml, then what play 2 would get instead of the harbor_node role
HAND_OVER_PLAYBOOK = [
    {"name": "The role", "hosts": "vsphere_clusters", "gather_facts": False,
     "roles": [{"role": "registryops.harbor.vsphere_ha"}]},
    {"name": "What the Harbor play gets", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Report the groups", "ansible.builtin.debug": {"msg": {
            "nodes": "{{ groups['vsphere_harbor_nodes'] | default([]) }}",
            "layout": "{{ groups['harbor_shared_storage'] | default([]) }}",
            "addresses": "{{ groups['vsphere_harbor_nodes'] | default([]) | map('extract', hostvars, 'ansible_host')"
                         " | list }}"}}}]},
]


def run_playbook(lab, inventory, check=False, playbook=None):
    """playbooks/ha_vsphere.yml (or `playbook`, a list of plays) with `inventory`;
    returns (rc, task results, output)."""
    with tempfile.TemporaryDirectory() as work:
        inventory_path = os.path.join(work, "hosts.yml")
        with open(inventory_path, "w") as handle:
            yaml.safe_dump(inventory, handle)
        results_file = os.path.join(work, "results.jsonl")
        env = dict(os.environ, TASK_RESULTS_FILE=results_file, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                   ANSIBLE_CALLBACK_PLUGINS=os.path.join(os.path.dirname(os.path.abspath(__file__)), "callback_plugins"),
                   ANSIBLE_CALLBACKS_ENABLED="task_results", ANSIBLE_NOCOLOR="1")
        playbook_path = os.path.join(REPO, "playbooks", "ha_vsphere.yml")
        if playbook is not None:
            playbook_path = os.path.join(work, "playbook.yml")
            with open(playbook_path, "w") as handle:
                yaml.safe_dump(playbook, handle)
        cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", inventory_path, playbook_path]
        cmd += ["--check"] if check else []
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        with open(results_file) as handle:
            results = [json.loads(line) for line in handle if line.strip()]
    return proc.returncode, results, proc.stdout + proc.stderr


def lab_inventory(lab, **overrides):
    cluster_vars = dict(
        ansible_connection="local", ansible_python_interpreter=sys.executable,
        vsphere_ha_hostname=lab.info["hostname"], vsphere_ha_port=lab.info["port"],
        vsphere_ha_username=lab.info["username"], vsphere_ha_password=lab.info["password"],
        vsphere_ha_validate_certs=False, vsphere_ha_cluster=CLUSTER, vsphere_ha_datacenter="Lab-DC",
        vsphere_ha_template=TEMPLATE, vsphere_ha_vm_memory_mb=4096, vsphere_ha_vm_num_cpus=2,
        vsphere_ha_vm_disks=[{"size_gb": 16}, {"size_gb": 50}])
    cluster_vars.update(overrides)
    return {"all": {"children": {"vsphere_clusters": {"hosts": {"registry-cluster": cluster_vars}},
                                 "vsphere_harbor_nodes": {"hosts": {}}}}}


def test_role_end_to_end_with_host_failure(fresh_vcsim, fresh_inv):
    lab, inv = fresh_vcsim, fresh_inv
    inventory = lab_inventory(lab)

    rc, results, output = run_playbook(lab, inventory)
    assert rc == 0, output[-4000:]
    assert any(r.get("changed") for r in results)
    config = inv.config
    assert config.dasConfig.enabled and config.drsConfig.defaultVmBehavior == "fullyAutomated"
    assert config.vsanConfigInfo.enabled
    names = ["harbor-1", "harbor-2", "harbor-3"]
    vms = [inv.vm(name) for name in names]
    assert all(vm.runtime.powerState == "poweredOn" for vm in vms)
    assert all([ds.name for ds in vm.datastore] == [VSAN_DS] for vm in vms)
    assert len({vm.runtime.host.name for vm in vms}) == 3
    rule = next(r for r in config.rule if r.name == "harbor-anti-affinity")
    assert sorted(vm.name for vm in rule.vm) == names
    assert {o.key.name: o.dasSettings.restartPriority for o in config.dasVmConfig} == dict.fromkeys(names, "highest")

    rc, results, output = run_playbook(lab, inventory)
    assert rc == 0, output[-4000:]
    changed = [r.get("item", "") or r.get("msg", "") for r in results if r.get("changed")]
    assert changed == [], changed  # idempotent

    # once VMware Tools report addresses, the VMs are handed to the Harbor play by address
    for index, name in enumerate(names):
        spec = vim.vm.ConfigSpec(extraConfig=[vim.option.OptionValue(key="SET.guest.ipAddress",
                                                                     value="192.0.2.%d" % (11 + index))])
        WaitForTask(inv.vm(name).ReconfigVM_Task(spec=spec), si=inv.si)
    rc, results, output = run_playbook(lab, lab_inventory(lab, vsphere_ha_deploy_harbor=True,
                                                          vsphere_ha_wait_for_ip_timeout=5),
                                       playbook=HAND_OVER_PLAYBOOK)
    assert rc == 0, output[-4000:]
    handed = results[-1]["msg"]
    assert handed == {"nodes": names, "layout": names, "addresses": ["192.0.2.11", "192.0.2.12", "192.0.2.13"]}

    # pull the power of the host of harbor-2: HA restarts it elsewhere, still apart from the others
    failed_host = inv.vm("harbor-2").runtime.host.name
    report = lab.fail_host(failed_host)
    assert [r["vm"] for r in report["restarted"]] == ["harbor-2"], report
    vm = inv.vm("harbor-2")
    assert vm.runtime.powerState == "poweredOn" and vm.runtime.host.name != failed_host
    assert len({inv.vm(name).runtime.host.name for name in names}) == 3
    assert not report["restarted"][0]["anti_affinity_violated"]


def test_role_refuses_harbor_without_addresses(fresh_vcsim, fresh_inv):
    rc, results, output = run_playbook(fresh_vcsim, lab_inventory(fresh_vcsim, vsphere_ha_deploy_harbor=True,
                                                                  vsphere_ha_wait_for_ip=False))
    assert rc != 0
    failure = next(r for r in results if r.get("failed"))
    assert "No IP address for harbor-1, harbor-2, harbor-3" in failure["msg"], failure
