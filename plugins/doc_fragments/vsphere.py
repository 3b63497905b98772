# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Connection options shared by every module that talks to vCenter (SOAP API, through pyVmomi).
    DOCUMENTATION = r"""
options:
  hostname:
    description:
      - Name or address of the vCenter server.
      - If not set, the value of the E(VMWARE_HOST) environment variable is used.
    type: str
    required: true
  username:
    description:
      - vCenter user name, for example C(administrator@vsphere.local).
      - If not set, the value of the E(VMWARE_USER) environment variable is used.
    type: str
    required: true
  password:
    description:
      - Password of O(username).
      - If not set, the value of the E(VMWARE_PASSWORD) environment variable is used.
    type: str
    required: true
  port:
    description:
      - TCP port of the vCenter API.
      - If not set, the value of the E(VMWARE_PORT) environment variable is used.
    type: int
    default: 443
  validate_certs:
    description:
      - Whether to verify vCenter's TLS certificate against the system CAs.
      - Only disable this for lab instances (such as the vCenter simulator).
      - If not set, the value of the E(VMWARE_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
requirements:
  - pyVmomi
notes:
  - The modules run where Python has pyVmomi, usually the controller (with C(delegate_to=localhost)).
  - Every module waits for the vCenter tasks it starts and fails with the task's fault message.
"""
