"""Whether each evidence source could be read during a run, and if not, why and what to change.

Sources: aws, github, git (local repositories), logs, and llm (the writer's model endpoint). A run ends
with one SourceStatus per source:
- not_configured: nothing was set up to read (no [github] repos, no [logs] paths, provider = "offline"):
  its checks say not_applicable;
- error: configured, but it could not be read (credentials, endpoint, missing path, API error, 0 records):
  its checks say error, and `auditor run` exits 4;
- ok: no problem was met.

`problem_from_error` turns what a collector raised into a SourceProblem (cause and fix);
`problems_in_data` finds the unreadable parts a collector recorded in what it returned (a missing log path,
a log file without one readable record, a repository GitHub refused). `SourceLedger` gathers them per run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError, NoCredentialsError, ProfileNotFound
from botocore.exceptions import ConnectionError as AwsConnectionError
from pydantic import BaseModel

from tools.config import AuditorConfig

SourceName = Literal["aws", "github", "git", "logs", "llm"]
SOURCES: tuple[SourceName, ...] = ("aws", "github", "git", "logs", "llm")
SourceState = Literal["ok", "error", "not_configured"]
CAUSES_SHOWN = 3  # distinct causes spelled out per source; the rest are counted

# AWS error codes that mean the credentials themselves are refused: every call would fail alike.
AWS_CREDENTIAL_ERRORS = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "RequestExpired",
    }
)
# AWS error codes that mean this identity may not read something: the audit policy lacks a permission.
AWS_ACCESS_ERRORS = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess", "AuthorizationError"}
)
AWS_READ_POLICY = "attach the AWS managed policies SecurityAudit and ViewOnlyAccess to the audit identity"


class SourceStatus(BaseModel):
    """One source's state at the end of a run (report.run.sources)."""

    source: SourceName
    state: SourceState
    cause: str = ""  # why it is not ok; for not_configured, what is missing
    fix: str = ""  # what to change

    def line(self) -> str:
        return f"{self.source}: {self.cause}; fix: {self.fix}"


@dataclass(frozen=True)
class SourceProblem:
    source: str
    cause: str
    fix: str
    # Every later call to this source would fail the same way (no credentials, endpoint down): the run stops
    # asking it instead of paying a timeout per call.
    whole_source: bool = False


def not_configured(config: AuditorConfig) -> dict[SourceName, SourceStatus]:
    """The sources with nothing configured to read, each saying what would configure it."""
    missing: dict[SourceName, tuple[str, str]] = {}
    if not (config.github.repos or config.github.owner):
        missing["github"] = ("no GitHub repositories are configured", "set [github] owner and repos to audit GitHub")
    if not config.repos.local:
        missing["git"] = ("no local repositories are configured", "set [repos] local to audit local git repositories")
    if not (config.logs.paths or config.logs.cloudwatch_log_groups or config.logs.cloudtrail_from_s3):
        missing["logs"] = ("no logs are configured", "set [logs] paths or cloudwatch_log_groups to audit logs")
    if config.llm.provider == "offline":
        missing["llm"] = ('[llm] provider = "offline"', "set [llm] provider to have a model write the narratives")
    return {
        source: SourceStatus(source=source, state="not_configured", cause=cause, fix=fix)
        for source, (cause, fix) in missing.items()
    }


# -- what a collector raised ------------------------------------------------------------------------


def problem_from_error(source: str, error: BaseException, config: AuditorConfig) -> SourceProblem:
    """The cause and fix of a collector's exception (the runner passes the original, not its wrapper).

    Credential and endpoint failures of AWS belong to the aws source, whichever collector met them (the
    CloudWatch Logs collector reads through AWS too)."""
    aws_problem = _aws_error_problem(error, config)
    if aws_problem is not None:
        return aws_problem
    if isinstance(error, FileNotFoundError):
        return SourceProblem(source, f"{error.filename} does not exist", _path_fix(source))
    return SourceProblem(source, f"{type(error).__name__}: {error}", "see the run log; the rest was judged")


def _aws_error_problem(error: BaseException, config: AuditorConfig) -> SourceProblem | None:
    if isinstance(error, NoCredentialsError):
        return SourceProblem(
            "aws",
            "no AWS credentials",
            "set AWS_PROFILE or [aws] profile (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
            whole_source=True,
        )
    if isinstance(error, ProfileNotFound):
        return SourceProblem(
            "aws",
            f"the AWS profile {config.aws.profile!r} does not exist",
            "check [aws] profile against ~/.aws/config",
            whole_source=True,
        )
    if isinstance(error, AwsConnectionError):  # endpoint refused or timed out, proxy, TLS
        url = error.kwargs.get("endpoint_url") or error.kwargs.get("proxy_url") or "the AWS endpoint"
        return SourceProblem(
            "aws",
            f"cannot reach {url}",
            "check [aws] endpoint_url (or AWS_ENDPOINT_URL) and the network",
            whole_source=True,
        )
    if not isinstance(error, ClientError):
        return None
    code = str(error.response.get("Error", {}).get("Code", "ClientError"))
    operation = error.operation_name
    if code in AWS_CREDENTIAL_ERRORS:
        return SourceProblem(
            "aws",
            f"AWS refused the credentials ({code} on {operation})",
            "renew the credentials of AWS_PROFILE or [aws] profile",
            whole_source=True,
        )
    if code in AWS_ACCESS_ERRORS:
        return SourceProblem("aws", f"access denied to {operation} ({code})", AWS_READ_POLICY)
    return SourceProblem("aws", f"AWS answered {code} to {operation}", "see the run log; the rest was judged")


