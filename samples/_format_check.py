"""Check sample folders against the format in samples/README.md (no audio decoding, no models).

Usage: python samples/_format_check.py [ID ...]     (no ids: every folder under samples/)
Exit status 1 when any problem is found. Also imported by tests/samples/test_samples.py.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

SAMPLES_DIR = Path(__file__).resolve().parent
ROOT = SAMPLES_DIR.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from assistant.records import CaseRecord  # noqa: E402
from assistant.templates import Template, TemplateError, get_template  # noqa: E402
from assistant.transcript import Transcript, parse_text  # noqa: E402

ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
KINDS = {"observed", "reported", "opinion", "action", "decision", "quote"}
ADVERSARIAL = {
    "instruction_to_note_taker",
    "negated_high_risk",
    "same_first_name",
    "exact_numbers",
    "off_topic",
    "too_short",
    "no_speech",
}
VARIANTS = {"telephone", "noise", "stereo"}
WORDS_MIN, WORDS_MAX = 600, 2000
SUMMARY_MIN, SUMMARY_MAX = 80, 200


def sample_ids() -> list[str]:
    return sorted(p.name for p in SAMPLES_DIR.iterdir() if p.is_dir() and ID_RE.match(p.name))


def load_json(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))


def is_short(meta: dict) -> bool:
    return bool(meta.get("expect", {}).get("too_short")) or "too_short" in meta.get("adversarial", [])


def is_audio_only(meta: dict) -> bool:
    return "audio_only" in meta


def speaker_to_participant(labels: list[str], names: list[str]) -> dict[str, str]:
    """Map each speaker label to the participant's full name (label = first name or full name)."""
    out: dict[str, str] = {}
    for label in labels:
        hits = [n for n in names if n == label] or [n for n in names if n.split()[0] == label]
        if len(hits) == 1:
            out[label] = hits[0]
    return out


def check_sample(sample_id: str, samples_dir: Path = SAMPLES_DIR) -> list[str]:
    """Return a list of problems (empty when the folder follows the format)."""
    d = samples_dir / sample_id
    probs: list[str] = []
    if not ID_RE.match(sample_id):
        probs.append(f"bad id {sample_id!r}")
    for name in ("meta.json", "gold.json", "summary.txt", "facts.json"):
        if not (d / name).is_file():
            probs.append(f"missing {name}")
    if probs:
        return probs
    meta = load_json(d / "meta.json")
    assert isinstance(meta, dict)
    probs += _check_meta(sample_id, meta)
    try:
        template = get_template(meta.get("template", ""))
    except TemplateError as exc:
        return [*probs, str(exc)]
    if meta.get("domain") != template.domain:
        probs.append(f"meta domain {meta.get('domain')!r} != template domain {template.domain!r}")
    transcript = _check_transcript(d, sample_id, meta, probs)
    try:
        record = CaseRecord.model_validate_json((d / "gold.json").read_text(encoding="utf-8"))
    except ValueError as exc:
        return [*probs, f"gold.json is not a valid CaseRecord: {exc}"]
    stmt_ids = _check_gold(record, template, transcript, probs)
    _check_summary(d, meta, record, probs)
    facts = load_json(d / "facts.json")
    if not isinstance(facts, list):
        return [*probs, "facts.json must be a list"]
    _check_facts(facts, set(stmt_ids), {p.name for p in transcript.participants}, probs)
    return probs


def _check_meta(sample_id: str, meta: dict[str, Any]) -> list[str]:
    probs: list[str] = []
    if meta.get("id") != sample_id:
        probs.append(f"meta id {meta.get('id')!r} != folder name")
    for key in ("template", "title", "domain", "tests", "voices", "adversarial"):
        if key not in meta:
            probs.append(f"meta.json lacks {key!r}")
    for tag in meta.get("adversarial", []):
        if tag not in ADVERSARIAL:
            probs.append(f"unknown adversarial tag {tag!r}")
    for v in meta.get("audio_variants", []):
        if v not in VARIANTS:
            probs.append(f"unknown audio variant {v!r}")
    for label, v in meta.get("voices", {}).items():
        if not isinstance(v, dict) or not {"voice", "speed", "pitch"} <= set(v):
            probs.append(f"voice for {label!r} needs voice, speed, pitch")
        elif not (80 <= int(v["speed"]) <= 450 and 0 <= int(v["pitch"]) <= 99):
            probs.append(f"voice for {label!r}: speed or pitch out of range")
    return probs


