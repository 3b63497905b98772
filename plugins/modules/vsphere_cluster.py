#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vsphere_cluster
short_description: Configure vSphere HA, DRS and vSAN of a vCenter cluster
version_added: 0.1.0
description:
  - Sets a cluster's vSphere HA (host monitoring, admission control, isolation response, VM monitoring), DRS
    (automation level) and vSAN (enablement, automatic disk claiming) in one C(ReconfigureComputeResource_Task).
  - vSAN is enabled through the C(vsanConfig) of the cluster's C(ClusterConfigSpecEx), part of the vSphere API
    itself, so no separate vSAN Management SDK is needed.
  - Only the options you set are compared and changed; everything else stays as it is. After a change the module
    reads the configuration back and fails if vCenter did not keep what it was asked to set.
  - The cluster must exist (create it and add hosts with your usual vCenter tooling).
author:
  - registryops.harbor maintainers (@registryops)
extends_documentation_fragment:
  - registryops.harbor.vsphere
attributes:
  check_mode:
    support: full
    description: In check mode the configuration is read and compared; nothing is sent to vCenter.
  diff_mode:
    support: full
    description: Shows the cluster's HA, DRS and vSAN settings before and after.
options:
  cluster:
    description: Name of the cluster.
    type: str
    required: true
  datacenter:
    description: Datacenter of the cluster; needed only when several datacenters have a cluster of that name.
    type: str
  ha_enabled:
    description: Turn vSphere HA on or off.
    type: bool
  ha_host_monitoring:
    description: Whether HA restarts the VMs of a failed host (HA host monitoring).
    type: bool
  ha_vm_monitoring:
    description: HA's response to lost VM heartbeats (VMware Tools) and, with V(vmAndAppMonitoring), application ones.
    type: str
    choices: [vmMonitoringDisabled, vmMonitoringOnly, vmAndAppMonitoring]
  ha_isolation_response:
    description: What a host that finds itself isolated does with its VMs, by default (per-VM overrides win).
    type: str
    choices: [none, powerOff, shutdown]
  ha_restart_priority:
    description: Default restart priority of the cluster's VMs (per-VM overrides win).
    type: str
    choices: [disabled, lowest, low, medium, high, highest]
  ha_admission_control:
    description:
      - V(disabled) turns admission control off.
      - V(host_failures) reserves capacity for O(ha_failover_level) failed hosts.
      - V(percentage) reserves O(ha_cpu_failover_percent) of the CPU and O(ha_memory_failover_percent) of the memory.
    type: str
    choices: [disabled, host_failures, percentage]
  ha_failover_level:
    description:
      - Number of host failures the cluster tolerates, with O(ha_admission_control=host_failures).
      - At least 1 and less than the number of hosts in the cluster.
    type: int
  ha_cpu_failover_percent:
    description: Share of the cluster's CPU (1-100) reserved for failover, with O(ha_admission_control=percentage).
    type: int
  ha_memory_failover_percent:
    description: Share of the cluster's memory (1-100) reserved for failover, with O(ha_admission_control=percentage).
    type: int
  drs_enabled:
    description: Turn DRS on or off.
    type: bool
  drs_automation_level:
    description:
      - V(fullyAutomated) places and migrates VMs itself (what anti-affinity rules need to be enforced);
        V(partiallyAutomated) only places them; V(manual) only recommends.
    type: str
    choices: [manual, partiallyAutomated, fullyAutomated]
  vsan_enabled:
    description: Turn the vSAN service of the cluster on or off.
    type: bool
  vsan_auto_claim_disks:
    description:
      - Whether vSAN claims the hosts' empty local disks by itself.
      - vCenter turns this on when vSAN is enabled and the option is not given; the vSphere API marks it
        deprecated, so newer vSAN releases may ignore it (claim the disks with the vSphere Client then).
    type: bool
"""

EXAMPLES = r"""
- name: HA, DRS and vSAN for the registry cluster
  registryops.harbor.vsphere_cluster:
    hostname: vcenter.example.com
    username: administrator@vsphere.local
    password: "{{ vault_vcenter_password }}"
    datacenter: dc1
    cluster: registry
    ha_enabled: true
    ha_host_monitoring: true
    ha_admission_control: host_failures
    ha_failover_level: 1
    ha_isolation_response: powerOff
    ha_vm_monitoring: vmMonitoringOnly
    drs_enabled: true
    drs_automation_level: fullyAutomated
    vsan_enabled: true
    vsan_auto_claim_disks: true
  delegate_to: localhost

- name: Reserve a quarter of the cluster for failover instead
  registryops.harbor.vsphere_cluster:
    cluster: registry
    ha_admission_control: percentage
    ha_cpu_failover_percent: 25
    ha_memory_failover_percent: 25
  delegate_to: localhost
