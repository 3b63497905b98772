# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Connection options shared by every module that talks to the Harbor API.
    DOCUMENTATION = r"""
options:
  api_url:
    description:
      - Base URL of the Harbor instance, for example C(https://harbor.example.com).
      - The API path C(/api/v2.0) is appended by the module.
      - If not set, the value of the E(HARBOR_URL) environment variable is used.
    type: str
    required: true
  api_username:
    description:
      - User name for HTTP basic authentication. Robot accounts use their full name, for example C(robot$ci).
      - If not set, the value of the E(HARBOR_USERNAME) environment variable is used.
    type: str
    required: true
  api_password:
    description:
      - Password (or robot secret) for O(api_username).
      - If not set, the value of the E(HARBOR_PASSWORD) environment variable is used.
    type: str
    required: true
  validate_certs:
    description:
      - Whether to verify the TLS certificate of the Harbor server.
      - Only disable this for lab instances; prefer O(ca_path) for a private CA.
      - If not set, the value of the E(HARBOR_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
  ca_path:
    description:
      - Path to a PEM file with the CA certificate(s) that signed the Harbor server certificate.
      - If not set, the bundle named by the E(REQUESTS_CA_BUNDLE) or E(CURL_CA_BUNDLE) environment variable
        is used, else the system's trust store.
    type: path
  timeout:
    description:
      - Timeout in seconds of each HTTP request.
    type: int
    default: 30
  retries:
    description:
      - How many times an idempotent request (GET, HEAD, PUT, DELETE) is retried after a connection
        error or an HTTP 502, 503 or 504 answer, with exponential backoff. Creates (POST) are never retried.
    type: int
    default: 3
requirements:
  - urllib3 (installed with requests; 2.x tested)
notes:
  - Proxies come from the environment (E(HTTPS_PROXY), E(HTTP_PROXY), E(ALL_PROXY)), per Harbor host;
    E(NO_PROXY) is honoured.
  - The modules keep no cookies, so Harbor's CSRF protection never applies to their basic-auth requests.
"""
