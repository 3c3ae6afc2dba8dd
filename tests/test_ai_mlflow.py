"""The MLflow model registry: a real `mlflow server` on loopback (SQLite store in a tmp folder), seeded through the
MLflow client with the demo company's registry (tools/demo/mlflow.py); read with GET only, judged from evidence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.ai.mlflow_registry import MlflowRegistry, MlflowWriteRefused
from tools.catalog import CHECKS, TOOLS, EvidenceView, StoredEvidence, load_all
from tools.config import AiConfig, AuditorConfig, MlflowConfig, load_config
from tools.context import CollectContext
from tools.demo import CUSTOMER_DATA, DemoCompany
from tools.demo.expected import compare, load_expected
from tools.demo.mlflow import MlflowDemoServer, mlflow_installed, seed_acme_registry
from tools.demo.server import free_loopback_port
from tools.findings import Finding, Status

load_all()
MLFLOW_CHECKS = sorted(check_id for check_id in CHECKS if check_id.startswith("ai.mlflow."))
needs_mlflow = pytest.mark.skipif(not mlflow_installed(), reason="mlflow is not installed (pip install -e '.[dev]')")


@pytest.fixture(scope="session")
def acme_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The tracking URI of a real MLflow server holding the demo company's registry."""
    with MlflowDemoServer(tmp_path_factory.mktemp("mlflow")) as tracking_uri:
        seed_acme_registry(tracking_uri)
        yield tracking_uri


def registry_evidence(config: MlflowConfig, customer_data: tuple[str, ...] = ()) -> EvidenceView:
    spec = TOOLS["mlflow.model_registry"]
    ai = AiConfig(mlflow=config, customer_data=list(customer_data))
    data = spec.func(CollectContext(AuditorConfig(ai=ai)), spec.args_model())
    return EvidenceView([StoredEvidence("e1", "mlflow.model_registry", {}, data)])


def judge_all(view: EvidenceView) -> list[Finding]:
    return [found for check_id in MLFLOW_CHECKS for found in CHECKS[check_id].func(view)]


@needs_mlflow
@pytest.mark.slow  # a real mlflow server: about 20 s to start
def test_the_demo_registry_gives_exactly_the_expected_findings(acme_registry: str) -> None:
    view = registry_evidence(MlflowConfig(tracking_uri=acme_registry), tuple(CUSTOMER_DATA))
    [item] = view.all("mlflow.model_registry")
    assert {model["name"] for model in item.data["models"]} == {"support-router", "doc-summarizer"}
    findings = judge_all(view)
    expected = load_expected()
    assert set(MLFLOW_CHECKS) <= set(expected), "every MLflow check has its expected demo findings"
    assert compare(expected, findings, set(MLFLOW_CHECKS)) == []
    unconsented = next(f for f in findings if f.resource == "mlflow/support-router/3")
    assert "s3://acme-customer-tickets/2026q4/" in unconsented.reason and "consent_record" in unconsented.reason


@needs_mlflow
@pytest.mark.slow  # a real mlflow server: about 20 s to start
def test_the_rules_come_from_the_config_and_are_stored_with_the_evidence(acme_registry: str) -> None:
    # "challenger" counts as production and the approval must be a sign-off: v2 and v3 now fail.
    config = MlflowConfig(
        tracking_uri=acme_registry, production_aliases=["challenger", "production"], approval_tag="signed_off_by"
    )
    view = registry_evidence(config)
    assert view.all("mlflow.model_registry")[0].data["rules"]["approval_tag"] == "signed_off_by"
    statuses = {f.resource: f.status for f in CHECKS["ai.mlflow.production_approved"].func(view)}
    assert statuses == {
        "mlflow/support-router/2": Status.FAIL,
        "mlflow/support-router/3": Status.FAIL,
        "mlflow/doc-summarizer/1": Status.FAIL,
    }
    # No customer-data source configured: training on the tickets needs no consent record.
    lineage = {f.resource: f.status for f in CHECKS["ai.mlflow.training_data_lineage"].func(view)}
    assert lineage["mlflow/support-router/3"] == Status.PASS


