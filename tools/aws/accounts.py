"""Many accounts: an AWS Organization's member accounts, each read through a read-only role assumed in it.

The configured credentials (the management or a delegated administrator account) list the accounts
(organizations:ListAccounts) and assume `[aws.organization] role_name` in each; the read-only guard sends
sts:AssumeRole to no other role. Each account gets its own ReadOnlyAws, so its cache and counters are its own
(still one request per distinct read, per account), and the collectors run unchanged once per account
(CollectContext.for_account). An account whose role cannot be assumed is kept, with the reason, so every
check gives an error finding for it: never a pass, and the other accounts go on.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tools.aws.session import ReadOnlyAws, ReadOnlyViolation
from tools.checks_common import ACCOUNT
from tools.config import AwsOrganizationConfig
from tools.findings import Finding, Status

# The name AWS CloudTrail records for every call made through the assumed role.
ROLE_SESSION_NAME = "agentic-auditor"


@dataclass(frozen=True)
class MemberAccount:
    id: str
    name: str
    aws: ReadOnlyAws | None  # None: the role could not be assumed, and `problem` says why
    problem: str = ""


def role_arn(account_id: str, role_name: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{role_name}"


def list_accounts(management: ReadOnlyAws, organization: AwsOrganizationConfig) -> list[dict[str, Any]]:
    """The organization's active accounts that the allow and deny lists keep, by id."""
    listed = management.paginate("organizations", "list_accounts")["Accounts"]
    return sorted(
        (
            account
            for account in listed
            if account.get("Status", "ACTIVE") == "ACTIVE"
            and (not organization.accounts or account["Id"] in organization.accounts)
            and account["Id"] not in organization.exclude_accounts
        ),
        key=lambda account: account["Id"],
    )


def open_account(
    management: ReadOnlyAws, organization: AwsOrganizationConfig, account: dict[str, Any]
) -> MemberAccount:
    """The account with a read-only session in it, or with the reason its role could not be assumed."""
    account_id, name = account["Id"], account.get("Name", "")
    arn = role_arn(account_id, organization.role_name)
    try:
        # Not through the read cache: credentials are not evidence, and each account needs its own.
        answer = management.client("sts").assume_role(RoleArn=arn, RoleSessionName=ROLE_SESSION_NAME)
    except (ClientError, BotoCoreError, ReadOnlyViolation) as error:
        return MemberAccount(account_id, name, None, f"the role {arn} could not be assumed: {error}")
    return MemberAccount(account_id, name, ReadOnlyAws(management.config, credentials=answer["Credentials"]))


def open_accounts(management: ReadOnlyAws, organization: AwsOrganizationConfig) -> list[MemberAccount]:
    """Every chosen account, its role assumed concurrently (organization.max_workers at once). An account the
    configuration names that the organization does not list as active (a typo, or closed since) is one that could
    not be read, and says so: it must not drop out of the audit without a word."""
    accounts = list_accounts(management, organization)
    listed = {account["Id"] for account in accounts}
    absent = [
        MemberAccount(account_id, "", None, "it is not an active account of the organization")
        for account_id in organization.accounts
        if account_id not in listed
    ]
    with ThreadPoolExecutor(max_workers=organization.max_workers) as pool:
        opened = list(pool.map(lambda account: open_account(management, organization, account), accounts))
    return sorted(opened + absent, key=lambda member: member.id)


def unreachable_finding(check_id: str, account: MemberAccount, evidence_ids: list[str]) -> Finding:
    """What a check says of an account it could not read: an error, never a pass."""
    return Finding(
        check=check_id,
        status=Status.ERROR,
        resource=ACCOUNT,
        reason=f"Account {account.id} was not read, so this cannot be judged there: {account.problem}.",
        evidence_ids=evidence_ids,
        account=account.id,
    )
