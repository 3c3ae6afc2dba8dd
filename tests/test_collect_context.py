"""The collect context counts the run's AWS requests without building the AWS client just to ask."""

from __future__ import annotations

from tools.config import AuditorConfig, AwsConfig
from tools.context import AwsCalls, CollectContext


def test_aws_calls_are_none_until_a_collector_uses_aws_then_counted_once_per_distinct_read(moto_server: str) -> None:
    ctx = CollectContext(AuditorConfig(aws=AwsConfig(endpoint_url=moto_server)))
    assert ctx.aws_calls == AwsCalls(made=0, distinct=0)
    assert "aws" not in vars(ctx)  # asking did not build the client

    ctx.aws.call("iam", "list_users")
    ctx.aws.call("iam", "list_users")  # answered from the per-run cache
    ctx.aws.call("iam", "get_account_summary")
    assert ctx.aws_calls == AwsCalls(made=2, distinct=2)
