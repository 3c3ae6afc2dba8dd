"""Every kind of secret is replaced by its marker, in text and in JSON-like data, and counted."""

from __future__ import annotations

import base64
import json
import secrets
import string

import pytest
from detect_secrets.core.scan import scan_line
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.settings import default_settings

from tools.redact import MARKER_PATTERN, redact

# Secrets are assembled at run time so no scanner mistakes this file for a leak; each is random.
AWS_EXAMPLE_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


ALNUM = string.ascii_letters + string.digits


def random_aws_secret() -> str:
    return _random(ALNUM + "/+", 40)


def github_token(prefix: str = "ghp") -> str:
    return f"{prefix}_" + _random(ALNUM, 36)


def fine_grained_github_token() -> str:
    return "github_" + "pat_" + _random(ALNUM, 22) + "_" + _random(ALNUM, 59)


def slack_token() -> str:
    numbers = _random(string.digits, 12) + "-" + _random(string.digits, 12)
    return "xo" + "xb-" + numbers + "-" + _random(ALNUM, 24).lower()


def stripe_key() -> str:
    return "sk" + "_live_" + _random(ALNUM, 24)


def jwt() -> str:
    def part(payload: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")

    return (
        part({"alg": "HS256", "typ": "JWT"})
        + "."
        + part({"sub": "1234567890", "name": "Dana"})
        + "."
        + _random(ALNUM + "-_", 43)
    )


def pem_private_key(label: str = "RSA PRIVATE KEY") -> tuple[str, str]:
    body = "\n".join(_random(ALNUM + "+/", 64) for _ in range(6))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----", body


def test_aws_documented_example_keys_are_redacted() -> None:
    text = f"aws_access_key_id = {AWS_EXAMPLE_KEY_ID}\naws_secret_access_key = {AWS_EXAMPLE_SECRET}\n"
    redacted, counts = redact(text)
    assert AWS_EXAMPLE_KEY_ID not in redacted and AWS_EXAMPLE_SECRET not in redacted
    assert redacted == (
        "aws_access_key_id = [REDACTED:aws_access_key]\naws_secret_access_key = [REDACTED:aws_secret_key]\n"
    )
    assert counts == {"aws_access_key": 1, "aws_secret_key": 1}


def test_aws_secret_key_on_its_own_line_is_redacted() -> None:
    secret = random_aws_secret()
    redacted, counts = redact(f"export KEY={AWS_EXAMPLE_SECRET}\n{AWS_EXAMPLE_SECRET}\n")
    assert AWS_EXAMPLE_SECRET not in redacted
    assert counts == {"aws_secret_key": 2}
    # Named as a secret key, even a low-entropy one goes.
    redacted, counts = redact(f'"SecretAccessKey": "{secret}"')
    assert redacted == '"SecretAccessKey": "[REDACTED:aws_secret_key]"' and counts == {"aws_secret_key": 1}


@pytest.mark.parametrize("prefix", ["ghp", "gho", "ghu", "ghs", "ghr"])
def test_github_tokens_are_redacted(prefix: str) -> None:
    token = github_token(prefix)
    redacted, counts = redact(f"Authorization: token {token}")
    assert redacted == "Authorization: token [REDACTED:github_token]"
    assert counts == {"github_token": 1}


def test_fine_grained_github_token_is_redacted_whole() -> None:
    token = fine_grained_github_token()
    redacted, counts = redact(f"GITHUB_TOKEN={token} # ci")
    assert redacted == "GITHUB_TOKEN=[REDACTED:github_token] # ci"
    assert counts == {"github_token": 1}


def test_slack_stripe_and_bearer_tokens_are_redacted() -> None:
    slack, stripe = slack_token(), stripe_key()
    bearer = _random(ALNUM + "-._~", 32)
    text = f"slack={slack}\nstripe: {stripe}\ncurl -H 'Authorization: Bearer {bearer}' https://api.example.com"
    redacted, counts = redact(text)
    for secret in (slack, stripe, bearer):
        assert secret not in redacted
    assert "Authorization: Bearer [REDACTED:generic_token]'" in redacted
    assert counts == {"generic_token": 1, "slack_token": 1, "stripe_key": 1}


def test_slack_webhook_is_redacted() -> None:
    path = "T" + _random(ALNUM, 8) + "/B" + _random(ALNUM, 8) + "/" + _random(ALNUM, 24)
    webhook = "https://hooks.slack.com/services/" + path
    redacted, counts = redact(f"notify: {webhook}")
    assert redacted == "notify: [REDACTED:slack_token]" and counts == {"slack_token": 1}


@pytest.mark.parametrize(
    "label", ["RSA PRIVATE KEY", "PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY"]
)
def test_private_key_block_is_redacted_whole(label: str) -> None:
    pem, body = pem_private_key(label)
    redacted, counts = redact(f"before\n{pem}\nafter")
    assert redacted == "before\n[REDACTED:private_key]\nafter"
    assert counts == {"private_key": 1}


def test_private_key_cut_off_before_its_end_line_is_still_redacted() -> None:
    pem, body = pem_private_key()
    truncated = pem[: len(pem) // 2]
    redacted, counts = redact("key follows:\n" + truncated)
    assert redacted == "key follows:\n[REDACTED:private_key]" and counts == {"private_key": 1}


def test_jwt_is_redacted_and_a_lookalike_is_not() -> None:
    token = jwt()
    redacted, counts = redact(f"id_token {token} issued")
    assert redacted == "id_token [REDACTED:jwt] issued" and counts == {"jwt": 1}
    # Starts like a JWT but its parts are not base64 JSON.
    lookalike = "eyJnotjson.eyJalsonot.signature"
    assert redact(lookalike).data == lookalike


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "postgres://app:S3cr3t!pw@db.internal:5432/orders",
            "postgres://app:[REDACTED:password_in_url]@db.internal:5432/orders",
        ),
        ("mysql://root:hunter2@127.0.0.1/app", "mysql://root:[REDACTED:password_in_url]@127.0.0.1/app"),
        ("redis://:topsecret@cache:6379/0", "redis://:[REDACTED:password_in_url]@cache:6379/0"),
        (
            "https://deploy:pa$$w0rd@git.example.com/repo.git",
            "https://deploy:[REDACTED:password_in_url]@git.example.com/repo.git",
        ),
    ],
)
def test_passwords_in_urls_are_redacted_keeping_user_and_host(text: str, expected: str) -> None:
    redacted, counts = redact(text)
    assert redacted == expected and counts == {"password_in_url": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Server=db;Database=app;User Id=sa;Password=Tr0ub4dor&3;",
            "Server=db;Database=app;User Id=sa;Password=[REDACTED:password];",
        ),
        (
            "host=db port=5432 dbname=app user=app password=hunter2 sslmode=require",
            "host=db port=5432 dbname=app user=app password=[REDACTED:password] sslmode=require",
        ),
        ("DRIVER={ODBC};UID=svc;PWD=s3cret;", "DRIVER={ODBC};UID=svc;PWD=[REDACTED:password];"),
        (
            "jdbc:mysql://db/app?user=app&password=letmein&ssl=true",
            "jdbc:mysql://db/app?user=app&password=[REDACTED:password]&ssl=true",
        ),
        ('db_password = "correct horse"', "db_password = [REDACTED:password]"),
    ],
)
def test_passwords_in_connection_strings_are_redacted(text: str, expected: str) -> None:
    redacted, counts = redact(text)
    assert redacted == expected and counts == {"password": 1}


