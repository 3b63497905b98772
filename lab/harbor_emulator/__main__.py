"""python -m harbor_emulator serve ... (LAB ONLY)."""

import argparse
import sys

from .server import BANNER, serve


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m harbor_emulator", description=BANNER)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve the Harbor v2.0 API (lab only: for tests and demos, never production)",
                       description=BANNER)
    s.add_argument("--listen", default="127.0.0.1:8080", help="HOST:PORT (default 127.0.0.1:8080)")
    s.add_argument("--admin-password", default="Harbor12345", help="password of `admin` on first start")
    s.add_argument("--db", default=None, help="sqlite:///PATH (default: under --data-dir) or postgresql://...")
    s.add_argument("--data-dir", default=None, help="state and registry storage (default: a new temp dir)")
    group = s.add_mutually_exclusive_group()
    group.add_argument("--registry-url", default=None, help="use this Distribution registry instead of starting one")
    group.add_argument("--no-registry", action="store_true", help="serve the API alone, without a registry")
    s.add_argument("--external-url", default=None, help="URL clients use to reach this emulator")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.listen, args.admin_password, args.db, args.data_dir, args.registry_url, args.no_registry,
              args.external_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
