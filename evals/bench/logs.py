"""Log engine throughput (step 13): MB/s, records/s and peak memory over one synthetic CloudTrail file.

    python -m evals.bench.logs [--mb 200] [--dir DIR] [--baselines-up-to-mb 250]

Writes (once, reused from DIR) a CloudTrail delivery file of about --mb MB as CloudTrail writes it
(``{"Records":[...]}`` on one line) and its gzip, then reads each with, in separate processes:
  - our engine: tools/logs/engine.scan_cloudtrail answering every control query in one pass;
  - the old engine: the exact reader (ijson events built into records) with the old selection, as the
    collector read every file before this change;
  - a bare ijson loop (``ijson.items(..., "Records.item")``, the yajl2_c backend);
  - jq selecting the same events (when installed; it holds the whole document in memory).
The old engine and the bare loop run only up to --baselines-up-to-mb (the old engine reads about 8 MB/s).
Peak memory is the process's peak RSS (interpreter included). Targets: 100 MB/s uncompressed, 60 MB/s gzip
(uncompressed bytes), 300 MB peak for 1 GB, on 2 cores. Nothing here asserts: it prints figures and ratios.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tools.logs.queries import CONTROL_EVENT_NAMES

MB = 1_000_000
# What a real account's trail is mostly made of; one record in CONTROL_EVERY answers a control query.
ROUTINE_EVENTS = ("DescribeInstances", "GetObject", "AssumeRole", "ListBuckets", "GetCallerIdentity", "Decrypt")
CONTROL_EVERY = 200


def _record(number: int, rng: random.Random) -> dict[str, object]:
    control = number % CONTROL_EVERY == 0
    name = rng.choice(sorted(CONTROL_EVENT_NAMES)) if control else rng.choice(ROUTINE_EVENTS)
    root = control and number % (CONTROL_EVERY * 7) == 0
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "Root" if root else "IAMUser",
            "principalId": f"AIDA{number % 977:016d}",
            "arn": f"arn:aws:iam::123456789012:user/user-{number % 53}",
            "accountId": "123456789012",
            "accessKeyId": f"ASIA{number % 9973:016d}",
            "userName": f"user-{number % 53}",
            "sessionContext": {"attributes": {"creationDate": "2026-11-01T08:00:00Z", "mfaAuthenticated": "false"}},
        },
        "eventTime": f"2026-11-{1 + number // 90_000 % 28:02d}T{number // 3600 % 24:02d}:{number // 60 % 60:02d}:"
        f"{number % 60:02d}Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": f"198.51.{rng.randrange(256)}.{rng.randrange(256)}",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1",
        "requestParameters": {"instancesSet": {"items": [{"instanceId": f"i-{number:017x}"}]}, "filterSet": {}},
        "responseElements": None,
        "requestID": f"{rng.getrandbits(128):032x}",
        "eventID": f"{rng.getrandbits(128):032x}",
        "readOnly": not control,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": "123456789012",
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": "ec2.us-east-1.amazonaws.com",
        },
    }


def write_trail(path: Path, megabytes: int) -> int:
    """A CloudTrail delivery file of about `megabytes` MB; returns its record count."""
    rng = random.Random(7)
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write('{"Records":[')
        written = 0
        while written < megabytes * MB:
            batch = ",".join(json.dumps(_record(count + i, rng), separators=(",", ":")) for i in range(1000))
            out.write(("," if count else "") + batch)
            written += len(batch) + 1
            count += 1000
        out.write("]}")
    return count


def trail_files(directory: Path, megabytes: int) -> tuple[Path, Path]:
    """The synthetic trail of about `megabytes` MB and its gzip in `directory`, written on first use and kept."""
    directory.mkdir(parents=True, exist_ok=True)
    plain = directory / f"trail-{megabytes}mb.json"
    packed = plain.with_suffix(".json.gz")
    if not plain.exists():
        write_trail(plain, megabytes)
    if not packed.exists():
        with open(plain, "rb") as source, gzip.open(packed, "wb", compresslevel=6) as target:
            shutil.copyfileobj(source, target, 1024 * 1024)
    return plain, packed


DEFAULT_DIR = Path(tempfile.gettempdir()) / "auditor-log-bench"

# Each reader runs as `python -c READER[name] path` and prints "records matched wall_seconds cpu_seconds" of
# its reading alone (interpreter start and imports left out).
_TIMED = """
import sys, time
from pathlib import Path
path = Path(sys.argv[1])
{imports}
wall, cpu = time.perf_counter(), time.process_time()
{read}
print(records, matched, time.perf_counter() - wall, time.process_time() - cpu)
"""
READERS = {
    "our engine": _TIMED.format(
        imports="from tools.logs.engine import scan_cloudtrail\nfrom tools.logs.queries import CONTROL_QUERY_INDEX",
        read="s = scan_cloudtrail(path, CONTROL_QUERY_INDEX, [])\nrecords, matched = s.records, len(s.matches)",
    ),
    "old engine": _TIMED.format(
        imports="from tools.logs.queries import CONTROL_QUERY_INDEX\nfrom tools.logs.readers import read_cloudtrail",
        read="""records = matched = 0
