"""Secret redaction, applied to every piece of evidence before it is stored.

Each secret is replaced by a marker ``[REDACTED:<kind>]``, so the evidence still shows *that* a secret was
there (a check for leaked credentials looks for the markers) but never the secret itself.

Detection is by precise patterns, each replacing the exact span of the secret. Where detect-secrets has a
pattern or validator that fits (AWS key ids, Slack tokens, JWT structure, entropy), it is reused from its
plugins. Its scanner reports secrets per line without positions, and its patterns for GitHub, Stripe,
JWTs and private keys miss newer formats or stop short of the whole secret, so those are written here. Ordinary identifiers must
survive: hex digests and git SHAs (one letter case only), UUIDs and ARNs (split by '-' and ':').
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.slack import SlackDetector

MARKER_PATTERN = re.compile(r"\[REDACTED:([a-z0-9_]+)\]")


def marker(kind: str) -> str:
    return f"[REDACTED:{kind}]"


class Redacted(NamedTuple):
    data: Any
    counts: dict[str, int]  # secrets replaced, per kind; empty when nothing was found


def redact(value: Any) -> Redacted:
    """Redact a string or JSON-like data (dicts, lists, scalars); other objects are redacted as str()."""
    counts: Counter[str] = Counter()
    return Redacted(_redact_value(value, counts), dict(sorted(counts.items())))


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    # Lower-case substrings of which every match contains one: text holding none of them skips the rule,
    # which keeps ordinary evidence fast. Empty: the rule always runs.
    hints: tuple[str, ...]
    group: int = 0  # the part of the match that is the secret; the rest is context and stays
    accept: Callable[[str], bool] | None = None  # a second look at a candidate, for patterns that over-match


_entropy = Base64HighEntropyString().calculate_shannon_entropy

# Values that stand in for a secret rather than being one: never worth a marker.
_PLACEHOLDERS = {"", "none", "null", "nil", "n/a", "true", "false", "redacted", "hidden_due_to_security_reasons"}


def _is_real_value(value: str) -> bool:
    value = value.strip().strip("'\"")
    return not (
        value.lower() in _PLACEHOLDERS
        or set(value) <= {"*", "x", "X"}
        # variables and templates ($DB_PASSWORD, {{ secret }}, <password>), and paths (sudo logs "PWD=/home/x")
        or value.startswith(("$", "%(", "{", "<", "/", "~/", "[REDACTED:"))
    )


_CODE_ARGUMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\)*")


def _is_code_argument(value: str) -> bool:
    """`f(password=password)`, `secret: self.secret`: a variable name, not a secret."""
    value = value.strip().strip("'\"")
    return bool(_CODE_ARGUMENT.fullmatch(value)) and (value.endswith(")") or "." in value or value.islower() and "_" in value)


def _looks_like_aws_secret_key(candidate: str) -> bool:
    # A random 40-character key mixes cases and digits; digests and SHAs use one case, and words repeat
    # letters (low entropy). 4.3 bits keeps 99.98% of random keys (measured on 20,000).
    return (
        any(c.isupper() for c in candidate)
        and any(c.islower() for c in candidate)
        and any(c.isdigit() or c in "/+" for c in candidate)
        and _entropy(candidate) >= 4.3
    )


# 40 base64 characters, not part of a longer base64 or base64url run.
_BASE64_40 = r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=_-])"

# Order matters: earlier rules win, and later patterns never match inside a marker (markers hold '[', ':').
RULES: tuple[_Rule, ...] = (
    # The whole PEM block, up to its END line (or the end of the text when the block was cut off).
    _Rule(
        "private_key",
        re.compile(
            r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY((?: BLOCK)?)-----.*?(?:-----END \1PRIVATE KEY\2-----|\Z)",
            re.DOTALL,
        ),
        hints=("private key",),
    ),
    _Rule(
        "jwt",
        re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
        hints=("eyj",),
        accept=JwtTokenDetector.is_formally_valid,
    ),
    _Rule(
        "github_token",
        # No leading \b: it stops the regex engine jumping to the literal prefix (50 times slower).
        re.compile(r"(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,244})\b"),
        hints=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    _Rule("slack_token", SlackDetector.denylist[0], hints=("xox",)),
    # Slack app-level and configuration tokens, which detect-secrets' pattern does not know.
    _Rule("slack_token", re.compile(r"\b(?:xapp-\d-[A-Za-z0-9-]{20,}|xoxe(?:\.xox[a-z])?-\d-[A-Za-z0-9-]{20,})"),
          hints=("xapp-", "xoxe")),
    # Model-provider and package-registry keys an AI startup's repos and logs leak most.
    _Rule("anthropic_key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}"), hints=("sk-ant-",)),
    # The boundary is a lookbehind after the literal, so the regex engine can still jump to "sk-".
    _Rule("openai_key", re.compile(r"sk-(?<![\w-]sk-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}"), hints=("sk-",),
          accept=lambda key: not key.startswith("sk-ant-")),
    _Rule("gitlab_token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"), hints=("glpat-",)),
    _Rule("google_api_key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"), hints=("aiza",)),
    _Rule("npm_token", re.compile(r"\bnpm_[A-Za-z0-9]{36}(?![A-Za-z0-9])"), hints=("npm_",)),
    _Rule("slack_token", SlackDetector.denylist[1], hints=("hooks.slack.com",)),
    _Rule("stripe_key", re.compile(r"\b[rs]k_(?:live|test)_[0-9a-zA-Z]{24,247}\b"), hints=("k_live_", "k_test_")),
    _Rule(
        "aws_access_key",
        # detect-secrets' AWSKeyDetector pattern, bounded on both sides. The lookbehind sits after the
        # 4-letter prefix so the regex engine still jumps between prefixes (leading, it is 30 times slower).
        re.compile(r"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)(?<![A-Z0-9]....)[0-9A-Z]{16}(?![A-Z0-9])"),
        hints=("a3t", "abia", "acca", "akia", "asia"),
    ),
    # Secret keys and session tokens named as such (credentials files, env dumps, code).
    _Rule(
        "aws_secret_key",
        re.compile(r"(?i)secret_?(?:access_?)?key[\"']?\s*[:=]\s*[\"']?(" + _BASE64_40 + ")"),
        hints=("secretkey", "secret_key", "secretaccesskey", "secret_accesskey", "secretaccess_key",
               "secret_access_key"),
        group=1,
    ),
    _Rule(
        "aws_session_token",
        re.compile(r"(?i)session_?token[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+=]{16,})"),
        hints=("sessiontoken", "session_token"),
        group=1,
    ),
    # A secret key on its own: the shape of a 40-character key, judged by _looks_like_aws_secret_key.
    _Rule(
        "aws_secret_key",
        re.compile(r"(?<![A-Za-z0-9/+_-])" + _BASE64_40),
        hints=(),
        accept=_looks_like_aws_secret_key,
    ),
    # scheme://user:password@host: only the password goes; the user and host say what it was for.
    # The password may itself hold '@' (unescaped, as people write them): it runs to the last '@' before
    # the host's end.
    _Rule(
        "password_in_url",
        re.compile(r"://[^\s:/?#@\[\]\"']*:([^\s/?#\[\]\"']+)@"),
        hints=("://",),
        group=1,
    ),
    # key=value connection strings (ADO/JDBC, libpq "password=... dbname=...", URL queries). An unquoted
    # value ends at ';', a space, the end, or '&' that starts the next query parameter; it must end there,
    # so code such as `connect(password=password)` is left alone.
    _Rule(
        "password",
        re.compile(
            r"(?i)(?:password|passwd|pwd)\s*=\s*(\"[^\"\n]*\"|'[^'\n]*'|[^\s;'\"(),]+?(?=[\s;]|&\w+=|\Z))"
        ),
        hints=("passw", "pwd"),
        group=1,
        accept=_is_real_value,
    ),
    # ADO/ODBC connection strings end each value at ';', so a value there may hold ',' or '(' too.
    _Rule(
        "password",
        re.compile(r"(?i)(?:password|passwd|pwd)\s*=\s*([^;\n\"']+)(?=;)"),
        hints=("passw", "pwd"),
        group=1,
        accept=lambda value: _is_real_value(value) and not _is_code_argument(value),
    ),
    # YAML, .env-with-colons and JSON written inside log text: `db_password: x`, `"api_key": "x"`.
    _Rule(
        "password",
        re.compile(r"(?i)(?:passw(?:or)?d|client_?secret|api_?key)[\"']?\s*:\s*(\"[^\"\n]{4,}\"|'[^'\n]{4,}'|[^\s,;}\"']{6,})"),
        # Not "secret:" alone (ARNs say arn:...:secret:name), hence no bare "secret" hint either.
        hints=("passw", "client_secret", "clientsecret", "apikey", "api_key"),
        group=1,
        accept=lambda value: _is_real_value(value) and not _is_code_argument(value),
    ),
    _Rule(
        "generic_token",
        re.compile(
            r"(?i)(?:bearer|authorization[\"']?\s*[:=]\s*[\"']?(?:token|basic))\s+([A-Za-z0-9._~+/-]{16,}=*)"
        ),
        hints=("bearer", "authorization"),
        group=1,
    ),
)

# One search that tells whether any rule could match at all: most strings in evidence are short and clean.
_ANY_HINT = re.compile(
    "|".join(re.escape(hint) for rule in RULES for hint in rule.hints) + r"|[a-z0-9/+]{40}"
)

# JSON fields whose value is a secret whatever it looks like (normalised: lower case, letters and digits).
SECRET_FIELDS: dict[str, str] = {
    "password": "password",
    "passwd": "password",
    "pwd": "password",
    "secretaccesskey": "aws_secret_key",
    "awssecretaccesskey": "aws_secret_key",
    "sessiontoken": "aws_session_token",
    "awssessiontoken": "aws_session_token",
    "privatekey": "private_key",
    "secret": "generic_token",
    "clientsecret": "generic_token",
    "token": "generic_token",
    "accesstoken": "generic_token",
    "refreshtoken": "generic_token",
    "idtoken": "generic_token",
    "authtoken": "generic_token",
    "apikey": "generic_token",
    "apitoken": "generic_token",
    "authorization": "generic_token",
}


# Field names that end like a secret's but hold none (pagination and idempotency tokens, types).
_NOT_SECRET_FIELDS = {"nexttoken", "continuationtoken", "nextcontinuationtoken", "clienttoken", "paginationtoken",
                      "idempotencytoken", "startingtoken", "tokentype", "secrettype", "secrettypedisplayname"}


@lru_cache(maxsize=4096)
def _field_name(key: str) -> str:
    return "".join(c for c in key.lower() if c.isalnum())


@lru_cache(maxsize=4096)
def _secret_field_kind(key: str) -> str | None:
    """The secret kind a field name stands for: exact (`password`) or by its ending (`DB_PASSWORD`,
    `GITHUB_TOKEN`, `X-Api-Key`)."""
    name = _field_name(key)
    if name in _NOT_SECRET_FIELDS or MARKER_PATTERN.search(key):  # a key that was itself a secret, now a marker
        return None
    if name in SECRET_FIELDS:
        return SECRET_FIELDS[name]
    return next((kind for field_name, kind in SECRET_FIELDS.items() if name.endswith(field_name)), None)


def _redact_value(value: Any, counts: Counter[str]) -> Any:
    if isinstance(value, str):
        return _redact_text(value, counts)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, dict):
        redacted: dict[str, Any] = {}
        for key, item in value.items():
            key_text = _redact_text(str(key), counts)
            secret_kind = _secret_field_kind(key_text)
            if secret_kind and isinstance(item, str) and _is_real_value(item):
                counts[secret_kind] += 1
                redacted[key_text] = marker(secret_kind)
            else:
                redacted[key_text] = _redact_value(item, counts)
        return redacted
    if isinstance(value, (list, tuple)):
        return _redact_list(value, counts)
    return _redact_text(str(value), counts)


_PEM_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")


def _redact_list(items: list[Any] | tuple[Any, ...], counts: Counter[str]) -> list[Any]:
    """Items one by one; a private key split across items (one line each, as log readers give them) goes
    whole: after an item that opens a key block without closing it, items up to its END line are the key."""
    redacted: list[Any] = []
    inside_key = False
    for item in items:
        if inside_key and isinstance(item, str):
            redacted.append(marker("private_key"))
            inside_key = _PEM_END.search(item) is None
            continue
        inside_key = False
        if isinstance(item, str) and "PRIVATE KEY" in item and _PEM_BEGIN.search(item) and not _PEM_END.search(item):
            inside_key = True
        redacted.append(_redact_value(item, counts))
    return redacted


# Evidence repeats short strings (keys, regions, ARNs, event names) thousands of times: scan each once.
_CACHED_MAX_LENGTH = 256


def _redact_text(text: str, counts: Counter[str]) -> str:
    scan = _scan_cached if len(text) <= _CACHED_MAX_LENGTH else _scan
    redacted, kinds_found = scan(text)
    if kinds_found:
        counts.update(kinds_found)
    return redacted


def _scan(text: str) -> tuple[str, tuple[str, ...]]:
    """The text with every secret replaced, and the kind of each secret replaced."""
    lowered = text.lower()
    if _ANY_HINT.search(lowered) is None:
        return text, ()
    kinds_found: list[str] = []
    for rule in RULES:
        if rule.hints and not any(hint in lowered for hint in rule.hints):
            continue
        text = rule.pattern.sub(lambda match, rule=rule: _replace(rule, match, kinds_found), text)
    return text, tuple(kinds_found)


_scan_cached = lru_cache(maxsize=16384)(_scan)


def _replace(rule: _Rule, match: re.Match[str], kinds_found: list[str]) -> str:
    secret = match.group(rule.group)
    if rule.accept is not None and not rule.accept(secret):
        return match.group(0)
    kinds_found.append(rule.kind)
    start, end = match.start(rule.group) - match.start(), match.end(rule.group) - match.start()
    whole = match.group(0)
    return whole[:start] + marker(rule.kind) + whole[end:]
