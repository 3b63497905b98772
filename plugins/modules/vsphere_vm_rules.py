#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vsphere_vm_rules
short_description: Keep a set of VMs apart (DRS anti-affinity) and give them HA overrides
version_added: 0.1.0
description:
  - The placement policy of a group of VMs that must survive a host failure together, such as the nodes of one
    Harbor registry, in one call.
  - A DRS VM-VM anti-affinity rule that keeps the VMs in O(vms) on different hosts.
  - Per-VM vSphere HA overrides for the same VMs - restart priority and host isolation response - so that HA
    restarts them first after a host failure.
  - With O(spread=true) VMs that already share a host are migrated (vMotion) to hosts no other VM of the set runs
    on, instead of waiting for DRS to act on the rule.
  - The rule is found by O(name); only the options you set are compared; one C(ReconfigureComputeResource_Task)
    applies every change and the result is read back.
author:
  - registryops.harbor maintainers (@registryops)
extends_documentation_fragment:
  - registryops.harbor.vsphere
attributes:
  check_mode:
    support: full
    description: In check mode the rule, the overrides and the placement are compared; nothing is changed or moved.
  diff_mode:
    support: full
    description: Shows the rule, the per-VM overrides and the placement before and after.
options:
  cluster:
    description: Name of the cluster the VMs run in.
    type: str
    required: true
  datacenter:
    description: Datacenter of the cluster; needed only when several datacenters have a cluster of that name.
    type: str
  name:
    description: Name of the anti-affinity rule.
    type: str
    required: true
  vms:
    description:
      - Names of the VMs that must run on different hosts (at least two with O(state=present)).
      - With O(state=absent), the VMs whose HA overrides are removed too.
    type: list
    elements: str
    default: []
  enabled:
    description: Whether the rule is enabled.
    type: bool
    default: true
  mandatory:
    description: Whether the rule is mandatory (C(mandatory) of the rule).
    type: bool
  ha_restart_priority:
    description: HA restart priority of each VM of O(vms); V(clusterRestartPriority) follows the cluster's default.
    type: str
    choices: [disabled, lowest, low, medium, high, highest, clusterRestartPriority]
  ha_isolation_response:
    description: What an isolated host does with each VM of O(vms); V(clusterIsolationResponse) follows the cluster.
    type: str
    choices: [none, powerOff, shutdown, clusterIsolationResponse]
  spread:
    description:
      - Migrate VMs of O(vms) that share a host to hosts that run none of them (connected hosts outside maintenance
        mode, the least used first). VMs stay together only when the cluster has fewer such hosts than VMs.
    type: bool
    default: false
  state:
    description: V(present) creates or updates the rule and the overrides; V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
"""

EXAMPLES = r"""
- name: Harbor nodes never share a host and are restarted first
  registryops.harbor.vsphere_vm_rules:
    hostname: vcenter.example.com
    username: administrator@vsphere.local
    password: "{{ vault_vcenter_password }}"
    cluster: registry
    name: harbor-anti-affinity
    vms: [harbor-1, harbor-2, harbor-3]
    ha_restart_priority: highest
    ha_isolation_response: powerOff
    spread: true
  delegate_to: localhost

- name: Drop the rule and the overrides
  registryops.harbor.vsphere_vm_rules:
    cluster: registry
    name: harbor-anti-affinity
    vms: [harbor-1, harbor-2, harbor-3]
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
rule:
  description: The anti-affinity rule after the run (empty when absent).
  returned: always
  type: dict
  sample: {name: harbor-anti-affinity, enabled: true, mandatory: false, vms: [harbor-1, harbor-2, harbor-3]}
overrides:
  description: HA overrides of the VMs of O(vms) after the run, by VM name (null for a VM without one).
  returned: always
  type: dict
  sample: {harbor-1: {restart_priority: highest, isolation_response: powerOff}}
placement:
  description: The host each VM of O(vms) runs on after the run (null when powered off).
  returned: always
  type: dict
  sample: {harbor-1: esx1.example.com, harbor-2: esx2.example.com, harbor-3: esx3.example.com}
shared_hosts:
  description: Hosts that run more than one VM of O(vms) after the run, with those VMs (empty when the rule holds).
  returned: always
  type: dict
  sample: {}
