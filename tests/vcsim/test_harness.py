"""vcsim-lab itself: build, start-up, connection details, start/stop scripts, inventory."""

import json
import hashlib
import os
import shutil
import re
import socket
import ssl
import subprocess
import time
import urllib.request

import pytest
import requests
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import SoapStubAdapter, pbm, vim

from .process import BUILD_SCRIPT, REPO, VcsimProcess, build_vcsim
from .vsphere import CLUSTER, DATACENTER, HOSTS, SHARED_DS, TEMPLATE, Inventory


def test_build_is_reused_when_sources_did_not_change(vcsim_binary):
    _, first_seconds = build_vcsim()
    mtime = os.path.getmtime(vcsim_binary)
    started = time.monotonic()
    result = subprocess.run([BUILD_SCRIPT], capture_output=True, text=True, timeout=120, check=True)
    again = time.monotonic() - started
    print(f"\nvcsim-lab build: {first_seconds:.1f} s (first call this session), {again:.2f} s when current")
    assert result.stdout.strip() == vcsim_binary
    assert os.path.getmtime(vcsim_binary) == mtime, "an unchanged tree must not rebuild"
    assert again < 5


def test_starts_in_well_under_a_second_and_stops_on_sigterm(vcsim_binary, tmp_path):
    timings = []
    for attempt in range(3):
        lab = VcsimProcess(vcsim_binary, tmp_path / f"lab{attempt}").start()
        try:
            timings.append(lab.startup_seconds)
            assert lab.process.poll() is None
            assert os.path.exists(tmp_path / f"lab{attempt}" / "vcsim.json")
        finally:
            lab.stop()
        assert lab.process.returncode == 0, lab.log()
        assert not os.path.exists(tmp_path / f"lab{attempt}" / "vcsim.json"), "info file removed on exit"
    print(f"\nvcsim-lab start-up (spawn to ready line): {', '.join(f'{t * 1000:.0f} ms' for t in timings)}")
    assert min(timings) < 1.0


def test_info_file_matches_ready_line_and_lists_fixed_credentials(vcsim):
    with open(os.path.join(vcsim.state_dir, "vcsim.json"), encoding="utf-8") as handle:
        info = json.load(handle)
    assert info == vcsim.info
    assert info["username"] == "administrator@vsphere.local"
    assert info["password"] == "VMware1!"
    assert info["url"] == f"https://127.0.0.1:{info['port']}/sdk"
    assert info["pid"] == vcsim.process.pid
    assert requests.get(info["control_url"] + "/healthz", timeout=5).json() == {"ok": True}


def test_tls_verifies_against_the_lab_certificate_and_thumbprint(vcsim):
    context = vcsim.ssl_context()
    with urllib.request.urlopen(vcsim.info["url"].replace("/sdk", "/sdk/vimServiceVersions.xml"),
                                context=context, timeout=10) as response:
        assert b"urn:vim25" in response.read()
    pem = ssl.get_server_certificate((vcsim.info["hostname"], vcsim.info["port"]))
    digest = hashlib.sha1(ssl.PEM_cert_to_DER_cert(pem)).hexdigest().upper()
    assert vcsim.info["thumbprint"] == ":".join(digest[i:i + 2] for i in range(0, 40, 2))
    # An unrelated trust store must not accept it: verification is real.
    with pytest.raises(ssl.SSLError):
        ssl.create_default_context().wrap_socket(
            socket.create_connection((vcsim.info["hostname"], vcsim.info["port"]), timeout=5),
            server_hostname="127.0.0.1")


def test_only_the_lab_credentials_log_in(vcsim):
    with pytest.raises(vim.fault.InvalidLogin):
        vcsim.connect(password="wrong")
    with pytest.raises(vim.fault.InvalidLogin):
        vcsim.connect(user="root")
    si = vcsim.connect()
    try:
        assert si.content.sessionManager.currentSession.userName == "administrator@vsphere.local"
    finally:
        Disconnect(si)


