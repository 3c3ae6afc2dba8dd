"""The one way to reach AWS: a read-only session factory.

Every client comes from `ReadOnlyAws`. Each client carries a botocore hook that runs before a
request is built and refuses every operation that no collector declares (the allowlist is generated
from the tool catalog: `tools.catalog.allowed_aws_operations`), so nothing else leaves the process.
Each distinct read (service, region, operation, parameters) is sent once per run; repeats are
answered from the run's cache.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import msgspec
from botocore.exceptions import ClientError

from tools.catalog import allowed_aws_operations
from tools.chain import canonical_json
from tools.config import AwsConfig

# IAM and S3 are global: their calls go to the first configured region.
GLOBAL_SERVICES = frozenset({"iam", "s3", "s3control", "sts"})

T = TypeVar("T")
R = TypeVar("R")


# Reads of the organization itself, allowed only when [aws.organization] is configured.
ORGANIZATION_READS = frozenset({"organizations:ListAccounts"})


# Reads of a trail's own log files (tools/logs/s3.py), allowed only on the S3 bucket of a trail that
# cloudtrail:DescribeTrails returned to this session: never any other bucket.
TRAIL_LOG_READS = frozenset({"ListObjectsV2", "GetObject"})


# boto3 and the rest of botocore are imported where they are first needed: a tenth of a second or more, which a run
# that reads no AWS (a re-run whose evidence is still fresh) never pays.


@functools.cache
def _shared_loader(search_path_string: str | None = None) -> Any:
    """One botocore loader per data path for the whole process: see parse_service_models_once."""
    import botocore.loaders

    return botocore.loaders.create_loader(search_path_string)


@functools.cache
def _msgspec_file_loader() -> type:
    """botocore's model file loader, decoding with msgspec: about twice as fast as the json module on its
    megabytes of service models (same dicts, same key order)."""
    import botocore.loaders

    class MsgspecFileLoader(botocore.loaders.JSONFileLoader):
        def _load_file(self, full_path: str, open_method: Callable[..., Any]) -> Any:
            if not os.path.isfile(full_path):
                return None
            with open_method(full_path, "rb") as file:
                return msgspec.json.decode(file.read())

    return MsgspecFileLoader


def parse_service_models_once() -> None:
    """Make every botocore session in this process share one loader (per data path), so each service model's JSON
    is parsed once per process, and parsed by msgspec.

    botocore gives each Session its own loader, and every boto3 Session is a new one: the collectors' session, the
    demo's seeder and moto's server (which makes sessions per backend) parsed EC2's 4 MB model seven times in one
    demo run. Sharing is safe for the same reason botocore already shares a loader between all clients of a
    session: what it loads is read, never changed. (boto3 appends its data directory to the loader's search
    paths on every Session; repeats change no lookup, the first match wins.) Idempotent.
    """
    import botocore.loaders
    import botocore.session

    botocore.session.create_loader = _shared_loader
    # Every Loader (moto's subclass included) makes its file loader from this class attribute.
    botocore.loaders.Loader.FILE_LOADER_CLASS = _msgspec_file_loader()


class ReadOnlyViolation(Exception):
    """An attempt to call an AWS operation that no collector declares."""


class ReadOnlyAws:
    """Read-only AWS clients, a per-run call cache and call counters."""

    def __init__(self, config: AwsConfig, *, credentials: dict[str, str] | None = None) -> None:
        """`credentials` (an sts:AssumeRole answer's Credentials) sign in to one member account instead of the
        configured profile or chain (tools/aws/accounts.py)."""
        self.config = config
        self.regions = list(config.regions)
        # Config wins over the environment; boto3 reads AWS_ENDPOINT_URL itself otherwise.
        self.endpoint_url = config.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        import boto3
        from botocore.config import Config

        parse_service_models_once()
        if credentials is None:
            self._session = boto3.session.Session(profile_name=config.profile)
        else:
            self._session = boto3.session.Session(
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
            )
        # "service:Operation" names; every other operation is refused before a request is built.
        self.allowed_operations = allowed_aws_operations()
        if config.organization is not None:
            self.allowed_operations |= ORGANIZATION_READS
        self._client_config = Config(
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=max(10, config.max_workers * 2),
        )
        self._lock = threading.Lock()  # guards the session (not thread-safe) and the tables below
        self._clients: dict[tuple[str, str], Any] = {}
        self._cache: dict[bytes, tuple[bool, Any]] = {}
        self._key_locks: dict[bytes, threading.Lock] = {}
        self._sent: set[bytes] = set()
        self.calls_made = 0  # requests that left the process
        self.calls_requested = 0  # reads asked for by collectors, cache hits included
        self.operations_sent: list[str] = []  # "service:Operation" per request, for provenance
        self.trail_buckets: set[str] = set()  # the S3 buckets of the trails DescribeTrails returned

    # -- clients -----------------------------------------------------------------------------

    @property
    def global_region(self) -> str:
        return self.regions[0]

    def client(self, service: str, region: str | None = None) -> Any:
        """The read-only client for a service and region (made once, under the lock)."""
        region = self.global_region if service in GLOBAL_SERVICES or region is None else region
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                client = self._session.client(
                    service, region_name=region, endpoint_url=self.endpoint_url, config=self._client_config
                )
                # On each client the collectors use, from birth. Not on the session: botocore's own credential
                # clients (sts:AssumeRole for a role profile, sso:GetRoleCredentials) must still sign us in.
                client.meta.events.register("before-parameter-build", self._refuse_undeclared)
                client.meta.events.register("before-call", self._count_request)
                if service == "cloudtrail":
                    client.meta.events.register("after-call.cloudtrail.DescribeTrails", self._note_trail_buckets)
                if service == "s3control" and self.endpoint_url:
                    serve_s3control_from_endpoint(client, self.endpoint_url)
                self._clients[key] = client
            return self._clients[key]

    def permits(self, service: str, operation: str, params: dict[str, Any] | None = None) -> bool:
        """The guard's decision: only an operation a collector declares (e.g. "iam", "ListUsers") is sent, and
        sts:AssumeRole only into the configured organization role (the role itself grants reads only)."""
        if (service, operation) == ("sts", "AssumeRole"):
            return self.may_assume(str((params or {}).get("RoleArn", "")))
        if service == "s3" and operation in TRAIL_LOG_READS:
            with self._lock:
                on_trail_bucket = (params or {}).get("Bucket") in self.trail_buckets
            return on_trail_bucket and f"{service}:{operation}" in self.allowed_operations
        return f"{service}:{operation}" in self.allowed_operations

    def _note_trail_buckets(self, parsed: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.trail_buckets |= {
                trail["S3BucketName"] for trail in parsed.get("trailList", []) if trail.get("S3BucketName")
            }

    def may_assume(self, role_arn: str) -> bool:
        """Whether role_arn is the configured [aws.organization] role_name in some account."""
        organization = self.config.organization
        return organization is not None and bool(
            re.fullmatch(rf"arn:aws[a-z-]*:iam::\d{{12}}:role/{re.escape(organization.role_name)}", role_arn)
        )

    def _refuse_undeclared(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        if not self.permits(service, model.name, params):
            raise ReadOnlyViolation(
                f"{service}:{model.name} is not an operation any collector declares; "
                "agentic-auditor sends only the reads its collectors declare"
            )

    def _count_request(self, model: Any, params: dict[str, Any], request_signer: Any, **_: Any) -> None:
        service = model.service_model.service_name
        request = {key: params.get(key) for key in ("method", "url", "body")}
        # The region is part of the request (in the signature), not of the URL when an endpoint is set.
        signature = canonical_json([service, request_signer.region_name, model.name, request])
        with self._lock:
            self.calls_made += 1
            self._sent.add(signature)
            self.operations_sent.append(f"{service}:{model.name}")

    @property
    def distinct_calls(self) -> int:
        """Distinct requests sent; equals calls_made when the cache works."""
        with self._lock:
            return len(self._sent)

    # -- cached reads ------------------------------------------------------------------------

    def call(self, service: str, operation: str, region: str | None = None, **params: Any) -> Any:
        """One read, e.g. call("iam", "get_account_summary"); cached per run."""
        client = self.client(service, region)
        return self._cached(
            (service, client.meta.region_name, operation, params),
            lambda: _strip_metadata(getattr(client, operation)(**params)),
        )

    def paginate(self, service: str, operation: str, region: str | None = None, **params: Any) -> dict[str, Any]:
        """Every page of a paginated read, merged by botocore; cached per run."""
        client = self.client(service, region)
        return self._cached(
            (service, client.meta.region_name, f"paginate:{operation}", params),
            lambda: _strip_metadata(client.get_paginator(operation).paginate(**params).build_full_result()),
        )

    def _cached(self, key_parts: tuple[Any, ...], fetch: Callable[[], Any]) -> Any:
        key = canonical_json(list(key_parts))
        with self._lock:
            self.calls_requested += 1
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        # One lock per key: a second thread asking for the same read waits for the first answer.
        with key_lock:
            if key not in self._cache:
                # AWS errors (access denied, not found) are answers too: cache them, do not ask again.
                try:
                    self._cache[key] = (True, fetch())
                except ClientError as error:
                    self._cache[key] = (False, error)
            succeeded, outcome = self._cache[key]
        if succeeded:
            # Each caller gets its own copy: collectors add fields to what they read.
            return copy.deepcopy(outcome)
        raise outcome

    # -- concurrency -------------------------------------------------------------------------

    def map(self, func: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """Run func over independent items concurrently (max_workers threads), in order.

        Each call has its own pool, so a mapped function may map again (regions, then keys).
        """
        items = list(items)
        if len(items) <= 1:
            return [func(item) for item in items]
        with ThreadPoolExecutor(max_workers=self.config.max_workers) as pool:
            return list(pool.map(func, items))


def _strip_metadata(response: Any) -> Any:
    if isinstance(response, dict):
        response.pop("ResponseMetadata", None)
    return response


def serve_s3control_from_endpoint(client: Any, endpoint_url: str) -> None:
    """Make an s3control client work against a custom endpoint (moto, LocalStack).

    S3 Control puts the account id in front of the host ("1234.s3-control..."); a custom endpoint
    serves it without that prefix, so it is taken off again before the request is signed.
    """
    endpoint_host = urlsplit(endpoint_url).netloc

    def drop_account_prefix(request: Any, **_: Any) -> None:
        url = urlsplit(request.url)
        prefix, _, rest = url.netloc.partition(".")
        if rest == endpoint_host and prefix.isdigit():
            request.url = urlunsplit(url._replace(netloc=endpoint_host))

    client.meta.events.register("before-sign", drop_account_prefix)
