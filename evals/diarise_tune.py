"""Choosing the default path's speaker-count estimate by leave-one-recording-out: `python -m evals.diarise_tune`.

Every multi-voice sample (audio.opus) and jfk.wav (one real voice) is embedded once (cached under
runs/diarise-tune/). For each recording, the estimate's settings (merge threshold, smallest share of the
speech a voice must hold, fewest seconds a voice must speak) are chosen on the *other* recordings
(lowest mean DER with the count estimated) and scored on the held-out one, so no recording is scored
with settings tuned on it. The settings chosen on all recordings, and how often each fold chose them,
are printed too. Results in evals/README.md.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np

from assistant.config import REPO_ROOT, Settings
from evals.diarisation import der, load_reference, sample_audio

THRESHOLDS = (0.2, 0.225, 0.25, 0.275, 0.3, 0.325, 0.35)
MIN_SHARES = (0.04, 0.06, 0.08, 0.1)
MIN_SECONDS = (0.0, 2.0, 4.0, 6.0)
JFK_SECONDS = 11.0


def recordings(samples_dir: Path, test_data: Path) -> list[tuple[str, Path, list[tuple[float, float, str]]]]:
    out = []
    for sample_id, audio, ref in sample_audio(samples_dir):
        turns = [(u.start, u.end, u.speaker) for u in load_reference(ref)]
        if len({t[2] for t in turns}) >= 2:
            out.append((sample_id, audio, turns))
    jfk = test_data / "jfk.wav"
    if jfk.is_file():
        out.append(("jfk", jfk, [(0.3, 10.6, "jfk")]))
    return out


def embed_all(settings: Settings, items: list[tuple[str, Path, Any]], cache: Path) -> dict[str, Any]:
    from assistant.audio import decode
    from assistant.diarise import EmbeddingDiariser

    cache.mkdir(parents=True, exist_ok=True)
    out = {}
    diariser = EmbeddingDiariser(settings)
    for item_id, audio, _ in items:
        path = cache / f"{item_id}.npz"
        if not path.is_file():
            regions, windows, embeddings = diariser.analyse(decode(audio, mono=True).samples)
            np.savez(path, regions=np.array(regions).reshape(-1, 2), windows=np.array(windows).reshape(-1, 2),
                     embeddings=embeddings)
        data = np.load(path)
        out[item_id] = ([tuple(r) for r in data["regions"]], [tuple(w) for w in data["windows"]],
                        data["embeddings"])
    return out


def grid_scores(settings: Settings, items: list[tuple[str, Path, Any]], cached: dict[str, Any]
                ) -> dict[tuple[float, float, float], dict[str, tuple[float, int]]]:
    """(threshold, min share, min seconds) -> recording -> (DER estimated, voices found)."""
    from assistant.diarise import cluster as clustering
    from assistant.diarise import diariser as module
    from assistant.diarise.diariser import EmbeddingDiariser

    scores: dict[tuple[float, float, float], dict[str, tuple[float, int]]] = {}
    defaults = (module.MIN_SHARE_ESTIMATED, module.MIN_VOICE_SECONDS)
    linkage, trees = clustering._average_linkage, {}

    def cached_linkage(e: np.ndarray) -> np.ndarray:  # the tree does not depend on the settings tuned
        key = (e.__array_interface__["data"][0], e.shape, e.strides)
        if key not in trees:
            trees[key] = linkage(e)
        return trees[key]

    clustering._average_linkage = cached_linkage
    try:
        for threshold, share, seconds in itertools.product(THRESHOLDS, MIN_SHARES, MIN_SECONDS):
            module.MIN_SHARE_ESTIMATED, module.MIN_VOICE_SECONDS = share, seconds
            diariser = EmbeddingDiariser(settings, threshold=threshold)
            row = {}
            for item_id, _, ref in items:
                turns = diariser.turns(*cached[item_id])
                d = der(ref, [(t.start, t.end, t.speaker) for t in turns])
                row[item_id] = (d.der, d.hypothesis_speakers)
            scores[(threshold, share, seconds)] = row
    finally:
        module.MIN_SHARE_ESTIMATED, module.MIN_VOICE_SECONDS = defaults
        clustering._average_linkage = linkage
    return scores


def best(scores: dict[tuple[float, float, float], dict[str, tuple[float, int]]], ids: list[str]
         ) -> tuple[float, float, float]:
    """Lowest mean DER over ``ids``; ties go to the setting nearest the shipped one (listed order)."""
    return min(scores, key=lambda k: float(np.mean([scores[k][i][0] for i in ids])))


def leave_one_out(scores: dict[tuple[float, float, float], dict[str, tuple[float, int]]], ids: list[str]
                  ) -> dict[str, Any]:
    folds = {}
    for held in ids:
        chosen = best(scores, [i for i in ids if i != held])
        folds[held] = {"chosen": list(chosen), "der": round(scores[chosen][held][0], 4),
                       "found": scores[chosen][held][1]}
    return folds


def main(argv: list[str] | None = None) -> int:
    import argparse

    from assistant.config import get_settings

    parser = argparse.ArgumentParser(prog="python -m evals.diarise_tune", description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=Path, default=REPO_ROOT / "samples")
    parser.add_argument("--test-data", type=Path, default=REPO_ROOT / ".cache" / "test-data")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "runs" / "diarise-tune")
    args = parser.parse_args(argv)
    settings = get_settings()
    items = recordings(args.samples, args.test_data)
    cached = embed_all(settings, items, args.out / "embeddings")
    scores = grid_scores(settings, items, cached)
    ids = [i for i, _, _ in items]
    speakers = {i: len({t[2] for t in ref}) for i, _, ref in items}
    folds = leave_one_out(scores, ids)
    from assistant.diarise import diariser as module

    shipped = (settings.diarisation.threshold, module.MIN_SHARE_ESTIMATED, module.MIN_VOICE_SECONDS)
    result = {
        "recordings": len(ids),
        "shipped": {"setting": list(shipped),
                    "mean_der": round(float(np.mean([scores[shipped][i][0] for i in ids])), 4),
                    "rows": {i: scores[shipped][i] for i in ids}},
        "leave_one_out": {"mean_der": round(float(np.mean([f["der"] for f in folds.values()])), 4),
                          "right_count": sum(f["found"] == speakers[i] for i, f in folds.items()),
                          "folds": folds},
        "all": {"setting": list(best(scores, ids)),
                "mean_der": round(float(np.mean([scores[best(scores, ids)][i][0] for i in ids])), 4)},
        "speakers": speakers,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tune.json").write_text(json.dumps(result, indent=2) + "\n")
    for i in ids:
        f = folds[i]
        print(f"{i}: {speakers[i]} voices; shipped DER {scores[shipped][i][0]:.3f} ({scores[shipped][i][1]} found), "
              f"held out DER {f['der']:.3f} ({f['found']} found) with {f['chosen']}")
    print(json.dumps({k: v for k, v in result.items() if k in ("shipped", "all")} | {
        "leave_one_out_mean_der": result["leave_one_out"]["mean_der"],
        "leave_one_out_right_count": result["leave_one_out"]["right_count"],
        "shipped_right_count": sum(scores[shipped][i][1] == speakers[i] for i in ids)}, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
