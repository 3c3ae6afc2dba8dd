"""The demo company's logs: a CloudTrail delivery file and a server's auth.log for "Acme AI".

The mix is known and small: a console sign-in without MFA (raj.patel), root use, six failed SSH
logins from one address, CloudTrail stopped, the bastion security group opened to 0.0.0.0/0 on port 22,
a new IAM user with an access key, a new local user, ordinary traffic the checks must ignore, and one
malformed (cut-off) auth.log line that the reader must report and skip. Names match the AWS demo
(tools/demo/aws.py). What the log checks find is written down in tools/demo/expected/logs.yaml.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ACCOUNT_ID = "123456789012"  # moto's default account, as in the AWS demo
REGION = "us-east-1"
OFFICE_IP = "198.51.100.23"  # documentation address ranges (RFC 5737) only
ATTACKER_IP = "203.0.113.45"
BASTION_SG = "sg-0a3f5e9c2b7d41e68"
DATABASE_SG = "sg-07c1d2e3f4a5b6c7d"


def _user(name: str) -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": "AIDADEMO" + name.upper().replace(".", "").replace("-", ""),
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/{name}",
        "accountId": ACCOUNT_ID,
        "userName": name,
    }


ROOT = {"type": "Root", "principalId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:root", "accountId": ACCOUNT_ID}
INFERENCE_ROLE = {
    "type": "AssumedRole",
    "principalId": "AROADEMOINFERENCE0001:i-0demo",
    "arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/inference-api-role/i-0demo",
    "accountId": ACCOUNT_ID,
}


def _event(
    number: int,
    time: str,
    name: str,
    source: str,
    identity: dict[str, Any],
    *,
    request: dict[str, Any] | None = None,
    response: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    ip: str = OFFICE_IP,
    read_only: bool = False,
    event_type: str = "AwsApiCall",
) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": time,
        "eventSource": source,
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.15.30" if event_type == "AwsApiCall" else "Mozilla/5.0",
        "requestParameters": request,
        "responseElements": response,
        **(extra or {}),
        "eventID": f"00000000-0000-4000-8000-{number:012d}",
        "readOnly": read_only,
        "eventType": event_type,
        "managementEvent": True,
        "recipientAccountId": ACCOUNT_ID,
        "eventCategory": "Management",
    }


def _console_login(number: int, time: str, identity: dict[str, Any], mfa: bool, ip: str) -> dict[str, Any]:
    return _event(
        number,
        time,
        "ConsoleLogin",
        "signin.amazonaws.com",
        identity,
        ip=ip,
        event_type="AwsConsoleSignIn",
        response={"ConsoleLogin": "Success"},
        extra={
            "additionalEventData": {
                "LoginTo": "https://console.aws.amazon.com/console/home",
                "MobileVersion": "No",
                "MFAUsed": "Yes" if mfa else "No",
            }
        },
    )


def _ingress(number: int, time: str, who: str, group: str, port: int, cidr: str) -> dict[str, Any]:
    permission = {
        "ipProtocol": "tcp",
        "fromPort": port,
        "toPort": port,
        "groups": {},
        "ipRanges": {"items": [{"cidrIp": cidr}]},
        "ipv6Ranges": {},
        "prefixListIds": {},
    }
    return _event(
        number,
        time,
        "AuthorizeSecurityGroupIngress",
        "ec2.amazonaws.com",
        _user(who),
        request={"groupId": group, "ipPermissions": {"items": [permission]}},
        response={
            "_return": True,
            "securityGroupRuleSet": {
                "items": [
                    {
                        "groupId": group,
                        "groupOwnerId": ACCOUNT_ID,
                        "isEgress": False,
                        "ipProtocol": "tcp",
                        "fromPort": port,
                        "toPort": port,
                        "cidrIpv4": cidr,
                        "securityGroupRuleId": f"sgr-0demo{number:012d}",
                    }
                ]
            },
        },
    )


def cloudtrail_records() -> list[dict[str, Any]]:
    """The demo's CloudTrail events, oldest first."""
    return [
        _console_login(1, "2025-03-03T08:55:10Z", _user("maya.chen"), mfa=True, ip=OFFICE_IP),
        _console_login(2, "2025-03-03T09:02:44Z", _user("raj.patel"), mfa=False, ip="198.51.100.61"),
        _event(
            3,
            "2025-03-03T09:30:00Z",
            "DescribeInstances",
            "ec2.amazonaws.com",
            INFERENCE_ROLE,
            request={"instancesSet": {}, "filterSet": {}},
            read_only=True,
            ip="10.20.1.15",
        ),
        _console_login(4, "2025-03-04T16:40:02Z", ROOT, mfa=True, ip=OFFICE_IP),
        _event(5, "2025-03-04T16:41:30Z", "GetAccountSummary", "iam.amazonaws.com", ROOT, read_only=True),
        _event(
            6,
            "2025-03-05T22:17:03Z",
            "StopLogging",
            "cloudtrail.amazonaws.com",
            _user("ops-admin"),
            request={"name": f"arn:aws:cloudtrail:{REGION}:{ACCOUNT_ID}:trail/acme-org-trail"},
        ),
        _ingress(7, "2025-03-05T22:20:41Z", "ops-admin", BASTION_SG, 22, "0.0.0.0/0"),
        _ingress(8, "2025-03-06T09:15:00Z", "maya.chen", DATABASE_SG, 5432, "10.20.0.0/16"),
        _event(
            9,
            "2025-03-06T10:02:11Z",
            "CreateUser",
            "iam.amazonaws.com",
            _user("maya.chen"),
            request={"userName": "ci-deployer"},
            response={
                "user": {
                    "userName": "ci-deployer",
                    "path": "/",
                    "userId": "AIDADEMOCIDEPLOYER01",
                    "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/ci-deployer",
                    "createDate": "Mar 6, 2025 10:02:11 AM",
                }
            },
        ),
        _event(
            10,
            "2025-03-06T10:02:40Z",
            "CreateAccessKey",
            "iam.amazonaws.com",
            _user("maya.chen"),
            request={"userName": "ci-deployer"},
            response={
                "accessKey": {"userName": "ci-deployer", "status": "Active", "createDate": "Mar 6, 2025 10:02:40 AM"}
            },
        ),
        _event(
            11,
            "2025-03-06T11:00:00Z",
            "GetCallerIdentity",
            "sts.amazonaws.com",
            _user("ci-deployer"),
            read_only=True,
            ip="10.20.1.30",
        ),
    ]


