"""Chat models from the `[llm]` configuration, with failover; `None` means the offline writer.

Providers: offline (no model), openai (also any OpenAI-compatible server through `base_url`),
anthropic and ollama (optional extras, imported only when configured). Keys come only from the
environment: `api_key_env`, else the provider's standard variable. Fallback endpoints are tried in
order through `with_fallbacks`; when every model fails, the nodes use the offline path, so offline
is always the last resort.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable, RunnableWithFallbacks

from agent.config import AuditorConfig, LlmEndpoint
from agent.report_schema import WriterInfo

OFFLINE = WriterInfo(provider="offline", model="deterministic-v1")
STANDARD_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
EXTRAS = {"openai": "langchain_openai", "anthropic": "langchain_anthropic", "ollama": "langchain_ollama"}
# Local OpenAI-compatible servers (llama.cpp, vLLM, LM Studio) usually need no key, but the client
# insists on one: this placeholder is sent instead, never a real secret.
NO_KEY = "no-key-required"

ChatModel = BaseChatModel | Runnable


class ProviderError(Exception):
    """The [llm] configuration cannot produce a model; the message says what to change."""


def build_chat_model(config: AuditorConfig, on_warning: Callable[[str], None] | None = None) -> ChatModel | None:
    """The configured model with its fallbacks, or None for the offline writer.

    With `[[llm.fallbacks]]` configured, failover covers configuration too: an endpoint that cannot be
    built (no key, extra not installed) is skipped with a warning and the next one serves, down to
    offline. With none configured, the error stops the run: nothing was asked to stand in.
    """
    llm = config.llm
    if llm.provider == "offline":
        return None
    endpoints = [llm, *(endpoint for endpoint in llm.fallbacks if endpoint.provider != "offline")]
    if len(endpoints) == 1 and not llm.fallbacks:
        return build_endpoint(llm)
    models = []
    for endpoint in endpoints:
        try:
            models.append(build_endpoint(endpoint))
        except ProviderError as exc:
            if on_warning is not None:
                on_warning(f"{exc}; failing over to the next [llm] endpoint")
    if not models:
        if on_warning is not None:
            on_warning("no [llm] endpoint could be built; the offline writer writes every narrative")
        return None
    return with_failover(models[0], models[1:])


def with_failover(primary: ChatModel, fallbacks: list[ChatModel]) -> ChatModel:
    """Try `primary`, then each fallback in order, on any error."""
    return primary.with_fallbacks(fallbacks, exceptions_to_handle=(Exception,)) if fallbacks else primary


def build_endpoint(endpoint: LlmEndpoint) -> BaseChatModel:
    if not endpoint.model:
        raise ProviderError(f"[llm] provider '{endpoint.provider}' needs a `model` (e.g. model = \"gpt-4o-mini\")")
    module = _import_extra(endpoint.provider)
    common: dict[str, Any] = {"model": endpoint.model, "temperature": endpoint.temperature, "max_retries": endpoint.max_retries}
    if endpoint.max_tokens is not None:
        # Each client names the answer cap differently.
        common["num_predict" if endpoint.provider == "ollama" else "max_tokens"] = endpoint.max_tokens
    if endpoint.provider == "openai":
        return module.ChatOpenAI(
            **common, base_url=endpoint.base_url, api_key=_key(endpoint), timeout=endpoint.timeout_s, stream_usage=True
        )
    if endpoint.provider == "anthropic":
        extra = {"base_url": endpoint.base_url} if endpoint.base_url else {}
        return module.ChatAnthropic(**common, api_key=_key(endpoint), timeout=endpoint.timeout_s, **extra)
    if endpoint.provider == "ollama":
        common.pop("max_retries")  # the Ollama client has no retry setting
        return module.ChatOllama(**common, base_url=endpoint.base_url, client_kwargs={"timeout": endpoint.timeout_s})
    raise ProviderError(f"[llm] unknown provider '{endpoint.provider}' (use offline, openai, anthropic or ollama)")


def _import_extra(provider: str) -> Any:
    from importlib import import_module

    package = EXTRAS.get(provider)
    if package is None:
        raise ProviderError(f"[llm] unknown provider '{provider}' (use offline, openai, anthropic or ollama)")
    try:
        return import_module(package)
    except ModuleNotFoundError as exc:
        raise ProviderError(
            f"[llm] provider '{provider}' needs the optional extra: pip install 'agentic-auditor[{provider}]'"
        ) from exc


def _key(endpoint: LlmEndpoint) -> str:
    variable = endpoint.api_key_env or STANDARD_KEY_ENV[endpoint.provider]
    value = os.environ.get(variable)
    if value:
        return value
    if endpoint.base_url and not _is_hosted_api(endpoint.base_url):
        return NO_KEY
    raise ProviderError(
        f"[llm] provider '{endpoint.provider}' needs an API key in the environment variable {variable} "
        f"(set it, name another with api_key_env, or use provider = \"offline\")"
    )


def _is_hosted_api(base_url: str) -> bool:
    """The providers' own hosted APIs always need a real key: the placeholder is for local servers."""
    host = (urlsplit(base_url).hostname or "").lower()
    return host.endswith(("openai.com", "anthropic.com", "openai.azure.com"))


# -- who wrote it --------------------------------------------------------------------------------------

_PROVIDER_OF_TYPE = {"openai-chat": "openai", "anthropic-chat": "anthropic", "chat-ollama": "ollama"}


def describe(model: ChatModel | None) -> WriterInfo:
    """Provider and model of the primary model (what a run is configured to write with)."""
    if model is None:
        return OFFLINE
    while isinstance(model, RunnableWithFallbacks):
        model = model.runnable
    bound = getattr(model, "bound", model)  # a RunnableBinding from bind_tools
    llm_type = getattr(bound, "_llm_type", type(bound).__name__)
    if isinstance(getattr(bound, "provider", None), str):  # models that name their provider (test doubles)
        return WriterInfo(provider=bound.provider, model=str(getattr(bound, "model_name", llm_type)))
    name = getattr(bound, "model_name", None) or getattr(bound, "model", None) or llm_type
    return WriterInfo(provider=_PROVIDER_OF_TYPE.get(llm_type, llm_type), model=str(name))


def answered_by(message: AIMessage, configured: WriterInfo) -> WriterInfo:
    """The provider and model that actually answered (a fallback may have), from the response metadata."""
    metadata = message.response_metadata or {}
    provider = metadata.get("model_provider") or configured.provider
    model = metadata.get("model_name") or metadata.get("model") or configured.model
    return WriterInfo(provider=str(provider), model=str(model))


def token_usage(message: AIMessage) -> dict[str, int]:
    usage = message.usage_metadata or {}
    return {key: int(usage[key]) for key in ("input_tokens", "output_tokens", "total_tokens") if key in usage}