@needs_mlflow
@pytest.mark.slow  # a real mlflow server: about 20 s to start
def test_the_client_sends_get_only(acme_registry: str) -> None:
    registry = MlflowRegistry(acme_registry)
    for method in ("POST", "PATCH", "DELETE", "PUT"):
        with pytest.raises(MlflowWriteRefused, match=f"{method} /registered-models/create: refused"):
            registry.request(method, "/registered-models/create", {"name": "planted"})
    assert registry.requests_sent == 0
    names = {model["name"] for model in registry.paginate("/registered-models/search", "registered_models")}
    assert "planted" not in names and registry.requests_sent == 1
    assert "s3cret" not in repr(MlflowRegistry(acme_registry, "s3cret"))
    registry.close()


def test_an_unreachable_server_is_an_error_and_no_server_is_not_applicable() -> None:
    tracking_uri = f"http://127.0.0.1:{free_loopback_port()}"  # nothing listens there
    for found in judge_all(registry_evidence(MlflowConfig(tracking_uri=tracking_uri))):
        assert (found.status, found.resource) == (Status.ERROR, tracking_uri)
        assert "cannot reach" in found.reason
    for found in judge_all(registry_evidence(MlflowConfig())):
        assert found.status == Status.NOT_APPLICABLE and "[ai.mlflow] tracking_uri" in found.reason


def test_a_run_that_cannot_be_read_is_an_error_and_a_version_without_a_run_fails() -> None:
    rules = {
        **MlflowConfig().model_dump(include={"production_aliases", "approval_tag", "consent_tag"}),
        "customer_data": [],
    }
    versions = [
        {"version": "1", "current_stage": "None", "tags": {}, "run_id": "r1", "run": {"error": "HTTP 403"}},
        {"version": "2", "current_stage": "Staging", "tags": {}, "run_id": None, "run": None},
    ]
    data = {
        "tracking_uri": "http://mlflow",
        "rules": rules,
        "models": [{"name": "m", "tags": {}, "aliases": {}, "versions": versions}],
    }
    view = EvidenceView([StoredEvidence("e1", "mlflow.model_registry", {}, data)])
    statuses = {f.resource: f.status for f in CHECKS["ai.mlflow.training_data_lineage"].func(view)}
    assert statuses == {"mlflow/m/1": Status.ERROR, "mlflow/m/2": Status.FAIL}
    # Nothing in production: the approval check has nothing to judge, and says so.
    assert [f.status for f in CHECKS["ai.mlflow.production_approved"].func(view)] == [Status.NOT_APPLICABLE]


# -- `auditor demo --mlflow` --------------------------------------------------------------------------


def test_the_demo_runs_without_mlflow_unless_asked_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    company = DemoCompany(tmp_path / "acme")  # what tests and a plain `auditor demo` use: no MLflow server
    assert company.mlflow_skipped is not None and "auditor demo --mlflow" in company.mlflow_skipped
    monkeypatch.setattr("tools.demo.mlflow.find_spec", lambda name: None)  # as where the package is not installed
    asked = DemoCompany(tmp_path / "acme", mlflow=True)
    assert asked.mlflow_skipped is not None and "mlflow package is not installed" in asked.mlflow_skipped


@pytest.mark.slow
@needs_mlflow
def test_the_demo_company_with_mlflow_serves_its_registry_to_the_configured_collector(tmp_path: Path) -> None:
    with DemoCompany(tmp_path / "acme", mlflow=True) as environment:
        config = load_config(environment.config_path)
        assert environment.mlflow_skipped is None and config.ai.mlflow.tracking_uri == environment.mlflow_uri
        spec = TOOLS["mlflow.model_registry"]
        data = spec.func(CollectContext(config), spec.args_model())
    findings = judge_all(EvidenceView([StoredEvidence("e1", "mlflow.model_registry", {}, data)]))
    assert compare(load_expected(), findings, set(MLFLOW_CHECKS)) == []
    assert (tmp_path / "acme" / "mlflow" / "mlflow.db").is_file()  # its store lives in the demo folder
