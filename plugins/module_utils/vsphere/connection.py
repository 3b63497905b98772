# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one vCenter connection of the collection (pyVmomi) and the look-ups every vSphere module needs.

- connection options with the usual VMWARE_* environment fallbacks, password never logged;
- one session per module run, closed when the module exits;
- objects found by exact name (a missing or ambiguous name is an error that says what exists);
- tasks waited for with a bound, their fault turned into one readable message;
- the storage policy (PBM) endpoint reached with the same session.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import atexit
import socket
import ssl
import time

try:
    from pyVim.connect import Disconnect, SmartConnect
    from pyVmomi import SoapStubAdapter, pbm, vim, vmodl

    HAS_PYVMOMI = True
    PYVMOMI_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module through missing_required_lib
    HAS_PYVMOMI = False
    PYVMOMI_IMPORT_ERROR = exc

from ansible.module_utils.basic import env_fallback, missing_required_lib

# The storage policy service answers at /pbm on vCenter (and on the simulator); 6.5 is the
# oldest PBM API that has everything used here.
PBM_PATH = "/pbm"
PBM_VERSION = "pbm.version.version11"


def vsphere_argument_spec():
    """The connection options of plugins/doc_fragments/vsphere.py."""
    return dict(
        hostname=dict(type="str", required=True, fallback=(env_fallback, ["VMWARE_HOST"])),
        username=dict(type="str", required=True, fallback=(env_fallback, ["VMWARE_USER"])),
        password=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["VMWARE_PASSWORD"])),
        port=dict(type="int", default=443, fallback=(env_fallback, ["VMWARE_PORT"])),
        validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["VMWARE_VALIDATE_CERTS"])),
    )


class VSphereError(Exception):
    """A failure worth one clear sentence to the user (not found, ambiguous, task fault...)."""


def fault_text(exc):
    """One line for a vSphere fault, an SSL or socket error, or anything else."""
    if HAS_PYVMOMI and isinstance(exc, vmodl.MethodFault):
        name = type(exc).__name__.split(".")[-1]
        message = getattr(exc, "msg", None) or ""
        faults = getattr(exc, "faultMessage", None) or []
        extra = "; ".join(m.message for m in faults if getattr(m, "message", None))
        return "%s: %s%s" % (name, message or "(no message)", " (%s)" % extra if extra else "")
    return "%s: %s" % (type(exc).__name__, exc)


