"""Prompt templates for the model planner and writer; each template set is hashed for provenance.

A narrative's provenance records `prompt_template_hash`, so a reviewer can tell which wording of the
instructions produced a draft. Inputs are summaries, capped in size: criteria chunks, findings and
evidence summaries, never raw evidence (which may be large and, before redaction, sensitive).
"""

from __future__ import annotations

from langchain_core.prompts import ChatPromptTemplate

from tools.chain import sha256_hex

PLANNER_SYSTEM = """You plan evidence collection for one SOC 2 control of {company}.
The baseline evidence listed below is already scheduled. Call further read-only tools only when they
gather evidence this control needs that the baseline lacks. Call at most {max_calls} tools, each at most
once. Use only the tools you are given, with arguments that match their schemas. Reply with tool calls
only; if the baseline is enough, reply with the single word: enough."""

PLANNER_HUMAN = """Control {control_id}: {title}
{description}
Kind: {kind}. Frequency: {frequency}. Owner: {owner_role}.

Criteria:
{criteria}

Baseline evidence already scheduled:
{baseline}"""

WRITER_SYSTEM = """You write SOC 2 control narratives that {company}'s compliance lead sends to the auditor.
Rules, all mandatory:
1. Every sentence ends with one or more citations in square brackets, before the full stop, e.g.
   "Console users sign in with MFA [CC6.1] [ev:0a1b2c3d4e5f]."
2. Cite only the ids listed in the input, written exactly as listed: criteria [CC6.1], points of focus
   [CC6.1/pof/3], evidence [ev:<id>], policies [policy:<file>#<section>], controls [control:<ID>].
3. Use numbers and resource names only as they appear in the findings or evidence you cite; put
   resource names in backticks. Do not invent names, dates or counts.
4. When any finding failed, never write "all", "every", "fully compliant", "no exceptions" or
   "operating effectively": name the failing resources and what must be fixed.
5. Plain prose, 4 to 8 sentences, no headings, no lists, no preamble."""

WRITER_HUMAN = """Control {control_id}: {title} ({kind}, {frequency}; owner: {owner_role})
{description}

Criteria and points of focus (cite by id):
{chunks}

Findings by check:
{findings}

Evidence items (cite by id):
{evidence}
{manual}{feedback}
Write the narrative for control {control_id}."""

REPAIR_HUMAN = """The verifier rejected your narrative for these reasons:
{problems}

Rewrite the whole narrative so that every problem is fixed, following every rule. Reply with the
narrative only."""

PLANNER_PROMPT = ChatPromptTemplate.from_messages([("system", PLANNER_SYSTEM), ("human", PLANNER_HUMAN)])
WRITER_PROMPT = ChatPromptTemplate.from_messages([("system", WRITER_SYSTEM), ("human", WRITER_HUMAN)])
REPAIR_PROMPT = ChatPromptTemplate.from_messages([("human", REPAIR_HUMAN)])


def template_hash(*templates: str) -> str:
    """Short, stable hash of template texts (16 hex digits of SHA-256)."""
    return sha256_hex("\n\x1e\n".join(templates).encode())[:16]


PLANNER_HASH = template_hash(PLANNER_SYSTEM, PLANNER_HUMAN)
WRITER_HASH = template_hash(WRITER_SYSTEM, WRITER_HUMAN, REPAIR_HUMAN)

# Caps on what goes into a prompt: enough to write from, small enough for a local model's context.
MAX_CHUNK_CHARS = 500
MAX_CHUNKS = 12
MAX_FAILING_PER_CHECK = 8
MAX_EVIDENCE_SUMMARY_CHARS = 300