def test_intercepted_calls_still_require_a_session(vcsim, inv):
    """The harness's own handlers (here CreateVM_Task) must not bypass authentication."""
    folder = inv.dc.vmFolder._moId
    pool = inv.cluster.resourcePool._moId
    body = ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
            f'<CreateVM_Task xmlns="urn:vim25"><_this type="Folder">{folder}</_this>'
            '<config><name>sneaky</name><files><vmPathName>[shared-ds]</vmPathName></files></config>'
            f'<pool type="ResourcePool">{pool}</pool></CreateVM_Task></soapenv:Body></soapenv:Envelope>')
    response = requests.post(vcsim.info["url"], data=body, verify=vcsim.info["ca_file"], timeout=10,
                             headers={"Content-Type": "text/xml", "SOAPAction": "urn:vim25/6.5"})
    assert response.status_code == 500
    assert "NotAuthenticated" in response.text
    assert inv.vm("sneaky") is None


def test_start_and_stop_scripts(tmp_path):
    build_vcsim()
    env = dict(os.environ, VCSIM_LAB_DIR=str(tmp_path), VCSIM_LAB_LISTEN="127.0.0.1:0",
               VCSIM_LAB_CONTROL_LISTEN="127.0.0.1:0")
    start = subprocess.run([os.path.join(REPO, "lab/bin/start-vcsim")], env=env, capture_output=True,
                           text=True, timeout=120)
    try:
        assert start.returncode == 0, start.stderr
        assert "LAB ONLY" in start.stdout
        with open(tmp_path / "vcsim" / "state" / "vcsim.json", encoding="utf-8") as handle:
            info = json.load(handle)
        assert int((tmp_path / "vcsim.pid").read_text()) == info["pid"]
        again = subprocess.run([os.path.join(REPO, "lab/bin/start-vcsim")], env=env, capture_output=True,
                               text=True, timeout=60)
        assert again.returncode == 1 and "already running" in again.stderr
        si = SmartConnect(host=info["hostname"], port=info["port"], user=info["username"], pwd=info["password"],
                          sslContext=ssl.create_default_context(cafile=info["ca_file"]))
        Disconnect(si)
    finally:
        stop = subprocess.run([os.path.join(REPO, "lab/bin/stop-vcsim")], env=env, capture_output=True,
                              text=True, timeout=60)
    assert stop.returncode == 0, stop.stderr
    assert not (tmp_path / "vcsim.pid").exists()
    with pytest.raises(OSError):
        os.kill(info["pid"], 0)


def test_inventory_at_start(inv):
    assert inv.dc is not None and inv.dc.name == DATACENTER
    cluster = inv.cluster
    assert cluster.name == CLUSTER and cluster.parent.parent == inv.dc
    assert sorted(h.name for h in cluster.host) == HOSTS
    for host in cluster.host:
        assert host.runtime.connectionState == "connected"
        assert host.summary.hardware.memorySize == 64 << 30
        assert sorted(ds.name for ds in host.datastore) == [SHARED_DS]
        assert {"VM Network", "Lab-Network"} <= {n.name for n in host.network}
    shared = inv.datastore(SHARED_DS)
    assert sorted(m.key.name for m in shared.host) == HOSTS
    assert shared.summary.multipleHostAccess is True
    assert inv.datastore("vsanDatastore") is None, "vSAN is off at start"

    dvs = inv.find(vim.DistributedVirtualSwitch, "Lab-DSwitch")
    assert sorted(h.name for h in dvs.summary.hostMember) == HOSTS
    assert inv.find(vim.dvs.DistributedVirtualPortgroup, "Lab-Network").config.distributedVirtualSwitch == dvs

    template = inv.template
    assert template.config.template is True and template.name == TEMPLATE
    assert template.parent == inv.dc.vmFolder
    assert template.config.guestId == "debian11_64Guest"
    assert template.config.hardware.numCPU == 2 and template.config.hardware.memoryMB == 4096
    disks = [d for d in template.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk)]
    nics = [d for d in template.config.hardware.device if isinstance(d, vim.vm.device.VirtualEthernetCard)]
    assert len(disks) == 1 and disks[0].capacityInKB == 16 << 20 and disks[0].backing.datastore.name == SHARED_DS
    assert len(nics) == 1 and nics[0].backing.deviceName == "VM Network"

    config = inv.config
    assert config.dasConfig.enabled is False and config.dasConfig.admissionControlEnabled is True
    assert config.drsConfig.enabled is True and config.drsConfig.defaultVmBehavior == "fullyAutomated"
    assert config.vsanConfigInfo.enabled is False


