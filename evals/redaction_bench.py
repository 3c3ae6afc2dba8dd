"""Evidence locker speed: redaction throughput (MB/s), put() items/s, and verify() time for a large locker.

Inputs: real CloudTrail records from the reference data (../shared/data, when present) and synthetic
evidence shaped like what collectors return (IAM users, `git log -p` text) with secrets sprinkled in.
Caches are cleared before each timed redaction, so repeated strings are not served from an earlier run.

    python -m evals.redaction_bench [--mb 8] [--puts 2000] [--verify-items 20000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import string
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tools.chain import canonical_json
from tools.locker import EvidenceLocker
from tools.redact import _scan_cached, _scan_token_run, redact

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CLOUDTRAIL = SHARED_DATA / "cloudtrail" / "stratus_red_team_all_records.json"
ALNUM = string.ascii_letters + string.digits


def _token(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def git_history_text(megabytes: float, rng: random.Random) -> str:
    """A `git log -p`-like text: commits, hashes, code lines, and one secret every ~200 lines."""
    lines: list[str] = []
    size = 0
    while size < megabytes * 1_000_000:
        sha = _token(rng, "0123456789abcdef", 40)
        block = [
            f"commit {sha}",
            "Author: Dana <dana@example.com>",
            "",
            "    Update service config",
            "",
            "diff --git a/app/settings.py b/app/settings.py",
            f"index {sha[:7]}..{sha[7:14]} 100644",
        ]
        for n in range(40):
            block.append(f"+    timeout_{n} = {rng.randint(1, 999)}  # seconds, see docs/ops/retries.md")
        roll = rng.random()
        if roll < 0.2:
            block.append(f'+AWS_ACCESS_KEY_ID = "AKIA{_token(rng, string.ascii_uppercase + string.digits, 16)}"')
        elif roll < 0.4:
            block.append(f"+DATABASE_URL = 'postgres://app:{_token(rng, ALNUM, 14)}@db.internal:5432/app'")
        elif roll < 0.5:
            block.append(f"+token = ghp_{_token(rng, ALNUM, 36)}")
        text = "\n".join(block) + "\n"
        lines.append(text)
        size += len(text)
    return "".join(lines)


def iam_users(count: int, rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "UserName": f"user-{n}",
            "UserId": "AIDA" + _token(rng, string.ascii_uppercase + string.digits, 17),
            "Arn": f"arn:aws:iam::123456789012:user/team-{n % 17}/user-{n}",
            "CreateDate": "2024-07-30T21:46:15+00:00",
            "PasswordLastUsed": "2025-01-02T03:04:05+00:00",
            "AccessKeys": [
                {
                    "AccessKeyId": "AKIA" + _token(rng, string.ascii_uppercase + string.digits, 16),
                    "Status": "Active",
                    "CreateDate": "2024-08-01T00:00:00+00:00",
                }
            ],
            "Tags": [{"Key": "team", "Value": f"team-{n % 17}"}, {"Key": "cost-center", "Value": str(1000 + n % 50)}],
        }
        for n in range(count)
    ]


def throughput(label: str, payload: Any, size_bytes: int, repeats: int = 3) -> float:
    timings = []
    for _ in range(repeats):
        _scan_cached.cache_clear()
        _scan_token_run.cache_clear()
        started = time.perf_counter()
        redact(payload)
        timings.append(time.perf_counter() - started)
    rate = size_bytes / statistics.median(timings) / 1_000_000
    print(f"  {label:<46} {size_bytes / 1e6:6.2f} MB  {rate:7.1f} MB/s")
    return rate


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=8.0, help="size of the synthetic text evidence")
    parser.add_argument("--puts", type=int, default=2000, help="items for the put() rate")
    parser.add_argument("--verify-items", type=int, default=20000, help="locker size for the verify() time")
    args = parser.parse_args()
    rng = random.Random(7)

    print("Redaction throughput (median of 3, caches cleared):")
    history = git_history_text(args.mb, rng)
    throughput("git log -p text, secrets every ~200 lines", history, len(history.encode()))
    users = iam_users(int(args.mb * 2500), rng)
    throughput("IAM users as JSON data (walked)", users, len(canonical_json(users)))
    if CLOUDTRAIL.is_file():
        text = CLOUDTRAIL.read_text(encoding="utf-8") * max(1, int(args.mb / 0.5))
        throughput("CloudTrail records as raw text", text, len(text.encode()))
        records = json.loads(CLOUDTRAIL.read_text(encoding="utf-8"))
        throughput("CloudTrail records as JSON data (walked)", records, len(canonical_json(records)))
    else:
        print(f"  (CloudTrail reference data not found at {CLOUDTRAIL}: skipped)")

    with tempfile.TemporaryDirectory() as folder:
        locker = EvidenceLocker(Path(folder) / "locker.sqlite", Path(folder) / "blobs")
        sample_users = iam_users(5, rng)  # about 2 KB of JSON per item, five key ids to redact

        def put(n: int) -> None:
            data = {"page": n, "Users": sample_users}
            locker.put("bench", "aws", "aws.iam.users", "iam:ListUsers", {"page": n}, data)

        _, seconds = timed(lambda: [put(n) for n in range(args.puts)])
        print(f"put(): {args.puts / seconds:,.0f} items/s ({args.puts} items of ~2 KB JSON, WAL, one blob each)")
        for n in range(args.puts, args.verify_items):
            put(n)
        report, seconds = timed(locker.verify)
        stats = locker.stats()
        print(
            f"verify(): {seconds:.2f} s for {report.items:,} items and {stats.blobs:,} blobs "
            f"({stats.stored_bytes / 1e6:.1f} MB), ok={report.ok}"
        )
        locker.close()


if __name__ == "__main__":
    main()
