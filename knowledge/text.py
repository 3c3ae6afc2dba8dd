"""Text analysis shared by the dense embedding and the lexical (BM25) index.

Questions from compliance leads use everyday words ("offboarding", "laptop", "pentest"); the criteria use
formal ones ("removes access", "endpoint", "vulnerability"). A small curated concept lexicon maps both to
shared concept tokens, which is what lets a tiny offline model bridge the vocabulary gap.
"""

from __future__ import annotations

import re
import threading
from functools import cache, lru_cache

import snowballstemmer

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    """a an and are as at be by can do does for from has have how i if in into is it its of on or our
    should so that the their them there these they this to us we what when where which who whom why will
    with would you your need needs must about any all also than then do did done get got make made""".split()
)

# concept -> phrases (plain words and formal words), matched on the stemmed text and on the raw words.
# Vocabulary only: the eval questions must never be special-cased here.
CONCEPTS: dict[str, tuple[str, ...]] = {
    "access_removal": (
        "offboard",
        "leaver",
        "leav",
        "terminat",
        "deprovis",
        "revok",
        "remov access",
        "quit",
        "separat",
        "modifi access",
        "remov user",
    ),
    "access_grant": (
        "onboard",
        "joiner",
        "new hire",
        "new user",
        "author new",
        "grant access",
        "provis",
        "approv new",
        "access request",
        "creat account",
        "user account",
    ),
    "access_review": ("access review", "review access", "who has access", "recertif", "privileg"),
    "least_privilege": ("least privileg", "need to know", "role", "segreg", "permiss", "restrict access"),
    "authentication": (
        "mfa",
        "multi factor",
        "2fa",
        "two factor",
        "password",
        "authent",
        "credenti",
        "login",
        "log in",
        "sign in",
        "api key",
        "secret",
    ),
    "encryption": ("encrypt", "crypto", "kms", "key manag", "tls", "ssl", "https", "cipher"),
    "transmission": ("transmiss", "transmit", "in transit", "travel", "network", "move", "movement"),
    "physical": (
        "physic",
        "offic",
        "data center",
        "datacent",
        "facil",
        "badg",
        "premis",
        "server room",
        "visitor",
        "door",
        "keycard",
        "cctv",
        "cage",
    ),
    "disposal": ("dispos", "wipe", "destroy", "shred", "sanit", "delet", "erasur", "purg"),
    "perimeter": (
        "firewal",
        "intern",
        "perimet",
        "boundari",
        "extern threat",
        "public access",
        "expos",
        "outsid",
        "ingress",
    ),
    "malware": (
        "malwar",
        "antivirus",
        "virus",
        "malici",
        "unauthor softwar",
        "endpoint",
        "laptop",
        "devic",
        "introduct of unauthor",
    ),
    "vulnerability": ("vulner", "scan", "pentest", "penetr", "patch", "cve", "depend", "weak"),
    "detection": ("detect", "monitor", "anomal", "alert", "siem", "log", "audit log", "tamper", "attack", "suspici"),
    "incident": ("incid", "breach", "respons plan", "secur event", "compromis", "leak", "triag"),
    "recovery": ("recov", "restor", "backup", "disast", "dr ", "continu", "resili", "outag", "failov"),
    "change": (
        "chang",
        "deploy",
        "releas",
        "pull request",
        "code review",
        "peer review",
        "hotfix",
        "merg",
        "rollback",
        "roll back",
        "revert",
        "version",
        "config",
        "baselin",
        "infrastructur",
        "approv",
        "emerg",
        "prompt",
        "weight",
        "product",
    ),
    "vendor": (
        "vendor",
        "supplier",
        "third parti",
        "subprocessor",
        "outsourc",
        "provid",
        "partner",
        "busi partner",
        "llm provid",
    ),
    "risk": ("risk", "threat", "fraud", "assess", "risk regist", "likelihood", "impact"),
    "board": ("board", "director", "oversight", "independ", "leadership", "execut", "senior manag", "ceo"),
    "conduct": ("conduct", "integr", "ethic", "valu", "behavior", "standard of conduct"),
    "structure": ("org chart", "organ", "report line", "structur", "author", "respons"),
    "competence": ("competen", "train", "hire", "background check", "skill", "develop", "retain"),
    "accountability": ("account", "perform measur", "incent", "reward", "disciplin"),
    "communication": (
        "communic",
        "inform",
        "tell",
        "notifi",
        "report concern",
        "whistleblow",
        "anonym",
        "extern parti",
        "custom",
        "commit",
    ),
    "monitoring_controls": (
        "control work",
        "evalu",
        "ongo",
        "separ evalu",
        "control fail",
        "defici",
        "weak",
        "gap",
        "shortcom",
        "remedi",
        "intern audit",
        "continu monitor",
    ),
    "control_selection": (
        "select control",
        "control activ",
        "implement control",
        "gener control",
        "technolog control",
        "polici",
        "procedur",
    ),
    "capacity": ("capac", "demand", "usag", "quota", "scale", "forecast", "perform"),
    "environment": ("environment", "power", "cool", "fire", "ups"),
    "confidential": ("confidenti", "classif", "sensit", "propriet", "nda", "non disclosur"),
    "retention": ("retain", "retent", "keep", "how long", "archiv", "contract end"),
    "processing": (
        "process",
        "pipelin",
        "input",
        "output",
        "accur",
        "complet",
        "valid",
        "timeli",
        "specif",
        "data definit",
    ),
    "privacy_notice": ("privaci notic", "notic", "privaci polici", "websit"),
    "consent": ("consent", "opt in", "opt out", "choic", "permiss to use"),
    "collection": ("collect", "gather", "minim", "actual need"),
    "use": ("use", "purpos", "secondari", "train model", "train on", "train our"),
    "subject_access": ("access request", "dsar", "subject access", "copi of their data", "review their data"),
    "correction": ("correct", "amend", "updat their", "rectif", "up to date", "accur"),
    "disclosure": ("disclos", "share", "third parti", "transfer"),
    "breach_notice": ("notif", "notifi", "breach", "unauthor disclosur"),
    "complaint": ("complaint", "inquiri", "disput", "complain"),
    "model": ("model", "ai", "llm", "machin learn", "ml", "train data", "dataset", "prompt", "infer"),
    "inventory": ("inventori", "asset", "catalog"),
}


