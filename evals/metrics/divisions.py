"""ACI-Bench's section divider: a clinical note -> subjective / objective_exam / objective_results /
assessment_and_plan, so ROUGE can be reported per division exactly as the paper does.

Re-implemented from ACI-Bench's `evaluation/sectiontagger.py` (Yim et al. 2023, github.com/wyim/aci-bench,
CC BY 4.0), as used by `evaluation/evaluate_fullnote.py`. That file defines the tagger twice; Python keeps
the second definition, so this port follows it: the extended header lists (with "CHIEF COMPLAINT",
"SOCIAL HISTORY", "VITALS REVIEWED", "RESULTS", "ASSESSMENT AND PLAN", ...) **and** the special case that
an upper-case "IMPRESSION" line starts an assessment_and_plan block. Quirks kept on purpose:

- headers are regexes matched at the start of each line, case-insensitively; a header written with a
  colon also matches without the colon when it is alone on its line; the first matching header list
  wins for a line (lists are tried in the order below);
- a line that starts with e.g. "results" or "hpi" is a header even inside prose;
- text before the first header counts as subjective;
- only the **first** block of each division is kept; it runs until the start of the next kept block,
  so later blocks of other divisions in between are absorbed;
- a division a note lacks is scored as the literal text ``#####EMPTY#####`` (pandas' fillna in the
  original), which rouge-score tokenises to the single word "empty".
- `evaluate_fullnote.py` stores division text with newlines replaced by ``__lf1__``, which rouge-score
  tokenises to "lf1": division rougeLsum is therefore equal to rougeL and every line break adds a token.
  `aci_division_texts(..., faithful=True)` (the default) reproduces that; ``faithful=False`` keeps newlines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

DIVISIONS: tuple[str, ...] = ("subjective", "objective_exam", "objective_results", "assessment_and_plan")
EMPTY = "#####EMPTY#####"
LINEBREAK_TOKEN = "__lf1__"
_NO_HEADER = "default"

# (division, subsection, header variants), in the original's OrderedDict order.
_HEADERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("subjective", "cc", ("cc :", "chief complaint :", "reason for visit :", "CHIEF COMPLAINT")),
    (
        "subjective",
        "hpi",
        (
            "history :",
            "history of present illness :",
            "history of present illness",
            "hpi :",
            "hpi",
            "hpi notes :",
            "interval history :",
            "interval hx :",
            "subjective :",
            "HISTORY OF PRESENT ILLNESS",
        ),
    ),
    ("subjective", "ros", ("ros :", "review of system :", "review of systems :")),
    ("subjective", "other_histories", ("SOCIAL HISTORY", "PAST HISTORY")),
    (
        "objective_exam",
        "pe",
        (
            "physical exam :",
            "physical examination :",
            "pe :",
            "physical findings :",
            "examination :",
            "exam :",
            "PHYSICAL EXAMINATION",
            "PHYSICAL EXAM",
        ),
    ),
    ("objective_exam", "vitals", ("VITALS REVIEWED",)),
    ("objective_results", "findings", ("results :", "findings :", "RESULTS")),
    ("assessment_and_plan", "assessment", ("assessment :", "a:")),
    (
        "assessment_and_plan",
        "plan",
        ("plan :", "plan of care :", "p:", "medical decision-making plan :", "summary plan"),
    ),
    (
        "assessment_and_plan",
        "ap",
        (
            "ap :",
            "a / p :",
            "assessment and plan :",
            "assessment & plan :",
            "disposition / plan :",
            "ASSESSMENT AND PLAN",
        ),
    ),
)
_SUBSECTION_DIVISION = {sub: div for div, sub, _ in _HEADERS} | {"impression": "assessment_and_plan"}


def _compile(variants: Sequence[str]) -> re.Pattern[str]:
    """The original `_compile_regexexpression`: escaped text, spaces -> \\s*, colon optional on its own line."""
    expressions, no_colon = [], []
    for exp in variants:
        expressions.append("(" + re.escape(exp).replace("\\ ", "\\s*") + ")")
        if exp[-1] == ":":
            no_colon.append("(" + re.escape(exp[:-1]).replace("\\ ", "\\s*") + ")")
    patt = r"\s*(?P<sectionheader1>" + "|".join(expressions) + ").*"
    if no_colon:
        patt = "(" + patt + "|" + r"\s*(?P<sectionheader2>" + "|".join(no_colon) + r")\s*$" + ")"
    return re.compile(patt, re.IGNORECASE)


@cache
def _regexes() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((sub, _compile(variants)) for _, sub, variants in _HEADERS)


_IMPRESSION = re.compile(r"\s*IMPRESSION")  # case-sensitive on purpose (lower case is part of results)


def _tag_headers(text: str) -> dict[int, tuple[str, int, int, int]]:
    """line number -> (subsection, line number, header start, header end); first match per line wins."""
    found: dict[int, tuple[str, int, int, int]] = {}
    offset = 0
    for linenum, line in enumerate(text.split("\n")):
        for sub, rgx in _regexes():
            m = rgx.match(line)
            if m and linenum not in found:
                group = "sectionheader1" if m.groupdict().get("sectionheader1") is not None else "sectionheader2"
                found[linenum] = (sub, linenum, offset, offset + m.end(group))
        m = _IMPRESSION.match(line)
        if m and linenum not in found:
            found[linenum] = ("impression", linenum, offset, offset + m.end())
        offset += len(line) + 1
    return found


def tag_sections(text: str) -> list[list[object]]:
    """[division, subsection, line, header start, header end, block end] for every header block."""
    headers = _tag_headers(text)
    current = headers.get(0, (_NO_HEADER, 0, 0, 0))
    lines = text.split("\n")
    out: list[list[object]] = []
    offset = len(lines[0]) + 1
    for linenum, line in enumerate(lines[1:], 1):
        if linenum in headers:
            out.append([_SUBSECTION_DIVISION.get(current[0], _NO_HEADER), *current, offset])
            current = headers[linenum]
        offset += len(line) + 1
    out.append([_SUBSECTION_DIVISION.get(current[0], _NO_HEADER), *current, len(text)])
    return out


def divide_note_spans(text: str) -> list[tuple[str, int, int]]:
    """(division, start, end) for the first block of each division, in order of appearance."""
    sections = tag_sections(text)
    if sections and sections[0][0] == _NO_HEADER:
        sections[0][0] = "subjective"
    kept: dict[str, list[object]] = {}
    for sec in sections:
        if sec[0] in DIVISIONS and sec[0] not in kept:
            kept[str(sec[0])] = list(sec)
    ordered = sorted(kept.values(), key=lambda s: int(s[3]))  # type: ignore[call-overload]
    for prev, nxt in zip(ordered, ordered[1:], strict=False):
        prev[-1] = nxt[3]  # each kept block runs to the start of the next kept block
    if ordered:
        ordered[-1][-1] = len(text)
    return [(str(s[0]), int(s[3]), int(s[5])) for s in ordered]  # type: ignore[call-overload]


def divide_note(text: str, *, faithful: bool = True) -> dict[str, str]:
    """Division -> text for one note; missing divisions are ``#####EMPTY#####``.

    Faithful mode applies evaluate_fullnote.py's ``__lf1__`` round trip; otherwise newlines are kept.
    """
    text = text.replace(LINEBREAK_TOKEN, "\n")
    out = dict.fromkeys(DIVISIONS, EMPTY)
    for division, start, end in divide_note_spans(text):
        chunk = text[start:end]
        out[division] = chunk.replace("\n", LINEBREAK_TOKEN) if faithful else chunk
    return out


def aci_division_texts(
    references: Sequence[str], predictions: Sequence[str], *, faithful: bool = True
) -> dict[str, tuple[list[str], list[str]]]:
    """Division -> (reference texts, prediction texts) for a whole set, as evaluate_fullnote.py builds them.

    One more quirk of the original: a division column that no note of a side has at all is missing from
    the DataFrame, and `df.get` then supplies empty strings (not ``#####EMPTY#####``) for that side.
    """
    ref_div = [divide_note(t, faithful=faithful) for t in references]
    pred_div = [divide_note(t, faithful=faithful) for t in predictions]
    out: dict[str, tuple[list[str], list[str]]] = {}
    for division in DIVISIONS:
        sides = []
        for divided in (ref_div, pred_div):
            texts = [d[division] for d in divided]
            if divided and all(t == EMPTY for t in texts):
                texts = [""] * len(texts)
            sides.append(texts)
        out[division] = (sides[0], sides[1])
    return out