changes:
  description: What the run changed or, in check mode, would change.
  returned: always
  type: list
  elements: str
  sample: ["rule created", "harbor-1: restart priority medium -> highest", "harbor-2 moved esx1 -> esx3"]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.registryops.harbor.plugins.module_utils.vsphere.connection import (
    VSphereError, run, vsphere_argument_spec)

try:
    from pyVmomi import vim
except ImportError:  # pragma: no cover - reported by VSphere()
    pass

# module option -> field of the returned overrides -> property of DasVmSettings
OVERRIDE_OPTIONS = {"ha_restart_priority": "restart_priority", "ha_isolation_response": "isolation_response"}
OVERRIDE_PROPERTIES = {"restart_priority": "restartPriority", "isolation_response": "isolationResponse"}


def wanted_overrides(params):
    return dict((field, params[option]) for option, field in OVERRIDE_OPTIONS.items() if params[option] is not None)


def find_rule(cluster, name):
    for rule in cluster.configurationEx.rule or []:
        if rule.name == name:
            return rule
    return None


def describe_rule(rule):
    if rule is None:
        return {}
    return dict(name=rule.name, enabled=bool(rule.enabled), mandatory=bool(rule.mandatory),
                vms=sorted(vm.name for vm in (getattr(rule, "vm", None) or [])))


def overrides_by_vm(cluster):
    """{VM managed object id: {restart_priority, isolation_response}} of the cluster's HA overrides."""
    found = {}
    for entry in cluster.configurationEx.dasVmConfig or []:
        settings = entry.dasSettings
        # older vCenters fill only the deprecated fields of DasVmConfigInfo
        priority = settings.restartPriority if settings and settings.restartPriority else entry.restartPriority
        isolation = settings.isolationResponse if settings and settings.isolationResponse else None
        if isolation is None and entry.powerOffOnIsolation is not None:
            isolation = "powerOff" if entry.powerOffOnIsolation else "none"
        found[entry.key._moId] = dict(restart_priority=str(priority) if priority else None,
                                      isolation_response=str(isolation) if isolation else None)
    return found


def running_on(vm):
    """The host a VM runs on; None when it is not running (a powered-off VM is only registered somewhere)."""
    if vm.runtime.powerState != "poweredOn" or vm.runtime.host is None:
        return None
    return vm.runtime.host


def placement(vms):
    return dict((vm.name, running_on(vm).name if running_on(vm) is not None else None) for vm in vms)


def shared_hosts(where):
    by_host = {}
    for vm_name, host in where.items():
        if host is not None:
            by_host.setdefault(host, []).append(vm_name)
    return dict((host, sorted(names)) for host, names in by_host.items() if len(names) > 1)