def _check_transcript(d: Path, sample_id: str, meta: dict[str, Any], probs: list[str]) -> Transcript:
    audio_only = is_audio_only(meta)
    text = ""
    if audio_only:
        if (d / "transcript.txt").exists() and (d / "transcript.txt").read_text().strip():
            probs.append("audio-only scenario has a non-empty transcript.txt")
    elif not (d / "transcript.txt").is_file():
        probs.append("missing transcript.txt")
    else:
        text = (d / "transcript.txt").read_text(encoding="utf-8")
    transcript = parse_text(text, source_id=sample_id)

    if not audio_only:
        first = text.lstrip().splitlines()[0] if text.strip() else ""
        if not first.lower().startswith("present:"):
            probs.append("transcript.txt must start with a 'Present:' line")
        names = [p.name for p in transcript.participants]
        labels = transcript.speakers()
        mapping = speaker_to_participant(labels, names)
        for label in labels:
            if label not in mapping:
                probs.append(f"speaker {label!r} matches no single participant in the Present line")
            if label not in meta.get("voices", {}):
                probs.append(f"no voice in meta.json for speaker {label!r}")
        words = transcript.word_count
        if not is_short(meta) and not WORDS_MIN <= words <= WORDS_MAX:
            probs.append(f"transcript has {words} words, want {WORDS_MIN}-{WORDS_MAX}")
    for sid in meta.get("expect", {}).get("leave_out_request_segments", []):
        if sid not in {s.id for s in transcript.segments}:
            probs.append(f"expect.leave_out_request_segments: no segment {sid}")
    return transcript


def _check_gold(record: CaseRecord, template: Template, transcript: Transcript, probs: list[str]) -> list[str]:
    """Problems of gold.json against its template and transcript; the statement ids, in order."""
    if record.template_id != template.id:
        probs.append(f"gold template {record.template_id!r} != meta template {template.id!r}")
    if record.provenance.engine != "gold":
        probs.append("gold provenance.engine must be 'gold'")
    if record.transcript.model_dump() != transcript.model_dump():
        probs.append("gold transcript != parse_text(transcript.txt) (rerun build_gold.py)")
    if [s.id for s in record.sections] != [s.id for s in template.sections]:
        probs.append("gold sections differ from the template's sections (ids/order)")
    seg_ids = {s.id for s in transcript.segments}
    names = {p.name for p in transcript.participants}
    stmt_ids: list[str] = []
    for sec in record.sections:
        spec = template.section(sec.id)
        if spec is None:
            continue
        if spec.mode == "human_only":
            if sec.status != "human_only" or sec.statements:
                probs.append(f"human_only section {sec.id} must be status human_only with no statements")
            continue
        if sec.statements and sec.status != "drafted":
            probs.append(f"section {sec.id} has statements but status {sec.status}")
        if not sec.statements and sec.status != "not_discussed":
            probs.append(f"section {sec.id} is empty but status {sec.status}")
        for st in sec.statements:
            stmt_ids.append(st.id)
            if st.kind not in KINDS:
                probs.append(f"{st.id}: bad kind {st.kind}")
            if st.attributed_to not in names:
                probs.append(f"{st.id}: attributed_to {st.attributed_to!r} is not a participant")
            if not st.evidence:
                probs.append(f"{st.id}: no evidence")
            for e in st.evidence:
                if e not in seg_ids:
                    probs.append(f"{st.id}: evidence id {e} not in transcript")
    if len(set(stmt_ids)) != len(stmt_ids) or stmt_ids != [f"s{i}" for i in range(1, len(stmt_ids) + 1)]:
        probs.append("statement ids must be s1, s2, ... in order")
    return stmt_ids


def _check_summary(d: Path, meta: dict[str, Any], record: CaseRecord, probs: list[str]) -> None:
    summary = (d / "summary.txt").read_text(encoding="utf-8").strip()
    if record.summary.strip() != summary:
        probs.append("gold summary != summary.txt (rerun build_gold.py)")
    n = len(summary.split())
    if not (is_short(meta) or is_audio_only(meta)) and not SUMMARY_MIN <= n <= SUMMARY_MAX:
        probs.append(f"summary has {n} words, want {SUMMARY_MIN}-{SUMMARY_MAX}")


def _check_facts(facts: list[Any], known: set[str], participant_names: set[str], probs: list[str]) -> None:
    for f in facts:
        fid = f.get("id", "?")
        for key in ("id", "text", "about", "critical", "statements"):
            if key not in f:
                probs.append(f"fact {fid} lacks {key!r}")
        if f.get("about") not in participant_names:
            probs.append(f"fact {fid}: about {f.get('about')!r} is not a participant")
        if not f.get("statements"):
            probs.append(f"fact {fid} cites no statement")
        for sid in f.get("statements", []):
            if sid not in known:
                probs.append(f"fact {fid} cites unknown statement {sid}")


def main(argv: list[str]) -> int:
    ids = argv or sample_ids()
    bad = 0
    for sid in ids:
        probs = check_sample(sid)
        print(f"{sid}: {'ok' if not probs else str(len(probs)) + ' problem(s)'}")
        for p in probs:
            print(f"  - {p}")
        bad += bool(probs)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