for record in read_cloudtrail(path, []):
    records += 1
    matched += bool(CONTROL_QUERY_INDEX.answered_by_record(record.record))""",
    ),
    "bare ijson loop": _TIMED.format(
        imports="import gzip, ijson",
        read="""records, matched = 0, "-"
with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as stream:
    for _ in ijson.items(stream, "Records.item"):
        records += 1""",
    ),
}


def _jq_command(path: Path) -> list[str]:
    names = json.dumps(sorted(CONTROL_EVENT_NAMES))
    select = f'.Records[] | select((.eventName | IN({names}[])) or .userIdentity.type == "Root") | .eventID'
    reader = (
        f"gzip -dc {path} | jq -c '{select}' | wc -l" if path.suffix == ".gz" else f"jq -c '{select}' {path} | wc -l"
    )
    return ["bash", "-c", reader]


@dataclass(frozen=True)
class Measured:
    records: int | None
    matched: str
    wall_s: float
    cpu_s: float
    peak_mb: float


def measure(command: list[str]) -> Measured:
    """One reader's figures, from its own output (Python readers) or the whole process (jq), and its peak RSS
    through /usr/bin/time."""
    with tempfile.NamedTemporaryFile("r") as usage:
        started = time.perf_counter()
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%M %U %S", "-o", usage.name, *command], capture_output=True, text=True, check=False
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{command[:3]} failed: {done.stderr[-1000:]}")
        peak_kb, user, system = usage.read().split()[-3:]
    output = done.stdout.split()
    if len(output) == 4:
        return Measured(int(output[0]), output[1], float(output[2]), float(output[3]), int(peak_kb) / 1024)
    return Measured(None, output[0], wall, float(user) + float(system), int(peak_kb) / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=200, help="size of the uncompressed file, in MB")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--baselines-up-to-mb", type=int, default=250, help="largest file the slow readers read")
    options = parser.parse_args()
    plain, packed = trail_files(options.dir, options.mb)
    unpacked_mb = plain.stat().st_size / MB
    print(f"{plain.name}: {unpacked_mb:.0f} MB; gzip {packed.stat().st_size / MB:.0f} MB")
    print("MB/s and records/s by wall time, MB/s and the ratio to the old engine by CPU time (on a shared machine")
    print("the wall time grows with the others' load, the CPU time much less)")
    print(
        f"{'reader':<16} {'file':<5} {'MB/s':>7} {'CPU MB/s':>9} {'records/s':>11} {'peak MB':>8} {'x old':>6}  matched"
    )
    readers = [name for name in READERS if name == "our engine" or unpacked_mb <= options.baselines_up_to_mb]
    for path, label in ((plain, "json"), (packed, "gzip")):
        commands = {name: [sys.executable, "-c", READERS[name], str(path)] for name in readers}
        if shutil.which("jq") and unpacked_mb <= options.baselines_up_to_mb:
            commands["jq"] = _jq_command(path)
        results = {name: measure(command) for name, command in commands.items()}
        ours, old = results["our engine"], results.get("old engine")
        for name, result in results.items():
            records = result.records if result.records is not None else ours.records or 0
            ratio = f"{old.cpu_s / result.cpu_s:6.1f}" if old else "     -"
            print(
                f"{name:<16} {label:<5} {unpacked_mb / result.wall_s:7.1f} {unpacked_mb / result.cpu_s:9.1f} "
                f"{records / result.wall_s:11,.0f} {result.peak_mb:8.0f} {ratio}  {result.matched}"
            )


if __name__ == "__main__":
    main()
