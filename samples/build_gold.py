"""Build samples/<id>/gold.json from the hand-written samples/<id>/gold_spec.yaml.

The transcript part is always parse_text(transcript.txt), so segment ids in the gold record are exactly
what the product's parser gives; evidence quotes in the spec are resolved to those ids here.

Usage:
  python samples/build_gold.py ID [ID ...]   build the named samples
  python samples/build_gold.py --all         build every sample that has a gold_spec.yaml
  python samples/build_gold.py --show ID     print numbered segments (for hand-checking evidence)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

SAMPLES_DIR = Path(__file__).resolve().parent
ROOT = SAMPLES_DIR.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from assistant.records import CaseRecord, Provenance, RecordMeta, Section, Statement  # noqa: E402
from assistant.templates import get_template  # noqa: E402
from assistant.transcript import Transcript, parse_text  # noqa: E402

STATEMENT_KEYS = {"text", "kind", "who", "ev", "due"}


class SpecError(ValueError):
    pass


def _norm(s: str) -> str:
    s = s.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    s = s.replace("\u2014", "-").replace("\u2013", "-")
    return " ".join(s.lower().split())


def load_transcript(sample_dir: Path) -> Transcript:
    path = sample_dir / "transcript.txt"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    return parse_text(text, source_id=sample_dir.name)


def resolve_person(who: str, transcript: Transcript) -> str:
    names = [p.name for p in transcript.participants]
    if who in names:
        return who
    hits = [n for n in names if n.split()[0] == who]
    if len(hits) != 1:
        raise SpecError(f"'who: {who}' matches {len(hits)} participants ({', '.join(names)})")
    return hits[0]


def resolve_evidence(items: list[Any], transcript: Transcript) -> list[int]:
    ids: list[int] = []
    n = len(transcript.segments)
    for item in items:
        if isinstance(item, int):
            if not 0 <= item < n:
                raise SpecError(f"evidence id {item} out of range 0..{n - 1}")
            ids.append(item)
            continue
        speaker = None
        frag = str(item)
        m = re.match(r"^([A-Z][\w'-]*(?: [A-Z][\w'-]*)?): (.+)$", frag)
        if m and m.group(1) in transcript.speakers():
            speaker, frag = m.group(1), m.group(2)
        q = _norm(frag)
        hits = [
            s.id for s in transcript.segments if q in _norm(s.text) and (speaker is None or s.speaker == speaker)
        ]
        if len(hits) != 1:
            raise SpecError(f"evidence quote {item!r} matches {len(hits)} segments {hits[:8]}")
        ids.append(hits[0])
    return sorted(dict.fromkeys(ids))


def build_record(sample_dir: Path) -> CaseRecord:
    spec = yaml.safe_load((sample_dir / "gold_spec.yaml").read_text(encoding="utf-8"))
    meta = json.loads((sample_dir / "meta.json").read_text(encoding="utf-8"))
    template_id = spec.get("template") or meta["template"]
    if template_id != meta["template"]:
        raise SpecError(f"gold_spec template {template_id} != meta template {meta['template']}")
    template = get_template(template_id)
    transcript = load_transcript(sample_dir)
    spec_sections: dict[str, list[dict[str, Any]]] = spec.get("sections") or {}
    unknown = set(spec_sections) - {s.id for s in template.sections}
    if unknown:
        raise SpecError(f"unknown section ids {sorted(unknown)} for template {template_id}")

    sections: list[Section] = []
    counter = 0
    for sec_spec in template.sections:
        items = spec_sections.get(sec_spec.id) or []
        if sec_spec.mode == "human_only":
            if items:
                raise SpecError(f"section {sec_spec.id} is human_only: no statements allowed")
            sections.append(Section(id=sec_spec.id, title=sec_spec.title, status="human_only"))
            continue
        statements: list[Statement] = []
        for item in items:
            counter += 1
            # A comma in an unquoted flow-style text silently splits it into extra keys: refuse those.
            extra = set(item) - STATEMENT_KEYS
            if extra or not isinstance(item.get("text"), str):
                raise SpecError(
                    f"{sec_spec.id} statement {counter}: unknown keys {sorted(map(str, extra))} "
                    "(quote texts that contain commas or colons)"
                )
            try:
                st = Statement(
                    id=f"s{counter}",
                    text=" ".join(str(item["text"]).split()),
                    kind=item["kind"],
                    attributed_to=resolve_person(str(item["who"]), transcript),
                    evidence=resolve_evidence(list(item["ev"]), transcript),
                    due=item.get("due"),
                )
            except (KeyError, SpecError, ValueError) as exc:
                raise SpecError(f"{sec_spec.id} statement {counter} ({item.get('text', '')!r}): {exc}") from exc
            statements.append(st)
        status = "drafted" if statements else "not_discussed"
        sections.append(Section(id=sec_spec.id, title=sec_spec.title, status=status, statements=statements))

    summary_path = sample_dir / "summary.txt"
    summary = summary_path.read_text(encoding="utf-8").strip() if summary_path.exists() else ""
    record_meta = RecordMeta(people_present=transcript.participants, **(spec.get("meta") or {}))
    return CaseRecord(
        id=f"gold-{sample_dir.name}",
        owner="samples",
        template_id=template.id,
        template_version=template.version,
        meta=record_meta,
        transcript=transcript,
        sections=sections,
        summary=summary,
        summary_evidence=list(spec.get("summary_evidence") or []),
        provenance=Provenance(engine="gold", notes=["hand-written gold record (samples/build_gold.py)"]),
        flags=list(spec.get("flags") or []),
    )


def write_gold(sample_dir: Path) -> Path:
    record = build_record(sample_dir)
    out = sample_dir / "gold.json"
    out.write_text(record.model_dump_json(indent=1, exclude_none=False) + "\n", encoding="utf-8")
    return out


def show(sample_dir: Path) -> None:
    t = load_transcript(sample_dir)
    for p in t.participants:
        print(f"# {p.name} | {p.role} | {p.relationship}")
    for s in t.segments:  # the ids gold statements cite
        print(f"[{s.id}] {s.speaker}: {s.text}")
    print(f"# {len(t.segments)} segments, {t.word_count} words")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ids", nargs="*")
    ap.add_argument("--all", action="store_true")
    ap.add_argument("--show", metavar="ID")
    args = ap.parse_args(argv)
    if args.show:
        show(SAMPLES_DIR / args.show)
        return 0
    ids = args.ids or (
        sorted(p.parent.name for p in SAMPLES_DIR.glob("*/gold_spec.yaml")) if args.all else []
    )
    if not ids:
        ap.error("give sample ids or --all")
    failed = 0
    for sid in ids:
        try:
            path = write_gold(SAMPLES_DIR / sid)
            print(f"wrote {path.relative_to(ROOT)}")
        except (SpecError, OSError) as exc:
            print(f"{sid}: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