"""

RETURN = r"""
cluster:
  description: The cluster's HA, DRS and vSAN settings as read back after the run (the options of this module).
  returned: always
  type: dict
  sample:
    name: registry
    ha_enabled: true
    ha_host_monitoring: true
    ha_vm_monitoring: vmMonitoringOnly
    ha_isolation_response: powerOff
    ha_restart_priority: medium
    ha_admission_control: host_failures
    ha_failover_level: 1
    ha_cpu_failover_percent: null
    ha_memory_failover_percent: null
    drs_enabled: true
    drs_automation_level: fullyAutomated
    vsan_enabled: true
    vsan_auto_claim_disks: true
    hosts: [esx1.example.com, esx2.example.com, esx3.example.com]
changes:
  description: The options that differed, with the value found and the value set.
  returned: always
  type: dict
  sample:
    ha_enabled: {before: false, after: true}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.registryops.harbor.plugins.module_utils.vsphere.connection import (
    VSphereError, run, vsphere_argument_spec)

try:
    from pyVmomi import vim
except ImportError:  # pragma: no cover - reported by VSphere()
    pass

HA_OPTIONS = ("ha_enabled", "ha_host_monitoring", "ha_vm_monitoring", "ha_isolation_response", "ha_restart_priority",
              "ha_admission_control", "ha_failover_level", "ha_cpu_failover_percent", "ha_memory_failover_percent")
ADMISSION_OPTIONS = ("ha_admission_control", "ha_failover_level", "ha_cpu_failover_percent", "ha_memory_failover_percent")
DRS_OPTIONS = ("drs_enabled", "drs_automation_level")
VSAN_OPTIONS = ("vsan_enabled", "vsan_auto_claim_disks")
OPTIONS = HA_OPTIONS + DRS_OPTIONS + VSAN_OPTIONS


def read_settings(cluster):
    """The cluster's settings in this module's vocabulary."""
    config = cluster.configurationEx
    das, drs, vsan = config.dasConfig, config.drsConfig, config.vsanConfigInfo
    vm_defaults = das.defaultVmSettings if das else None
    policy = das.admissionControlPolicy if das else None
    settings = dict(
        name=cluster.name,
        ha_enabled=bool(das and das.enabled),
        ha_host_monitoring=bool(das and das.hostMonitoring == "enabled"),
        ha_vm_monitoring=das.vmMonitoring if das else None,
        ha_isolation_response=vm_defaults.isolationResponse if vm_defaults else None,
        ha_restart_priority=vm_defaults.restartPriority if vm_defaults else None,
        ha_admission_control="disabled",
        ha_failover_level=None,
        ha_cpu_failover_percent=None,
        ha_memory_failover_percent=None,
        drs_enabled=bool(drs and drs.enabled),
        drs_automation_level=str(drs.defaultVmBehavior) if drs and drs.defaultVmBehavior else None,
        vsan_enabled=bool(vsan and vsan.enabled),
        vsan_auto_claim_disks=bool(vsan and vsan.defaultConfig and vsan.defaultConfig.autoClaimStorage),
        hosts=sorted(host.name for host in cluster.host),
    )
    if das and das.admissionControlEnabled:
        if isinstance(policy, vim.cluster.FailoverLevelAdmissionControlPolicy):
            settings.update(ha_admission_control="host_failures", ha_failover_level=policy.failoverLevel)
        elif isinstance(policy, vim.cluster.FailoverResourcesAdmissionControlPolicy):
            settings.update(ha_admission_control="percentage",
                            ha_cpu_failover_percent=policy.cpuFailoverResourcesPercent,
                            ha_memory_failover_percent=policy.memoryFailoverResourcesPercent)
        else:
            # dedicated failover hosts: shown as such, replaced when another policy is asked for
            settings["ha_admission_control"] = "failover_hosts"
    return settings


def wanted_settings(params):
    return dict((key, params[key]) for key in OPTIONS if params[key] is not None)


def validate(params, host_count):
    """Every input error, before anything is sent."""
    control = params["ha_admission_control"]
    level = params["ha_failover_level"]
    if level is not None and control != "host_failures":
        raise VSphereError("ha_failover_level is only used with ha_admission_control=host_failures")
    for key in ("ha_cpu_failover_percent", "ha_memory_failover_percent"):
        value = params[key]
        if value is not None and control != "percentage":
            raise VSphereError("%s is only used with ha_admission_control=percentage" % key)
        if value is not None and not 1 <= value <= 100:
            raise VSphereError("%s must be between 1 and 100, not %d" % (key, value))
    if level is not None and not 1 <= level < max(host_count, 2):
        raise VSphereError("ha_failover_level must be at least 1 and less than the cluster's %d hosts, not %d"
                           % (host_count, level))


