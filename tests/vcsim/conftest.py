"""Fixtures: the vcsim-lab binary (built once per session) and running labs.

`vcsim` is one lab per test module (tests there share its state and name their VMs
apart); `fresh_vcsim` is a lab of the test's own, for tests that fail hosts or need the
start-up inventory untouched. Both are stopped after use.
"""

import pytest
from pyVim.connect import Disconnect

from .process import VcsimProcess, build_vcsim
from .vsphere import Inventory


@pytest.fixture(scope="session")
def vcsim_binary():
    return build_vcsim()[0]


@pytest.fixture(scope="module")
def vcsim(vcsim_binary, tmp_path_factory):
    with VcsimProcess(vcsim_binary, tmp_path_factory.mktemp("vcsim")) as lab:
        yield lab


@pytest.fixture(scope="module")
def si(vcsim):
    connection = vcsim.connect()
    yield connection
    Disconnect(connection)


@pytest.fixture(scope="module")
def inv(si):
    return Inventory(si)


@pytest.fixture
def fresh_vcsim(vcsim_binary, tmp_path):
    with VcsimProcess(vcsim_binary, tmp_path / "vcsim") as lab:
        yield lab


@pytest.fixture
def fresh_inv(fresh_vcsim):
    connection = fresh_vcsim.connect()
    yield Inventory(connection)
    Disconnect(connection)
