"""python -m harbor_emulator serve ... (LAB ONLY)."""

import argparse
import json
import os
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
    p = sub.add_parser("push-sample", help="push a small random image (lab only: tests and demos)",
                       description="LAB ONLY: build a small random image in memory and push it over the "
                                   "registry API; prints its repository, tag and digest as JSON")
    p.add_argument("--url", required=True, help="the registry or Harbor URL, e.g. http://127.0.0.1:8481")
    p.add_argument("--username", default="admin")
    p.add_argument("--password", default=os.environ.get("HARBOR_LAB_PASSWORD", "Harbor12345"),
                   help="default: $HARBOR_LAB_PASSWORD or Harbor12345")
    p.add_argument("--repository", required=True, help="PROJECT/NAME")
    p.add_argument("--tag", required=True)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--size", type=int, default=64 * 1024, help="bytes per layer")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.listen, args.admin_password, args.db, args.data_dir, args.registry_url, args.no_registry,
              args.external_url)
    elif args.command == "push-sample":
        from .sample_image import push_sample

        digest = push_sample(args.url, args.username, args.password, args.repository, args.tag, args.layers,
                             args.size)
        print(json.dumps({"repository": args.repository, "tag": args.tag, "digest": digest}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
