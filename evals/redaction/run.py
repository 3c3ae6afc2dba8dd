"""Redaction quality: planted secrets leaked (target 0) and the false-positive rate on real non-secret data.

Leaked: every planted form (evals/redaction/planted.py) is redacted as the locker redacts evidence, auth-log
lines go through logs.auth_events, policies through knowledge chunking; a form leaks when any 10-character
piece of its secret is left. False positives: the public reference data beside the repo (../shared/data):
CloudTrail records, GitHub's example API responses and real sshd/PAM/sudo logs, none of which holds a
secret except the credentials fields listed in TRUE_SECRET_FIELDS. A value (a JSON string, a log line, an
auth event) changed by redaction and not such a field is a false positive. As a harder corpus, the Python
standard library's source (real code full of `password`, `token` and `key`, and no secrets but a few
documented examples) is redacted file by file and every changed line counted.

    python -m evals.redaction.run
"""

from __future__ import annotations

import json
import re
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evals.redaction.planted import EVIDENCE_FORMS, LOG_LINE_FORMS, POLICY_FORMS, Form, leaked
from knowledge.documents import chunk_file
from tools.catalog import TOOLS
from tools.config import AuditorConfig
from tools.context import CollectContext
from tools.logs import collectors as _log_collectors  # noqa: F401  (registers the collectors)
from tools.logs.readers import read_auth_events
from tools.redact import redact

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
# Real credentials in the reference data: CloudTrail's (scrambled) key ids and session tokens, and the
# secrets GitHub's examples show (a secret-scanning alert's leaked value, a temporary clone token).
TRUE_SECRET_FIELDS = {"accessKeyId", "sessionToken", "secretAccessKey", "secret", "temp_clone_token"}
AWS_KEY_ID = re.compile(r"(?:AKIA|ASIA)[0-9A-Z]{16}")


def stored_form(form: Form, folder: Path) -> str:
    """What is kept of a form after redaction, on the path its kind of data takes."""
    if form in LOG_LINE_FORMS:
        log = folder / f"{form.id}.log"
        log.write_text(form.build(form.secret) + "\n")
        spec = TOOLS["logs.auth_events"]
        config = AuditorConfig.model_validate({"logs": {"paths": [str(log)]}})
        return json.dumps(redact(spec.func(CollectContext(config), spec.args_model())).data)
    if form in POLICY_FORMS:
        text = form.build(form.secret)
        policy = folder / (f"{form.id}.md" if text.startswith("#") else f"{form.id}.txt")
        policy.write_text(text)
        return repr(chunk_file(policy))
    return json.dumps(redact(form.build(form.secret)).data)


def leaked_forms() -> list[str]:
    with tempfile.TemporaryDirectory() as folder:
        return [
            form.id
            for form in [*EVIDENCE_FORMS, *LOG_LINE_FORMS, *POLICY_FORMS]
            if any(leaked(value, stored_form(form, Path(folder))) for value in [form.secret, *form.also(form.secret)])
        ]


def _leaves(before: Any, after: Any, field: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(field name, value before, value after) for every scalar of two same-shaped JSON documents."""
    if isinstance(before, dict) and isinstance(after, dict):
        for (key, value), redacted in zip(before.items(), after.values(), strict=True):
            yield from _leaves(value, redacted, key)
    elif isinstance(before, list) and isinstance(after, list):
        for value, redacted in zip(before, after, strict=True):
            yield from _leaves(value, redacted, field)
    else:
        yield field, before, after


def json_false_positives(documents: list[Any]) -> tuple[int, list[str]]:
    """(string values, the false positives among them: `field: value -> redacted`)."""
    values, false_positives = 0, []
    for document in documents:
        for field, before, after in _leaves(document, redact(document).data):
            if not isinstance(before, str):
                continue
            values += 1
            is_secret = field in TRUE_SECRET_FIELDS or AWS_KEY_ID.fullmatch(before) is not None
            if before != after and not is_secret:
                false_positives.append(f"{field}: {before[:80]!r} -> {after[:80]!r}")
    return values, false_positives


def text_false_positives(lines: list[str]) -> tuple[int, list[str]]:
    changed = [f"{line[:80]!r} -> {redact(line).data[:80]!r}" for line in lines if redact(line).data != line]
    return len(lines), changed


def source_false_positives(files: list[Path]) -> tuple[int, list[str]]:
    """Files redacted whole (as a repository file is): (lines, the changed lines)."""
    lines, changed = 0, []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        redacted = redact(text).data
        lines += text.count("\n")
        if redacted != text:
            pairs = zip(text.splitlines(), redacted.splitlines(), strict=False)  # a PEM block becomes one line
            changed += [f"{path.name}: {line.strip()[:80]!r}" for line, kept in pairs if line != kept]
    return lines, changed


def standard_library_sources() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    skipped = {"test", "tests", "idlelib", "site-packages", "lib2to3"}  # test suites hold planted credentials
    return [path for path in sorted(root.rglob("*.py")) if not skipped & set(path.relative_to(root).parts)]


def corpora() -> dict[str, tuple[int, list[str]]]:
    cloudtrail = SHARED_DATA / "cloudtrail"
    records = [
        record
        for path in sorted(cloudtrail.rglob("*.json"))
        if path.name != "stratus_red_team_all_records.json"  # the same records again, in one file
        for record in _records(json.loads(path.read_text(encoding="utf-8")))
    ]
    github_examples = sorted((SHARED_DATA / "github-api").glob("*.json"))
    github = [json.loads(path.read_text(encoding="utf-8")) for path in github_examples]
    logs = sorted((SHARED_DATA / "linux-logs").rglob("*.log"))
    lines = [line for path in logs for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line]
    events = [event.as_dict() for path in logs for event in read_auth_events(path, [])]
    return {
        "CloudTrail records (string values)": json_false_positives(records),
        "GitHub API examples (string values)": json_false_positives(github),
        "sshd/PAM/sudo log lines": text_false_positives(lines),
        "auth events parsed from them (string values)": json_false_positives(events),
    }


def _records(document: Any) -> list[Any]:
    return document["Records"] if isinstance(document, dict) and "Records" in document else document


def main() -> None:
    forms = len(EVIDENCE_FORMS) + len(LOG_LINE_FORMS) + len(POLICY_FORMS)
    leaks = leaked_forms()
    print(f"Planted secrets: {forms} forms, {len(leaks)} leaked" + (f": {', '.join(leaks)}" if leaks else ""))
    print("False positives on real non-secret data:")
    total_values = total_false = 0
    if SHARED_DATA.is_dir():
        measured = corpora()
    else:
        print(f"  (reference data not found at {SHARED_DATA}: skipped)")
        measured = {}
    measured["Python standard library source (lines)"] = source_false_positives(standard_library_sources())
    for name, (values, false_positives) in measured.items():
        total_values, total_false = total_values + values, total_false + len(false_positives)
        print(f"  {name:<46} {len(false_positives):4d} of {values:6d}  ({len(false_positives) / values:.3%})")
        for example in false_positives[:5]:
            print(f"      {example}")
    print(f"  {'all':<46} {total_false:4d} of {total_values:6d}  ({total_false / total_values:.3%})")


if __name__ == "__main__":
    main()
