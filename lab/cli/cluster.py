"""``python main.py cluster``: reach a Dask cluster, list its workers and round-trip one task on each."""
from __future__ import annotations

import argparse

from lab.cli.common import UsageError, add_backend_options, open_backend


def cmd_cluster(args: argparse.Namespace) -> int:
    """Reach the cluster, list its workers, and round-trip one task per worker."""
    from lab.backends import check_cluster
    if not args.cluster:
        raise UsageError("name the cluster: --cluster tcp://HOST:8786 or --cluster local:N")
    with open_backend(args) as backend:
        for line in check_cluster(backend):
            print(line)
    return 0


def add_parsers(top: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = top.add_parser("cluster", parents=[common], help="check a Dask cluster: reach it and list its workers",
                       description="Connect to (or start) the cluster the options name, list its workers with "
                       "their threads and resources, and run one tiny task on each. Exits 2 if it cannot.")
    add_backend_options(p)
    p.set_defaults(func=cmd_cluster)
