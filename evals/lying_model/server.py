"""A lying model: an OpenAI-compatible chat-completions server on loopback that answers with scripted drafts.

It speaks the protocol the real writer uses (langchain-openai against `[llm] provider = "openai"` with a
`base_url`), so each draft goes through the whole path: prompt, draft, verify, repair, fall back. Planner
requests (those offering tools) get "enough". Writer requests get the next draft scripted for the control
the prompt names (a repair with none left gets the refused draft again); a draft's placeholders are filled
from the prompt's data blocks, so a lie cites real ids of the run:

    {criterion}   the first criterion retrieved        {control}    the control itself
    {policy}      the first policy section retrieved   {ev}         the first evidence item
    {ev:pass}     evidence only passing findings cite  {ev:fail}    evidence a failing finding cites
    {ev:<tool>}   the evidence item of that tool       {ev:other}   evidence of another control
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent.prompts import data_records

_BLOCK = re.compile(r'<data kind="(\w+)">\n.*?\n</data>', re.DOTALL)
_PLACEHOLDER = re.compile(r"\{(criterion|control|policy|ev)(?::([\w.]+))?\}")
_CRITERION = re.compile(r"^\[[A-Z]{1,2}\d+\.\d+\]$")


@dataclass(frozen=True)
class LyingDraft:
    id: str
    category: str  # what kind of lie; "true" for an honest draft the verifier must accept
    control: str
    text: str  # with placeholders
    variant: str = "demo"  # the environment it is written for (see evals/lying_model/run.py)


@dataclass(frozen=True)
class Served:
    draft: LyingDraft
    text: str  # as sent, placeholders filled
    round: int
    repair: bool  # an answer to the verifier's complaints


class LyingModelServer:
    """Serves each control's scripted drafts in order; records what it served and every prompt it saw."""

    def __init__(self, drafts: list[LyingDraft]) -> None:
        self.queues: dict[tuple[str, str], deque[LyingDraft]] = defaultdict(deque)
        for draft in drafts:
            self.queues[(draft.variant, draft.control)].append(draft)
        self.variant = "demo"
        self.round = 0
        self.served: list[Served] = []
        self.writer_prompts: dict[str, str] = {}  # control -> its latest writer prompt (the human message)
        self.planner_prompts: list[str] = []
        self.errors: list[str] = []
        self._evidence_seen: dict[str, set[str]] = defaultdict(set)  # control -> evidence cites in its prompts
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_port}/v1"

    def __enter__(self) -> LyingModelServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    def pending(self, variant: str) -> list[str]:
        """Controls of the variant with drafts still to serve."""
        with self._lock:
            return sorted(control for (v, control), queue in self.queues.items() if v == variant and queue)

    # -- answering ----------------------------------------------------------------------------------------

    def answer(self, body: dict[str, Any]) -> str:
        messages = body.get("messages", [])
        prompt = next((m["content"] for m in messages if m.get("role") == "user"), "")
        if body.get("tools"):
            with self._lock:
                self.planner_prompts.append(prompt)
            return "enough"
        control = re.search(r"^Control (\S+):", prompt, re.MULTILINE)
        if control is None:
            raise ValueError("a writer request that names no control")
        blocks = {m.group(1): data_records(m.group(0)) for m in _BLOCK.finditer(prompt)}
        repair = any(m.get("role") == "assistant" for m in messages)
        with self._lock:
            queue = self.queues.get((self.variant, control.group(1)))
            if not queue:
                if repair:  # its last draft was refused: the lying model insists on it
                    return next(m["content"] for m in reversed(messages) if m.get("role") == "assistant")
                raise LookupError(f"no draft left for {control.group(1)} ({self.variant})")
            draft = queue.popleft()
            evidence = {record["cite"] for record in blocks.get("evidence", [])}
            self._evidence_seen[draft.control] |= evidence
            seen_elsewhere = (seen for other, seen in self._evidence_seen.items() if other != draft.control)
            other_controls = sorted(set().union(*seen_elsewhere) - evidence)
            text = _PLACEHOLDER.sub(lambda m: _fill(m.group(1), m.group(2), draft, blocks, other_controls), draft.text)
            self.served.append(Served(draft, text, self.round, repair))
            self.writer_prompts[draft.control] = prompt
        return text


def _fill(
    kind: str, spec: str | None, draft: LyingDraft, blocks: dict[str, list[Any]], other_controls: list[str]
) -> str:
    chunks = [record["cite"] for record in blocks.get("chunks", [])]
    if kind == "control":
        return f"[control:{draft.control}]"
    if kind == "criterion":
        found = [c for c in chunks if _CRITERION.match(c)]
    elif kind == "policy":
        found = [c for c in chunks if c.startswith("[policy:")]
    else:
        found = _evidence(spec, blocks, other_controls)
    if not found:
        wanted = f"{kind}:{spec}" if spec else kind
        raise LookupError(f"{draft.id}: the prompt for {draft.control} has no {wanted} to cite")
    return found[0]


def _evidence(spec: str | None, blocks: dict[str, list[Any]], other_controls: list[str]) -> list[str]:
    evidence = blocks.get("evidence", [])
    findings = [f for f in blocks.get("findings", []) if "status" in f]
    if spec is None:
        return [e["cite"] for e in evidence]
    if spec == "other":
        return other_controls
    if spec in ("pass", "fail"):
        wanted = [c for f in findings if f["status"] == spec for c in f["cite"]]
        elsewhere = {c for f in findings if f["status"] != spec for c in f["cite"]}
        # Passing evidence is evidence no other finding rests on; failing evidence may be shared.
        return wanted if spec == "fail" else [c for c in wanted if c not in elsewhere]
    return [e["cite"] for e in evidence if e["tool"] == spec]


def _handler(server: LyingModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server hook name
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            try:
                text = server.answer(body)
            except Exception as exc:  # noqa: BLE001 - reported to the client and kept for the test
                server.errors.append(f"{type(exc).__name__}: {exc}")
                self._send(500, {"error": {"message": str(exc), "type": "server_error"}})
                return
            self._send(
                200,
                {
                    "id": f"chatcmpl-lying-{len(server.served)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "lying-1"),
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
                },
            )

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: the test reads `errors`
            return

    return Handler
