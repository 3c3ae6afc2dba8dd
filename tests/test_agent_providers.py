"""Providers from the [llm] configuration: offline, OpenAI-compatible, optional extras, and failover."""

from __future__ import annotations

import importlib.util
from typing import Any

import openai
import pytest
from fakes import FakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableWithFallbacks
from langchain_openai import ChatOpenAI

from agent.providers import NO_KEY, EmptyAnswer, ProviderError, build_chat_model, describe, with_failover
from tools.config import AuditorConfig, LlmConfig, LlmEndpoint


def _config(**llm: object) -> AuditorConfig:
    return AuditorConfig(llm=LlmConfig(**llm))


def _local_server_model(**llm: object) -> Any:
    """The model of a local OpenAI-compatible server: smollm2 at 127.0.0.1:8089, its key in $LOCAL_LLM_KEY."""
    return build_chat_model(
        _config(
            provider="openai", model="smollm2", base_url="http://127.0.0.1:8089/v1", api_key_env="LOCAL_LLM_KEY", **llm
        )
    )


def test_offline_means_no_model() -> None:
    assert build_chat_model(AuditorConfig()) is None
    assert describe(None).model == "deterministic-v2"


def test_openai_compatible_server_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_LLM_KEY", "sk-local-not-a-secret")
    model = _local_server_model(timeout_s=5, max_retries=0)
    assert isinstance(model, ChatOpenAI)
    assert (model.model_name, model.openai_api_base, model.request_timeout, model.max_retries) == (
        "smollm2",
        "http://127.0.0.1:8089/v1",
        5,
        0,
    )
    assert model.openai_api_key.get_secret_value() == "sk-local-not-a-secret"
    assert describe(model).model_dump() == {"provider": "openai", "model": "smollm2"}


def test_keys_never_come_from_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ProviderError, match="needs an API key in the environment variable OPENAI_API_KEY"):
        build_chat_model(_config(provider="openai", model="gpt-4o-mini"))
    # A local server needs none: a placeholder, not a secret, is sent.
    local = build_chat_model(_config(provider="openai", model="smollm2", base_url="http://127.0.0.1:8089/v1"))
    assert local.openai_api_key.get_secret_value() == NO_KEY


def test_a_hosted_api_never_gets_the_placeholder_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ProviderError, match="OPENAI_API_KEY"):
        build_chat_model(_config(provider="openai", model="gpt-4o-mini", base_url="https://api.openai.com/v1"))


def test_an_endpoint_that_cannot_be_built_fails_over_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    warnings: list[str] = []
    config = _config(
        provider="openai",
        model="gpt-4o-mini",  # no key in the environment
        fallbacks=[
            LlmEndpoint(provider="openai", model="local", base_url="http://127.0.0.1:10/v1"),
            LlmEndpoint(provider="offline"),
        ],
    )
    model = build_chat_model(config, on_warning=warnings.append)
    assert describe(model).model == "local"
    assert len(warnings) == 1 and "OPENAI_API_KEY" in warnings[0] and "failing over" in warnings[0]
    # Nothing buildable: the offline writer serves, said aloud.
    warnings.clear()
    only_broken = _config(provider="openai", model="gpt-4o-mini", fallbacks=[LlmEndpoint(provider="offline")])
    assert build_chat_model(only_broken, on_warning=warnings.append) is None
    assert warnings[-1].startswith("no [llm] endpoint could be built")


def test_a_provider_needs_a_model() -> None:
    with pytest.raises(ProviderError, match="needs a `model`"):
        build_chat_model(_config(provider="openai"))


@pytest.mark.parametrize("provider", ["anthropic", "ollama"])
def test_optional_extras_are_named_when_missing(provider: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec(f"langchain_{provider}") is not None:
        pytest.skip(f"langchain_{provider} is installed here")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "not-a-real-key")
    with pytest.raises(ProviderError, match=rf"pip install 'agentic-auditor\[{provider}\]'"):
        build_chat_model(_config(provider=provider, model="m"))


def test_fallbacks_are_tried_in_order_and_offline_ends_the_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local-not-a-secret")
    config = _config(
        provider="openai",
        model="primary",
        base_url="http://127.0.0.1:9/v1",
        fallbacks=[
            LlmEndpoint(provider="openai", model="second", base_url="http://127.0.0.1:10/v1"),
            LlmEndpoint(provider="offline"),
        ],
    )
    model = build_chat_model(config)
    assert isinstance(model, RunnableWithFallbacks)
    assert [m.model_name for m in [model.runnable, *model.fallbacks]] == ["primary", "second"]
    assert describe(model).model == "primary"


def test_failover_answers_from_the_next_model() -> None:
    down = openai.APIConnectionError(
        request=__import__("httpx").Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    )
    primary = FakeChatModel(model_name="primary", responses=[down])
    backup = FakeChatModel(model_name="backup", responses=[AIMessage(content="Answer [CC6.1].")])
    reply = with_failover(primary, [backup]).invoke("hello")
    assert reply.text == "Answer [CC6.1]." and reply.response_metadata["model_name"] == "backup"
    assert len(primary.requests) == 1 and len(backup.requests) == 1


def test_max_tokens_caps_each_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_LLM_KEY", "sk-local-not-a-secret")
    capped = build_chat_model(_config(provider="openai", model="smollm2", api_key_env="LOCAL_LLM_KEY", max_tokens=160))
    uncapped = build_chat_model(_config(provider="openai", model="smollm2", api_key_env="LOCAL_LLM_KEY"))
    assert capped.max_tokens == 160 and uncapped.max_tokens is None


