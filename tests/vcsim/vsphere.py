"""pyVmomi shortcuts for the vcsim tests: find inventory objects, clone, reconfigure."""

from pyVim.task import WaitForTask
from pyVmomi import vim

DATACENTER = "Lab-DC"
CLUSTER = "Lab-Cluster"
HOSTS = [f"esx-0{i}.lab.local" for i in range(1, 5)]
SHARED_DS = "shared-ds"
VSAN_DS = "vsanDatastore"
TEMPLATE = "debian-template"


class Inventory:
    def __init__(self, si):
        self.si = si
        self.content = si.RetrieveContent()

    def all(self, vimtype):
        view = self.content.viewManager.CreateContainerView(self.content.rootFolder, [vimtype], True)
        try:
            return list(view.view)
        finally:
            view.Destroy()

    def find(self, vimtype, name):
        for obj in self.all(vimtype):
            if obj.name == name:
                return obj
        return None

    @property
    def dc(self):
        return self.find(vim.Datacenter, DATACENTER)

    @property
    def cluster(self):
        return self.find(vim.ClusterComputeResource, CLUSTER)

    @property
    def template(self):
        return self.find(vim.VirtualMachine, TEMPLATE)

    def host(self, name):
        return self.find(vim.HostSystem, name)

    def vm(self, name):
        return self.find(vim.VirtualMachine, name)

    def datastore(self, name):
        return self.find(vim.Datastore, name)

    @property
    def config(self):
        return self.cluster.configurationEx

    def reconfigure(self, spec, modify=True):
        WaitForTask(self.cluster.ReconfigureComputeResource_Task(spec=spec, modify=modify), si=self.si)

    def clone(self, name, host=None, datastore=SHARED_DS, power_on=False, folder=None):
        location = vim.vm.RelocateSpec(pool=self.cluster.resourcePool, datastore=self.datastore(datastore))
        if host:
            location.host = self.host(host)
        spec = vim.vm.CloneSpec(location=location, powerOn=power_on, template=False)
        task = self.template.Clone(folder=folder or self.dc.vmFolder, name=name, spec=spec)
        WaitForTask(task, si=self.si)
        return task.info.result

    def power_on(self, vm):
        WaitForTask(vm.PowerOnVM_Task(), si=self.si)

    def set_priority(self, vm, priority, operation="add"):
        info = vim.cluster.DasVmConfigInfo(key=vm, dasSettings=vim.cluster.DasVmSettings(restartPriority=priority))
        spec = vim.cluster.ConfigSpecEx(dasVmConfigSpec=[vim.cluster.DasVmConfigSpec(operation=operation, info=info)])
        self.reconfigure(spec)

    def add_anti_affinity(self, name, vms, enabled=True):
        rule = vim.cluster.AntiAffinityRuleSpec(name=name, enabled=enabled, vm=vms)
        self.reconfigure(vim.cluster.ConfigSpecEx(rulesSpec=[vim.cluster.RuleSpec(operation="add", info=rule)]))

    def enable_ha(self, **das):
        das.setdefault("enabled", True)
        das.setdefault("hostMonitoring", "enabled")
        self.reconfigure(vim.cluster.ConfigSpecEx(dasConfig=vim.cluster.DasConfigInfo(**das)))

    def events(self, *type_names):
        spec = vim.event.EventFilterSpec(eventTypeId=list(type_names)) if type_names else vim.event.EventFilterSpec()
        events = self.content.eventManager.QueryEvents(spec)
        return sorted(events, key=lambda e: e.key)


def host_of(vm):
    return vm.runtime.host.name
