"""Ordinary identifiers survive redaction: digests, SHAs, UUIDs, ARNs, code that names a password."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest

from tools.redact import redact

CLEAN_TEXTS = [
    hashlib.sha256(b"evidence").hexdigest(),
    hashlib.sha256(b"evidence").hexdigest().upper(),
    hashlib.sha1(b"commit").hexdigest(),  # a git SHA: 40 hex characters, the length of an AWS secret key
    hashlib.sha1(b"commit").hexdigest().upper(),
    hashlib.md5(b"etag").hexdigest(),
    "commit 3f786850e387550fdab836ed7e6dc881de23001b\nAuthor: Dana <dana@example.com>",
    str(uuid.UUID("9b2f1c36-8f3e-4a0a-9d7c-2f7e4b1d6a90")),
    "arn:aws:iam::123456789012:role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty",
    "arn:aws:kms:us-east-1:123456789012:key/9b2f1c36-8f3e-4a0a-9d7c-2f7e4b1d6a90",
    "arn:aws:cloudtrail:eu-west-1:123456789012:trail/management-events",
    "arn:aws:s3:::acme-audit-logs-123456789012/AWSLogs/123456789012/CloudTrail/us-east-1/2024/07/30/",
    "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",  # a base64 digest (subresource integrity)
    "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",  # a GitHub node id
    "src/agent/tools/Collectors/AwsHelpers1/x.py",
    "password_last_used,password_last_changed,password_next_rotation,mfa_active",
    "def connect(host, password=None):\n    return Client(host, password=password)",
    'password = os.environ["DB_PASSWORD"]',
    "password=$DB_PASSWORD ; token ${{ secrets.GITHUB_TOKEN }}",
    "Feb 21 23:35:33 localhost sudo: vagrant : TTY=pts/0 ; PWD=/home/vagrant ; USER=root ; COMMAND=/bin/ls",
    "https://example.com:8443/download@v2/archive.tar.gz",
    "git+ssh://git@github.com:acme/platform.git",
    "The Bearer of this note",
    "Authorization required",
    "eyJhbGciOiJIUzI1NiJ9 is a base64 header with nothing after it",
]


@pytest.mark.parametrize("text", CLEAN_TEXTS)
def test_ordinary_identifiers_are_left_alone(text: str) -> None:
    assert redact(text) == (text, {})


def test_clean_json_is_returned_equal_and_uncounted() -> None:
    data = {
        "Arn": "arn:aws:iam::123456789012:user/dana",
        "UserId": "AIDA2O52SQUGX7EXAMPLE",  # an IAM user id, not an access key (AIDA, not AKIA)
        "sha": hashlib.sha1(b"x").hexdigest(),
        "etag": '"' + hashlib.md5(b"y").hexdigest() + '"',
        "requestID": str(uuid.uuid4()),
        "password_enabled": "true",
        "PasswordLastUsed": "2024-07-30T21:46:15Z",
        "MinimumPasswordLength": 14,
        "items": [1, 2.5, None, False],
    }
    assert redact(data) == (data, {})


def _load(path: Path) -> object:
    text = path.read_text(encoding="utf-8", errors="replace")
    return json.loads(text) if path.suffix == ".json" else text


def _leaves(before: object, after: object, field: str = "") -> list[tuple[str, object, object]]:
    """(field name, value before, value after) for every scalar of two same-shaped JSON documents."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [leaf for (key, b), a in zip(before.items(), after.values(), strict=True) for leaf in _leaves(b, a, key)]
    if isinstance(before, list) and isinstance(after, list):
        return [leaf for b, a in zip(before, after, strict=True) for leaf in _leaves(b, a, field)]
    return [(field, before, after)]


def test_public_reference_data_is_redacted_only_where_a_secret_is(shared_data: Path) -> None:
    # GitHub's published example responses: the one secret is the leaked value in a secret-scanning alert.
    for path in sorted((shared_data / "github-api").glob("*.json")):
        data, counts = redact(_load(path))
        if path.name == "secret-scanning-list-alerts-for-repo.json":
            assert counts == {"generic_token": 1}
            alerts = [alert for alert in data["value"] if "secret" in alert]
            assert [alert["secret"] for alert in alerts] == ["[REDACTED:generic_token]"]
            assert alerts[0]["secret_type"] == "adafruit_io_key"
        else:
            # The one other secret: `temp_clone_token` lets anyone clone the private repository for a while.
            changed = {field for field, before, after in _leaves(_load(path), data) if before != after}
            assert changed <= {"temp_clone_token"}, (path.name, changed)
            assert set(counts) <= {"generic_token"}, path.name
    # Real sshd/PAM/sudo logs hold no secrets (and sudo's PWD= is a folder, not a password).
    for path in sorted((shared_data / "linux-logs").rglob("*.log")):
        assert redact(_load(path)).counts == {}, path.name


def test_cloudtrail_keeps_everything_but_key_ids_and_session_tokens(shared_data: Path) -> None:
    path = shared_data / "cloudtrail" / "stratus_red_team_all_records.json"
    original = _load(path)
    redacted, counts = redact(original)
    assert set(counts) == {"aws_access_key", "aws_session_token"}
    # Everything else is untouched: event names, ARNs, request ids, times, addresses.
    for before, after in zip(original["Records"], redacted["Records"], strict=True):
        for field in ("eventName", "eventSource", "eventTime", "requestID", "sourceIPAddress", "awsRegion"):
            assert after.get(field) == before.get(field)
        assert after["userIdentity"].get("arn") == before["userIdentity"].get("arn")