class VSphere(object):
    """A logged-in vCenter session for one module run."""

    def __init__(self, module):
        self.module = module
        if not HAS_PYVMOMI:
            module.fail_json(msg=missing_required_lib("pyVmomi"), exception=str(PYVMOMI_IMPORT_ERROR))
        params = module.params
        self.hostname = params["hostname"]
        self.port = params["port"]
        self.validate_certs = params["validate_certs"]
        self._pbm = None
        where = "%s:%s" % (self.hostname, self.port)
        try:
            self.si = SmartConnect(host=self.hostname, port=self.port, user=params["username"],
                                   pwd=params["password"], sslContext=self.ssl_context(), httpConnectionTimeout=60)
        except vim.fault.InvalidLogin:
            module.fail_json(msg="vCenter %s refused the login of %s: wrong user name or password"
                             % (where, params["username"]))
        except ssl.SSLError as exc:
            module.fail_json(msg="TLS with vCenter %s failed (%s); give the system a CA that signed its "
                                 "certificate, or set validate_certs=false for a lab instance" % (where, exc))
        except (socket.error, OSError) as exc:
            module.fail_json(msg="cannot reach vCenter at %s: %s" % (where, exc))
        except vmodl.MethodFault as exc:
            module.fail_json(msg="vCenter %s login failed: %s" % (where, fault_text(exc)))
        atexit.register(Disconnect, self.si)
        self.content = self.si.RetrieveContent()

    def ssl_context(self):
        """Always an explicit context: without one pyVim skips verification for localhost addresses."""
        if self.validate_certs:
            return ssl.create_default_context()  # the system CAs (SSL_CERT_FILE / SSL_CERT_DIR apply)
        return ssl._create_unverified_context()

    # -- finding objects -------------------------------------------------------------------------
    def find_all(self, vimtype, root=None):
        view = self.content.viewManager.CreateContainerView(root or self.content.rootFolder, [vimtype], True)
        try:
            return list(view.view)
        finally:
            view.DestroyView()

    def find(self, vimtype, name, root=None):
        """Every object of `vimtype` named exactly `name` under `root` (all of vCenter by default)."""
        return [obj for obj in self.find_all(vimtype, root) if obj.name == name]

    def one(self, vimtype, name, what, root=None, where=""):
        """The single object of `vimtype` named `name`; an error naming what exists otherwise."""
        found = self.find(vimtype, name, root)
        if len(found) == 1:
            return found[0]
        if found:
            raise VSphereError("%d objects of type %s are named %r%s; name the datacenter to tell them apart"
                               % (len(found), what, name, where))
        names = sorted(set(obj.name for obj in self.find_all(vimtype, root)))
        shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
        raise VSphereError("no %s named %r%s (there are: %s)" % (what, name, where, shown or "none"))

    def datacenter(self, name):
        """The named datacenter, or None for "anywhere" when no name is given."""
        if not name:
            return None
        return self.one(vim.Datacenter, name, "datacenter")

    def cluster(self, name, datacenter_name=None):
        datacenter = self.datacenter(datacenter_name)
        where = " in datacenter %r" % datacenter_name if datacenter_name else ""
        return self.one(vim.ClusterComputeResource, name, "cluster", datacenter, where)

    def datacenter_of(self, entity):
        while entity is not None and not isinstance(entity, vim.Datacenter):
            entity = entity.parent
        return entity

    # -- tasks -------------------------------------------------------------------------------------
    def wait(self, task, what, timeout=600):
        """Wait for a vCenter task; return its result or raise VSphereError with its fault."""
        deadline = time.time() + timeout
        delay = 0.05
        while True:
            info = task.info
            if info.state == vim.TaskInfo.State.success:
                return info.result
            if info.state == vim.TaskInfo.State.error:
                raise VSphereError("%s failed: %s" % (what, fault_text(info.error) if info.error else "unknown error"))
            if time.time() > deadline:
                raise VSphereError("%s did not finish within %d seconds (task %s is %s)"
                                   % (what, timeout, task._moId, info.state))
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    # -- storage policies ------------------------------------------------------------------------
    def pbm(self):
        """The PBM service content, reached with this session's cookie."""
        if self._pbm is None:
            cookie = self.si._stub.cookie or ""
            session = cookie.split('"')[1] if '"' in cookie else cookie.split("=", 1)[-1].split(";")[0]
            context = self.ssl_context()
            # vCenter reads the session from the vcSessionCookie header, the simulator from the cookie itself
            stub = SoapStubAdapter(host=self.hostname, port=self.port, path=PBM_PATH, version=PBM_VERSION,
                                   sslContext=context, requestContext={"vcSessionCookie": session})
            stub.cookie = cookie
            self._pbm = pbm.ServiceInstance("ServiceInstance", stub).RetrieveContent()
        return self._pbm

    def storage_policy(self, name):
        """The PBM profile id of the storage policy named `name`."""
        try:
            manager = self.pbm().profileManager
            ids = manager.PbmQueryProfile(resourceType=pbm.profile.ResourceType(resourceType="STORAGE"),
                                          profileCategory="REQUIREMENT")
            profiles = manager.PbmRetrieveContent(profileIds=ids) if ids else []
        except vmodl.MethodFault as exc:
            raise VSphereError("cannot list storage policies: %s" % fault_text(exc))
        for profile in profiles:
            if profile.name == name:
                return profile.profileId.uniqueId
        names = ", ".join(sorted(p.name for p in profiles)) or "none"
        raise VSphereError("no storage policy named %r (there are: %s)" % (name, names))

    def storage_policy_of(self, vm):
        """Name of the storage policy associated with the VM home, or None."""
        try:
            manager = self.pbm().profileManager
            ref = pbm.ServerObjectRef(key=vm._moId, objectType="virtualMachine")
            ids = manager.PbmQueryAssociatedProfile(entity=ref)
            if not ids:
                return None
            return manager.PbmRetrieveContent(profileIds=ids)[0].name
        except vmodl.MethodFault as exc:
            raise VSphereError("cannot read the storage policy of VM %r: %s" % (vm.name, fault_text(exc)))


def run(module, body):
    """Run `body(vsphere)` and turn VSphereError and vSphere faults into a failed module result."""
    try:
        body(VSphere(module))
    except VSphereError as exc:
        module.fail_json(msg=str(exc))
    except vmodl.MethodFault as exc:
        module.fail_json(msg=fault_text(exc))
