"""Planted secrets: the forms a security review planted (and more), each a secret inside the data shape a
collector returns, a log line, or a policy document. Shared by tests/test_redact_planted.py, which stores
each through the real path, and evals/redaction/run.py, which counts what leaks. Secrets are random on
every run, assembled here so that no scanner mistakes this file for a leak.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
PIECE = 10  # no run of this many characters of a secret may be stored


def rand(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def password() -> str:
    return rand(ALNUM, 12) + "!%" + rand(string.digits, 2)


def aws_secret_key() -> str:
    return rand(ALNUM, 20) + "/" + rand(ALNUM, 9) + "+" + rand(ALNUM, 9)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass(frozen=True)
class Form:
    id: str
    secret: str
    build: Callable[[str], Any]  # the secret -> what the collector returns, or the text of a file
    # Other spellings of the secret that must not be stored either (its base64, in a Kubernetes Secret).
    also: Callable[[str], list[str]] = field(default=lambda secret: [])


def leaked(secret: str, stored: str) -> list[str]:
    pieces = {secret[i : i + PIECE] for i in range(max(1, len(secret) - PIECE + 1))}
    return sorted(piece for piece in pieces if piece in stored)


def assert_not_stored(form: Form, stored: str) -> None:
    for value in [form.secret, *form.also(form.secret)]:
        assert not leaked(value, stored), f"{form.id}: {leaked(value, stored)} stored"


def patch(path: str, lines: str) -> dict[str, Any]:
    """git.history's shape: one commit adding a file."""
    added = "".join(f"+{line}\n" for line in lines.splitlines())
    text = f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1 @@\n{added}"
    commit = {
        "sha": rand(HEX, 40),
        "author": "Dana",
        "date": "2025-01-02T10:00:00+00:00",
        "subject": "config",
        "files": [{"path": path, "patch": text}],
    }
    return {"repos": [{"repo": "platform", "path": "/src/platform", "commits": [commit]}]}


def repository_file(path: str, content: str) -> dict[str, Any]:
    """git.repository_files' shape: known files' contents."""
    return {"repos": [{"repo": "platform", "head": rand(HEX, 40), "files": [path], "contents": {path: content}}]}


def per_region(items_key: str | None, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"us-east-1": {items_key: items} if items_key else items}


def cloudtrail(event_name: str, **fields: Any) -> dict[str, Any]:
    """logs.cloudtrail_events' shape: one selected event."""
    event = {
        "eventName": event_name,
        "eventTime": "2025-01-02T10:00:00Z",
        "eventSource": "iam.amazonaws.com",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/dana"},
        **fields,
    }
    return {"events": [{"location": "trail.json:record 1", "event": event}], "problems": []}


def auth_event(kind: str, user: str, **detail: str) -> dict[str, Any]:
    """logs.auth_events' shape."""
    event = {
        "kind": kind,
        "location": "auth.log:3",
        "timestamp": "Feb  3 14:10:21",
        "host": "web-1",
        "process": "sshd",
        "user": user,
        "source_ip": "203.0.113.9",
        "detail": detail,
    }
    return {"events": [event], "problems": []}


def k8s_secret(data: dict[str, str], block: str = "data") -> str:
    lines = "\n".join(f"  {key}: {value}" for key, value in data.items())
    return f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ntype: Opaque\n{block}:\n{lines}\n"