def test_a_compatible_server_also_gets_the_cap_under_its_older_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # llama.cpp's server reads `max_tokens` and ignores `max_completion_tokens`, the name langchain-openai sends.
    monkeypatch.setenv("LOCAL_LLM_KEY", "sk-local-not-a-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-real-openai-key")
    local = _local_server_model(max_tokens=160)
    official = build_chat_model(_config(provider="openai", model="gpt-4o-mini", max_tokens=160))
    local_payload = local._get_request_payload("hello")
    official_payload = official._get_request_payload("hello")
    assert local_payload["max_completion_tokens"] == 160 and local_payload["extra_body"] == {"max_tokens": 160}
    assert official_payload["max_completion_tokens"] == 160 and "extra_body" not in official_payload


# -- the standard key goes only to its provider's own API ------------------------------------------------


def _openai_key(monkeypatch: pytest.MonkeyPatch, **endpoint: object) -> str:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-real-openai-key")
    model = build_chat_model(_config(provider="openai", model="m", **endpoint))
    return model.openai_api_key.get_secret_value()


@pytest.mark.parametrize("base_url", [None, "https://api.openai.com/v1", "https://api.openai.com:443/v1"])
def test_the_standard_key_is_sent_to_the_official_api(monkeypatch: pytest.MonkeyPatch, base_url: str | None) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8089/v1")  # would carry the key elsewhere if honoured
    assert _openai_key(monkeypatch, base_url=base_url) == "sk-the-real-openai-key"
    model = build_chat_model(_config(provider="openai", model="m", base_url=base_url))
    assert model.openai_api_base == (base_url or "https://api.openai.com/v1")


@pytest.mark.parametrize(
    "base_url", ["http://127.0.0.1:8089/v1", "https://api.openai.com.proxy.example/v1", "https://openai.example.net/v1"]
)
def test_the_standard_key_never_goes_to_another_server(monkeypatch: pytest.MonkeyPatch, base_url: str) -> None:
    assert _openai_key(monkeypatch, base_url=base_url) == NO_KEY


@pytest.mark.parametrize("base_url", ["http://api.openai.com/v1", "https://acme.openai.azure.com/openai/v1"])
def test_another_hosted_api_needs_its_key_named(monkeypatch: pytest.MonkeyPatch, base_url: str) -> None:
    with pytest.raises(
        ProviderError, match="needs `api_key_env`.*OPENAI_API_KEY is sent only to https://api.openai.com"
    ):
        _openai_key(monkeypatch, base_url=base_url)
    monkeypatch.setenv("AZURE_KEY", "azure-key")
    assert _openai_key(monkeypatch, base_url=base_url, api_key_env="AZURE_KEY") == "azure-key"


# -- an empty answer fails over like an error --------------------------------------------------------------


def test_an_empty_answer_moves_to_the_next_model() -> None:
    primary = FakeChatModel(model_name="primary", responses=[AIMessage(content=""), AIMessage(content="  \n")])
    backup = FakeChatModel(model_name="backup", responses=[AIMessage(content="Answer [CC6.1].")] * 2)
    failover = with_failover(primary, [backup])
    assert failover.invoke("hello").response_metadata["model_name"] == "backup"
    # Bound to tools (as the planner binds them), still checked.
    bound = failover.bind_tools([{"type": "function", "function": {"name": "f", "parameters": {}}}])
    assert bound.invoke("hello").text == "Answer [CC6.1]."
    assert len(primary.requests) == 2 and len(backup.requests) == 2 and backup.requests[1]["tools"]


def test_a_tool_call_alone_is_an_answer_and_all_empty_is_an_error() -> None:
    calls_only = AIMessage(content="", tool_calls=[{"name": "f", "args": {}, "id": "c1", "type": "tool_call"}])
    primary = FakeChatModel(model_name="primary", responses=[calls_only, AIMessage(content="")])
    backup = FakeChatModel(model_name="backup", responses=[AIMessage(content="")])
    failover = with_failover(primary, [backup])
    assert failover.invoke("plan").tool_calls[0]["name"] == "f"
    with pytest.raises(EmptyAnswer):
        failover.invoke("write")
    assert len(backup.requests) == 1


def test_an_endpoint_failing_in_a_row_is_dropped_once_and_not_asked_again() -> None:
    from agent.providers import BREAKER_FAILURES, EndpointDropped, every_endpoint_dropped, with_circuit_breakers

    request = __import__("httpx").Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    down = openai.APIConnectionError(request=request)
    answer = AIMessage(content="Answer [CC6.1].")
    # A success between failures resets the count: only failures in a row drop an endpoint.
    primary = FakeChatModel(model_name="primary", responses=[down, down, answer, down, down, down])
    backup = FakeChatModel(model_name="backup", respond=lambda messages, tools: answer)
    drops: list = []
    model = with_circuit_breakers(with_failover(primary, [backup]), on_drop=drops.append)

    replies = [model.invoke("hello").text for _ in range(8)]

    assert replies == ["Answer [CC6.1]."] * 8
    assert len(primary.requests) == 6  # the 7th and 8th calls never reached it
    (drop,) = drops
    assert drop.source == "llm" and f"failed {BREAKER_FAILURES} times in a row" in drop.cause
    assert "http://127.0.0.1:9/v1/chat/completions" in drop.cause and "[llm] base_url" in drop.fix
    assert not every_endpoint_dropped(model)  # the backup still answers
    # Tool-bound copies (the planner's) share the count: the endpoint is dropped for them too.
    with pytest.raises(EndpointDropped):
        model.runnable.bind_tools([]).invoke("hello")
    alone = with_circuit_breakers(FakeChatModel(model_name="alone", responses=[down] * BREAKER_FAILURES))
    for _ in range(BREAKER_FAILURES):
        with pytest.raises(openai.APIConnectionError):
            alone.invoke("hello")
    assert every_endpoint_dropped(alone) and describe(alone).model == "alone"