class RulesModule(object):
    def __init__(self, module, vsphere):
        self.module = module
        self.params = module.params
        self.vsphere = vsphere
        self.changes = []

    def resolve(self):
        p = self.params
        self.cluster = self.vsphere.cluster(p["cluster"], p["datacenter"])
        if p["state"] == "present" and len(set(p["vms"])) < 2:
            raise VSphereError("an anti-affinity rule needs at least two different VMs in vms")
        in_cluster = {}
        for vm in self.vsphere.find_all(vim.VirtualMachine, self.cluster.resourcePool):
            in_cluster.setdefault(vm.name, []).append(vm)
        missing = [name for name in p["vms"] if name not in in_cluster]
        if missing:
            raise VSphereError("no VM named %s in cluster %r" % (", ".join(repr(n) for n in missing), self.cluster.name))
        doubled = [name for name in p["vms"] if len(in_cluster[name]) > 1]
        if doubled:
            raise VSphereError("several VMs in cluster %r are named %s; rename them first"
                               % (self.cluster.name, ", ".join(repr(n) for n in doubled)))
        seen = set()
        self.vms = []
        for name in p["vms"]:
            if name not in seen:
                seen.add(name)
                self.vms.append(in_cluster[name][0])
        self.rule = find_rule(self.cluster, p["name"])
        if self.rule is not None and not isinstance(self.rule, vim.cluster.AntiAffinityRuleSpec):
            raise VSphereError("rule %r of cluster %r is a %s, not a VM-VM anti-affinity rule"
                               % (p["name"], self.cluster.name, type(self.rule).__name__.split(".")[-1]))

    def state(self):
        overrides = overrides_by_vm(self.cluster)
        where = placement(self.vms)
        return dict(rule=describe_rule(find_rule(self.cluster, self.params["name"])),
                    overrides=dict((vm.name, overrides.get(vm._moId)) for vm in self.vms),
                    placement=where, shared_hosts=shared_hosts(where))

    # -- the rule and the overrides: one ClusterConfigSpecEx ------------------------------------------
    def rule_spec(self):
        p, rule = self.params, self.rule
        if p["state"] == "absent":
            if rule is None:
                return None
            self.changes.append("rule removed")
            return vim.cluster.RuleSpec(operation="remove", removeKey=rule.key)
        names = sorted(vm.name for vm in self.vms)
        mandatory = p["mandatory"]
        if rule is None:
            self.changes.append("rule created")
            info = vim.cluster.AntiAffinityRuleSpec(name=p["name"], enabled=p["enabled"], vm=self.vms,
                                                    mandatory=bool(mandatory), userCreated=True)
            return vim.cluster.RuleSpec(operation="add", info=info)
        current = describe_rule(rule)
        differs = []
        if current["vms"] != names:
            differs.append("vms %s -> %s" % (current["vms"], names))
        if current["enabled"] != p["enabled"]:
            differs.append("enabled %s -> %s" % (current["enabled"], p["enabled"]))
        if mandatory is not None and current["mandatory"] != mandatory:
            differs.append("mandatory %s -> %s" % (current["mandatory"], mandatory))
        if not differs:
            return None
        self.changes.append("rule: " + ", ".join(differs))
        info = vim.cluster.AntiAffinityRuleSpec(key=rule.key, name=p["name"], enabled=p["enabled"], vm=self.vms,
                                                mandatory=current["mandatory"] if mandatory is None else mandatory)
        return vim.cluster.RuleSpec(operation="edit", info=info)

    def override_specs(self):
        p = self.params
        current = overrides_by_vm(self.cluster)
        wanted = wanted_overrides(p)
        specs = []
        for vm in self.vms:
            have = current.get(vm._moId)
            if p["state"] == "absent":
                if have is not None:
                    self.changes.append("%s: HA override removed" % vm.name)
                    specs.append(vim.cluster.DasVmConfigSpec(operation="remove", removeKey=vm))
                continue
            if not wanted:
                continue
            merged = dict(have or {}, **wanted)
            if have is not None and all(have.get(field) == value for field, value in wanted.items()):
                continue
            for field, value in wanted.items():
                old = have.get(field) if have else None
                if old != value:
                    self.changes.append("%s: %s %s -> %s" % (vm.name, field.replace("_", " "), old, value))
            settings = vim.cluster.DasVmSettings()
            for field, attribute in OVERRIDE_PROPERTIES.items():
                if merged.get(field):
                    setattr(settings, attribute, merged[field])
            info = vim.cluster.DasVmConfigInfo(key=vm, dasSettings=settings)
            specs.append(vim.cluster.DasVmConfigSpec(operation="edit" if have is not None else "add", info=info))
        return specs

    # -- placement ----------------------------------------------------------------------------------------
    def moves(self):
        """[(vm, target host)] that leave no two VMs of the set on one host, where hosts allow."""
        usable = [host for host in self.cluster.host
                  if host.runtime.connectionState == "connected" and not host.runtime.inMaintenanceMode]
        occupied = {}
        for vm in self.vms:
            if running_on(vm) is not None:
                occupied.setdefault(running_on(vm), []).append(vm)
        free = [host for host in usable if host not in occupied]
        # the least busy host first: fewer VMs of any kind to compete with
        free.sort(key=lambda host: (len(host.vm), host.name))
        plan = []
        for host, vms in sorted(occupied.items(), key=lambda item: item[0].name):
            for vm in sorted(vms, key=lambda v: v.name)[1:]:
                if not free:
                    return plan
                plan.append((vm, free.pop(0)))
        return plan

    def run(self):
        p, vsphere = self.params, self.vsphere
        self.resolve()
        before = self.state()
        spec = vim.cluster.ConfigSpecEx()
        rule_spec = self.rule_spec()
        if rule_spec is not None:
            spec.rulesSpec = [rule_spec]
        override_specs = self.override_specs()
        if override_specs:
            spec.dasVmConfigSpec = override_specs
        plan = self.moves() if p["spread"] and p["state"] == "present" else []
        for vm, host in plan:
            self.changes.append("%s moved %s -> %s" % (vm.name, vm.runtime.host.name, host.name))
        if self.module.check_mode:
            return self.finish(before, self.predicted(before, plan))
        if rule_spec is not None or override_specs:
            task = self.cluster.ReconfigureComputeResource_Task(spec, True)
            vsphere.wait(task, "updating rules and HA overrides of cluster %r" % self.cluster.name)
        for vm, host in plan:
            # a relocation to another host of the same pool is a vMotion
            task = vm.RelocateVM_Task(spec=vim.vm.RelocateSpec(host=host, pool=self.cluster.resourcePool))
            vsphere.wait(task, "migrating VM %r to host %r" % (vm.name, host.name))
        after = self.state()
        self.verify(after, plan)
        return self.finish(before, after)

    def predicted(self, before, plan):
        p = self.params
        after = dict(before)
        if p["state"] == "absent":
            after["rule"] = {}
            after["overrides"] = dict((name, None) for name in before["overrides"])
            return after
        rule = dict(before["rule"] or {}, name=p["name"], enabled=p["enabled"],
                    vms=sorted(vm.name for vm in self.vms))
        rule["mandatory"] = bool(p["mandatory"]) if p["mandatory"] is not None else rule.get("mandatory", False)
        after["rule"] = rule
        overrides = {}
        wanted = wanted_overrides(p)
        for name, have in before["overrides"].items():
            overrides[name] = dict(have or dict(restart_priority=None, isolation_response=None), **wanted) \
                if wanted else have
        after["overrides"] = overrides
        where = dict(before["placement"])
        for vm, host in plan:
            where[vm.name] = host.name
        after["placement"] = where
        after["shared_hosts"] = shared_hosts(where)
        return after

    def verify(self, after, plan):
        """The read-back must show what was asked: the rule, every override, the moves."""
        p = self.params
        wrong = ["%s runs on %s, not %s" % (vm.name, after["placement"].get(vm.name), host.name)
                 for vm, host in plan if after["placement"].get(vm.name) != host.name]
        if p["state"] == "absent":
            if after["rule"]:
                wrong.append("the rule is still there")
            wrong.extend("%s still has an HA override" % name for name, value in after["overrides"].items() if value)
        else:
            rule = after["rule"]
            if not rule or rule["vms"] != sorted(vm.name for vm in self.vms) or rule["enabled"] != p["enabled"]:
                wrong.append("rule reads back as %s" % rule)
            for name, value in after["overrides"].items():
                for field, wanted in wanted_overrides(p).items():
                    if (value or {}).get(field) != wanted:
                        wrong.append("%s has %s %s" % (name, field.replace("_", " "), (value or {}).get(field)))
        if wrong:
            raise VSphereError("cluster %r does not read back as set: %s" % (self.cluster.name, "; ".join(wrong)))

    def finish(self, before, after):
        result = dict(changed=bool(self.changes), changes=self.changes, **after)
        if self.module._diff:
            result["diff"] = dict(before=before, after=after)
        self.module.exit_json(**result)


def main():
    argument_spec = vsphere_argument_spec()
    argument_spec.update(
        cluster=dict(type="str", required=True),
        datacenter=dict(type="str"),
        name=dict(type="str", required=True),
        vms=dict(type="list", elements="str", default=[]),
        enabled=dict(type="bool", default=True),
        mandatory=dict(type="bool"),
        ha_restart_priority=dict(type="str", choices=["disabled", "lowest", "low", "medium", "high", "highest",
                                                      "clusterRestartPriority"]),
        ha_isolation_response=dict(type="str", choices=["none", "powerOff", "shutdown", "clusterIsolationResponse"]),
        spread=dict(type="bool", default=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run(module, lambda vsphere: RulesModule(module, vsphere).run())


if __name__ == "__main__":
    main()