def jwt() -> str:
    def part(payload: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")

    return part({"alg": "HS256", "typ": "JWT"}) + "." + part({"sub": rand(string.digits, 8)}) + "." + rand(ALNUM, 43)


# -- evidence as collectors return it --------------------------------------------------------------------

EVIDENCE_FORMS = [
    # .env files in git history
    Form(
        "env-django-secret-key",
        rand(ALNUM, 30) + "$&(" + rand(ALNUM, 10),
        lambda s: patch(".env", f"DEBUG=false\nDJANGO_SECRET_KEY={s}\nALLOWED_HOSTS=*"),
    ),
    Form(
        "env-sendgrid-api-key",
        "SG." + rand(ALNUM, 22) + "." + rand(ALNUM, 43),
        lambda s: patch(".env", f"SENDGRID_API_KEY={s}"),
    ),
    Form("env-api-token", "tok_" + rand(ALNUM, 24), lambda s: patch(".env", f"API_TOKEN={s}")),
    Form("env-db-pass-quoted", password(), lambda s: patch(".env.production", f'DB_PASS="{s}"')),
    Form("env-export-vault-token", "hvs." + rand(ALNUM, 90), lambda s: patch("deploy.sh", f"export VAULT_TOKEN={s}")),
    Form(
        "env-compose-list",
        password(),
        lambda s: patch("docker-compose.yml", f"services:\n  db:\n    environment:\n      - POSTGRES_PASSWORD={s}"),
    ),
    Form("dockerfile-env-space", aws_secret_key(), lambda s: patch("Dockerfile", f"ENV AWS_SECRET_ACCESS_KEY {s}")),
    # Kubernetes Secrets: data values are base64
    Form(
        "k8s-secret-base64-aws-key",
        aws_secret_key(),
        lambda s: patch(
            "k8s/secret.yaml",
            k8s_secret(
                {"aws_access_key_id": b64("AKIA" + rand(string.ascii_uppercase, 16)), "aws_secret_access_key": b64(s)}
            ),
        ),
        also=lambda s: [b64(s)],
    ),
    Form(
        "k8s-secret-base64-short-password",
        rand(ALNUM, 11),
        lambda s: patch("k8s/db.yaml", k8s_secret({"username": b64("app"), "password": b64(s)})),
        also=lambda s: [b64(s)],
    ),
    Form(
        "k8s-secret-stringdata",
        password(),
        lambda s: repository_file(
            ".github/workflows/k8s.yml", k8s_secret({"db-url": f"postgres://app@db/{s}"}, "stringData")
        ),
    ),
    Form(
        "k8s-secret-json",
        rand(ALNUM, 24),
        lambda s: patch("secret.json", json.dumps({"apiVersion": "v1", "kind": "Secret", "data": {"token": b64(s)}})),
        also=lambda s: [b64(s)],
    ),
    # tokens split over two lines
    Form(
        "ghp-split-concatenated",
        "ghp_" + rand(ALNUM, 36),
        lambda s: patch("ci.py", f'TOKEN = ("{s[:20]}"\n         "{s[20:]}")'),
    ),
    Form(
        "ghp-split-wrapped",
        "ghp_" + rand(ALNUM, 36),
        lambda s: patch("docs/setup.md", f"Use the bot token {s[:18]}\n{s[18:]} for the mirror job."),
    ),
    Form(
        "aws-secret-split-backslash",
        aws_secret_key(),
        lambda s: patch("setup.sh", f'aws_secret_access_key = "{s[:22]}\\\n{s[22:]}"'),
    ),
    # JSON, YAML and code
    Form("json-pass", password(), lambda s: patch("config/db.json", json.dumps({"user": "app", "pass": s}, indent=2))),
    Form(
        "json-passphrase",
        "correct horse " + rand(ALNUM, 12),
        lambda s: patch("config/tls.json", json.dumps({"key_file": "tls.key", "passphrase": s}, indent=2)),
    ),
    Form(
        "yaml-datasource-password",
        password(),
        lambda s: patch("application.yml", f"spring:\n  datasource:\n    password: {s}\n    url: jdbc:pg://db"),
    ),
    Form(
        "python-secret-key",
        rand(ALNUM, 40) + "#@",
        lambda s: patch("settings.py", f"SECRET_KEY = '{s}'\nDEBUG = False"),
    ),
    Form(
        "azure-account-key",
        rand(ALNUM, 86) + "==",
        lambda s: patch(
            "appsettings.json",
            json.dumps(
                {
                    "Storage": f"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={s};"
                    "EndpointSuffix=core.windows.net"
                }
            ),
        ),
    ),
    Form(
        "terraform-aws-referer",
        rand(ALNUM, 32),
        lambda s: patch(
            "s3.tf", f'condition {{\n  test     = "StringLike"\n  variable = "aws:Referer"\n  values   = ["{s}"]\n}}'
        ),
    ),
    Form("npmrc-auth-token", str(uuid.uuid4()), lambda s: patch(".npmrc", f"//registry.npmjs.org/:_authToken={s}")),
    Form(
        "pypirc-token",
        "pypi-AgEIcHlwaS5vcmc" + rand(ALNUM, 80),
        lambda s: patch(".pypirc", f"[pypi]\nusername = __token__\npassword = {s}"),
    ),
    Form(
        "private-key-block",
        rand(ALNUM + "+/", 64),
        lambda s: patch(
            "id_rsa", f"-----BEGIN RSA PRIVATE KEY-----\n{s}\n{rand(ALNUM, 64)}\n-----END RSA PRIVATE KEY-----"
        ),
    ),
    Form("postgres-url-password", password(), lambda s: patch("db.py", f'DSN = "postgresql://app:{s}@db:5432/app"')),
    Form(
        "curl-bearer",
        rand(ALNUM + "-._~", 40),
        lambda s: patch("scripts/call.sh", f"curl -H 'Authorization: Bearer {s}' https://api.example.com"),
    ),
    Form("jwt-in-fixture", jwt(), lambda s: patch("tests/fixture.txt", f"session={s}")),
    Form("sshpass", password(), lambda s: patch("deploy.sh", f"sshpass -p {s} ssh deploy@web-1 uptime")),
    Form("mysql-p-in-script", password(), lambda s: patch("backup.sh", f"mysqldump -u root -p{s} app > app.sql")),
    Form(
        "docker-login-password-flag",
        password(),
        lambda s: repository_file(".github/workflows/push.yml", f"steps:\n  - run: docker login -u bot --password {s}"),
    ),
    Form(
        "workflow-slack-token",
        "xoxb-" + rand(string.digits, 12) + "-" + rand(string.digits, 12) + "-" + rand(ALNUM, 24),
        lambda s: repository_file(".github/workflows/notify.yml", f"env:\n  SLACK_TOKEN: {s}"),
    ),
    Form(
        "commit-subject-token",
        "ghp_" + rand(ALNUM, 36),
        lambda s: {"repos": [{"repo": "platform", "commits": [{"sha": rand(HEX, 40), "subject": f"rotate, old {s}"}]}]},
    ),
    # vendor formats (one per detect-secrets plugin, and ours)
    Form("gitlab-token", "glpat-" + rand(ALNUM, 20), lambda s: patch(".gitlab-ci.yml", f"variables:\n  GL: {s}")),
    Form("openai-key", "sk-proj-" + rand(ALNUM, 48), lambda s: patch("bot.py", f'client = OpenAI(api_key="{s}")')),
    Form("anthropic-key", "sk-ant-api03-" + rand(ALNUM, 80), lambda s: patch("llm.py", f'KEY = "{s}"')),
    Form("google-api-key", "AIza" + rand(ALNUM, 35), lambda s: patch("maps.js", f"const key = '{s}';")),
    Form("stripe-live-key", "sk_live_" + rand(ALNUM, 24), lambda s: patch("billing.py", f"stripe.api_key = '{s}'")),
    Form("npm-token", "npm_" + rand(ALNUM, 36), lambda s: patch("publish.sh", f"NPM={s} npm publish")),
    Form(
        "slack-webhook",
        "T" + rand(ALNUM, 8) + "/B" + rand(ALNUM, 8) + "/" + rand(ALNUM, 24),
        lambda s: patch("alerts.py", f'HOOK = "https://hooks.slack.com/services/{s}"'),
    ),
    Form("twilio-api-key", "SK" + rand(HEX, 32), lambda s: patch("sms.py", f'twilio_key = "{s}"')),
    Form("mailchimp-key", rand(HEX, 32) + "-us14", lambda s: patch("mail.py", f"MC = '{s}'")),
    Form(
        "telegram-bot-token", rand(string.digits, 9) + ":" + rand(ALNUM, 35), lambda s: patch("bot.cfg", f"bot = {s}")
    ),
    Form(
        "discord-bot-token",
        "M" + rand(ALNUM, 23) + "." + rand(ALNUM, 6) + "." + rand(ALNUM, 27),
        lambda s: patch("discord.py", f'client.run("{s}")'),
    ),
    Form("square-oauth-secret", "sq0csp-" + rand(ALNUM, 43), lambda s: patch("pay.rb", f"SQUARE = '{s}'")),
    Form("cloudant-password", rand(HEX, 64), lambda s: patch("couch.ini", f"cloudant_password = '{s}'")),
    Form("ibm-cloud-iam-key", rand(ALNUM, 44), lambda s: patch("ibm.env", f"ibm_cloud_api_key: {s}")),
    Form("ibm-cos-hmac", rand(HEX, 48), lambda s: patch("cos.ini", f"cos_hmac_secret_access_key = {s}")),
    Form(
        "softlayer-key", rand(string.ascii_lowercase + string.digits, 64), lambda s: patch("sl.cfg", f"sl_api_key: {s}")
    ),
    Form("artifactory-token", "AKC" + rand(ALNUM, 70), lambda s: patch("gradle.properties", f"artifactory_token={s}")),
    Form("aws-secret-key-alone", aws_secret_key(), lambda s: patch("notes.txt", s)),
    Form(
        "presigned-url-session-token",
        rand(ALNUM, 300),
        lambda s: patch("links.txt", f"https://b.s3.amazonaws.com/k?X-Amz-Security-Token={s}&X-Amz-Expires=60"),
    ),
    # logs: sshd, sudo, CloudTrail
    Form("ssh-invalid-user-password", password(), lambda s: auth_event("ssh_invalid_user", s)),
    Form(
        "ssh-failed-password-invalid-user",
        "Winter" + rand(string.digits, 4) + rand(string.ascii_uppercase, 3),
        lambda s: auth_event("ssh_failed_login", s, method="password", invalid_user="true"),
    ),
    Form(
        "sudo-mysql-p", password(), lambda s: auth_event("sudo_command", "dana", command=f"/usr/bin/mysql -uroot -p{s}")
    ),
    Form(
        "sudo-aws-configure-session-token",
        "IQoJb3JpZ2luX2Vj" + rand(ALNUM + "/+", 120) + "==",
        lambda s: auth_event("sudo_command", "dana", command=f"/usr/local/bin/aws configure set aws_session_token {s}"),
    ),
    Form(
        "cloudtrail-createuser-tags",
        password(),
        lambda s: cloudtrail(
            "CreateUser", requestParameters={"userName": "svc", "tags": [{"key": "password", "value": s}]}
        ),
    ),
    Form(
        "cloudtrail-createaccesskey-secret",
        aws_secret_key(),
        lambda s: cloudtrail(
            "CreateAccessKey",
            responseElements={
                "accessKey": {
                    "accessKeyId": "AKIA" + rand(string.ascii_uppercase, 16),
                    "secretAccessKey": s,
                    "status": "Active",
                }
            },
        ),
    ),
    Form(
        "cloudtrail-bucket-policy-referer",
        rand(ALNUM, 28),
        lambda s: cloudtrail(
            "PutBucketPolicy",
            requestParameters={
                "bucketName": "site",
                "bucketPolicy": {"Statement": [{"Effect": "Allow", "Condition": {"StringLike": {"aws:Referer": [s]}}}]},
            },
        ),
    ),
    Form(
        "cloudtrail-user-data-base64",
        password(),
        lambda s: cloudtrail(
            "RunInstances", requestParameters={"userData": b64(f"#!/bin/bash\nexport DB_PASSWORD={s}\n")}
        ),
        also=lambda s: [b64(f"#!/bin/bash\nexport DB_PASSWORD={s}\n")],
    ),
    Form(
        "cloudtrail-lambda-environment",
        "tok_" + rand(ALNUM, 30),
        lambda s: cloudtrail(
            "CreateFunction20150331", requestParameters={"environment": {"variables": {"API_TOKEN": s}}}
        ),
    ),
    # AWS API shapes
    Form(
        "ec2-tag-db-password",
        password(),
        lambda s: per_region(None, [{"GroupId": "sg-1", "Tags": [{"Key": "db-password", "Value": s}]}]),
    ),
    Form(
        "ebs-tag-api-token",
        rand(ALNUM, 32),
        lambda s: per_region(None, [{"VolumeId": "vol-1", "Tags": [{"Key": "backup-api-token", "Value": s}]}]),
    ),
    Form(
        "rds-tag-master-password",
        password(),
        lambda s: per_region(
            None, [{"DBInstanceIdentifier": "db", "TagList": [{"Key": "master_password", "Value": s}]}]
        ),
    ),
    Form(
        "tag-value-base64-slack-token",
        "xoxb-" + rand(string.digits, 12) + "-" + rand(ALNUM, 24),
        lambda s: per_region(None, [{"GroupId": "sg-2", "Tags": [{"Key": "bootstrap", "Value": b64(f"slack={s}")}]}]),
        also=lambda s: [b64(f"slack={s}")],
    ),
    Form(
        "alarm-description-pagerduty-key",
        rand(HEX, 32),
        lambda s: per_region(
            None,
            [
                {
                    "AlarmName": "5xx",
                    "AlarmDescription": f"Pages on-call via PagerDuty integration key {s}. Runbook: wiki/5xx",
                }
            ],
        ),
    ),
    Form(
        "alarm-description-pagerduty-url",
        rand(HEX, 32),
        lambda s: per_region(
            None, [{"AlarmName": "p1", "AlarmDescription": f"https://events.pagerduty.com/integration/{s}/enqueue"}]
        ),
    ),
    Form(
        "alarm-description-base64-aws-key",
        aws_secret_key(),
        lambda s: per_region(
            None, [{"AlarmName": "x", "AlarmDescription": f"creds: {b64('aws_secret_access_key=' + s)}"}]
        ),
        also=lambda s: [b64("aws_secret_access_key=" + s)],
    ),
    Form(
        "kms-description-vault-token",
        "hvs." + rand(ALNUM + "_-", 24),
        lambda s: per_region(None, [{"KeyMetadata": {"KeyId": "k1", "Description": f"Vault auto-unseal (root {s})"}}]),
    ),
    Form(
        "s3-policy-aws-referer",
        rand(ALNUM, 24),
        lambda s: [
            {
                "Name": "site",
                "Policy": {
                    "Statement": [
                        {"Effect": "Allow", "Principal": "*", "Condition": {"StringLike": {"aws:Referer": s}}}
                    ]
                },
            }
        ],
    ),
    Form(
        "iam-policy-document-referer-list",
        rand(ALNUM, 24),
        lambda s: {
            "customer_managed": [
                {
                    "PolicyName": "cdn",
                    "Document": {
                        "Statement": [{"Condition": {"StringEquals": {"aws:referer": ["https://a.example.com", s]}}}]
                    },
                }
            ]
        },
    ),
    Form(
        "iam-role-description-token",
        "tok_" + rand(ALNUM, 24),
        lambda s: [{"RoleName": "deploy", "Description": f"CI deploy role. token={s}"}],
    ),
    Form(
        "ecs-environment-pair",
        password(),
        lambda s: {"containerDefinitions": [{"environment": [{"name": "DB_PASSWORD", "value": s}]}]},
    ),
    Form(
        "cloudformation-parameter",
        password(),
        lambda s: {"Parameters": [{"ParameterKey": "MasterUserPassword", "ParameterValue": s}]},
    ),
    # GitHub API shapes
    Form(
        "github-repo-homepage-basic-auth",
        password(),
        lambda s: {"repos": [{"repo": "acme/site", "homepage": f"https://deploy:{s}@preview.example.com"}]},
    ),
    Form(
        "github-pull-body-env",
        "sk_live_" + rand(ALNUM, 30),
        lambda s: {
            "repos": [{"repo": "acme/api", "pulls": [{"number": 7, "body": f"Set STRIPE_SECRET_KEY={s} in prod"}]}]
        },
    ),
    Form(
        "github-secret-alert-secret-field",
        "ghp_" + rand(ALNUM, 36),
        lambda s: {
            "repos": [{"repo": "acme/api", "alerts": [{"number": 1, "secret_type": "github_pat", "secret": s}]}]
        },
    ),
]

# Lines of an auth log, read by logs.auth_events.
LOG_LINE_FORMS = [
    Form(
        "auth-log-invalid-user",
        password(),
        lambda s: f"Feb  3 14:10:21 web-1 sshd[411]: Invalid user {s} from 203.0.113.9 port 52811",
    ),
    Form(
        "auth-log-failed-password-invalid-user",
        "Summer" + rand(string.digits, 4) + "Xy",
        lambda s: (
            f"Feb  3 14:10:22 web-1 sshd[411]: Failed password for invalid user {s} from 203.0.113.9 port 52811 ssh2"
        ),
    ),
    Form(
        "auth-log-sudo-mysql",
        password(),
        lambda s: (
            "Feb  3 14:11:00 web-1 sudo:     dana : TTY=pts/0 ; PWD=/home/dana ; USER=root ; "
            f"COMMAND=/usr/bin/mysql -uroot -p{s}"
        ),
    ),
    Form(
        "auth-log-sudo-aws-configure",
        rand(ALNUM, 60),
        lambda s: (
            f"Feb  3 14:12:00 web-1 sudo:     dana : TTY=pts/0 ; PWD=/home/dana ; USER=root ; "
            f"COMMAND=/usr/local/bin/aws configure set aws_session_token {s}"
        ),
    ),
    # Not a syslog line: kept as a parse problem, which is cut to 60 characters after redaction.
    Form("non-syslog-line-aws-secret", aws_secret_key(), lambda s: f"export AWS_ACCESS_KEY=AKIA... AWS_SECRET={s}"),
]

# Evidence forms that are also committed to a real repository and collected by git.
GIT_FILE_FORMS = [
    form
    for form in EVIDENCE_FORMS
    if form.id
    in {
        "env-django-secret-key",
        "env-sendgrid-api-key",
        "env-api-token",
        "k8s-secret-base64-aws-key",
        "ghp-split-concatenated",
        "json-passphrase",
        "azure-account-key",
        "terraform-aws-referer",
        "mysql-p-in-script",
    }
]

# Company policy documents: Markdown when they start with a heading, else text.
POLICY_FORMS = [
    Form(
        "policy-runbook-export",
        aws_secret_key(),
        lambda s: f"# Incident runbook\n\n## Break glass\n\n```\nexport AWS_SECRET_ACCESS_KEY={s}\n```\n",
    ),
    Form(
        "policy-password-in-prose",
        password(),
        lambda s: f"# Access control\n\nThe shared admin password: `{s}` must be rotated quarterly.\n",
    ),
    Form(
        "policy-wrapped-token",
        "ghp_" + rand(ALNUM, 36),
        lambda s: f"# CI\n\nThe mirror job authenticates with {s[:24]}\n{s[24:]} (to be moved to a vault).\n",
    ),
    Form(
        "policy-connection-string",
        password(),
        lambda s: f"Backups\n\nRestore with Server=db;User Id=sa;Password={s};\n\nSecond paragraph.\n",
    ),
]
