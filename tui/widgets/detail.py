"""The selected control's header, findings and provenance, rendered from its ControlReview."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from agent.report import MODEL_WRITTEN
from agent.review_log import ControlReview
from tui.widgets.badges import state_badge, status_badge, status_icon


class ControlHeader(Static):
    def show(self, review: ControlReview) -> None:
        control = review.control
        lines = [
            Content.assemble((control.id, "bold $text-accent"), " ", (control.title, "bold")),
            Content.assemble(
                status_badge(control.status),
                " ",
                state_badge(review.state),
                ("  " + control.kind, "$text-muted"),
                ("  criteria " + ", ".join(control.criteria), "$text-muted"),
            ),
        ]
        if control.status_reason:
            lines.append(Content.styled(control.status_reason, "$text-muted"))
        if review.awaiting_review and control.narrative.provenance.writer == "llm":
            lines.append(Content.styled(MODEL_WRITTEN, "$text-warning bold"))
        for found in control.possible_injections:
            lines.append(
                Content.styled(
                    f"Possible prompt injection in [{found.source}]: “{found.excerpt}” (given to the model as data)",
                    "$text-warning",
                )
            )
        if review.state == "rejected":
            lines.append(Content.styled(f"Rejected by {review.decided_by}: {review.note}", "$text-error"))
        elif review.state == "approved":
            lines.append(Content.styled(f"Approved by {review.decided_by} at {review.decided_at}", "$text-success"))
        elif review.state == "stale":
            lines.append(Content.styled(f"Awaiting review again: {review.note}", "$text-warning"))
        elif review.decided_by:
            lines.append(Content.styled(f"New draft by {review.decided_by} at {review.decided_at}", "$text-muted"))
        self.update(Content("\n").join(lines))


class FindingsView(Static):
    def show(self, review: ControlReview) -> None:
        findings = review.control.findings
        if not findings:
            self.update(Content.styled("No automated findings (manual control).", "$text-muted italic"))
            return
        lines = []
        for finding in findings:
            evidence = " ".join(f"[ev:{evidence_id}]" for evidence_id in finding.evidence_ids)
            lines.append(
                Content.assemble(
                    status_icon(finding.status.value),
                    " ",
                    (finding.resource, "bold"),
                    " ",
                    (finding.check, "$text-muted"),
                    (f" {finding.severity}" if finding.severity else "", "$text-muted italic"),
                    "\n  ",
                    finding.reason,
                    (f" {evidence}" if evidence else "", "$text-accent"),
                )
            )
        self.update(Content("\n").join(lines))


class ProvenanceView(Static):
    def show(self, review: ControlReview) -> None:
        narrative = review.control.narrative
        provenance = narrative.provenance
        verifier = narrative.verifier
        verdict = (
            Content.styled("passed", "$text-success bold")
            if verifier.passed
            else Content.styled("failed", "$text-error bold")
        )
        lines = [
            Content.assemble(
                ("writer ", "$text-muted"),
                f"{provenance.writer} · {provenance.provider} / {provenance.model}",
                ("  attempts ", "$text-muted"),
                str(provenance.attempts),
                ("  draft ", "$text-muted"),
                narrative.status,
            ),
            Content.assemble(
                ("verifier ", "$text-muted"),
                verdict,
                ("  cited sentences ", "$text-muted"),
                f"{verifier.cited_sentences}/{verifier.sentences}",
            ),
        ]
        lines.extend(Content.styled(f"  • {problem}", "$text-error") for problem in verifier.problems)
        lines.append(
            Content.assemble(
                ("evidence ", "$text-muted"),
                str(len(provenance.evidence_ids)),
                ("  tool calls ", "$text-muted"),
                str(len(provenance.tool_calls)),
                ("  retrieved ", "$text-muted"),
                str(len(provenance.retrieved_chunk_ids)),
            )
        )
        if review.attachments:
            attached = " ".join(f"[ev:{evidence_id}]" for evidence_id in review.attachments)
            lines.append(Content.assemble(("manual evidence ", "$text-muted"), (attached, "$text-accent")))
        self.update(Content("\n").join(lines))