def test_json_data_is_walked_values_and_keys_redacted() -> None:
    token, secret = github_token(), random_aws_secret()
    data = {
        "users": [{"name": "dana", "AccessKeyId": AWS_EXAMPLE_KEY_ID, "note": f"token {token}"}],
        "credentials": {"SecretAccessKey": secret, "SessionToken": "FwoGZXIvYXdzE" + _random(ALNUM, 60)},
        f"{token}": "a key that is itself a secret",
        "count": 3,
        "enabled": True,
        "nothing": None,
        "tuple": ("mysql://root:hunter2@db/app",),
    }
    redacted, counts = redact(data)
    dumped = json.dumps(redacted)
    for leaked in (token, secret, AWS_EXAMPLE_KEY_ID, "hunter2", "FwoGZXIvYXdzE"):
        assert leaked not in dumped
    assert redacted["users"][0]["AccessKeyId"] == "[REDACTED:aws_access_key]"
    assert redacted["credentials"] == {
        "SecretAccessKey": "[REDACTED:aws_secret_key]",
        "SessionToken": "[REDACTED:aws_session_token]",
    }
    assert redacted["[REDACTED:github_token]"] == "a key that is itself a secret"
    assert redacted["count"] == 3 and redacted["enabled"] is True and redacted["nothing"] is None
    assert redacted["tuple"] == ["mysql://root:[REDACTED:password_in_url]@db/app"]
    assert counts == {
        "aws_access_key": 1,
        "aws_secret_key": 1,
        "aws_session_token": 1,
        "github_token": 2,
        "password_in_url": 1,
    }


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(
            {
                "password": ("hunter2", "[REDACTED:password]"),
                "client_secret": ("abc", "[REDACTED:generic_token]"),
                "api_key": ("k-1", "[REDACTED:generic_token]"),
                "password_last_used": ("2024-01-01", "2024-01-01"),
                "token": ("", ""),
                "PasswordEnabled": ("true", "true"),
                "secret_type": ("mailchimp_api_key", "mailchimp_api_key"),
            },
            id="whatever-their-value-looks-like",
        ),
        pytest.param(
            {
                "DB_PASSWORD": ("hunter2xyz", "[REDACTED:password]"),
                "GITHUB_TOKEN": ("0123456789abcdef" * 2, "[REDACTED:generic_token]"),
                "X-Api-Key": ("abcd1234efgh5678", "[REDACTED:generic_token]"),
                "NextToken": ("eyJuZXh0IjoyfQ", "eyJuZXh0IjoyfQ"),
                "PasswordLastUsed": ("2024-07-30T21:46:15Z", "2024-07-30T21:46:15Z"),
            },
            id="by-their-name-ending-but-pagination-tokens-are-not",
        ),
    ],
)
def test_secret_fields_are_redacted_by_their_name(fields: dict[str, tuple[str, str]]) -> None:
    """Each field: (value, what redaction leaves of it)."""
    redacted, counts = redact({name: value for name, (value, _) in fields.items()})
    assert redacted == {name: left for name, (_, left) in fields.items()}
    assert counts == {"generic_token": 2, "password": 1}


