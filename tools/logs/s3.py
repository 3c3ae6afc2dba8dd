"""CloudTrail from S3: the log files a trail delivers to its bucket, for the audit period only, read with the
same one-pass engine as local files (tools/logs/engine.py).

CloudTrail writes ``<prefix>/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<file>.json.gz`` (an organization
trail ``<prefix>/AWSLogs/<organization id>/<account>/...``). For each trail DescribeTrails returns (in each
configured region), the collector lists the account folders the bucket holds, then for each account, configured
region and day of the period lists that day's prefix (s3:ListObjectsV2) and reads each object (s3:GetObject) into
a temporary file, which the engine reads once. The read-only guard (tools/aws/session.py) sends those two reads
only to the bucket of a trail DescribeTrails returned to the same session.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from tools.aws.collectors import error_code
from tools.catalog import NoArgs, tool
from tools.context import CollectContext
from tools.logs.collectors import CloudTrailArgs, cloudtrail_queries, scan_cloudtrail_files
from tools.logs.readers import MAX_FILE_BYTES, ParseProblem

_DOWNLOAD_CHUNK = 1024 * 1024


def audit_days(config_bounds: tuple[date, date] | None, today: date) -> tuple[date, date]:
    """The days to read: the configured [audit] period, else this calendar quarter up to today."""
    if config_bounds is not None:
        return config_bounds
    return date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), today


def day_prefixes(folders: list[str], regions: list[str], first: date, last: date) -> list[str]:
    """The S3 key prefixes of the log files of each account folder, region and day of the period."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [f"{folder}CloudTrail/{region}/{day:%Y/%m/%d}/" for folder in folders for region in regions for day in days]


def account_folders(aws: Any, trail: dict[str, Any]) -> list[str]:
    """The account folders under a trail's ``AWSLogs/``: ``AWSLogs/<account>/``, and for an organization trail
    ``AWSLogs/<organization id>/<account>/`` of each member account."""
    base = f"{trail['S3KeyPrefix'].strip('/')}/AWSLogs/" if trail.get("S3KeyPrefix") else "AWSLogs/"
    folders = []
    for prefix in _subfolders(aws, trail["S3BucketName"], base):
        name = prefix.removeprefix(base)
        if _ACCOUNT_FOLDER.fullmatch(name):
            folders.append(prefix)
        elif _ORGANIZATION_FOLDER.fullmatch(name):
            subfolders = _subfolders(aws, trail["S3BucketName"], prefix)
            folders += [member for member in subfolders if _ACCOUNT_FOLDER.fullmatch(member.removeprefix(prefix))]
    return folders


_ACCOUNT_FOLDER = re.compile(r"\d{12}/")
_ORGANIZATION_FOLDER = re.compile(r"o-[a-z0-9]{10,32}/")


def _subfolders(aws: Any, bucket: str, prefix: str) -> list[str]:
    listing = aws.paginate("s3", "list_objects_v2", Bucket=bucket, Prefix=prefix, Delimiter="/")
    return [entry["Prefix"] for entry in listing.get("CommonPrefixes", [])]


@tool(
    "logs.cloudtrail_s3",
    source="logs",
    description="CloudTrail events from the log files the trails deliver to S3, for the audit period only, every "
    "file read once whole and answering the same control queries as logs.cloudtrail_events.",
    args=NoArgs,
    operations=("cloudtrail:DescribeTrails", "s3:ListObjectsV2", "s3:GetObject"),
)
def cloudtrail_s3(ctx: CollectContext, args: NoArgs) -> dict[str, Any]:
    logs = ctx.config.logs
    first, last = audit_days(ctx.config.audit.bounds, date.today())
    evidence: dict[str, Any] = {
        "failed_login_threshold": logs.failed_login_threshold,
        "period": {"first_day": first.isoformat(), "last_day": last.isoformat()},
    }
    problems: list[ParseProblem] = []
    if not logs.cloudtrail_from_s3:
        return {**evidence, "trails": [], **scan_cloudtrail_files(cloudtrail_queries(CloudTrailArgs()), [], problems)}
    aws = ctx.aws
    trails: dict[str, dict[str, Any]] = {}
    for region in aws.regions:
        for trail in aws.call("cloudtrail", "describe_trails", region, includeShadowTrails=False)["trailList"]:
            if trail.get("S3BucketName"):
                trails.setdefault(trail["TrailARN"], trail)
    evidence["trails"] = [
        {"trail": arn, "bucket": trail["S3BucketName"], "key_prefix": trail.get("S3KeyPrefix")}
        for arn, trail in sorted(trails.items())
    ]
    unread: list[dict[str, Any]] = []
    if not trails:  # asked to read the trails' logs, and there are none: unread logs, not nothing to judge
        regions = ", ".join(aws.regions)
        unread.append({"file": "s3://", "error": f"no trail in {regions} delivers its logs to S3"})

    def objects(folder: Path) -> Iterator[tuple[Path, str]]:
        """Each log object of the period as a temporary file, removed once the engine has read it. A trail that
        delivered no file in the period is an unread source: its logs are missing, whatever the reason."""
        for trail in (trails[arn] for arn in sorted(trails)):
            bucket = trail["S3BucketName"]
            try:
                folders = account_folders(aws, trail)
            except ClientError as error:
                unread.append({"file": f"s3://{bucket}/", "error": error_code(error)})
                continue
            unread_before, delivered = len(unread), False
            for prefix in day_prefixes(folders, aws.regions, first, last):
                try:
                    listing = aws.paginate("s3", "list_objects_v2", Bucket=bucket, Prefix=prefix)
                except ClientError as error:
                    unread.append({"file": f"s3://{bucket}/{prefix}", "error": error_code(error)})
                    continue
                delivered = delivered or bool(listing.get("Contents"))
                for entry in listing.get("Contents", []):
                    name = f"s3://{bucket}/{entry['Key']}"
                    try:
                        path = _download(aws, bucket, entry["Key"], folder)
                    except (ClientError, ValueError) as error:
                        reason = error_code(error) if isinstance(error, ClientError) else str(error)
                        unread.append({"file": name, "error": reason})
                        continue
                    yield path, name
                    path.unlink()
            if not delivered and len(unread) == unread_before:
                where = f"s3://{bucket}/{trail.get('S3KeyPrefix') or ''}"
                unread.append({"file": where, "error": f"{trail['Name']} delivered no log file for {first}..{last}"})

    with tempfile.TemporaryDirectory(prefix="auditor-cloudtrail-") as folder:
        scanned = scan_cloudtrail_files(cloudtrail_queries(CloudTrailArgs()), objects(Path(folder)), problems)
    scanned["sources"] += unread
    return {**evidence, **scanned}


def _download(aws: Any, bucket: str, key: str, folder: Path) -> Path:
    """One object into a temporary file, refused past MAX_FILE_BYTES. Not through the session's cache: each
    object is read once, and its body is a stream."""
    body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    path = folder / "object"
    written = 0
    with open(path, "wb") as out:
        while chunk := body.read(_DOWNLOAD_CHUNK):
            written += len(chunk)
            if written > MAX_FILE_BYTES:
                raise ValueError(f"s3://{bucket}/{key} is larger than {MAX_FILE_BYTES} bytes (MAX_FILE_BYTES)")
            out.write(chunk)
    return path
