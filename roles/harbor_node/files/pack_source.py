# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pack_source.py SOURCE_DIR PACKAGE ARCHIVE: a reproducible tar of SOURCE_DIR/PACKAGE.

The same sources always give the same bytes (sorted names, fixed times, owners and modes,
no byte code), so copying the archive to a node reports a change only when a source changed.
"""

import io
import os
import sys
import tarfile


def main(source_dir, package, archive):
    top = os.path.join(source_dir, package)
    if not os.path.isfile(os.path.join(top, "__init__.py")):
        sys.exit("pack_source.py: %s is not a Python package" % top)
    with tarfile.open(archive, "w", format=tarfile.GNU_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for filename in sorted(f for f in filenames if not f.endswith((".pyc", ".pyo"))):
                path = os.path.join(dirpath, filename)
                with open(path, "rb") as handle:
                    data = handle.read()
                info = tarfile.TarInfo(os.path.relpath(path, source_dir))
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                tar.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__.splitlines()[0])
    main(*sys.argv[1:])
