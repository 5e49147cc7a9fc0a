"""PII redaction before a remote LLM (ASSISTANT_REDACT=true and a non-loopback endpoint).

`RedactingChatModel` wraps any `ChatModel`: every message (and every string a JSON schema carries, such as
the enum of participants' names) has its identifiers replaced with stable placeholders before it leaves the
machine, and the reply's text and parsed JSON have the placeholders put back, so the drafted record holds
the real values and the remote side never sees them.

What is recognised (Presidio's own pattern recognisers, called directly: no NLP engine, no spaCy model,
nothing downloaded):
- UK NHS number (with its mod-11 check digit), UK National Insurance number, UK postcode (Presidio's UK
  recognisers), phone numbers (python-phonenumbers, GB, lenient), email addresses (offline suffix list);
- dates of birth: a date after "born", "date of birth", "DOB" or "birthday" (our own PatternRecognizer);
- participants' names, full and first/last parts, from the transcript's `Present:` line and speaker labels
  (`redaction_scope`), because pattern recognisers cannot find names.

Placeholders look like `[PERSON_1]`, `[PERSON_1_FIRST]`, `[NHS_NUMBER_1]`: the same value gets the same
placeholder for the whole job, so the KV cache and the model's reading of "who is who" stay consistent.
Not protected (SECURITY.md): names of people who are mentioned but not present, free-text addresses without a
postcode, and anything else no recogniser knows.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlparse

from assistant.llm import ChatModel, ChatResult

log = logging.getLogger(__name__)

# Presidio entity -> placeholder label.
LABELS: dict[str, str] = {
    "UK_NHS": "NHS_NUMBER",
    "UK_NINO": "NI_NUMBER",
    "UK_POSTCODE": "POSTCODE",
    "PHONE_NUMBER": "PHONE",
    "EMAIL_ADDRESS": "EMAIL",
    "DATE_OF_BIRTH": "DATE_OF_BIRTH",
}
_PLACEHOLDER = re.compile(r"\[([A-Z]+(?:_[A-Z]+)*_\d+(?:_FIRST|_LAST)?)\]")
_BARE = re.compile(r"\b([A-Z]+(?:_[A-Z]+)*_\d+(?:_FIRST|_LAST)?)\b")
# Speaker labels that are roles or diarisation ids, not names.
_GENERIC = re.compile(r"^(?:speaker|spk|s)[ _-]?\d+$|^(?:unknown|author|interviewer|doctor|patient|nurse|clinician|"
                      r"officer|worker|social worker|mum|mother|dad|father|child|parent|carer|caller|agent|"
                      r"participant|professional|client)$", re.I)

_ORDINAL_DAY = (r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?|first|second|third|fourth|fifth|sixth|seventh|eighth|"
                r"ninth|tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|"
                r"nineteenth|twentieth|twenty[- ](?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth)|"
                r"thirtieth|thirty[- ]first")
_MONTH = (r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
          r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?")
_YEAR = r"(?:19|20)\d{2}"
_DOB_CONTEXT = (r"(?<=\b(?:born(?:\s+on)?|date\s+of\s+birth(?:\s+is|\s+was)?|d\.?o\.?b\.?|birthday(?:\s+is|\s+was)?)"
                r"\s*[:,-]?\s*(?:(?:is|was|on)\s+)?(?:the\s+)?)")
DOB_PATTERNS = [
    # 03/04/2015, 3.4.15, 2015-04-03
    _DOB_CONTEXT + r"(?:\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})|\d{4}-\d{2}-\d{2})\b",
    # 3rd of March 2015, third of March, 3 March 2015
    _DOB_CONTEXT + rf"(?:{_ORDINAL_DAY})(?:\s+of)?\s+(?:{_MONTH})\b(?:,?\s+{_YEAR})?",
    # March 3rd, 2015
    _DOB_CONTEXT + rf"(?:{_MONTH})\s+(?:{_ORDINAL_DAY})\b(?:,?\s+{_YEAR})?",
]


def is_loopback_url(url: str | None) -> bool:
    """True for http(s)://localhost, 127.x, ::1. Names are not resolved: anything else counts as remote."""
    host = (urlparse(url or "").hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@functools.lru_cache(maxsize=1)
def recognizers() -> list[Any]:
    """Presidio's predefined pattern recognisers, built once (importing presidio costs seconds: lazy)."""
    import tldextract
    from presidio_analyzer import Pattern, PatternRecognizer
    from presidio_analyzer.predefined_recognizers import (
        EmailRecognizer,
        NhsRecognizer,
        PhoneRecognizer,
        UkNinoRecognizer,
        UkPostcodeRecognizer,
    )

    # tldextract fetches the public-suffix list from the internet by default: use the bundled snapshot.
    offline_tld = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):  # type: ignore[misc]
        def validate_result(self, pattern_text: str) -> bool:
            return offline_tld(pattern_text).fqdn != ""

    dob = PatternRecognizer(
        supported_entity="DATE_OF_BIRTH",
        name="DateOfBirthRecognizer",
        patterns=[Pattern(f"dob_{i}", p, 0.6) for i, p in enumerate(DOB_PATTERNS)],
        global_regex_flags=re.IGNORECASE | re.MULTILINE,
    )
    # leniency 0: drama-range and partial numbers count too; a false positive only costs a placeholder.
    return [NhsRecognizer(), UkNinoRecognizer(), UkPostcodeRecognizer(), OfflineEmailRecognizer(),
            PhoneRecognizer(supported_regions=("GB",), leniency=0), dob]


