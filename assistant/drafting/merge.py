"""Stage 4: merge candidates across windows and sources; remove duplicates.

Small models repeat themselves (the same statement for ten lines in a row), windows overlap, and a code
finding may restate what a note already says. Duplicates are found by content-word overlap, in code.
"""

from __future__ import annotations

from assistant.drafting.findings import Candidate
from assistant.drafting.verify import content_tokens, numbers

DUPLICATE_JACCARD = 0.75
_SOURCE_RANK = {"detector": 0, "llm": 1, "extractive": 2}


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def merge_candidates(candidates: list[Candidate]) -> tuple[list[Candidate], int]:
    """Keep the first of each group of near-duplicates (detector statements win over model notes, then the
    one with more evidence); return the survivors in transcript order and the number removed."""
    ordered = sorted(candidates, key=lambda c: (_SOURCE_RANK[c.source], -len(c.statement.evidence)))
    kept: list[Candidate] = []
    keys: list[tuple[set[str], set[str], str]] = []
    removed = 0
    for cand in ordered:
        text = cand.statement.text
        norm = " ".join(text.lower().split())
        toks = content_tokens(text)
        nums = numbers(text)
        duplicate = False
        for (k_toks, k_nums, k_norm), other in zip(keys, kept, strict=True):
            if norm == k_norm:
                duplicate = True
            elif nums == k_nums and _jaccard(toks, k_toks) >= DUPLICATE_JACCARD:
                # Same content: a duplicate when it rests on the same lines or repeats within the section.
                same_place = set(cand.statement.evidence) & set(other.statement.evidence) or \
                    cand.section == other.section
                duplicate = bool(same_place)
            if duplicate:
                break
        if duplicate:
            removed += 1
            continue
        kept.append(cand)
        keys.append((toks, nums, norm))
    contained = _contained_quotes(kept)
    kept = [c for i, c in enumerate(kept) if i not in contained]
    kept.sort(key=lambda c: (min(c.statement.evidence or [10**9]), _SOURCE_RANK[c.source]))
    return kept, removed + len(contained)


CONTAINED = 0.9


def _contained_quotes(kept: list[Candidate]) -> set[int]:
    """Quotes that say nothing another quote of the same lines does not: the same answer quoted whole by the
    amount check, with its question by the police check, and in part as a line the model left out."""
    quotes = [(i, content_tokens(c.statement.text), numbers(c.statement.text), set(c.statement.evidence))
              for i, c in enumerate(kept) if c.statement.kind == "quote"]
    flagged = {i for i, c in enumerate(kept) if c.statement.flags}  # a leave-out request keeps its own flag
    out: set[int] = set()
    for i, toks, nums, ev in quotes:
        for j, o_toks, o_nums, o_ev in quotes:
            if i == j or i in flagged or j in out or not (ev & o_ev) or not toks or not nums <= o_nums:
                continue
            if len(toks & o_toks) >= CONTAINED * len(toks) and (len(o_toks) > len(toks) or j < i):
                out.add(i)
                break
    return out