_local = threading.local()


def _stemmer() -> snowballstemmer.stemmer:
    # Snowball stemmers keep state while stemming: one per thread, since retrieval runs concurrently.
    if not hasattr(_local, "stemmer"):
        _local.stemmer = snowballstemmer.stemmer("english")
    return _local.stemmer


def stems(text: str) -> list[str]:
    return _stem(_WORD.findall(text.lower()))


def _stem(words: list[str]) -> list[str]:
    return _stemmer().stemWords([w for w in words if w not in _STOP])


@cache
def _concept_pattern(concept: str) -> re.Pattern[str]:
    # Compiled when first needed: all of them take ~10 ms, and a one-question search needs only a few.
    # A phrase matches at a word start; longer ones are stems ("terminat" -> "termination"), but a short
    # one must be the whole word, or "ai" would match "aim" and "ups" "upstream".
    phrases = [p.strip() for p in CONCEPTS[concept]]
    alternatives = "|".join(re.escape(p) + (r"(?= |$)" if len(p) <= 3 else "") for p in phrases)
    return re.compile(rf"(?:^| )(?:{alternatives})")


@cache
def _first_words() -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """For the pre-check in `_concepts`, each phrase's first word -> the concepts with such a phrase, in two maps:
    words a text word must equal (a short phrase, matched as a whole word, and the first of several words, which
    a space follows), and words a text word must only start with (a longer one-word phrase: a stem)."""
    whole_word: dict[str, set[str]] = {}
    word_start: dict[str, set[str]] = {}
    for concept, phrases in CONCEPTS.items():
        for phrase in phrases:
            first, *rest = phrase.strip().split(" ")
            (whole_word if len(phrase.strip()) <= 3 or rest else word_start).setdefault(first, set()).add(concept)
    return (
        {word: frozenset(concepts) for word, concepts in whole_word.items()},
        {word: frozenset(concepts) for word, concepts in word_start.items()},
    )


def _concepts(stemmed_words: list[str], raw_words: list[str]) -> list[str]:
    stemmed = " " + " ".join(stemmed_words) + " "
    raw = " " + " ".join(raw_words) + " "
    # The pre-check loses no match: both texts start with a space and no phrase does, so a match starts right
    # after a space, at the start of a text word (a run of non-spaces), where the phrase's first word must begin
    # that word, or be all of it (see `_first_words`). Only concepts with such a word run their exact findall.
    text_words = set(stemmed.split(" ")) | set(raw.split(" "))
    word_starts = {word[:end] for word in text_words for end in range(1, len(word) + 1)}
    whole_word, word_start = _first_words()
    candidates: set[str] = set()
    for first in text_words & whole_word.keys():
        candidates |= whole_word[first]
    for first in word_starts & word_start.keys():
        candidates |= word_start[first]
    found = []
    for concept in CONCEPTS:
        if concept in candidates:
            pattern = _concept_pattern(concept)
            hits = len(pattern.findall(stemmed)) + len(pattern.findall(raw))
            found.extend([f"@{concept}"] * min(hits, 2))
    return found


def concepts(text: str) -> list[str]:
    """Concept tokens found in the text (matched on stemmed words, and on the raw words for short forms)."""
    raw_words = _WORD.findall(text.lower())
    return _concepts(_stem(raw_words), raw_words)


def terms(text: str) -> list[str]:
    """The index terms of a text: stems, stem bigrams and concept tokens."""
    return list(_terms(text))  # a new list each call: callers may change it, never the cached tuple


@lru_cache(maxsize=4096)
def _terms(text: str) -> tuple[str, ...]:
    # Each control's query is analysed several times per run (BM25, its vector, two searches) and every chunk
    # when an index is built: once per process is enough. Thread-safe: lru_cache locks its bookkeeping, and a
    # miss computed twice by two threads at once gives the same tuple (each with its own thread's stemmer).
    raw_words = _WORD.findall(text.lower())
    words = _stem(raw_words)
    bigrams = [f"{a}_{b}" for a, b in zip(words, words[1:], strict=False)]
    return (*words, *bigrams, *_concepts(words, raw_words))