def find_identifiers(text: str) -> list[tuple[int, int, str]]:
    """(start, end, entity) spans. Overlaps go to the surer recogniser (a checksum-validated NHS number beats
    a lenient phone match over the same digits), then to the longer span."""
    found: list[tuple[int, int, str, float]] = []
    for rec in recognizers():
        for res in rec.analyze(text, rec.supported_entities, None):
            if res.score > 0 and res.entity_type in LABELS:
                found.append((res.start, res.end, res.entity_type, res.score))
    found.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    out: list[tuple[int, int, str, float]] = []
    for span in found:
        if out and span[0] < out[-1][1]:
            if (span[3], span[1] - span[0]) > (out[-1][3], out[-1][1] - out[-1][0]):
                out[-1] = span
            continue
        out.append(span)
    return [(start, end, entity) for start, end, entity, _ in out]


def participant_names(transcript: Any) -> list[str]:
    """Names of the people present: the `Present:` participants and speaker labels that are names."""
    names = [p.name for p in getattr(transcript, "participants", []) if p.name and p.name.strip()]
    speakers = transcript.speakers() if hasattr(transcript, "speakers") else []
    names += [s for s in speakers if s and s[0].isupper() and not _GENERIC.match(s.strip())]
    return list(dict.fromkeys(n.strip() for n in names))