def test_default_storage_policies(vcsim, si):
    """PBM at /pbm/sdk, with the vCenter session in the vcSessionCookie header (how pyVmomi does it)."""
    session = re.search(r'vmware_soap_session="?([^";]+)', si._stub.cookie).group(1)
    pbm_stub = SoapStubAdapter(host=vcsim.info["hostname"], port=vcsim.info["port"], path="/pbm/sdk",
                               version="pbm.version.version11", sslContext=vcsim.ssl_context(),
                               requestContext={"vcSessionCookie": session})
    manager = pbm.ServiceInstance("ServiceInstance", pbm_stub).RetrieveContent().profileManager
    ids = manager.PbmQueryProfile(resourceType=pbm.profile.ResourceType(resourceType="STORAGE"),
                                  profileCategory="REQUIREMENT")
    names = {p.name for p in manager.PbmRetrieveContent(profileIds=ids)}
    assert {"vSAN Default Storage Policy", "Lab Default Storage Policy"} <= names

    anonymous = SoapStubAdapter(host=vcsim.info["hostname"], port=vcsim.info["port"], path="/pbm/sdk",
                                version="pbm.version.version11", sslContext=vcsim.ssl_context())
    anonymous_manager = pbm.ServiceInstance("ServiceInstance", anonymous).RetrieveContent().profileManager
    with pytest.raises(vim.fault.NotAuthenticated):
        anonymous_manager.PbmQueryProfile(resourceType=pbm.profile.ResourceType(resourceType="STORAGE"))


def test_cluster_hosts_listed_by_the_control_endpoint(vcsim, inv):
    hosts = vcsim.control("GET", "/hosts").json()
    assert [h["name"] for h in hosts] == HOSTS
    assert {h["moid"] for h in hosts} == {h._moId for h in inv.cluster.host}
    assert all(h["connection_state"] == "connected" and h["power_state"] == "poweredOn" for h in hosts)
    assert sum(TEMPLATE in h["vms"] for h in hosts) == 1
    assert vcsim.control("GET", "/hosts/esx-09.lab.local/fail").status_code == 405
    assert vcsim.control("POST", "/hosts/esx-09.lab.local/fail").status_code == 404
    assert vcsim.control("POST", "/hosts/esx-01.lab.local/reboot").status_code == 404
    assert vcsim.control("POST", "/hosts/esx-01.lab.local/fail", params={"restart_delay": "soon"}).status_code == 400
    assert vcsim.control("POST", "/hosts/esx-01.lab.local/recover").status_code == 409
    assert vcsim.control("GET", "/ha/log").json() == []


def test_fresh_inventory_at_every_start(vcsim_binary, tmp_path):
    state = tmp_path / "state"
    with VcsimProcess(vcsim_binary, state) as lab:
        si = lab.connect()
        Inventory(si).clone("leftover")
        Disconnect(si)
    with VcsimProcess(vcsim_binary, state) as lab:
        si = lab.connect()
        assert Inventory(si).vm("leftover") is None
        Disconnect(si)


def test_missing_toolchain_skips_locally_and_fails_in_ci(tmp_path, monkeypatch):
    """The build script names the missing Debian packages; the fixture skips on that, except in CI."""
    bin_dir = tmp_path / "bin"  # a PATH with the script's shell tools but no `go`
    bin_dir.mkdir()
    for tool in ("bash", "dirname"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    result = subprocess.run([BUILD_SCRIPT], capture_output=True, text=True, timeout=60, env={"PATH": str(bin_dir)})
    assert result.returncode == 2
    assert "golang-go" in result.stderr

    env = {"PATH": str(bin_dir)}
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="golang-go"):
        build_vcsim(env=env)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="golang-go"):
        build_vcsim(env=env)
