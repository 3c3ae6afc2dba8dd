"""The planner takes from the model only calls to tools offered for the control, with arguments inside the
configuration: the escapes a lying model tried are each rejected with the reason."""

from __future__ import annotations

from pathlib import Path

from fakes import tool_call
from langchain_core.messages import AIMessage

from agent.planner import validate_tool_calls
from agent.state import PlannedCall
from tools.catalog import load_all
from tools.config import AuditorConfig


def baseline(*tools: str) -> list[PlannedCall]:
    return [PlannedCall(tool=tool, params={}, check=None, source="baseline") for tool in tools]


def test_model_calls_beyond_the_control_or_the_configuration_are_rejected(tmp_path: Path) -> None:
    load_all()
    logs = tmp_path / "logs"
    logs.mkdir()
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-not-a-real-key\n")
    (logs / "innocent.log").symlink_to(tmp_path / ".env")
    config = AuditorConfig.model_validate(
        {
            "github": {"owner": "acme-ai", "repos": ["platform"]},
            "repos": {"local": [str(tmp_path / "service")]},
            "logs": {"paths": [str(logs)]},
        }
    )
    calls = [
        tool_call("logs.auth_events", {"paths": [str(tmp_path / ".env")]}, "c1"),
        tool_call("logs.auth_events", {"paths": [f"{logs}/../.env"]}, "c2"),
        tool_call("logs.auth_events", {"paths": [str(logs / "innocent.log")]}, "c3"),
        tool_call("git.history", {"repos": [str(tmp_path / "someone-elses")]}, "c4"),
        tool_call("github.repository", {"repos": ["acme-ai/platform/../../../user"]}, "c5"),
        tool_call("aws.iam.users", {}, "c6"),  # a tool of a group this control's baseline does not use
        tool_call("github.repository", {"repos": ["platform"]}, "c7"),  # narrower than the baseline: fine
        tool_call("logs.auth_events", {"paths": [str(logs)], "kinds": ["ssh_failed"]}, "c8"),
    ]
    offered_by_baseline = baseline("logs.auth_events", "git.history", "github.repository")
    plan = validate_tool_calls(AIMessage(content="", tool_calls=calls), offered_by_baseline, config)
    assert [(call["tool"], call["params"]) for call in plan.accepted] == [
        ("github.repository", {"repos": ["platform"]}),
        ("logs.auth_events", {"paths": [str(logs)], "kinds": ["ssh_failed"]}),
    ]
    reasons = [(rejected["tool"], rejected["error"]) for rejected in plan.rejected]
    outside = "arguments outside the configuration: "
    assert reasons == [
        ("logs.auth_events", f"{outside}'{tmp_path / '.env'}' is not under a configured [logs] path"),
        ("logs.auth_events", f"{outside}'{logs}/../.env' is not under a configured [logs] path"),
        ("logs.auth_events", f"{outside}'{logs / 'innocent.log'}' is not under a configured [logs] path"),
        ("git.history", f"{outside}'{tmp_path / 'someone-elses'}' is not a configured [repos] local repository"),
        ("github.repository", f"{outside}'acme-ai/platform/../../../user' is not a configured [github] repository"),
        ("aws.iam.users", "not offered for this control"),
    ]
