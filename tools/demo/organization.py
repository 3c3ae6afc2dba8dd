"""An AWS Organization on a local moto server, for tests and benchmarks of many-account runs.

Setup only: these functions write (create accounts, sign in to them to seed resources); the auditor itself
never does. Only a loopback endpoint is accepted.
"""

from __future__ import annotations

import uuid

import boto3

# The role AWS Organizations creates in every new member account for the management account.
SETUP_ROLE = "OrganizationAccountAccessRole"


def _local(endpoint_url: str) -> str:
    if not endpoint_url.startswith(("http://127.0.0.1", "http://localhost")):
        raise ValueError(f"refusing to set up {endpoint_url}: only a local moto server")
    return endpoint_url


def create_member_accounts(endpoint_url: str, count: int, prefix: str = "member") -> list[str]:
    """`count` new member accounts in the organization of moto's default account (made if there is none);
    their ids, sorted."""
    organizations = boto3.client("organizations", endpoint_url=_local(endpoint_url), region_name="us-east-1")
    try:
        organizations.create_organization(FeatureSet="ALL")
    except organizations.exceptions.AlreadyInOrganizationException:
        pass  # the moto server is shared: an earlier caller made it
    ids = []
    for _ in range(count):
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        created = organizations.create_account(AccountName=name, Email=f"{name}@example.com")
        ids.append(created["CreateAccountStatus"]["AccountId"])
    return sorted(ids)


def member_session(endpoint_url: str, account_id: str) -> boto3.session.Session:
    """A session inside a member account, through the organization's setup role, to seed resources there."""
    sts = boto3.client("sts", endpoint_url=_local(endpoint_url), region_name="us-east-1")
    role = f"arn:aws:iam::{account_id}:role/{SETUP_ROLE}"
    keys = sts.assume_role(RoleArn=role, RoleSessionName="setup")["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
        region_name="us-east-1",
    )
