"""Secret redaction, applied to everything before it is stored, embedded, logged or sent to a model.

Each secret is replaced by a marker ``[REDACTED:<kind>]``, so the evidence still shows *that* a secret was
there (a check for leaked credentials looks for the markers) but never the secret itself.

Text is redacted by rules, each replacing the exact span of a secret, in three groups:
- whole-text rules, for what spans lines: PEM blocks, a Kubernetes Secret's data (base64 or not),
  tokens broken over two lines (wrapped text, string concatenation, diffs);
- token rules, on each distinct run of token characters: formats from every detect-secrets plugin
  (``PLUGINS`` says how each one is used, or why not) and our own for newer formats and whole spans
  (GitHub, OpenAI, Vault...), a 40-character AWS secret key, and base64 whose decoded text holds a
  secret (in tags, descriptions, user data);
- line rules, for values next to a name that says they are secret: ``.env`` lines
  (``DJANGO_SECRET_KEY=...``), YAML, JSON and code (``"passphrase": ...``), connection strings and URLs,
  command lines (``mysql -p<pw>``, ``aws configure set aws_session_token X``, ``--token X``), a bucket
  policy's ``aws:Referer``, a password typed where sshd asked for a user name (``Invalid user <pw>``);
  a name that only hints (``routing key``) needs a value that looks random (mixed classes, entropy).
Each rule has hints (substrings every match holds), so that most text is passed over quickly.
JSON-like data is walked: fields named like secrets, ``{"Key": "db-password", "Value": ...}`` pairs
(tags, environment lists, parameters), Kubernetes Secret objects and failed-login events are judged as
a whole, and every other string is redacted as text. Ordinary identifiers must survive: hex digests and
git SHAs (one letter case only), UUIDs and ARNs (split by '-' and ':'), IP addresses, prose.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from detect_secrets.plugins.artifactory import ArtifactoryDetector
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import BasePlugin
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.cloudant import CloudantDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString, HexHighEntropyString
from detect_secrets.plugins.ibm_cloud_iam import IbmCloudIamDetector
from detect_secrets.plugins.ibm_cos_hmac import IbmCosHmacDetector
from detect_secrets.plugins.ip_public import IPPublicDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.keyword import KeywordDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.softlayer import SoftlayerDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector

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


# -- judging a candidate value ------------------------------------------------------------------------

_QUOTES = "'\"`"

_BASE64_ENTROPY = Base64HighEntropyString()
_HEX_ENTROPY = HexHighEntropyString()
_entropy = _BASE64_ENTROPY.calculate_shannon_entropy

# Values that stand in for a secret rather than being one: never worth a marker.
_PLACEHOLDERS = {"", "none", "null", "nil", "n/a", "true", "false", "redacted", "hidden_due_to_security_reasons"}
# CloudFormation intrinsic functions, sops-encrypted values and ARNs name where a secret is kept.
_REFERENCE = re.compile(r"!(?:Ref|Sub|GetAtt|ImportValue|If|Join|Select|FindInMap)\b|ENC\[|arn:")


def _is_real_value(value: str) -> bool:
    value = value.strip().strip(_QUOTES)
    return not (
        value.lower() in _PLACEHOLDERS
        or set(value) <= {"*", "x", "X", "."}
        # variables and templates ($DB_PASSWORD, {{ secret }}, <password>), and paths (sudo logs "PWD=/home/x")
        or value.startswith(("$", "%", "{", "<", "/", "~/", "[REDACTED:"))
        or _REFERENCE.match(value) is not None
    )


_CODE_ARGUMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\)*")
# A call, an index, an operation, a chained assignment or a tuple, an expression in brackets, or an
# attribute of a usual object: `getpass()`, `os.environ["X"]`, `pw + salt`, `a = b = ''`, `user, pw`,
# `(user + ":" + password)`, `self.password`.
_CODE_EXPRESSION = re.compile(
    r"[A-Za-z_][\w.]*\s*(?:[\[(]|[+%*]\s|=\s|,\s)|[(\[]|(?:self|cls|this|os|env|config|settings)\.\w"
)
# Variables named after the secret itself (`password = password`, `lasttoken = token`).
_SECRET_WORD_VALUES = {"password", "passwd", "pwd", "pass", "passphrase", "secret", "token", "key", "apikey", "api_key"}


def _is_code_argument(value: str) -> bool:
    """`f(password=password)`, `secret: self.secret`, `os.environ["X"]`: code, not a secret."""
    value = value.strip().strip(_QUOTES)
    if _CODE_EXPRESSION.match(value) or value.lower() in _SECRET_WORD_VALUES:
        return True
    variable = value.endswith(")") or "." in value or value.islower() and "_" in value
    return variable and _CODE_ARGUMENT.fullmatch(value) is not None


def _is_password_value(value: str) -> bool:
    """Anything real may be a password ('hunter2'); variables, templates and code are not."""
    return _is_real_value(value) and not _is_code_argument(value)


def _is_identifier_like(value: str) -> bool:
    """`my-app-secret`, `prod.db.password-v2`, `RegEnumKey`: words and short numbers, the shape of a name.
    Random letters are not words: their case changes every character or two (`qZfRtYb`)."""
    return all(len(part) <= 3 or part.isalpha() and _is_words(part) for part in re.split(r"[-_./]", value) if part)


def _is_words(letters: str) -> bool:
    camel_case_words = re.findall(r"[A-Z]+[a-z]*|[a-z]+", letters)
    return len(letters) <= 12 or all(len(word) >= 3 for word in camel_case_words)


def _is_credential_value(value: str) -> bool:
    """A value named as a token or key that is not a name, a number, a word ('expired') or prose."""
    value = value.strip().strip(_QUOTES)
    return (
        len(value) >= 8
        and not any(c.isspace() for c in value)
        and not value.isdigit()
        and not _is_identifier_like(value)
        and _is_password_value(value)
    )


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_TOKEN_CHARACTERS = re.compile(r"[A-Za-z0-9+/=_~-]+")  # no '.': dotted values are names (`win32api.RegKey`)


def _looks_random(value: str) -> bool:
    """A value that only a hint names (`routing key 8f3a...`): it must look machine-made.

    Random keys mix letter cases and digits; hex keys (PagerDuty's, 32 characters) use one case but pass
    detect-secrets' hex entropy limit. Names, words, UUIDs, ARNs and paths do not.
    """
    value = value.strip().strip(_QUOTES)
    if len(value) < 16 or not _TOKEN_CHARACTERS.fullmatch(value) or _UUID.fullmatch(value):
        return False
    if _is_identifier_like(value) or not any(c.isdigit() for c in value) or not any(c.isalpha() for c in value):
        return False
    if re.fullmatch(r"[0-9a-f]+|[0-9A-F]+", value):
        return len(value) >= 32 and _HEX_ENTROPY.calculate_shannon_entropy(value) >= _HEX_ENTROPY.entropy_limit
    mixed_case = any(c.isupper() for c in value) and any(c.islower() for c in value)
    return mixed_case and _entropy(value) >= 3.5


def _looks_like_aws_secret_key(candidate: str) -> bool:
    # A random 40-character key mixes cases and digits; digests and SHAs use one case, and words repeat
    # letters (low entropy). 4.3 bits keeps 99.98% of random keys (measured on 20,000).
    return (
        any(c.isupper() for c in candidate)
        and any(c.islower() for c in candidate)
        and any(c.isdigit() or c in "/+" for c in candidate)
        and _entropy(candidate) >= 4.3
    )


def _looks_like_password_not_a_user_name(value: str) -> bool:
    """What sshd logged as a user name, judged: Linux names are lower-case words and digits (useradd's
    NAME_REGEX), and scanners try words ('admin', 'pascal5', 'crowdsec-test-NtktlJHV4T...'). A symbol a
    name cannot hold, or upper and lower case with digits and no separator ('Summer2024'), is a password."""
    if re.search(r"[^A-Za-z0-9._@-]", value.rstrip("$")):
        return True
    mixed = any(c.isupper() for c in value) and any(c.islower() for c in value) and any(c.isdigit() for c in value)
    return mixed and len(value) >= 8 and not re.search(r"[._-]", value)


# -- field names -------------------------------------------------------------------------------------

# Field names whose value is a secret whatever it looks like (normalised: lower case, letters and digits),
# matched exactly or as the name's ending (`DB_PASSWORD`, `GITHUB_TOKEN`, `X-Api-Key`).
SECRET_FIELDS: dict[str, str] = {
    "password": "password",
    "passwd": "password",
    "pwd": "password",
    "passphrase": "password",
    "secretaccesskey": "aws_secret_key",
    "awssecretaccesskey": "aws_secret_key",
    "sessiontoken": "aws_session_token",
    "awssessiontoken": "aws_session_token",
    "securitytoken": "aws_session_token",
    "privatekey": "private_key",
    "accountkey": "azure_storage_key",
    "sharedaccesskey": "azure_storage_key",
    "routingkey": "pagerduty_key",
    "integrationkey": "pagerduty_key",
    "awsreferer": "s3_referer_secret",  # a bucket policy's shared secret with CloudFront
    "secret": "generic_token",
    "secretkey": "generic_token",
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
_NOT_SECRET_FIELDS = {
    "nexttoken",
    "continuationtoken",
    "nextcontinuationtoken",
    "clienttoken",
    "paginationtoken",
    "idempotencytoken",
    "startingtoken",
    "tokentype",
    "secrettype",
    "secrettypedisplayname",
    "sessiontoken_expiration",
    "csrftoken",
    "synctoken",
    "pagetoken",
    "nextpagetoken",
}

# `pass` is a password only as a word of its own: `db_pass`, `dbPass`, `PASS`; not `bypass` or `compass`.
_PASS_WORD = re.compile(r"(?:^|[^A-Za-z])pass$|[a-z]Pass$", re.IGNORECASE)
# Names that only hint at a secret (`pagerduty_key`, `credentials`): their value must also look random.
_HINTING_ENDINGS = ("key", "credential", "credentials", "signature")


@lru_cache(maxsize=4096)
def _field_name(key: str) -> str:
    return "".join(c for c in key.lower() if c.isalnum())


@lru_cache(maxsize=4096)
def _secret_field_kind(key: str) -> str | None:
    """The secret kind a field name stands for: exact (`password`) or by its ending (`DB_PASSWORD`)."""
    name = _field_name(key)
    if name in _NOT_SECRET_FIELDS or MARKER_PATTERN.search(key):  # a key that was itself a secret, now a marker
        return None
    if name in SECRET_FIELDS:
        return SECRET_FIELDS[name]
    if _PASS_WORD.search(key):
        return "password"
    return next((kind for field_name, kind in SECRET_FIELDS.items() if name.endswith(field_name)), None)


def _hinting_field(key: str) -> bool:
    name = _field_name(key)
    return name.endswith(_HINTING_ENDINGS) and not name.endswith(("publickey", "dedupkey", "idempotencykey"))


# -- text rules ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    # Lower-case substrings of which every match contains one: text holding none of them skips the rule,
    # which keeps ordinary evidence fast. Empty: the rule always runs.
    hints: tuple[str, ...]
    group: int | str = 0  # the part of the match that is the secret; the rest is context and stays
    accept: Callable[[str], bool] | None = None  # a second look at a candidate, for patterns that over-match
    strip: str = ""  # characters around the secret that a plugin's pattern takes in, kept as context
    # Lines a match spans from the line of its hint on: in a long text the rule runs only there. 0: any.
    lines: int = 1
    shortest: int = 0  # the shortest text a hintless rule can match: shorter runs skip it

    def judge(self, match: re.Match[str]) -> str | None:
        """The kind of secret the match is, or None when it is not one."""
        return self.kind if self.accept is None or self.accept(match.group(self.group)) else None

    def apply(self, text: str, kinds_found: list[str]) -> str:
        return self.pattern.sub(lambda match: self._replace(match, kinds_found), text)

    def windows(self, hints_in_text: _HintPositions) -> list[tuple[int, int]]:
        """Spans of whole lines where a match can be: from each hint's line, `lines` lines on; merged."""
        lowered = hints_in_text.lowered
        spans: list[tuple[int, int]] = []
        for hint in self.hints:
            for found in hints_in_text.positions(hint):
                start, end = lowered.rfind("\n", 0, found) + 1, found
                for _ in range(self.lines):
                    end = lowered.find("\n", end) + 1 or len(lowered)
                spans.append((start, end))
        spans.sort()
        merged: list[tuple[int, int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged

    def _replace(self, match: re.Match[str], kinds_found: list[str]) -> str:
        kind = self.judge(match)
        if kind is None:
            return match.group(0)
        kinds_found.append(kind)
        return self._marked(match, kind)

    def _marked(self, match: re.Match[str], kind: str) -> str:
        """The match with its secret replaced by the marker."""
        start, end = match.start(self.group) - match.start(), match.end(self.group) - match.start()
        whole = match.group(0)
        secret = whole[start:end]
        start += len(secret) - len(secret.lstrip(self.strip))
        end -= len(secret) - len(secret.rstrip(self.strip))
        return whole[:start] + marker(kind) + whole[end:]


# What follows a secret's name: optional closing quote or bracket, then `=`, `:`, `:=` or `=>`.
_ASSIGN = r"(?P<close>[\"'\]]{0,2})[ \t]*(?P<op>:=|=>|[:=])(?!=)[ \t]*"
_QUOTED = r"\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*'|`[^`\n]*`"  # Markdown quotes values in backticks
# An unquoted value ends at a space, a quote or a separator, or at '&' that starts the next URL parameter;
# one followed by '(' or ')' is code (`password=getpass()`, `f(password=password)`), not a value.
_UNQUOTED = r"[^\s\"'`,;}\]()]+?(?=[\s\"'`,;}\]]|&\w+=|$)"
_SECRET_WORDS = r"passw(?:or)?d|passphrase|pass|pwd|secret|token|key|credentials?|signature"
_NAME_BEFORE = re.compile(r"[\w.-]*$")
_NAME_HINTS = ("pass", "pwd", "secret", "token", "key", "credential", "signature")


@dataclass(frozen=True)
class _NamedValueRule(_Rule):
    """A value next to a name that ends like a secret's; the name decides how the value is judged.

    The pattern matches from the name's last word on (a literal the regex engine finds fast); the rest of
    the name is read backwards from the text.
    """

    def judge(self, match: re.Match[str]) -> str | None:
        before = match.string[max(0, match.start("word") - 80) : match.start("word")]
        name_start = _NAME_BEFORE.search(before)
        if before[: name_start.start()].endswith(":"):  # type: ignore[union-attr]
            return None  # a segment of an ARN or URN (arn:aws:secretsmanager:...:secret:name), not a name
        name = name_start.group(0) + match["word"]  # type: ignore[union-attr]
        value = match["value"]
        quoted = value[:1] in _QUOTES
        kind = _secret_field_kind(name)
        if kind is None:
            return "generic_token" if _hinting_field(name) and _looks_random(value) else None
        if quoted:  # a quoted string next to a secret's name is the secret
            return kind if _is_password_value(value) else None
        # `name: value` (YAML, logs): prose ("Password: must be 14 characters") continues after the value.
        line_end = match.string.find("\n", match.end())
        rest_of_line = match.string[match.end() : line_end if line_end >= 0 else None]
        if match["op"] == ":" and rest_of_line.strip(" \t\r,;}]#") and not _looks_random(value):
            return None
        if kind == "password":  # anything may be a password, but not a small count ('PW_PASSWD': 1)
            return kind if _is_password_value(value) and not (value.isdigit() and len(value) < 6) else None
        return kind if _is_credential_value(value) else None


@dataclass(frozen=True)
class _FlagRule(_Rule):
    """Command-line flags and sub-commands that take a secret: the value is judged as a password, and
    named by the setting when the pattern captures one (`aws_session_token`)."""

    def judge(self, match: re.Match[str]) -> str | None:
        if not _is_password_value(match.group(self.group)):
            return None
        setting = match.groupdict().get("name")
        return (_secret_field_kind(setting) if setting else None) or self.kind


# Secrets broken over a line end: `"ghp_abc" +\n "def"`, a wrapped paragraph, a diff's continued line.
_LINE_BREAK = r"(?P<break>[\"']?[ \t]*[+\\]?[ \t]*\r?\n[+\- ]?[ \t]*(?:#|//|\*|>)?[ \t]*[\"']?)"


@dataclass(frozen=True)
class _SplitRule(_Rule):
    """A token whose first part ends a line and whose rest starts the next; together they are long enough.

    The marker takes the first part's place and the rest is dropped, so line numbers stay.
    """

    length: int = 0  # the shortest whole token body
    keep_prefix: bool = False  # the prefix is the secret's name, not part of the secret

    def judge(self, match: re.Match[str]) -> str | None:
        # The prefix must start a token ("task-" is not "sk-"); checked here, as a leading lookbehind
        # would stop the regex engine jumping to the prefix.
        before = match.string[match.start() - 1 : match.start()]
        if not self.keep_prefix and before and (before.isalnum() or before in "_-"):
            return None
        return self.kind if len(match["head"]) + len(match["tail"]) >= self.length else None

    def _marked(self, match: re.Match[str], kind: str) -> str:
        return (match["prefix"] if self.keep_prefix else "") + marker(kind) + match["break"]


def _split_rule(
    kind: str, prefix: str, body: str, length: int, hints: tuple[str, ...], keep_prefix: bool = False
) -> _SplitRule:
    pattern = re.compile(rf"(?P<prefix>{prefix})(?P<head>{body}{{1,{length - 1}}}){_LINE_BREAK}(?P<tail>{body}+)")
    return _SplitRule(kind, pattern, hints, length=length, keep_prefix=keep_prefix, lines=2)


_KUBERNETES_SECRET = re.compile(r"kind[\"']?[ \t]*:[ \t]*[\"']?Secret\b")
_YAML_DOCUMENT_START = re.compile(r"^[+\- ]?---", re.MULTILINE)
_YAML_DATA_BLOCK = re.compile(r"^(?P<indent>[ \t]*)(?:stringData|data)[ \t]*:[ \t]*$")
_YAML_ENTRY = re.compile(r"^(?P<indent>[ \t]*)(?P<key>[^\s:#][^:]*?)[ \t]*:(?P<space>[ \t]*)(?P<value>.*?)[ \t]*$")
_BLOCK_SCALAR = re.compile(r"[|>][-+]?\d*")  # `key: |` : the value is on the lines below
_JSON_DATA_BLOCK = re.compile(r"\"(?:stringData|data)\"\s*:\s*\{(?P<body>[^{}]*)\}")
_JSON_STRING_VALUE = re.compile(r"(:\s*)\"(?:[^\"\\]|\\.)*\"")


@dataclass(frozen=True)
class _KubernetesSecretRule(_Rule):
    """Every value under a Kubernetes Secret's `data:` or `stringData:` is a secret, whatever it looks like
    (`data:` values are base64, so no other rule would know). YAML and JSON manifests, diffs of them too."""

    def apply(self, text: str, kinds_found: list[str]) -> str:
        if _KUBERNETES_SECRET.search(text) is None:
            return text
        starts = [0, *(m.start() for m in _YAML_DOCUMENT_START.finditer(text)), len(text)]
        documents = [text[a:b] for a, b in zip(starts, starts[1:], strict=False)]
        return "".join(self._redact_document(d, kinds_found) if _KUBERNETES_SECRET.search(d) else d for d in documents)

    def _redact_document(self, document: str, kinds_found: list[str]) -> str:
        def json_values(block: re.Match[str]) -> str:
            body = _JSON_STRING_VALUE.sub(lambda value: f'{value.group(1)}"{self._marker(kinds_found)}"', block["body"])
            return block.group(0).replace(block["body"], body)

        document = _JSON_DATA_BLOCK.sub(json_values, document)
        diff = re.search(r"^@@ ", document, re.MULTILINE) is not None
        lines = document.split("\n")
        data_indent: int | None = None  # the indentation of the `data:` line while inside its block
        for number, line in enumerate(lines):
            lead = line[:1] if diff and line[:1] in "+- " else ""
            body = line[len(lead) :]
            indent = len(body) - len(body.lstrip(" \t"))
            if data_indent is not None and body.strip() and indent <= data_indent:
                data_indent = None
            if data_indent is None:
                if block := _YAML_DATA_BLOCK.match(body):
                    data_indent = len(block["indent"])
                continue
            entry = _YAML_ENTRY.match(body)
            if entry and _is_real_value(entry["value"]) and not _BLOCK_SCALAR.fullmatch(entry["value"]):
                lines[number] = lead + body[: entry.start("value")] + self._marker(kinds_found)
            elif body.strip() and not entry:  # a line of a block scalar (`key: |`)
                lines[number] = lead + body[:indent] + self._marker(kinds_found)
        return "\n".join(lines)

    def _marker(self, kinds_found: list[str]) -> str:
        kinds_found.append(self.kind)
        return marker(self.kind)


_BASE64_TOKEN = re.compile(
    r"(?<![A-Za-z0-9+/=_-])(?:[A-Za-z0-9+/]{4}){4,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?(?![A-Za-z0-9+/=_-])"
)


def _decoded_text(token: str) -> str | None:
    """The text a base64 token encodes, or None when it is not base64 of printable text (most are not)."""
    try:
        text = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return text if all(c.isprintable() or c in "\n\r\t" for c in text) else None


@dataclass(frozen=True)
class _Base64Rule(_Rule):
    """Base64 whose decoded text holds a secret (a secret in a tag or description, a Secret's data): the
    whole base64 value goes, marked with the kind found inside."""

    def apply(self, text: str, kinds_found: list[str]) -> str:
        def replace(match: re.Match[str]) -> str:
            decoded = _decoded_text(match.group(0))
            if decoded is None:
                return match.group(0)
            _, inner_kinds = _scan(decoded)
            if not inner_kinds:
                return match.group(0)
            kinds_found.append(inner_kinds[0])
            return marker(inner_kinds[0])

        return self.pattern.sub(replace, text)


# Rules that may span lines run over the whole text, first: PEM blocks, Kubernetes Secrets, split tokens.
WHOLE_TEXT_RULES: tuple[_Rule, ...] = (
    # The whole PEM block, up to its END line (or the end of the text when the block was cut off).
    _Rule(
        "private_key",
        re.compile(
            r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY((?: BLOCK)?)-----.*?(?:-----END \1PRIVATE KEY\2-----|\Z)",
            re.DOTALL,
        ),
        hints=("private key",),
        lines=0,
    ),
    _KubernetesSecretRule("kubernetes_secret", _KUBERNETES_SECRET, hints=("kind",), lines=0),
    # Terraform spells a bucket policy condition out: `variable = "aws:Referer"` then `values = ["..."]`.
    _Rule(
        "s3_referer_secret",
        re.compile(r"(?i)aws:referer[\"']?[ \t]*\r?\n[+\- ]?\s*values\s*=\s*(?P<value>\[[^\]]*\])"),
        hints=("aws:referer",),
        group="value",
        lines=2,
    ),
    # Tokens broken over two lines, each part too short for a token rule.
    *(
        _split_rule(kind, prefix, body, length, hints)
        for kind, prefix, body, length, hints in (
            ("github_token", r"gh[pousr]_", "[A-Za-z0-9]", 36, ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
            ("github_token", r"github_pat_", "[A-Za-z0-9_]", 82, ("github_pat_",)),
            ("gitlab_token", r"glpat-", "[A-Za-z0-9_-]", 20, ("glpat-",)),
            ("slack_token", r"xox[abposr]-", "[A-Za-z0-9-]", 30, ("xox",)),
            ("anthropic_key", r"sk-ant-", "[A-Za-z0-9_-]", 20, ("sk-ant-",)),
            ("openai_key", r"sk-(?:proj-|svcacct-|admin-)?", "[A-Za-z0-9_-]", 32, ("sk-",)),
            (
                "aws_access_key",
                r"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)",
                "[0-9A-Z]",
                16,
                ("a3t", "abia", "acca", "akia", "asia"),
            ),
            ("stripe_key", r"[rs]k_(?:live|test)_", "[0-9a-zA-Z]", 24, ("k_live_", "k_test_")),
            ("vault_token", r"hv[sbr]\.", "[A-Za-z0-9_-]", 24, ("hvs.", "hvb.", "hvr.")),
            ("npm_token", r"npm_", "[A-Za-z0-9]", 36, ("npm_",)),
            ("google_api_key", r"AIza", "[0-9A-Za-z_-]", 35, ("aiza",)),
            ("sendgrid_key", r"SG\.", "[A-Za-z0-9_.-]", 66, ("sg.",)),
        )
    ),
    _split_rule(
        "aws_secret_key",
        r"(?i:secret_?(?:access_?)?key)[\"']?[ \t]*[:=][ \t]*[\"']?",
        "[A-Za-z0-9/+]",
        40,
        ("secret_access_key", "secretaccesskey", "secret_key", "secretkey"),
        keep_prefix=True,
    ),
)

# Rules whose secret is one run of token characters (`_TOKEN`), with no context around it: they run on each
# distinct run once (cached), which is far faster than a regex pass over the whole text per rule.
TOKEN_RULES: tuple[_Rule, ...] = (
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
    _Rule(
        "slack_token",
        re.compile(r"\b(?:xapp-\d-[A-Za-z0-9-]{20,}|xoxe(?:\.xox[a-z])?-\d-[A-Za-z0-9-]{20,})"),
        hints=("xapp-", "xoxe"),
    ),
    # Model-provider and package-registry keys an AI startup's repos and logs leak most.
    _Rule("anthropic_key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}"), hints=("sk-ant-",)),
    # The boundary is a lookbehind after the literal, so the regex engine can still jump to "sk-".
    _Rule(
        "openai_key",
        re.compile(r"sk-(?<![\w-]sk-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}"),
        hints=("sk-",),
        accept=lambda key: not key.startswith("sk-ant-"),
    ),
    *(
        _Rule("gitlab_token", pattern, hints=hints)
        for pattern, hints in zip(
            GitLabTokenDetector.denylist,
            (
                ("glpat-", "gldt-", "glft-", "glsoat-", "glrt-"),
                ("gr1348941",),
                ("glcbt-",),
                ("glimt-",),
                ("glptt-",),
                ("glagent-",),
                ("gloas-",),
            ),
            strict=True,
        )
    ),
    _Rule("google_api_key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"), hints=("aiza",)),
    _Rule("npm_token", re.compile(r"\bnpm_[A-Za-z0-9]{36}(?![A-Za-z0-9])"), hints=("npm_",)),
    _Rule("pypi_token", PypiTokenDetector.denylist[0], hints=("pypi-",)),
    _Rule("pypi_token", PypiTokenDetector.denylist[1], hints=("pypi-",)),
    _Rule("sendgrid_key", SendGridDetector.denylist[0], hints=("sg.",)),
    _Rule("square_token", SquareOAuthDetector.denylist[0], hints=("sq0csp-",)),
    _Rule("vault_token", re.compile(r"\bhv[sbr]\.[A-Za-z0-9_-]{24,}"), hints=("hvs.", "hvb.", "hvr.")),
    _Rule("mailchimp_key", MailchimpDetector.denylist[0], hints=("-us",)),
    _Rule("stripe_key", re.compile(r"\b[rs]k_(?:live|test)_[0-9a-zA-Z]{24,247}\b"), hints=("k_live_", "k_test_")),
    _Rule(
        "aws_access_key",
        # detect-secrets' AWSKeyDetector pattern, bounded on both sides. The lookbehind sits after the
        # 4-letter prefix so the regex engine still jumps between prefixes (leading, it is 30 times slower).
        re.compile(r"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)(?<![A-Z0-9]....)[0-9A-Z]{16}(?![A-Z0-9])"),
        hints=("a3t", "abia", "acca", "akia", "asia"),
    ),
    # Artifactory's patterns take a delimiter in on each side (kept); the password one is loose, so its
    # token must also look random.
    _Rule("artifactory_token", ArtifactoryDetector.denylist[0], hints=("akc",), strip=' \t\r\n=:"'),
    _Rule(
        "artifactory_token",
        ArtifactoryDetector.denylist[1],
        hints=("ap",),
        strip=' \t\r\n=:"',
        accept=lambda token: _looks_random(token.strip(' \t\r\n=:"')),
    ),
    # Rules with no literal to look for: a token run is already a narrow place to look.
    _Rule(
        "discord_token", re.compile(r"(?<![\w-])" + DiscordBotTokenDetector.denylist[0].pattern), hints=(), shortest=59
    ),
    _Rule(
        "telegram_token",
        re.compile(r"(?<![\w:])" + TelegramBotTokenDetector.denylist[0].pattern + r"(?![\w-])"),
        hints=(),
        shortest=44,
        accept=lambda token: _looks_random(token.partition(":")[2]),
    ),
    *(
        _Rule(
            "twilio_key",
            re.compile(r"(?<![A-Za-z0-9])" + pattern.pattern + r"(?![A-Za-z0-9])"),
            hints=(),
            shortest=34,
            accept=_looks_random,
        )
        for pattern in TwilioKeyDetector.denylist
    ),
    # A secret key on its own: the shape of a 40-character key, judged by _looks_like_aws_secret_key.
    _Rule(
        "aws_secret_key",
        # Not inside a longer run; a '+' before it counts only when something base64 precedes it too
        # (a diff's added line starts with '+').
        re.compile(r"(?<![A-Za-z0-9/_-])(?<![A-Za-z0-9/+_-]\+)[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=_-])"),
        hints=(),
        shortest=40,
        accept=_looks_like_aws_secret_key,
    ),
    _Base64Rule("base64_secret", _BASE64_TOKEN, hints=(), shortest=16),
)

# Characters a token rule's secret and its boundaries are made of; a run of them is scanned as one.
_TOKEN = re.compile(r"[A-Za-z0-9+/=_.:-]{11,}")

# Rules that need the text around a secret (its name, a URL, a command): in a long text, they run only
# on the lines where one of their hints is.
LINE_RULES: tuple[_Rule, ...] = (
    _Rule("npm_token", NpmDetector.denylist[0], hints=(":_authtoken",), group=1),
    _Rule("slack_token", SlackDetector.denylist[1], hints=("hooks.slack.com",)),
    _Rule("aws_secret_key", AWSKeyDetector.denylist[1], hints=("key", "pw", "pass", "token"), group=1),
    # Vendor keys that only their assignment names (`cloudant_password = <64 hex>`).
    # Hints: the prefix, then '_', '-', 'api' or the keyword right after it.
    *(
        _Rule(
            "cloudant_key",
            pattern,
            group=1,
            hints=("cloudant", "clou", "cl_", "cl-", "clapi", "clkey", "clpw", "clpass", "cltoken"),
        )
        for pattern in CloudantDetector.denylist[:2]
    ),
    *(_Rule("cloudant_key", pattern, hints=("cloudant.com",), group=1) for pattern in CloudantDetector.denylist[2:]),
    _Rule(
        "ibm_cloud_key",
        IbmCloudIamDetector.denylist[0],
        hints=("key", "pwd", "pass", "token"),
        group=1,
        accept=lambda key: not _is_identifier_like(key),
    ),
    _Rule("ibm_cos_key", IbmCosHmacDetector.denylist[0], hints=("secret",), group=1),
    _Rule(
        "softlayer_key",
        SoftlayerDetector.denylist[0],
        group=1,
        hints=("softlayer", "sl_", "sl-", "slapi", "slkey", "slpwd", "slpass", "sltoken"),
    ),
    _Rule("softlayer_key", SoftlayerDetector.denylist[1], hints=("softlayer",), group=1),
    # Secret keys and session tokens named as such (credentials files, env dumps, code).
    _Rule(
        "aws_secret_key",
        re.compile(r"(?i)secret_?(?:access_?)?key[\"']?[ \t]*[:=][ \t]*[\"']?([A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=_-]))"),
        hints=(
            "secretkey",
            "secret_key",
            "secretaccesskey",
            "secret_accesskey",
            "secretaccess_key",
            "secret_access_key",
        ),
        group=1,
    ),
    _Rule(
        "aws_session_token",
        re.compile(r"(?i)(?:session|security)[_-]?token[\"']?[ \t]*[:=][ \t]*[\"']?([A-Za-z0-9/+=%]{16,})"),
        hints=("sessiontoken", "session_token", "session-token", "securitytoken", "security_token", "security-token"),
        group=1,
    ),
    # Azure storage connection strings; detect-secrets' pattern takes the name in and wants 88 characters.
    _Rule(
        "azure_storage_key",
        re.compile(r"(?i)\b(?:AccountKey|SharedAccessKey)[ \t]*=[ \t]*([A-Za-z0-9+/=]{16,})"),
        hints=("accountkey", "sharedaccesskey"),
        group=1,
    ),
    # Signed URLs: an S3 presigned URL carries the session token; SAS and CloudFront signatures grant access.
    _Rule(
        "aws_session_token",
        re.compile(r"(?i)[?&]X-Amz-Security-Token=([^&\s\"'#]+)"),
        hints=("x-amz-security",),
        group=1,
    ),
    _Rule(
        "url_signature",
        re.compile(r"(?i)[?&](?:X-Amz-Signature|Signature|sig)=([^&\s\"'#]{16,})"),
        hints=("signature=", "sig="),
        group=1,
    ),
    _Rule(
        "pagerduty_key",
        re.compile(r"(?i)events\.pagerduty\.com/(?:integration|generic/[\w/]+?)/([A-Za-z0-9]{20,})"),
        hints=("pagerduty",),
        group=1,
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
    # ADO/ODBC connection strings end each value at ';', so a value there may hold ',' or '(' too.
    _Rule(
        "password",
        re.compile(r"(?i)(?:password|passwd|pwd)[ \t]*=[ \t]*([^;\n\"']+)(?=;)"),
        hints=("passw", "pwd"),
        group=1,
        accept=_is_password_value,
    ),
    _Rule(
        "generic_token",
        re.compile(
            r"(?i)(?:bearer|authorization[\"']?[ \t]*[:=][ \t]*[\"']?(?:token|basic))[ \t]+([A-Za-z0-9._~+/-]{16,}=*)"
        ),
        hints=("bearer", "authorization"),
        group=1,
    ),
    # Command lines: `mysql -uroot -pS3cret` (no space after -p: with one, mysql prompts), `sshpass -p X`,
    # `redis-cli -a X`, `aws configure set aws_session_token X`, `--password X`, `--token=X`.
    _FlagRule(
        "password",
        re.compile(r"\b(?:mysql\w*|mariadb\w*)\b[^\n|;&]*?[ \t]-p(?P<value>[^\s\"']+|\"[^\"\n]*\"|'[^'\n]*')"),
        hints=("mysql", "mariadb"),
        group="value",
    ),
    _FlagRule(
        "password",
        re.compile(r"\b(?:sshpass[ \t]+-p|redis-cli\b[^\n|;&]*?[ \t]-a)[ \t]*(?P<value>[^\s\"']+)"),
        hints=("sshpass", "redis-cli"),
        group="value",
    ),
    _FlagRule(
        "generic_token",
        re.compile(
            r"(?i)\bconfigure[ \t]+set[ \t]+(?:[\w-]+\.)?(?P<name>[\w.-]*(?:secret_access_key|"
            r"session_token|security_token|password|token|secret))[ \t]+(?P<value>\S+)"
        ),
        hints=("configure",),
        group="value",
    ),
    _FlagRule(
        "generic_token",
        re.compile(
            r"(?i)--(?:[\w-]*-)?(?:password|passwd|passphrase|token|secret|api-key|secret-key)"
            r"(?:=|[ \t]+)(?P<value>[^\s\"'-][^\s\"']*|\"[^\"\n]*\"|'[^'\n]*')"
        ),
        hints=("-password", "-passwd", "-passphrase", "-token", "-secret", "-api-key"),
        group="value",
    ),
    # `NAME=value` lines first (.env, shell exports, Dockerfile ENV, compose lists, diffs of them): the
    # value runs to the line's end, symbols and all (a Django secret key holds `$&;()`). Then the same
    # names anywhere in a line.
    _NamedValueRule(
        "generic_token",
        re.compile(
            r"(?im)^[ \t]*(?:[+\-][ \t]*)?(?:-[ \t]+)?(?:(?:export|set|setx|ENV|ARG)[ \t]+)?"
            r"(?:[A-Za-z_][\w.]*?)?"
            r"(?P<word>" + _SECRET_WORDS + r")(?P<close>)[ \t]*(?P<op>=)[ \t]*"
            r"(?P<value>" + _QUOTED + r"|[^\s\"'#][^\n]*?)(?:[ \t]+#[^\n]*)?[ \t\r]*$"
        ),
        hints=_NAME_HINTS,
        group="value",
    ),
    _NamedValueRule(
        "generic_token",
        re.compile(r"(?i)(?P<word>" + _SECRET_WORDS + r")" + _ASSIGN + r"(?P<value>" + _QUOTED + "|" + _UNQUOTED + ")"),
        hints=_NAME_HINTS,
        group="value",
    ),
    # A random-looking value after a hinting word and a space: "PagerDuty integration key 8f3a...".
    _Rule(
        "generic_token",
        re.compile(
            r"(?i)\b(?:key|token|secret|password|passphrase)[ \t]+(?:is[ \t]+)?"
            r"(?P<value>[A-Za-z0-9+/=_.~-]{15,}[A-Za-z0-9+/=_~-])"
        ),  # a sentence's full stop is not in it
        hints=("key ", "token ", "secret ", "password ", "passphrase ", "key\t", "token\t", "secret\t"),
        group="value",
        accept=_looks_random,
    ),
    # A bucket policy's `aws:Referer` value is the secret CloudFront sends: one string, or a list of them.
    _Rule(
        "s3_referer_secret",
        re.compile(
            r"(?i)aws:referer[\"']?[ \t]*(?:[:=]|=>)[ \t]*"
            r"(?P<value>" + _QUOTED + r"|\[[^\]\n]*\]|[^\s,}\"'\]]+)"
        ),
        hints=("aws:referer",),
        group="value",
        accept=_is_real_value,
    ),
    # sshd logs what was typed as a user name; people type their password there.
    _Rule(
        "password",
        re.compile(r"(?i)\binvalid user (?P<value>\S+?)(?= from | port |[ \t]*$| \[)", re.MULTILINE),
        hints=("invalid user",),
        group="value",
        accept=_looks_like_password_not_a_user_name,
    ),
)

RULES: tuple[_Rule, ...] = WHOLE_TEXT_RULES + TOKEN_RULES + LINE_RULES

# How each detect-secrets plugin is used: its patterns in RULES, or why not.
PLUGINS: dict[type[BasePlugin], str] = {
    ArtifactoryDetector: "patterns (API token; the password pattern only for random-looking values)",
    AWSKeyDetector: "patterns: key ids bounded on both sides; the keyword + 40-character secret key as is",
    AzureStorageKeyDetector: "replaced: its pattern takes the name in and wants 88 characters; ours any length",
    BasicAuthDetector: "replaced by password_in_url: a password may hold '@', and the user and host stay",
    CloudantDetector: "patterns",
    DiscordBotTokenDetector: "pattern, with a boundary before the token",
    GitHubTokenDetector: "replaced: its pattern stops at 36 characters and misses fine-grained tokens",
    GitLabTokenDetector: "patterns",
    Base64HighEntropyString: "its entropy, to judge values that only a hinting name points at",
    HexHighEntropyString: "its entropy and limit, to judge hex keys (PagerDuty's) next to a hinting name",
    IbmCloudIamDetector: "pattern",
    IbmCosHmacDetector: "pattern",
    IPPublicDetector: "not used: an address is evidence (who logged in from where), not a secret",
    JwtTokenDetector: "its validator, on a pattern that takes the whole token",
    KeywordDetector: "replaced by our named-value rules, which also read JSON, YAML, .env and command lines",
    MailchimpDetector: "pattern",
    NpmDetector: "pattern (.npmrc _authToken)",
    OpenAIDetector: "replaced by openai_key, which also knows project and service-account keys",
    PrivateKeyDetector: "replaced: its pattern finds the BEGIN line; ours takes the whole block",
    PypiTokenDetector: "patterns",
    SendGridDetector: "pattern",
    SlackDetector: "patterns",
    SoftlayerDetector: "patterns",
    SquareOAuthDetector: "pattern",
    StripeDetector: "replaced: its pattern misses test keys and longer keys",
    TelegramBotTokenDetector: "pattern, bounded, with a random-looking token",
    TwilioKeyDetector: "patterns, bounded, with random-looking ids",
}

# -- JSON-like data --------------------------------------------------------------------------------------

# Pairs that name a value with another field: EC2/IAM tags {"Key", "Value"}, CloudTrail's {"key", "value"},
# ECS environments {"name", "value"}, CloudFormation parameters {"ParameterKey", "ParameterValue"}.
_PAIR_FIELDS = {
    "Key": "Value",
    "key": "value",
    "Name": "Value",
    "name": "value",
    "TagKey": "TagValue",
    "ParameterKey": "ParameterValue",
    "ParameterName": "ParameterValue",
    "OptionName": "Value",
}
# Auth events (tools/logs/readers.py) whose user is what someone typed at an SSH login prompt.
_LOGIN_PROMPT_KINDS = {"ssh_invalid_user", "ssh_failed_login"}


def _redact_value(value: Any, counts: Counter[str]) -> Any:
    if isinstance(value, str):
        return _redact_text(value, counts)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, dict):
        return _redact_dict(value, counts)
    if isinstance(value, (list, tuple)):
        return _redact_list(value, counts)
    return _redact_text(str(value), counts)


def _redact_dict(value: dict[Any, Any], counts: Counter[str]) -> dict[str, Any]:
    secret_fields = _secret_fields_of(value)
    redacted: dict[str, Any] = {}
    for key, item in value.items():
        key_text = _redact_text(str(key), counts)
        kind = secret_fields.get(key) or _secret_field_kind(key_text)
        if kind is None and _hinting_field(key_text) and isinstance(item, str) and _looks_random(item):
            kind = "generic_token"
        if kind and isinstance(item, str) and _is_real_value(item):
            counts[kind] += 1
            redacted[key_text] = marker(kind)
        elif kind and isinstance(item, list) and item and all(isinstance(i, str) for i in item):
            counts[kind] += len(item)
            redacted[key_text] = [marker(kind) for _ in item]
        elif kind == "kubernetes_secret" and isinstance(item, dict):
            counts[kind] += len(item)
            redacted[key_text] = {str(k): marker(kind) for k in item}
        else:
            redacted[key_text] = _redact_value(item, counts)
    return redacted


def _secret_fields_of(record: dict[Any, Any]) -> dict[Any, str]:
    """Fields that are secret because of the record they are in, not their own name."""
    fields: dict[Any, str] = {}
    for name_field in record.keys() & _PAIR_FIELDS.keys():
        name, value_field = record[name_field], _PAIR_FIELDS[name_field]
        if isinstance(name, str) and value_field in record:
            kind = _secret_field_kind(name)
            if kind is None and _hinting_field(name) and _looks_random(str(record[value_field])):
                kind = "generic_token"
            if kind:
                fields[value_field] = kind
    if record.get("kind") == "Secret":  # a Kubernetes Secret: its data is secret, base64 or not
        for field in ("data", "stringData"):
            if isinstance(record.get(field), dict):
                fields[field] = "kubernetes_secret"
    if record.get("kind") in _LOGIN_PROMPT_KINDS and isinstance(record.get("user"), str):
        if _looks_like_password_not_a_user_name(record["user"]):
            fields["user"] = "password"
    return fields


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


# -- scanning text ------------------------------------------------------------------------------------------

# Evidence repeats short strings (keys, regions, ARNs, event names) thousands of times: scan each once.
_CACHED_MAX_LENGTH = 256


def _redact_text(text: str, counts: Counter[str]) -> str:
    scan = _scan_cached if len(text) <= _CACHED_MAX_LENGTH else _scan
    redacted, kinds_found = scan(text)
    if kinds_found:
        counts.update(kinds_found)
    return redacted


# Texts shorter than this are scanned whole by each rule whose hint they hold; longer ones only around hints.
_WINDOWED_LENGTH = 2048


class _HintPositions:
    """Where each hint is in one version of a (lower-cased) text, looked up once for all rules sharing it."""

    def __init__(self, lowered: str, absent_clues: frozenset[str]) -> None:
        self.lowered = lowered
        self._found: dict[str, list[int]] = {clue: [] for clue in absent_clues}

    def positions(self, hint: str) -> list[int]:
        if hint not in self._found:
            if any(known in hint for known, found in self._found.items() if not found):
                return []  # holds a clue or hint known to be absent: no need to look through the text again
            found, at = [], self.lowered.find(hint)
            while at >= 0:
                found.append(at)
                at = self.lowered.find(hint, self.lowered.find("\n", at) + 1 or len(self.lowered))
            self._found[hint] = found
        return self._found[hint]


@dataclass(frozen=True)
class _RuleGroup:
    """Rules that run together, indexed by clue: the fewest hints that every hint of the rules contains
    one of, so that a text holding few clues tries few rules."""

    rules: tuple[_Rule, ...]
    clues: dict[str, tuple[int, ...]]  # clue -> the rules with a hint containing it
    any_clue: re.Pattern[str]  # finds whether any clue is there: one search, faster than a loop on short text
    hintless: tuple[int, ...]  # rules that always run

    @classmethod
    def of(cls, rules: tuple[_Rule, ...]) -> _RuleGroup:
        hints = {hint for rule in rules for hint in rule.hints}
        clues = sorted(hint for hint in hints if not any(other != hint and other in hint for other in hints))
        return cls(
            rules,
            {
                clue: tuple(i for i, rule in enumerate(rules) if any(clue in hint for hint in rule.hints))
                for clue in clues
            },
            re.compile("|".join(re.escape(clue) for clue in clues)),
            tuple(i for i, rule in enumerate(rules) if not rule.hints),
        )

    def candidates(self, lowered: str) -> tuple[list[_Rule], frozenset[str]]:
        """The rules that may match, and the clues that are not in the text."""
        chosen = {i for i in self.hintless if len(lowered) >= self.rules[i].shortest}
        absent = set(self.clues)
        if self.any_clue.search(lowered):
            for clue, indices in self.clues.items():
                if clue in lowered:
                    chosen.update(indices)
                    absent.discard(clue)
        return [self.rules[i] for i in sorted(chosen)], frozenset(absent)


_WHOLE_TEXT_GROUP = _RuleGroup.of(WHOLE_TEXT_RULES)
_TOKEN_GROUP = _RuleGroup.of(TOKEN_RULES)
_LINE_GROUP = _RuleGroup.of(LINE_RULES)


def _scan(text: str) -> tuple[str, tuple[str, ...]]:
    """The text with every secret replaced, and the kind of each secret replaced.

    Most strings in evidence are short and hold nothing a secret could be: each group of rules is skipped
    when the text lacks what all its rules need (a second line, a clue, a run of token characters).
    """
    kinds_found: list[str] = []
    lowered = text.lower()
    line_rules_may_match = _LINE_GROUP.any_clue.search(lowered) is not None
    if "\n" in text or "private key" in lowered or "kind" in lowered:  # what whole-text rules need
        text = _apply(_WHOLE_TEXT_GROUP, text, kinds_found)
    text = _redact_token_runs(text, kinds_found)
    if line_rules_may_match:
        text = _apply(_LINE_GROUP, text, kinds_found)
    return text, tuple(kinds_found)


def _apply(group: _RuleGroup, text: str, kinds_found: list[str]) -> str:
    lowered = text.lower()
    # Windows need the lower-cased text to line up with the text (some characters lower-case to two).
    windowed = len(text) >= _WINDOWED_LENGTH and len(lowered) == len(text)
    rules, absent_clues = group.candidates(lowered)
    hints_in_text = _HintPositions(lowered, absent_clues)
    for rule in rules:
        if windowed and rule.lines and rule.hints:
            windows = rule.windows(hints_in_text)
            if not windows:
                continue
            pieces, last = [], 0
            for start, end in windows:
                pieces += [text[last:start], rule.apply(text[start:end], kinds_found)]
                last = end
            redacted = "".join(pieces) + text[last:]
        elif not rule.hints or any(hint in lowered for hint in rule.hints):
            redacted = rule.apply(text, kinds_found)
        else:
            continue
        if redacted != text:
            text, lowered = redacted, redacted.lower()
            windowed = windowed and len(lowered) == len(text)
            hints_in_text = _HintPositions(lowered, absent_clues)
    return text


def _redact_token_runs(text: str, kinds_found: list[str]) -> str:
    """Token rules on each distinct run of token characters (runs repeat: ids, paths, hashes), and the
    text rewritten only where a run held a secret."""
    runs = _TOKEN.findall(text)
    redacted_runs = {run: scanned for run in set(runs) if (scanned := _scan_token_run(run))[1]}
    if not redacted_runs:
        return text
    for run, times in Counter(runs).items():
        if run in redacted_runs:
            kinds_found.extend(redacted_runs[run][1] * times)
    return _TOKEN.sub(lambda match: redacted_runs.get(match.group(0), (match.group(0),))[0], text)


@lru_cache(maxsize=16384)
def _scan_token_run(run: str) -> tuple[str, tuple[str, ...]]:
    kinds_found: list[str] = []
    return _apply(_TOKEN_GROUP, run, kinds_found), tuple(kinds_found)


_scan_cached = lru_cache(maxsize=16384)(_scan)
