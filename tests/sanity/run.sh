#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection's content laid out as
# ansible_collections/registryops/harbor (ansible-test needs that path; the lab and the
# test harness are not part of the collection and are not copied).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
venv="$repo/.venv"
pip_version=$("$venv/bin/python" -c 'from ansible_test._internal.python_requirements import get_venv_packages as g; print(g(type("P", (), {"version": "3.11"})())["pip"])')
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$cache")"
cp "$repo/tests/sanity/get_pip_standin.py" "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/registryops/harbor"
mkdir -p "$dest"
for item in galaxy.yml README.md meta plugins roles playbooks docs; do
  [ -e "$repo/$item" ] && cp -r "$repo/$item" "$dest/"
done
mkdir -p "$dest/tests/sanity"
cp "$repo"/tests/sanity/ignore-*.txt "$dest/tests/sanity/" 2>/dev/null || true
cd "$dest"
"$venv/bin/ansible-test" sanity --python 3.11 --requirements --color no "$@"
