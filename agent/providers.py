"""Chat models from the `[llm]` configuration, with failover; `None` means the offline writer.

Providers: offline (no model), openai (also any OpenAI-compatible server through `base_url`),
anthropic and ollama (optional extras, imported only when configured). Keys come only from the
environment: `api_key_env`, else the provider's standard variable, which is sent only to that
provider's own API (OPENAI_API_KEY to api.openai.com, ANTHROPIC_API_KEY to api.anthropic.com).
Fallback endpoints are tried in order, on an error or an empty answer; when every model fails, the
nodes use the offline path, so offline is always the last resort.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda, RunnableWithFallbacks

from agent.report_schema import OFFLINE_WRITER, WriterInfo
from tools.config import AuditorConfig, LlmEndpoint
from tools.sources import SourceProblem, llm_dropped

OFFLINE = OFFLINE_WRITER
STANDARD_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
# Each provider's own API: where requests go without a `base_url`, and the only place its standard key goes.
OFFICIAL_API = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}
EXTRAS = {"openai": "langchain_openai", "anthropic": "langchain_anthropic", "ollama": "langchain_ollama"}
# Local OpenAI-compatible servers (llama.cpp, vLLM, LM Studio) usually need no key, but the client
# insists on one: this placeholder is sent instead, never a real secret.
NO_KEY = "no-key-required"

ChatModel = BaseChatModel | Runnable


class ProviderError(Exception):
    """The [llm] configuration cannot produce a model; the message says what to change."""


class EmptyAnswer(Exception):
    """A model answered with neither text nor a tool call."""


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
    """Try `primary`, then each fallback in order, on any error or an empty answer."""
    if not fallbacks:
        return primary
    return Failover(runnable=primary, fallbacks=fallbacks, exceptions_to_handle=(Exception,))


class Failover(RunnableWithFallbacks):
    """`with_fallbacks` that also moves on when a model answers nothing.

    `bind_tools` and the like return a Failover again (RunnableWithFallbacks applies them to every model);
    the answer check is added at each call, after them.
    """

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        require_answer = RunnableLambda(_require_answer)
        checked = RunnableWithFallbacks(
            runnable=self.runnable | require_answer,
            fallbacks=[fallback | require_answer for fallback in self.fallbacks],
            exceptions_to_handle=self.exceptions_to_handle,
        )
        return checked.invoke(input, config, **kwargs)


def _require_answer(message: Any) -> Any:
    if isinstance(message, AIMessage) and not message.text.strip() and not message.tool_calls:
        raise EmptyAnswer("the model answered nothing (no text, no tool call)")
    return message


def build_endpoint(endpoint: LlmEndpoint) -> BaseChatModel:
    if not endpoint.model:
        raise ProviderError(f"[llm] provider '{endpoint.provider}' needs a `model` (e.g. model = \"gpt-4o-mini\")")
    module = _import_extra(endpoint.provider)
    common: dict[str, Any] = {
        "model": endpoint.model,
        "temperature": endpoint.temperature,
        "max_retries": endpoint.max_retries,
    }
    if endpoint.max_tokens is not None:
        # Each client names the answer cap differently.
        common["num_predict" if endpoint.provider == "ollama" else "max_tokens"] = endpoint.max_tokens
    if endpoint.provider == "ollama":
        common.pop("max_retries")  # the Ollama client has no retry setting
        return module.ChatOllama(**common, base_url=endpoint.base_url, client_kwargs={"timeout": endpoint.timeout_s})
    # The URL is always passed, never left to an environment variable (OPENAI_BASE_URL): the key is chosen for it.
    base_url = endpoint.base_url or OFFICIAL_API[endpoint.provider]
    connection = {"base_url": base_url, "api_key": _key(endpoint, base_url), "timeout": endpoint.timeout_s}
    if endpoint.provider == "openai":
        if endpoint.max_tokens is not None and not _is_official_api("openai", base_url):
            # langchain-openai sends the cap as `max_completion_tokens`, which compatible servers such as
            # llama.cpp's ignore: without the older name too, a small model writes until its context is full.
            connection["extra_body"] = {"max_tokens": endpoint.max_tokens}
        return module.ChatOpenAI(**common, **connection, stream_usage=True)
    return module.ChatAnthropic(**common, **connection)


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


def _key(endpoint: LlmEndpoint, base_url: str) -> str:
    """The key for requests to base_url: from `api_key_env`, or the provider's standard variable for its own API.

    Another server never gets the standard key (OPENAI_API_KEY is not for a proxy or a local server): a
    local one gets the placeholder, a hosted one needs `api_key_env`.
    """
    official = _is_official_api(endpoint.provider, base_url)
    variable = endpoint.api_key_env or (STANDARD_KEY_ENV[endpoint.provider] if official else None)
    if variable is None and _is_hosted_api(base_url):
        raise ProviderError(
            f"[llm] provider '{endpoint.provider}' at {base_url} needs `api_key_env` naming the variable with its "
            f"key ({STANDARD_KEY_ENV[endpoint.provider]} is sent only to {OFFICIAL_API[endpoint.provider]})"
        )
    value = os.environ.get(variable) if variable else None
    if value:
        return value
    if not _is_hosted_api(base_url):
        return NO_KEY
    raise ProviderError(
        f"[llm] provider '{endpoint.provider}' needs an API key in the environment variable {variable} "
        f'(set it, name another with api_key_env, or use provider = "offline")'
    )


def _is_official_api(provider: str, base_url: str) -> bool:
    """The provider's own API host over https (api.openai.com, api.anthropic.com), whatever the path."""
    url, official = urlsplit(base_url), urlsplit(OFFICIAL_API[provider])
    return url.scheme == "https" and url.hostname == official.hostname and url.port in (None, 443)


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


