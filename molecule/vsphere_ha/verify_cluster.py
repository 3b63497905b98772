"""LAB ONLY verifier of the vsphere_ha scenario: reads the cluster back through pyVmomi (TLS verified
against the simulator's CA), then pulls the power of one registry VM's host through the simulator's
control endpoint and measures how long until that VM runs again on a surviving host.

    python verify_cluster.py INFO_FILE CLUSTER DATASTORE RULE VM [VM ...]

Prints one JSON line of facts and "FIGURE ..." lines; exits 1 with every failed check listed.
"""

import json
import ssl
import sys
import time

import requests
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

RESTART_TIMEOUT = 60  # seconds the verifier waits for HA to restart the VM


def find(content, vimtype, name):
    view = content.viewManager.CreateContainerView(content.rootFolder, [vimtype], True)
    try:
        return next((obj for obj in view.view if obj.name == name), None)
    finally:
        view.DestroyView()


def running_hosts(vms):
    return {vm.name: vm.runtime.host.name for vm in vms if vm.runtime.powerState == "poweredOn"}


def main(info_file, cluster_name, datastore_name, rule_name, *vm_names):
    with open(info_file) as handle:
        info = json.load(handle)
    context = ssl.create_default_context(cafile=info["ca_file"])
    si = SmartConnect(host=info["hostname"], port=info["port"], user=info["username"], pwd=info["password"],
                      sslContext=context)
    problems = []

    def check(condition, message):
        if not condition:
            problems.append(message)

    try:
        content = si.RetrieveContent()
        cluster = find(content, vim.ClusterComputeResource, cluster_name)
        config = cluster.configurationEx
        das, drs, vsan = config.dasConfig, config.drsConfig, config.vsanConfigInfo
        check(das.enabled and das.hostMonitoring == "enabled", "HA with host monitoring is not enabled")
        check(das.admissionControlEnabled, "HA admission control is off")
        check(drs.enabled and drs.defaultVmBehavior == "fullyAutomated", "DRS is not fully automated")
        check(vsan.enabled, "vSAN is not enabled")
        datastore = find(content, vim.Datastore, datastore_name)
        check(datastore is not None and datastore.summary.type == "vsan", "no vSAN datastore %s" % datastore_name)

        vms = [find(content, vim.VirtualMachine, name) for name in vm_names]
        check(all(vms), "registry VMs missing: %s" % [n for n, vm in zip(vm_names, vms) if vm is None])
        vms = [vm for vm in vms if vm is not None]
        for vm in vms:
            check([ds.name for ds in vm.datastore] == [datastore_name], "%s is not (only) on %s" % (vm.name, datastore_name))
            check(vm.runtime.powerState == "poweredOn", "%s is not powered on" % vm.name)
        placement = running_hosts(vms)
        check(len(set(placement.values())) == len(vms), "registry VMs share a host: %s" % placement)
        rule = next((r for r in config.rule or [] if r.name == rule_name), None)
        check(isinstance(rule, vim.cluster.AntiAffinityRuleSpec) and rule.enabled
              and sorted(vm.name for vm in rule.vm) == sorted(vm_names), "anti-affinity rule %s is wrong" % rule_name)
        priorities = {o.key.name: o.dasSettings.restartPriority for o in config.dasVmConfig or []}
        check(all(priorities.get(name) == "highest" for name in vm_names), "HA overrides: %s" % priorities)

        # fail the host of the first registry VM; HA must restart it on a host of its own
        victim = vms[0]
        failed_host = placement.get(victim.name)
        started = time.monotonic()
        response = requests.post("%s/hosts/%s/fail" % (info["control_url"], failed_host), timeout=30)
        check(response.status_code == 200, "failing %s: HTTP %s %s" % (failed_host, response.status_code, response.text))
        restart_seconds = None
        while time.monotonic() - started < RESTART_TIMEOUT:
            if victim.runtime.powerState == "poweredOn" and victim.runtime.host.name != failed_host:
                restart_seconds = time.monotonic() - started
                break
            time.sleep(0.05)
        check(restart_seconds is not None, "%s was not restarted within %d s" % (victim.name, RESTART_TIMEOUT))
        after = running_hosts(vms)
        usable = [h for h in cluster.host if h.runtime.connectionState == "connected"]
        # apart where the surviving hosts allow it
        check(len(set(after.values())) == min(len(vms), len(usable)), "after the failure VMs share a host: %s" % after)
        print(json.dumps(dict(placement_before=placement, failed_host=failed_host, placement_after=after,
                              restart_seconds=restart_seconds, report=response.json() if response.ok else None)))
        if restart_seconds is not None:
            print("FIGURE vsphere_ha: %s restarted on %s %.2f s after its host %s failed (the simulator's HA model, "
                  "not vSphere's timing)" % (victim.name, after[victim.name], restart_seconds, failed_host))
    finally:
        Disconnect(si)
    if problems:
        print("FAILED: " + "; ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