def llm_dropped(endpoint: str, failures: int, error: BaseException) -> SourceProblem:
    """A model endpoint ("openai gpt-4o-mini") that its circuit breaker dropped for the rest of the run."""
    url = getattr(getattr(error, "request", None), "url", None)  # HTTP clients' errors carry their request
    where = f" at {url}" if url else ""
    cause = (
        f"{endpoint}{where} failed {failures} times in a row ({type(error).__name__}: {error}); "
        "dropped for the rest of the run"
    )
    fix = 'check [llm] base_url, model and api_key_env and that the server answers, or set provider = "offline"'
    return SourceProblem("llm", cause, fix)


def _path_fix(source: str) -> str:
    return {"logs": "check [logs] paths", "git": "check [repos] local"}.get(source, "check the configured path")


# -- what a collector recorded as unreadable ------------------------------------------------------------


def problems_in_data(source: str, data: Any) -> list[SourceProblem]:
    """The parts of a collector's answer that could not be read, as the checks will report them."""
    if source == "logs" and isinstance(data, dict):
        return list(_log_problems(data))
    if source in ("github", "git"):
        return [_repo_problem(source, entry) for entry in _error_entries(data)]
    if source == "aws":
        return [_aws_problem(entry["error"]) for entry in _error_entries(data) if entry["error"] in AWS_ACCESS_ERRORS]
    return []


_FORMAT_FIX = "check its format (CloudTrail JSON, syslog) against the parse problems in the evidence"
_S3_LOGS_FIX = (
    "check that the trail is logging and delivers to this bucket, and that the auditor may list and read it "
    "(s3:ListBucket, s3:GetObject); the evidence names each file and the error"
)


def _log_problems(data: dict[str, Any]) -> Iterator[SourceProblem]:
    for path in data.get("missing_paths", []):
        yield SourceProblem("logs", f"{path} does not exist", "check [logs] paths")
    for source in data.get("sources", []):
        if "file" in source and "error" in source:
            # A file read with no readable record (it has a sha256), or a trail's logs in S3 not read at all.
            unread_in_s3 = source["file"].startswith("s3://") and "sha256" not in source
            fix = _S3_LOGS_FIX if unread_in_s3 else _FORMAT_FIX
            yield SourceProblem("logs", f"{source['file']}: {source['error']}", fix)
        elif "error" in source:
            yield SourceProblem(
                "logs",
                f"CloudWatch log group {source['log_group']} in {source['region']}: {source['error']}",
                "check [logs] cloudwatch_log_groups and logs:FilterLogEvents",
            )


def _error_entries(data: Any) -> Iterator[dict[str, Any]]:
    """Every dict in the answer that records an error instead of data ({"error": ...})."""
    if isinstance(data, dict):
        if isinstance(data.get("error"), str):
            yield data
        for value in data.values():
            yield from _error_entries(value)
    elif isinstance(data, list):
        for value in data:
            yield from _error_entries(value)


def _repo_problem(source: str, entry: dict[str, Any]) -> SourceProblem:
    where = f"{entry['repo']}: " if entry.get("repo") and entry["repo"] not in entry["error"] else ""
    cause = f"{where}{entry['error']}"
    if source == "git":
        return SourceProblem(source, cause, "check [repos] local")
    fix = {
        0: "check [github] api_url and the network",
        401: "put a valid read-only token in the variable [github] token_env names",
        403: "give the token read access to this endpoint, or turn the feature on",
        404: "check [github] owner and repos, and that the token can see the repository",
    }.get(entry.get("http_status"), "see the run log; the rest was judged")  # type: ignore[arg-type]
    return SourceProblem(source, cause, fix)


def _aws_problem(code: str) -> SourceProblem:
    return SourceProblem("aws", f"access denied to some reads ({code})", AWS_READ_POLICY)


# -- one run's record -----------------------------------------------------------------------------------


class SourceLedger:
    """The problems each source met during one run; thread-safe (controls collect in parallel).

    `on_new` is called once per new (source, cause), e.g. to store it with the run so a resumed run
    still knows what the interrupted part met.
    """

    def __init__(
        self, earlier: Iterable[SourceProblem] = (), on_new: Callable[[SourceProblem], None] | None = None
    ) -> None:
        self._lock = threading.Lock()
        self._problems: dict[tuple[str, str], SourceProblem] = {(p.source, p.cause): p for p in earlier}
        self.on_new = on_new

    def record(self, problems: Iterable[SourceProblem]) -> None:
        for problem in problems:
            with self._lock:
                if (problem.source, problem.cause) in self._problems:
                    continue
                self._problems[(problem.source, problem.cause)] = problem
            if self.on_new is not None:
                self.on_new(problem)

    def blocking(self, source: str) -> SourceProblem | None:
        """A problem that makes every call to this source fail, if one was met."""
        with self._lock:
            return next((p for p in self._problems.values() if p.source == source and p.whole_source), None)

    def problems(self) -> list[SourceProblem]:
        with self._lock:
            return list(self._problems.values())

    def statuses(self, config: AuditorConfig) -> list[SourceStatus]:
        """One status per source: error where a problem was met, else not_configured or ok."""
        unconfigured = not_configured(config)
        found = self.problems()
        statuses = []
        for source in SOURCES:
            problems = [p for p in found if p.source == source]
            if problems:
                statuses.append(
                    SourceStatus(
                        source=source,
                        state="error",
                        cause=_joined([p.cause for p in problems]),
                        fix=_joined([p.fix for p in problems]),
                    )
                )
            else:
                statuses.append(unconfigured.get(source) or SourceStatus(source=source, state="ok"))
        return statuses


def _joined(texts: list[str]) -> str:
    distinct = list(dict.fromkeys(texts))
    more = len(distinct) - CAUSES_SHOWN
    return "; ".join(distinct[:CAUSES_SHOWN]) + (f" (and {more} more)" if more > 0 else "")