def test_objects_that_are_not_json_are_redacted_as_text() -> None:
    class Holder:
        def __str__(self) -> str:
            return f"key {AWS_EXAMPLE_KEY_ID}"

    redacted, counts = redact({"holder": Holder()})
    assert redacted == {"holder": "key [REDACTED:aws_access_key]"} and counts == {"aws_access_key": 1}


def test_detect_secrets_finds_nothing_left_after_redaction() -> None:
    # An independent second opinion: detect-secrets' own scanner, before and after, line by line.
    pem, _ = pem_private_key()
    lines = [
        f"aws_access_key_id={AWS_EXAMPLE_KEY_ID}",
        f"GH={github_token()}",
        f"SLACK={slack_token()}",
        f"STRIPE={stripe_key()}",
        f"token: {jwt()}",
        "url = https://admin:Sup3rS3cret@internal.example.com/",
        *pem.splitlines(),
    ]
    secret_types = {
        plugin.secret_type
        for plugin in (
            AWSKeyDetector,
            GitHubTokenDetector,
            SlackDetector,
            StripeDetector,
            JwtTokenDetector,
            PrivateKeyDetector,
            BasicAuthDetector,
        )
    }

    def found(text_lines: list[str]) -> set[str]:
        with default_settings():
            return {finding.type for line in text_lines for finding in scan_line(line)} & secret_types

    assert found(lines) == secret_types
    assert found(redact("\n".join(lines)).data.splitlines()) == set()