class Redactor:
    """Value <-> placeholder mapping for one job; thread-safe; caches each text it has redacted."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._to_placeholder: dict[str, str] = {}
        self._to_value: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        self._cache: dict[str, str] = {}
        self._names: list[tuple[str, str]] = []  # (name text, placeholder), longest first
        for name in names:
            self.add_name(name)

    def add_name(self, name: str) -> None:
        name = " ".join(name.split())
        if len(name) < 2 or name in self._to_placeholder:
            return
        with self._lock:
            base = self._new("PERSON")
            self._bind(name, f"[{base}]")
            parts = name.split()
            if len(parts) > 1:
                if len(parts[0]) >= 2 and parts[0] not in self._to_placeholder:
                    self._bind(parts[0], f"[{base}_FIRST]")
                if len(parts[-1]) >= 2 and parts[-1] not in self._to_placeholder:
                    self._bind(parts[-1], f"[{base}_LAST]")
            self._names = sorted(((v, p) for v, p in self._to_placeholder.items() if p.startswith("[PERSON_")),
                                 key=lambda vp: -len(vp[0]))
            self._cache.clear()

    def _new(self, label: str) -> str:
        self._counts[label] = self._counts.get(label, 0) + 1
        return f"{label}_{self._counts[label]}"

    def _bind(self, value: str, placeholder: str) -> None:
        self._to_placeholder[value] = placeholder
        self._to_value[placeholder.strip("[]")] = value

    def _placeholder(self, value: str, entity: str) -> str:
        key = " ".join(value.split())
        with self._lock:
            if key not in self._to_placeholder:
                self._bind(key, f"[{self._new(LABELS[entity])}]")
            return self._to_placeholder[key]

    def redact(self, text: str) -> str:
        if not text:
            return text
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        out = text
        found = [(start, end, self._placeholder(out[start:end], entity))
                 for start, end, entity in find_identifiers(out)]
        for start, end, placeholder in reversed(found):  # numbered in reading order, replaced from the end
            out = out[:start] + placeholder + out[end:]
        for name, placeholder in self._names:  # after the patterns: a name never hides a number
            out = re.sub(rf"(?<![\w\[]){re.escape(name)}(?![\w\]])", placeholder, out)
        if len(self._cache) < 512:
            self._cache[text] = out
        return out

    def restore(self, text: str) -> str:
        if not text:
            return text
        out = _PLACEHOLDER.sub(lambda m: self._to_value.get(m.group(1), m.group(0)), text)
        # Models sometimes drop the brackets: restore bare placeholders this redactor issued.
        return _BARE.sub(lambda m: self._to_value.get(m.group(1), m.group(0)), out)

    def restore_data(self, data: Any) -> Any:
        if isinstance(data, str):
            return self.restore(data)
        if isinstance(data, list):
            return [self.restore_data(v) for v in data]
        if isinstance(data, dict):
            return {self.restore(k) if isinstance(k, str) else k: self.restore_data(v) for k, v in data.items()}
        return data

    def redact_schema(self, schema: Any) -> Any:
        """String values a schema carries to the endpoint (enum, const, default, examples, descriptions)."""
        if isinstance(schema, dict):
            out: dict[str, Any] = {}
            for k, v in schema.items():
                if k in ("enum", "const", "default", "examples", "description", "title") and k != "type":
                    out[k] = self._redact_values(v) if k != "title" else v
                else:
                    out[k] = self.redact_schema(v)
            return out
        if isinstance(schema, list):
            return [self.redact_schema(v) for v in schema]
        return schema

    def _redact_values(self, v: Any) -> Any:
        if isinstance(v, str):
            return self.redact(v)
        if isinstance(v, list):
            return [self._redact_values(x) for x in v]
        return v

    @property
    def values(self) -> list[str]:
        """Every value this redactor has hidden (for tests and diagnostics; never logged)."""
        return list(self._to_placeholder)


_SCOPE: ContextVar[Redactor | None] = ContextVar("assistant_redaction_scope", default=None)


@contextlib.contextmanager
def redaction_scope(transcript: Any = None, names: Iterable[str] = ()) -> Iterator[Redactor]:
    """One mapping for one job: participants' names from `transcript` (and `names`) become placeholders.
    Cheap when redaction is off: nothing is imported or analysed until a `RedactingChatModel` is called."""
    found = participant_names(transcript) if transcript is not None else []
    redactor = Redactor([*found, *names])
    token = _SCOPE.set(redactor)
    try:
        yield redactor
    finally:
        _SCOPE.reset(token)


class RedactingChatModel:
    """A `ChatModel` that redacts what it sends and restores what it gets back."""

    def __init__(self, inner: ChatModel) -> None:
        self.inner = inner
        self.name = inner.name
        self.backend = inner.backend
        self._fallback = Redactor()  # calls outside a job's scope (llm-check): patterns only

    def __getattr__(self, item: str) -> Any:  # base_url, close(), response_format_style...
        return getattr(self.inner, item)

    def _redactor(self) -> Redactor:
        return _SCOPE.get() or self._fallback

    def _messages(self, r: Redactor, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        return [{**m, "content": r.redact(m.get("content") or "")} for m in messages]

    def complete(self, messages: list[dict[str, str]], *, max_tokens: int = 512, stop: list[str] | None = None,
                 temperature: float | None = None) -> ChatResult:
        r = self._redactor()
        result = self.inner.complete(self._messages(r, messages), max_tokens=max_tokens, stop=stop,
                                     temperature=temperature)
        return result.model_copy(update={"text": r.restore(result.text)})

    def structured(self, messages: list[dict[str, str]], schema: dict[str, Any], *, max_tokens: int = 512,
                   stop: list[str] | None = None) -> ChatResult:
        r = self._redactor()
        result = self.inner.structured(self._messages(r, messages), r.redact_schema(schema), max_tokens=max_tokens,
                                       stop=stop)
        return result.model_copy(update={"text": r.restore(result.text), "data": r.restore_data(result.data)})


def maybe_redact(chat: Any, settings: Any) -> Any:
    """Wrap `chat` when the settings ask for redaction and the endpoint is remote (or redact_loopback)."""
    url = getattr(chat, "base_url", None)
    remote = not is_loopback_url(str(url) if url else None)
    if settings.llm.redact and (remote or settings.llm.redact_loopback):
        recognizers()  # load now: a broken install fails at start-up, not halfway through a job
        log.info("LLM redaction on: identifiers are replaced before text goes to the endpoint")
        return RedactingChatModel(chat)
    if remote and not settings.llm.redact:
        log.warning("LLM endpoint is not loopback and ASSISTANT_REDACT is off: transcript text leaves this machine")
    return chat
