"""Many accounts: the wall time to collect every AWS tool from 1 and from N member accounts of an AWS
Organization on a local moto server, and the requests each account sent (one per distinct read).

    python -m evals.bench.accounts [--accounts 4] [--users 10] [--buckets 5]

Each member account gets the same small estate (IAM users, S3 buckets), created through a role assumed in it.
The run lists the organization, assumes `AuditorReadOnly` in each account (concurrently) and collects every
tool that sends AWS requests, accounts `[aws.organization] max_workers` at a time, as `auditor run` does. The
ratio N-accounts time / 1-account time is printed beside N: below N means the accounts overlapped. moto runs in
this process, so the server shares the two cores and the GIL with the collectors.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tools.catalog import TOOLS, load_all
from tools.config import AuditorConfig, AwsConfig, AwsOrganizationConfig
from tools.context import CollectContext
from tools.demo.organization import create_member_accounts, member_session
from tools.demo.server import MotoServer
from tools.locker import EvidenceLocker
from tools.runner import EvidenceRunner, reads_aws
from tools.workspace import Workspace

ROLE = "AuditorReadOnly"


def create_members(endpoint: str, count: int, users: int, buckets: int) -> list[str]:
    """`count` new member accounts, each with `users` IAM users (with access keys) and `buckets` S3 buckets."""
    ids = create_member_accounts(endpoint, count, prefix="bench")
    for account in ids:
        session = member_session(endpoint, account)
        iam, s3 = session.client("iam", endpoint_url=endpoint), session.client("s3", endpoint_url=endpoint)
        for n in range(users):
            iam.create_user(UserName=f"user-{n}")
            iam.create_access_key(UserName=f"user-{n}")
        for n in range(buckets):
            s3.create_bucket(Bucket=f"bench-{account}-{n}")
    return ids


def collect(endpoint: str, accounts: list[str], root: Path) -> tuple[float, list[int], bool]:
    """Every AWS tool from the accounts: (wall seconds, requests per account, every account made == distinct)."""
    organization = AwsOrganizationConfig(role_name=ROLE, accounts=accounts)
    config = AuditorConfig(workspace=root, aws=AwsConfig(endpoint_url=endpoint, organization=organization))
    workspace = Workspace.at(root)
    ctx = CollectContext(config)
    aws_tools = [name for name, spec in TOOLS.items() if reads_aws(spec)]
    with EvidenceLocker(workspace.locker_db, workspace.blobs_dir) as locker:
        runner = EvidenceRunner(locker, ctx)
        started = time.perf_counter()
        for name in aws_tools:
            runner.collect_each_account(name)
        elapsed = time.perf_counter() - started
    sessions = [member.aws for member in ctx.accounts if member.aws is not None]
    return elapsed, [s.calls_made for s in sessions], all(s.calls_made == s.distinct_calls for s in sessions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=4)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--buckets", type=int, default=5)
    args = parser.parse_args()
    load_all()
    server = MotoServer()
    endpoint = server.start()
    try:
        members = create_members(endpoint, args.accounts, args.users, args.buckets)
        with tempfile.TemporaryDirectory() as folder:
            one, one_calls, one_once = collect(endpoint, members[:1], Path(folder) / "one")
            many, many_calls, many_once = collect(endpoint, members, Path(folder) / "many")
    finally:
        server.stop()
    print(f"1 account:  {one:6.2f} s, {one_calls[0]} requests, one per distinct read: {one_once}")
    print(
        f"{args.accounts} accounts: {many:6.2f} s, {sum(many_calls)} requests ({min(many_calls)}-{max(many_calls)} "
        f"per account), one per distinct read: {many_once}"
    )
    print(f"ratio {args.accounts} accounts / 1 account: {many / one:.2f}x (serial would be {args.accounts}x)")


if __name__ == "__main__":
    main()