def test_markers_are_stable_and_not_redacted_again() -> None:
    once, counts = redact(f"key {AWS_EXAMPLE_KEY_ID} url https://u:{github_token()}@github.com")
    twice, counts_again = redact(once)
    assert twice == once and counts_again == {}
    assert MARKER_PATTERN.findall(once) == ["aws_access_key", "github_token"]
    assert counts == {"aws_access_key": 1, "github_token": 1}


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        (
            "Server=db;User Id=sa;Password=Abc,123(x)yz;",
            "Server=db;User Id=sa;Password=[REDACTED:password];",
            "password",
        ),
        (
            "postgres://admin:p@ssw0rd@db.example.com/app",
            "postgres://admin:[REDACTED:password_in_url]@db.example.com/app",
            "password_in_url",
        ),
        ("db_password: hunter2xyz", "db_password: [REDACTED:password]", "password"),
        (
            'msg={"password": "hunter2xyz", "user": "dana"}',
            'msg={"password": [REDACTED:password], "user": "dana"}',
            "password",
        ),
    ],
)
def test_passwords_in_yaml_log_text_and_awkward_strings_are_redacted(text: str, expected: str, kind: str) -> None:
    redacted, counts = redact(text)
    assert redacted == expected and counts == {kind: 1}


def test_model_provider_and_registry_keys_are_redacted() -> None:
    keys = {
        "openai_key": "sk-" + "proj-" + _random(ALNUM, 48),
        "anthropic_key": "sk-" + "ant-api03-" + _random(ALNUM + "-_", 90),
        "gitlab_token": "gl" + "pat-" + _random(ALNUM, 20),
        "google_api_key": "AI" + "za" + _random(ALNUM, 35),
        "npm_token": "np" + "m_" + _random(ALNUM, 36),
        "slack_token": "xa"
        + "pp-1-A"
        + _random(string.digits, 10)
        + "-"
        + _random(string.digits, 13)
        + "-"
        + _random("0123456789abcdef", 64),
    }
    text = "\n".join(f"{kind.upper()}={key}" for kind, key in keys.items())
    redacted, counts = redact(text)
    for key in keys.values():
        assert key not in redacted
    assert counts == {kind: 1 for kind in keys}


def test_a_private_key_split_across_list_items_is_redacted_whole() -> None:
    pem, body = pem_private_key()
    lines = ["config follows", *pem.splitlines(), "done"]
    redacted, counts = redact(lines)
    assert redacted[0] == "config follows" and redacted[-1] == "done"
    assert set(redacted[1:-1]) == {"[REDACTED:private_key]"}
    assert counts == {"private_key": 1}
    assert not any(line in "\n".join(redacted) for line in body.splitlines())


def test_every_detect_secrets_plugin_is_used_or_said_why_not() -> None:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.base import RegexBasedDetector

    from tools.redact import PLUGINS, RULES

    plugins = set(get_mapping_from_secret_type_to_class().values())
    assert set(PLUGINS) == plugins
    patterns_in_rules = {rule.pattern.pattern for rule in RULES}
    for plugin, how in PLUGINS.items():
        if how.startswith("pattern") and issubclass(plugin, RegexBasedDetector):
            # Used as is, or wrapped in boundaries: its pattern text is inside one of ours.
            assert any(denied.pattern in ours for denied in plugin.denylist for ours in patterns_in_rules), plugin
