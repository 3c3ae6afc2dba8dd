"""A scripted chat model for graph tests (a fixture, not a recording): it answers what the test says.

`FakeChatModel(respond=fn)` calls `fn(messages, tools)` for every request and returns its AIMessage (or
raises the exception it returns); `FakeChatModel(responses=[...])` answers in order instead. Every
request is recorded in `.requests` with the tools bound to it, so tests can assert on the prompt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from pydantic import PrivateAttr

Reply = AIMessage | BaseException
Responder = Callable[[list[BaseMessage], list[dict[str, Any]]], Reply]


class FakeChatModel(BaseChatModel):
    model_name: str = "scripted-1"
    provider: str = "fake"
    respond: Responder | None = None
    responses: list[Any] = []  # AIMessage or exception, in order

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _next: int = PrivateAttr(default=0)
    _requests: list[dict[str, Any]] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "fake-scripted"

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._requests)

    # Annotated like real models' bind_tools: a failover chain binds every model only when it says Runnable.
    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, AIMessage]:
        return self.bind(tools=list(tools), **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tools = list(kwargs.get("tools") or [])
        with self._lock:
            self._requests.append({"messages": list(messages), "tools": tools})
            if self.respond is None:
                if self._next >= len(self.responses):
                    raise AssertionError(f"FakeChatModel ran out of scripted responses after {self._next}")
                reply = self.responses[self._next]
                self._next += 1
        if self.respond is not None:
            reply = self.respond(list(messages), tools)
        if isinstance(reply, BaseException):
            raise reply
        message = reply.model_copy(
            update={
                "response_metadata": {
                    "model_provider": self.provider,
                    "model_name": self.model_name,
                    **reply.response_metadata,
                },
                "usage_metadata": reply.usage_metadata
                or {"input_tokens": 100, "output_tokens": 50, "total_tokens": 150},
            }
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def tool_call(name: str, args: dict[str, Any], call_id: str = "call-1") -> dict[str, Any]:
    """A tool call as a provider returns it, with the catalog name in its function-name form."""
    return {"name": name.replace(".", "__"), "args": args, "id": call_id, "type": "tool_call"}


def last_human_text(messages: list[BaseMessage]) -> str:
    return next((m.text for m in reversed(messages) if m.type == "human"), "")
