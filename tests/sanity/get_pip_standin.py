"""Stand-in for ansible-test's pip bootstrap script.

ansible-test downloads a get-pip.py from a host that these machines cannot reach; this
file takes its place in ansible-test's cache. It does the same job with the interpreter's
own ensurepip, then installs the requested packages (e.g. pip==24.2) from the package index.
"""

import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet"] + args)