HOST = "inference-01"
# A source line ending in a backslash goes on in the next: both make one log line.
AUTH_LOG = f"""\
Mar  3 09:14:02 {HOST} sshd[2101]: Accepted publickey for deploy from {OFFICE_IP} port 51022 ssh2: \
ED25519 SHA256:Zm9vYmFyYmF6cXV4ZGVtb2tleWZpbmdlcnByaW50
Mar  3 09:14:02 {HOST} sshd[2101]: pam_unix(sshd:session): session opened for user deploy(uid=1001) by (uid=0)
Mar  3 09:20:11 {HOST} sudo:   deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; \
COMMAND=/usr/bin/systemctl restart inference
Mar  4 02:11:40 {HOST} sshd[3310]: Failed password for root from {ATTACKER_IP} port 40112 ssh2
Mar  4 02:11:44 {HOST} sshd[3310]: Failed password for root from {ATTACKER_IP} port 40112 ssh2
Mar  4 02:11:49 {HOST} sshd[3310]: Failed password for root from {ATTACKER_IP} port 40112 ssh2
Mar  4 02:12:03 {HOST} sshd[3318]: Failed password for ubuntu from {ATTACKER_IP} port 40150 ssh2
Mar  4 02:12:09 {HOST} sshd[3318]: Failed password for deploy from {ATTACKER_IP} port 40150 ssh2
Mar  4 02:12:15 {HOST} sshd[3318]: Failed password for deploy from {ATTACKER_IP} port 40150 ssh2
Mar  4 10:02:17 {HOST} sshd[4011]: Failed password for maya from {OFFICE_IP} port 52200 ssh2
Mar  4 10:02:25 {HOST} sshd[4011]: Accepted password for maya from {OFFICE_IP} port 52200 ssh2
Mar  5 11:30:00 {HOST} useradd[5120]: new user: name=contractor, UID=1005, GID=1005, \
home=/home/contractor, shell=/bin/bash
Mar  5 11:41:0
Mar  5 11:45:12 {HOST} sudo:    maya : TTY=pts/1 ; PWD=/home/maya ; USER=root ; COMMAND=/usr/bin/journalctl -u inference
"""
MALFORMED_LINE = 13  # "Mar  5 11:41:0": a line cut off mid-write


def write_demo_logs(directory: Path) -> list[Path]:
    """Write the demo's CloudTrail file and auth.log under directory; returns the files written."""
    directory = Path(directory)
    cloudtrail = directory / "cloudtrail" / f"{ACCOUNT_ID}_CloudTrail_{REGION}_20250306T1100Z_acme.json"
    cloudtrail.parent.mkdir(parents=True, exist_ok=True)
    cloudtrail.write_text(json.dumps({"Records": cloudtrail_records()}, indent=1) + "\n", encoding="utf-8")
    auth_log = directory / "auth.log"
    auth_log.write_text(AUTH_LOG, encoding="utf-8")
    return [cloudtrail, auth_log]
