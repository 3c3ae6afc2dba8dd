"""The workspace signing key: ed25519, kept outside the workspace, and the signed statements it makes.

Who may write the workspace (a CI cache, a shared folder) is not who holds the key: whoever can write the
workspace can rewrite any hash chain in it, but cannot sign. So every run's record and every review decision
is signed, and `auditor verify` checks the signatures against a public key taken from outside the workspace
(the key file, $AUDITOR_SIGNING_KEY, or `--public-key`), never from the workspace itself.

Formats (documented in README "Integrity"):
- private key: one line, the base64 of the 32-byte ed25519 seed; file mode 0600.
- public key: one line, the base64 of the 32-byte raw public key (`auditor keys export`).
- signature: base64 of the 64-byte ed25519 signature over the canonical JSON (tools/chain.py) of a payload.
- key id: the first 16 hex characters of the public key's sha256; names the key, proves nothing.
- anchor: `auditor-head:<base64url payload>:<base64url signature>`, one line for a CI log or a ticket.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tools.chain import canonical_json, sha256_hex
from tools.config import AuditorConfig

KEY_ENV = "AUDITOR_SIGNING_KEY"
KEY_FILENAME = "signing.key"
ANCHORS_FILENAME = "anchors.log"
ANCHOR_PREFIX = "auditor-head:"


class SigningError(Exception):
    """No usable key, or a key in the wrong place."""


@dataclass(frozen=True)
class PublicKey:
    key: Ed25519PublicKey

    @property
    def raw(self) -> bytes:
        return self.key.public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        return sha256_hex(self.raw)[:16]

    def text(self) -> str:
        return base64.b64encode(self.raw).decode()

    def verifies(self, payload: Any, signature: str) -> bool:
        try:
            self.key.verify(base64.b64decode(signature, validate=True), canonical_json(payload))
        except (InvalidSignature, binascii.Error, ValueError, TypeError):
            return False
        return True


@dataclass(frozen=True)
class Signer:
    key: Ed25519PrivateKey
    source: str  # where the key came from, for messages: a path or the environment variable

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.key.public_key())

    def sign(self, payload: Any) -> str:
        return base64.b64encode(self.key.sign(canonical_json(payload))).decode()


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "agentic-auditor"


def key_path(config: AuditorConfig) -> Path:
    return config.resolve(config.integrity.key_file) if config.integrity.key_file else config_dir() / KEY_FILENAME


def anchor_path(config: AuditorConfig) -> Path | None:
    """Where signed heads are appended: the configured file, else beside a key file (none for a key from the
    environment: in CI the printed head line, kept in the CI log, is the anchor)."""
    if config.integrity.anchor_file is not None:
        return _outside_workspace(config, config.resolve(config.integrity.anchor_file), "anchor_file")
    if os.environ.get(KEY_ENV):
        return None
    return key_path(config).parent / ANCHORS_FILENAME


def _outside_workspace(config: AuditorConfig, path: Path, what: str) -> Path:
    # A key or anchor inside the workspace would be rewritten along with what it protects.
    workspace = config.workspace_dir.resolve()
    if path.resolve().is_relative_to(workspace):
        raise SigningError(f"[integrity] {what} {path} is inside the workspace {workspace}: it must live outside it")
    return path


def _private_from_text(text: str, where: str) -> Ed25519PrivateKey:
    try:
        seed = base64.b64decode(text.strip(), validate=True)
        return Ed25519PrivateKey.from_private_bytes(seed)
    except (binascii.Error, ValueError) as exc:
        raise SigningError(f"{where}: not a base64 ed25519 private key (32 bytes): {exc}") from None


def load_signer(config: AuditorConfig, *, create: bool = False) -> Signer:
    """The signing key: $AUDITOR_SIGNING_KEY, else the key file; with `create`, a new key file when there is none."""
    from_env = os.environ.get(KEY_ENV)
    if from_env:
        return Signer(_private_from_text(from_env, f"${KEY_ENV}"), f"${KEY_ENV}")
    path = _outside_workspace(config, key_path(config), "key_file")
    if not path.exists():
        if not create:
            raise SigningError(f"no signing key at {path} (create one with `auditor keys init`, or set ${KEY_ENV})")
        return create_key(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SigningError(f"{path}: cannot read the signing key: {exc.strerror}") from None
    return Signer(_private_from_text(text, str(path)), str(path))


def create_key(path: Path) -> Signer:
    """A new key at `path` (mode 0600); says so on stderr, since it is the root of every later signature."""
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes_raw()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(base64.b64encode(seed).decode() + "\n")
    signer = Signer(key, str(path))
    print(
        f"auditor: created signing key {path} (key id {signer.public.key_id}); keep it outside the workspace "
        "and back it up",
        file=sys.stderr,
    )
    return signer


def load_public_key(path: Path) -> PublicKey:
    """A public key file (`auditor keys export`); a private key file is accepted too (its public half is used)."""
    try:
        raw = base64.b64decode(Path(path).read_text(encoding="utf-8").strip(), validate=True)
        return PublicKey(Ed25519PublicKey.from_public_bytes(raw))
    except OSError as exc:
        raise SigningError(f"{path}: cannot read the public key: {exc.strerror}") from None
    except (binascii.Error, ValueError) as exc:
        raise SigningError(f"{path}: not a base64 ed25519 public key (32 bytes): {exc}") from None


# -- anchors: signed heads kept outside the workspace ---------------------------------------------------


def make_anchor(signer: Signer, head: dict[str, Any]) -> str:
    """One line stating the signed heads (evidence chain, review log, run record) at this moment."""
    payload = {**head, "key_id": signer.public.key_id}
    encoded = base64.urlsafe_b64encode(canonical_json(payload)).decode().rstrip("=")
    signature = base64.urlsafe_b64encode(base64.b64decode(signer.sign(payload))).decode().rstrip("=")
    return f"{ANCHOR_PREFIX}{encoded}:{signature}"


def read_anchor(line: str, public: PublicKey) -> dict[str, Any]:
    """The heads an anchor line states; SigningError when it is malformed or not signed by `public`."""
    text = line.strip()
    if not text.startswith(ANCHOR_PREFIX) or text.count(":") != 2:
        raise SigningError(f"not an auditor head line ({ANCHOR_PREFIX}...): {text[:40]!r}")
    encoded, signature = text.removeprefix(ANCHOR_PREFIX).split(":")
    try:
        payload = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        raw_signature = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SigningError(f"head line cannot be decoded: {exc}") from None
    if not isinstance(payload, dict) or not public.verifies(payload, base64.b64encode(raw_signature).decode()):
        raise SigningError("head line is not signed by this key")
    return payload


def append_anchor(config: AuditorConfig, line: str) -> None:
    path = anchor_path(config)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as stream:
        stream.write(line + "\n")


def read_anchor_file(config: AuditorConfig) -> list[str]:
    path = anchor_path(config)
    if path is None or not path.is_file():
        return []
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith(ANCHOR_PREFIX)]