def build_spec(changes, wanted):
    """A ClusterConfigSpecEx carrying only what changes (applied with modify=True, the rest is kept)."""
    spec = vim.cluster.ConfigSpecEx()
    if any(key in changes for key in HA_OPTIONS):
        das = vim.cluster.DasConfigInfo()
        if "ha_enabled" in changes:
            das.enabled = wanted["ha_enabled"]
        if "ha_host_monitoring" in changes:
            das.hostMonitoring = "enabled" if wanted["ha_host_monitoring"] else "disabled"
        if "ha_vm_monitoring" in changes:
            das.vmMonitoring = wanted["ha_vm_monitoring"]
        if "ha_isolation_response" in changes or "ha_restart_priority" in changes:
            das.defaultVmSettings = vim.cluster.DasVmSettings()
            if "ha_isolation_response" in changes:
                das.defaultVmSettings.isolationResponse = wanted["ha_isolation_response"]
            if "ha_restart_priority" in changes:
                das.defaultVmSettings.restartPriority = wanted["ha_restart_priority"]
        if any(key in changes for key in ADMISSION_OPTIONS):
            # the policy is rewritten whole; validate() made sure ha_admission_control is set
            control = wanted["ha_admission_control"]
            das.admissionControlEnabled = control != "disabled"
            if control == "host_failures":
                das.admissionControlPolicy = vim.cluster.FailoverLevelAdmissionControlPolicy(
                    failoverLevel=wanted["ha_failover_level"])
            elif control == "percentage":
                das.admissionControlPolicy = vim.cluster.FailoverResourcesAdmissionControlPolicy(
                    autoComputePercentages=False,
                    cpuFailoverResourcesPercent=wanted["ha_cpu_failover_percent"],
                    memoryFailoverResourcesPercent=wanted["ha_memory_failover_percent"])
        spec.dasConfig = das
    if any(key in changes for key in DRS_OPTIONS):
        drs = vim.cluster.DrsConfigInfo()
        if "drs_enabled" in changes:
            drs.enabled = wanted["drs_enabled"]
        if "drs_automation_level" in changes:
            drs.defaultVmBehavior = wanted["drs_automation_level"]
        spec.drsConfig = drs
    if any(key in changes for key in VSAN_OPTIONS):
        vsan = vim.vsan.cluster.ConfigInfo()
        if "vsan_enabled" in changes:
            vsan.enabled = wanted["vsan_enabled"]
        # sent whenever given: vCenter turns auto-claim on when vSAN is enabled without it
        if "vsan_auto_claim_disks" in wanted:
            vsan.defaultConfig = vim.vsan.cluster.ConfigInfo.HostDefaultInfo(
                autoClaimStorage=wanted["vsan_auto_claim_disks"])
        spec.vsanConfig = vsan
    return spec


def differences(current, wanted):
    return dict((key, value) for key, value in wanted.items() if current.get(key) != value)


def converge(module, vsphere):
    params = module.params
    cluster = vsphere.cluster(params["cluster"], params["datacenter"])
    validate(params, len(cluster.host))
    wanted = wanted_settings(params)
    before = read_settings(cluster)
    changes = differences(before, wanted)
    after = dict(before, **wanted)
    if changes and not module.check_mode:
        task = cluster.ReconfigureComputeResource_Task(build_spec(changes, wanted), True)
        vsphere.wait(task, "reconfiguring cluster %r" % cluster.name)
        after = read_settings(cluster)
        not_kept = dict((key, after.get(key)) for key in wanted if after.get(key) != wanted[key])
        if not_kept:
            raise VSphereError("vCenter accepted the new configuration of cluster %r but reads back %s; wanted %s"
                               % (cluster.name, not_kept, dict((key, wanted[key]) for key in not_kept)))
    result = dict(changed=bool(changes), cluster=after,
                  changes=dict((key, dict(before=before.get(key), after=wanted[key])) for key in changes))
    if module._diff:
        result["diff"] = dict(before=before, after=after)
    module.exit_json(**result)


def main():
    argument_spec = vsphere_argument_spec()
    argument_spec.update(
        cluster=dict(type="str", required=True),
        datacenter=dict(type="str"),
        ha_enabled=dict(type="bool"),
        ha_host_monitoring=dict(type="bool"),
        ha_vm_monitoring=dict(type="str", choices=["vmMonitoringDisabled", "vmMonitoringOnly", "vmAndAppMonitoring"]),
        ha_isolation_response=dict(type="str", choices=["none", "powerOff", "shutdown"]),
        ha_restart_priority=dict(type="str", choices=["disabled", "lowest", "low", "medium", "high", "highest"]),
        ha_admission_control=dict(type="str", choices=["disabled", "host_failures", "percentage"]),
        ha_failover_level=dict(type="int"),
        ha_cpu_failover_percent=dict(type="int"),
        ha_memory_failover_percent=dict(type="int"),
        drs_enabled=dict(type="bool"),
        drs_automation_level=dict(type="str", choices=["manual", "partiallyAutomated", "fullyAutomated"]),
        vsan_enabled=dict(type="bool"),
        vsan_auto_claim_disks=dict(type="bool"),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[
            ("ha_admission_control", "host_failures", ["ha_failover_level"]),
            ("ha_admission_control", "percentage", ["ha_cpu_failover_percent", "ha_memory_failover_percent"]),
        ],
    )
    run(module, lambda vsphere: converge(module, vsphere))


if __name__ == "__main__":
    main()
