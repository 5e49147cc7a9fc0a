"""Turning window embeddings into speaker turns: speech regions, sliding windows, clustering, smoothing.

Pure numpy/scipy, no model: unit-testable with made-up embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.diarise.base import SpeakerTurn, speaker_label

Region = tuple[float, float]

# Most windows clustered by linkage; longer recordings cluster a regular subset (see `cluster`).
MAX_LINKAGE_POINTS = 2000


def sliding_windows(regions: Sequence[Region], window: float, hop: float) -> list[Region]:
    """Windows of ``window`` seconds every ``hop`` seconds inside each speech region; a region shorter
    than a window gets one window, and the last window of a region ends with the region."""
    out: list[Region] = []
    for start, end in regions:
        if end - start <= window:
            out.append((start, end))
            continue
        t = start
        while t + window < end:
            out.append((t, t + window))
            t += hop
        out.append((max(start, end - window), end))
    return out


def _average_linkage(embeddings: np.ndarray) -> np.ndarray:
    from scipy.cluster.hierarchy import linkage

    return linkage(embeddings.astype(np.float64), method="average", metric="cosine")


def cluster(
    embeddings: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    speakers: int | None = None,
    threshold: float = 0.25,
    max_speakers: int = 8,
    min_share: float = 0.04,
) -> np.ndarray:
    """Cluster index per embedding, by average-linkage agglomeration on cosine distance.

    Merging stops at cosine distance ``threshold``; clusters holding less than ``min_share`` of the
    speech (``weights``: seconds per window) are odd windows (a laugh, a cough, a window across a turn
    change) and join their nearest cluster; at most ``max_speakers`` remain. With ``speakers`` known,
    the result is brought to that many: the smallest clusters fold into their nearest, or, with too
    few, the tree is cut lower. (Cutting the tree at exactly ``speakers`` clusters from the start lets
    one outlier take a speaker's place and merges two real voices.)"""
    from scipy.cluster.hierarchy import fcluster

    n = len(embeddings)
    if n == 0:
        return np.zeros(0, dtype=int)
    if n == 1 or speakers == 1:
        return np.zeros(n, dtype=int)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if n > MAX_LINKAGE_POINTS:
        # Linkage holds all n*(n-1)/2 distances (and a copy), which grows past any memory budget for an
        # hour of speech. Windows overlap, so every k-th one still hears all the speech: cluster those,
        # then give every window its nearest cluster.
        stride = -(-n // MAX_LINKAGE_POINTS)
        sub = cluster(embeddings[::stride], w[::stride], speakers=speakers, threshold=threshold,
                      max_speakers=max_speakers, min_share=min_share)
        nearest = np.argmax(embeddings @ centroids(embeddings[::stride], sub).T, axis=1)
        return np.unique(nearest, return_inverse=True)[1]
    tree = _average_linkage(embeddings)
    labels = absorb_small(embeddings, fcluster(tree, threshold, criterion="distance") - 1, w, min_share)
    if not speakers:
        return _fold_to(embeddings, labels, w, max_speakers)
    target = min(speakers, n)
    if int(labels.max()) + 1 < target:
        # Fewer voices than people: cut the tree lower until enough clusters hold real speech (a
        # quiet participant may have said little, so the bar is lower than when estimating).
        for count in range(target, min(n, 4 * target + 4) + 1):
            candidate = absorb_small(embeddings, fcluster(tree, count, criterion="maxclust") - 1, w,
                                     min_share / 4)
            if int(candidate.max()) + 1 >= target:
                labels = candidate
                break
    return _fold_to(embeddings, labels, w, target)


def _shares(labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    k = int(labels.max()) + 1
    return np.array([weights[labels == j].sum() for j in range(k)]) / max(float(weights.sum()), 1e-9)


def _fold_to(embeddings: np.ndarray, labels: np.ndarray, weights: np.ndarray, most: int) -> np.ndarray:
    """Fold the smallest cluster into its nearest until at most ``most`` remain."""
    labels = labels.copy()
    while int(labels.max()) + 1 > most:
        labels = _fold_smallest(embeddings, labels, weights)
    return labels


def _fold_smallest(embeddings: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    small = int(np.argmin(_shares(labels, weights)))
    cents = centroids(embeddings, labels)
    sims = cents @ cents[small]
    sims[small] = -np.inf
    out = labels.copy()
    out[out == small] = int(np.argmax(sims))
    return np.unique(out, return_inverse=True)[1]


def centroids(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    k = int(labels.max()) + 1 if len(labels) else 0
    cents = np.stack([embeddings[labels == j].mean(axis=0) for j in range(k)]) if k else np.zeros((0, 0))
    norms = np.linalg.norm(cents, axis=1, keepdims=True) if k else np.ones((0, 1))
    return cents / np.maximum(norms, 1e-8)


def absorb_small(
    embeddings: np.ndarray, labels: np.ndarray, weights: np.ndarray, min_share: float
) -> np.ndarray:
    """Fold clusters holding less than ``min_share`` of the speech into their nearest cluster: a few
    odd windows (a cough, a laugh, a word across a turn change) are not another person."""
    labels = labels.copy()
    while int(labels.max()) + 1 > 1 and _shares(labels, weights).min() < min_share:
        labels = _fold_smallest(embeddings, labels, weights)
    return labels


def refine(embeddings: np.ndarray, labels: np.ndarray, rounds: int = 2) -> np.ndarray:
    """A few k-means steps on the sphere: each window goes to its nearest centroid. Average linkage
    leaves windows that straddle a turn change in whichever cluster they happened to join."""
    for _ in range(rounds):
        k = int(labels.max()) + 1
        if k <= 1:
            return labels
        new = np.argmax(embeddings @ centroids(embeddings, labels).T, axis=1)
        if np.array_equal(new, labels) or len(np.unique(new)) < k:
            return labels
        labels = new
    return labels


def turns_from_windows(
    windows: Sequence[Region],
    embeddings: np.ndarray,
    labels: np.ndarray,
    regions: Sequence[Region],
    *,
    step: float = 0.05,
    min_turn: float = 0.4,
) -> list[SpeakerTurn]:
    """Speaker turns: every ``step`` seconds of speech takes the cluster whose centroid is most similar
    to the windows covering it (summed), then turns shorter than ``min_turn`` join a neighbour. Labels
    are renumbered in order of first speech."""
    if not windows or not regions:
        return []
    cents = centroids(embeddings, labels)
    scores = embeddings @ cents.T  # window x cluster
    end = max(e for _, e in regions)
    n = int(np.ceil(end / step)) + 1
    acc = np.zeros((n, cents.shape[0]), dtype=np.float64)
    covered = np.zeros(n, dtype=bool)
    for (start, stop), row in zip(windows, scores, strict=True):
        a, b = int(start / step), max(int(start / step) + 1, int(np.ceil(stop / step)))
        acc[a:b] += row
        covered[a:b] = True
    speech = np.zeros(n, dtype=bool)
    for start, stop in regions:
        speech[int(start / step):max(int(start / step) + 1, int(np.ceil(stop / step)))] = True
    frame_label = np.where(speech & covered, acc.argmax(axis=1), -1)

    # Runs of one label within speech: [start_frame, end_frame, label]
    runs: list[list[int]] = []
    for i, lab in enumerate(frame_label):
        if lab < 0:
            continue
        if runs and runs[-1][2] == lab and runs[-1][1] == i:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1, int(lab)])
    # Short runs take the label of the longer adjacent run that touches them (no gap between).
    min_frames = max(1, int(round(min_turn / step)))
    changed = True
    while changed and len(runs) > 1:
        changed = False
        for j, run in enumerate(runs):
            if run[1] - run[0] >= min_frames:
                continue
            neighbours = [r for r in (runs[j - 1] if j else None, runs[j + 1] if j + 1 < len(runs) else None)
                          if r is not None and (r[1] == run[0] or r[0] == run[1]) and r[2] != run[2]]
            if not neighbours:
                continue
            run[2] = max(neighbours, key=lambda r: r[1] - r[0])[2]
            changed = True
        merged: list[list[int]] = []
        for run in runs:
            if merged and merged[-1][2] == run[2] and merged[-1][1] == run[0]:
                merged[-1][1] = run[1]
            else:
                merged.append(list(run))
        runs = merged

    order: dict[int, int] = {}
    for _, _, lab in runs:
        order.setdefault(lab, len(order))
    return [
        SpeakerTurn(start=round(a * step, 3), end=round(b * step, 3), speaker=speaker_label(order[lab]))
        for a, b, lab in runs
    ]
