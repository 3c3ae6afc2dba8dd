"""Evidence plans: the control library's baseline, optionally extended by the model's tool calls.

The model sees the read-only tool catalog (names and argument JSON schemas, via `bind_tools`) and the
control with its criteria. It is offered the tools of the groups its baseline evidence comes from
(`aws.iam`, `aws.s3`, ..., `github`, `git`, `logs`), or the whole catalog for a control without
baseline evidence: the full catalog's schemas alone fill a small local model's context. Each tool call
it makes is checked: an unknown tool, a tool not offered for the control, arguments that the tool's
argument model refuses, and arguments reaching beyond the configuration (`outside_configuration`) are
rejected and logged; calls repeating the baseline are dropped. The accepted calls are appended to the
baseline, which is always collected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage
from pydantic import ValidationError

from agent.prompts import control_fields, data_block, planner_prompt
from agent.providers import ChatModel, token_usage
from agent.state import PlannedCall
from knowledge.catalog import Catalog
from knowledge.models import Control
from tools.catalog import CHECKS, TOOLS, ToolSpec
from tools.chain import canonical_json
from tools.config import AuditorConfig
from tools.runner import outside_configuration

MAX_MODEL_CALLS = 6


def function_name(tool: str) -> str:
    # Function names in the OpenAI tool format allow [A-Za-z0-9_-] only: dots become double underscores.
    return tool.replace(".", "__")


def tool_name(function: str) -> str:
    return function.replace("__", ".")


def tool_group(tool: str) -> str:
    """`aws.iam.users` -> `aws.iam`; `github.pulls` -> `github`."""
    parts = tool.split(".")
    return ".".join(parts[:2]) if parts[0] == "aws" else parts[0]


def offered_tools(baseline: list[PlannedCall]) -> dict[str, ToolSpec]:
    groups = {tool_group(call["tool"]) for call in baseline}
    if not groups:
        return dict(TOOLS)
    return {name: spec for name, spec in TOOLS.items() if tool_group(name) in groups}


def tool_definitions(specs: dict[str, ToolSpec] | None = None) -> list[dict[str, Any]]:
    """Tools in the OpenAI function-tool format that `bind_tools` accepts for every provider."""
    definitions = []
    for spec in (TOOLS if specs is None else specs).values():
        definitions.append(
            {
                "type": "function",
                "function": {
                    "name": function_name(spec.name),
                    "description": spec.description,
                    "parameters": _without_titles(spec.json_schema()),
                },
            }
        )
    return definitions


def _without_titles(schema: Any) -> Any:
    # Pydantic's "title" keys repeat the names: tokens a model does not need.
    if isinstance(schema, dict):
        return {
            key: _without_titles(value)
            for key, value in schema.items()
            if not (key == "title" and isinstance(value, str))
        }
    if isinstance(schema, list):
        return [_without_titles(value) for value in schema]
    return schema


def baseline_plan(control: Control) -> list[PlannedCall]:
    """The control library's evidence, plus any other tool its checks read (with default arguments)."""
    plan: list[PlannedCall] = []
    seen = set()

    def add(tool: str, params: dict[str, Any], check: str | None) -> None:
        key = (tool, canonical_json(params), check)
        if key not in seen:
            seen.add(key)
            plan.append(PlannedCall(tool=tool, params=dict(params), check=check, source="baseline"))

    for spec in control.evidence:
        add(spec.tool, spec.params, spec.check)
        check = CHECKS.get(spec.check)
        for needed in check.needs if check else ():
            if needed != spec.tool:
                add(needed, {}, spec.check)
    return plan


@dataclass
class ModelPlan:
    accepted: list[PlannedCall] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {tool, args, error}
    duplicates: list[str] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    answer: str = ""  # the model's text beside its tool calls, if any


def plan_with_model(
    model: ChatModel, control: Control, catalog: Catalog, baseline: list[PlannedCall], config: AuditorConfig
) -> ModelPlan:
    """Ask the model for extra tool calls; validate each against the catalog."""
    messages = planner_prompt().format_messages(
        company=config.company,
        max_calls=MAX_MODEL_CALLS,
        **control_fields(control),
        criteria=data_block("criteria", _criteria_records(control, catalog)),
        baseline=data_block("baseline", ({key: call[key] for key in ("tool", "params", "check")} for call in baseline)),
    )
    response = model.bind_tools(tool_definitions(offered_tools(baseline))).invoke(messages)
    if not isinstance(response, AIMessage):
        raise TypeError(f"the planner model returned {type(response).__name__}, not an AI message")
    return validate_tool_calls(response, baseline, config)


def validate_tool_calls(response: AIMessage, baseline: list[PlannedCall], config: AuditorConfig) -> ModelPlan:
    result = ModelPlan(usage=token_usage(response), answer=response.text[:500])
    offered = offered_tools(baseline)
    planned = {(call["tool"], canonical_json(call["params"])) for call in baseline}
    for broken in response.invalid_tool_calls:
        result.rejected.append(
            {
                "tool": tool_name(broken.get("name") or "?"),
                "args": broken.get("args"),
                "error": f"unparseable call: {broken.get('error') or 'invalid JSON arguments'}",
            }
        )
    for call in response.tool_calls:
        name = tool_name(call["name"])
        spec = TOOLS.get(name)
        if spec is None:
            result.rejected.append(
                {"tool": name, "args": call.get("args"), "error": "unknown tool: not in the read-only catalog"}
            )
            continue
        if name not in offered:
            result.rejected.append({"tool": name, "args": call.get("args"), "error": "not offered for this control"})
            continue
        try:
            args = spec.args_model.model_validate(call.get("args") or {})
        except ValidationError as exc:
            detail = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(args)'}: {e['msg']}" for e in exc.errors())
            result.rejected.append({"tool": name, "args": call.get("args"), "error": f"invalid arguments: {detail}"})
            continue
        beyond = outside_configuration(spec, args, config)
        if beyond:
            error = f"arguments outside the configuration: {'; '.join(beyond)}"
            result.rejected.append({"tool": name, "args": call.get("args"), "error": error})
            continue
        params = args.model_dump(mode="json", exclude_defaults=True)
        key = (name, canonical_json(params))
        if key in planned:
            result.duplicates.append(name)
            continue
        if len(result.accepted) >= MAX_MODEL_CALLS:
            result.rejected.append(
                {"tool": name, "args": call.get("args"), "error": f"over the limit of {MAX_MODEL_CALLS} calls"}
            )
            continue
        planned.add(key)
        result.accepted.append(PlannedCall(tool=name, params=params, check=None, source="model"))
    return result


def _criteria_records(control: Control, catalog: Catalog) -> list[dict[str, str]]:
    records = []
    for criterion_id in control.criteria:
        criterion = catalog.get(criterion_id)
        if criterion is None:
            continue
        records.append({"id": criterion.id, "text": criterion.text})
        records += [{"id": pof.citation_id(criterion.id), "text": pof.title} for pof in criterion.points_of_focus[:8]]
    return records