# -- circuit breaker -------------------------------------------------------------------------------------

BREAKER_FAILURES = 3  # failures in a row after which an endpoint is dropped for the rest of the run


class EndpointDropped(Exception):
    """The endpoint failed BREAKER_FAILURES times in a row earlier in this run: it is not asked again."""


class _BreakerState:
    """Shared by an endpoint and its tool-bound copies (the planner binds tools): one count per endpoint."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.failures_in_a_row = 0
        self.dropped = False


class CircuitBreaker(Runnable):
    """One model endpoint, dropped for the rest of the run after `threshold` failures in a row.

    A dead endpoint would otherwise cost every control its timeouts and retries, and a warning each. Once
    dropped, a call fails at once with EndpointDropped (failover moves on to the next endpoint, the nodes
    to the offline writer) and `on_drop` has been told, once.
    """

    def __init__(
        self,
        bound: ChatModel,
        on_drop: Callable[[SourceProblem], None] | None = None,
        threshold: int = BREAKER_FAILURES,
        state: _BreakerState | None = None,
    ) -> None:
        self.bound = bound  # `describe` reads the model through this attribute, as through a RunnableBinding
        self.on_drop = on_drop
        self.threshold = threshold
        self._state = state or _BreakerState()

    @property
    def dropped(self) -> bool:
        return self._state.dropped

    def invoke(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
        if self._state.dropped:
            raise EndpointDropped(f"{_label(self.bound)} was dropped after {self.threshold} failures in a row")
        try:
            answer = self.bound.invoke(input, config, **kwargs)
        except Exception as error:
            self._failed(error)
            raise
        with self._state.lock:
            self._state.failures_in_a_row = 0
        return answer

    def bind_tools(self, tools: Any, **kwargs: Any) -> CircuitBreaker:
        return CircuitBreaker(self.bound.bind_tools(tools, **kwargs), self.on_drop, self.threshold, self._state)

    def _failed(self, error: Exception) -> None:
        with self._state.lock:
            self._state.failures_in_a_row += 1
            drops_now = not self._state.dropped and self._state.failures_in_a_row >= self.threshold
            self._state.dropped = self._state.dropped or drops_now
        if drops_now and self.on_drop is not None:
            self.on_drop(llm_dropped(_label(self.bound), self.threshold, error))


def with_circuit_breakers(
    model: ChatModel, on_drop: Callable[[SourceProblem], None] | None = None, threshold: int = BREAKER_FAILURES
) -> ChatModel:
    """The model with a circuit breaker on each endpoint of its failover chain."""
    if isinstance(model, RunnableWithFallbacks):
        return with_failover(
            CircuitBreaker(model.runnable, on_drop, threshold),
            [CircuitBreaker(fallback, on_drop, threshold) for fallback in model.fallbacks],
        )
    return CircuitBreaker(model, on_drop, threshold)


def every_endpoint_dropped(model: ChatModel | None) -> bool:
    """True when each endpoint of the chain was dropped: asking the model again would only fail."""
    if model is None:
        return False
    chain = [model.runnable, *model.fallbacks] if isinstance(model, RunnableWithFallbacks) else [model]
    return all(isinstance(endpoint, CircuitBreaker) and endpoint.dropped for endpoint in chain)


def _label(model: ChatModel) -> str:
    writer = describe(model)
    return f"{writer.provider} {writer.model}"
