"""`assistant eval ...`: run, score, asr and diarise. Light at import time: the harness loads in each command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

eval_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Open evaluation: accuracy against gold notes, transcription WER, estimated time saved.",
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@eval_app.command("run")
def run_cmd(
    dataset: Annotated[str, typer.Option(help="samples, aci-valid, aci-train, primock57, or a JSONL path")],
    template: Annotated[
        str | None, typer.Option(help="Template id (default: the item's own, else clin_consult_note)")
    ] = None,
    engine: Annotated[str, typer.Option(help="llm (embedded or configured model) or extractive")] = "llm",
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N items")] = None,
    only: Annotated[list[str] | None, typer.Option(help="Only the items with these ids (repeatable)")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Run folder (default runs/<dataset>-<engine>); resumes if present")
    ] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Discard earlier results in the run folder")] = False,
    threshold: Annotated[float, typer.Option(help="Cosine threshold for fact/statement matching")] = 0.6,
    notes_per_week: Annotated[float, typer.Option(help="Notes per worker per week for the hours estimate")] = 20.0,
) -> None:
    """Draft every item with the real pipeline, score it, and write results.jsonl, summary.json, report.md."""
    from assistant.config import get_settings
    from evals.datasets import DatasetError, load_dataset
    from evals.metrics.time_saved import TimeConstants
    from evals.runner import RunConfig, ScoreConfig, default_run_dir, run_eval

    if engine not in ("llm", "extractive"):
        raise _fail("--engine must be llm or extractive")
    try:
        items, notes = load_dataset(dataset, template=template, limit=limit)
    except DatasetError as exc:
        raise _fail(str(exc)) from exc
    if only:
        unknown = set(only) - {i.id for i in items}
        if unknown:
            raise _fail(f"no such item in {dataset}: {', '.join(sorted(unknown))}")
        items = [i for i in items if i.id in only]
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    folder = out or default_run_dir(dataset, engine, template)
    config = ScoreConfig(threshold=threshold, constants=TimeConstants(notes_per_week=notes_per_week))
    try:
        summary = run_eval(
            items,
            folder,
            engine=engine,
            settings=get_settings(),  # type: ignore[arg-type]
            run=RunConfig(dataset=dataset, engine=engine, template=template, limit=limit, only=only),
            config=config,
            fresh=fresh,
            notes=notes,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    _print_headline(summary)
    typer.echo(f"run folder: {folder}")
    if summary["items"]["ok"] == 0:
        raise typer.Exit(1)


@eval_app.command("score")
def score_cmd(
    predictions: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="CSV with a `note` column, or JSONL id/note")
    ],
    gold: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="Gold JSONL (id, gold_note) or CSV (note)")],
    fmt: Annotated[str, typer.Option("--format", help="json or md")] = "md",
    out: Annotated[Path | None, typer.Option(help="Also write a run folder here")] = None,
    template: Annotated[
        str, typer.Option(help="Template of the notes (clinical ones get ACI divisions)")
    ] = "clin_consult_note",
    threshold: Annotated[float, typer.Option(help="Cosine threshold for fact matching")] = 0.6,
) -> None:
    """Score notes produced elsewhere against gold notes (matched by id, else by order)."""
    from assistant.config import get_settings
    from evals.report import render_markdown
    from evals.runner import ScoreConfig, score_files

    if fmt not in ("json", "md"):
        raise _fail("--format must be json or md")
    try:
        summary = score_files(
            predictions, gold, get_settings(), config=ScoreConfig(threshold=threshold), template=template, out=out
        )
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    if fmt == "json":
        typer.echo(json.dumps({k: v for k, v in summary.items() if k not in ("settings",)}, indent=2, default=str))
    else:
        typer.echo(render_markdown(summary, []))


@eval_app.command("compare")
def compare_cmd(
    run_a: Annotated[Path, typer.Argument(help="Run folder A (the baseline)")],
    run_b: Annotated[Path, typer.Argument(help="Run folder B (the change)")],
    out: Annotated[
        Path | None, typer.Option(help="Write compare.md, compare.json and compare.png here (default: B/compare-<A>)")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="md or json")] = "md",
    all_metrics: Annotated[bool, typer.Option("--all", help="Print every metric, not only the headline ones")] = False,
) -> None:
    """Paired per-item differences B - A with bootstrap 95% intervals, and the items that got worse."""
    from evals.compare import RunError, compare_runs, render, write

    if fmt not in ("json", "md"):
        raise _fail("--format must be json or md")
    for folder in (run_a, run_b):
        if not folder.is_dir():
            raise _fail(f"{folder}: no such run folder")
    try:
        cmp = compare_runs(run_a, run_b)
    except (RunError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    if not cmp.paired:
        raise _fail(f"no item scored in both runs (A has {len(cmp.only_a)} only, B {len(cmp.only_b)} only)")
    folder = out or run_b / f"compare-{run_a.resolve().name}"
    written = write(cmp, folder, run_a, run_b)
    if fmt == "json":
        typer.echo(json.dumps(cmp.model_dump(), indent=2))
    else:
        typer.echo(render(cmp, all_metrics=all_metrics))
    typer.echo(f"wrote {', '.join(str(p) for p in written)}", err=True)


@eval_app.command("sectioner")
def sectioner_cmd(
    only: Annotated[list[str] | None, typer.Option(help="Only these samples (repeatable)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="md or json")] = "md",
) -> None:
    """Leave-one-sample-out accuracy of the drafting sectioner: each sample sectioned by a model trained on the
    other samples' gold labels (statement -> evidence segments -> section)."""
    from assistant.drafting.sectioner import leave_one_out
    from assistant.embeddings import get_encoder
    from evals.datasets import SAMPLES_DIR

    if fmt not in ("json", "md"):
        raise _fail("--format must be json or md")
    scores = leave_one_out(SAMPLES_DIR, get_encoder(), only=only or ())
    if not scores:
        raise _fail("no sample with a gold record matched")
    cited = sum(s.cited_units for s in scores)
    total = {
        "samples": len(scores),
        "cited_lines": cited,
        "cited_accuracy": round(sum(s.cited_correct for s in scores) / cited, 3) if cited else 0.0,
        "cited_best_section": round(sum(s.cited_placed for s in scores) / cited, 3) if cited else 0.0,
        "lines": sum(s.units for s in scores),
        "accuracy": round(sum(s.units_correct for s in scores) / max(1, sum(s.units for s in scores)), 3),
    }
    if fmt == "json":
        typer.echo(json.dumps({"total": total, "samples": [s.model_dump() for s in scores]}, indent=2))
        return
    typer.echo("| sample | template | cited lines | in a gold section | best section right | all lines right |")
    typer.echo("|---|---|---|---|---|---|")
    for s in scores:
        typer.echo(f"| {s.sample} | {s.template} | {s.cited_units} | {s.cited_accuracy:.2f} | "
                   f"{s.cited_placed / max(1, s.cited_units):.2f} | {s.accuracy:.2f} |")
    typer.echo(f"| **all ({total['samples']})** | | {cited} | {total['cited_accuracy']:.3f} | "
               f"{total['cited_best_section']:.3f} | {total['accuracy']:.3f} |")


@eval_app.command("asr")
def asr_cmd(
    dataset: Annotated[
        str, typer.Option(help="primock57 (with --hypotheses), samples, or a JSONL of id/audio/reference")
    ],
    hypotheses: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="Third-party transcripts (JSONL)")
    ] = None,
    normaliser: Annotated[
        list[str] | None, typer.Option(help="primock57, whisper, omi (repeatable; default all)")
    ] = None,
    all_files: Annotated[
        bool, typer.Option("--all-files", help="PriMock57: keep the 2 files Omi's board excludes")
    ] = False,
    fmt: Annotated[str, typer.Option("--format", help="json or md")] = "md",
    out: Annotated[Path | None, typer.Option(help="Write asr.json and asr.md here")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N audio files")] = None,
) -> None:
    """WER/CER under named normalisers, and domain-term recall."""
    from evals import asr
    from evals.datasets import SAMPLES_DIR, DatasetError, sample_ids, shared_data_dir
    from evals.metrics.wer import NORMALISERS

    norms = normaliser or list(NORMALISERS)
    bad = [n for n in norms if n not in NORMALISERS]
    if bad:
        raise _fail(f"unknown normaliser(s) {', '.join(bad)}; known: {', '.join(NORMALISERS)}")
    notes: list[str] = []
    if hypotheses is not None:
        if dataset != "primock57":
            raise _fail("--hypotheses is supported with --dataset primock57")
        ref_path = shared_data_dir() / "primock57.jsonl"
        if not ref_path.is_file():
            raise _fail(f"{ref_path} not found (set ASSISTANT_EVAL_DATA_DIR)")
        pairs, notes = asr.pair_primock57(hypotheses, ref_path, omi_set=not all_files)
    else:
        from assistant.config import get_settings

        if dataset == "samples":
            from evals.datasets import load_sample

            ids, _ = sample_ids()
            items = []
            for i in ids:
                s = load_sample(SAMPLES_DIR / i)
                if s.audio is not None and s.audio_reference:
                    items.append((s.id, s.audio, s.audio_reference))
        else:
            path = Path(dataset)
            if not path.is_file():
                raise _fail(f"unknown ASR dataset {dataset!r}")
            try:
                items = asr.read_audio_jsonl(path)
            except (KeyError, ValueError) as exc:
                raise _fail(f"{path}: {exc}") from exc
        items = items[:limit] if limit else items
        if not items:
            raise _fail(f"{dataset}: no audio with a reference")
        try:
            transcribe, label = asr.default_transcriber(get_settings())
        except (ImportError, DatasetError) as exc:
            raise _fail(f"transcriber unavailable: {exc}") from exc
        pairs = asr.transcribe_pairs(items, transcribe, label)
    report = asr.score_pairs(pairs, norms)  # type: ignore[arg-type]
    report["notes"] = notes
    table = asr.format_table(report)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "asr.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
        (out / "asr.md").write_text(table + "\n\n" + "\n".join(notes) + "\n", encoding="utf-8")
    if fmt == "json":
        typer.echo(json.dumps({k: v for k, v in report.items() if k != "per_file"}, indent=2))
    else:
        typer.echo(table)
        for note in notes:
            typer.echo(f"note: {note}")


@eval_app.command("diarise")
def diarise_cmd(
    samples: Annotated[
        Path | None, typer.Option(file_okay=False, help="Samples folder (default: the repository's samples/)")
    ] = None,
    audio: Annotated[str, typer.Option(help="Which rendering: audio.opus, audio_telephone.opus...")] = "audio.opus",
    only: Annotated[list[str] | None, typer.Option(help="This sample id only (repeatable)")] = None,
    model: Annotated[str, typer.Option(help="Whisper model for WDER: tiny.en or base")] = "tiny.en",
    wder: Annotated[bool, typer.Option("--wder/--no-wder", help="Also transcribe for WDER (Whisper)")] = True,
    collar: Annotated[float, typer.Option(min=0.0, max=2.0, help="Seconds not scored either side of a turn "
                                                                 "boundary")] = 0.25,
    fmt: Annotated[str, typer.Option("--format", help="json or md")] = "md",
    out: Annotated[Path | None, typer.Option(help="Write diarisation.json and diarisation.md here")] = None,
) -> None:
    """Who said what: DER (speakers known and estimated) and WDER on the multi-voice samples."""
    from assistant.config import REPO_ROOT, get_settings
    from evals.diarisation import evaluate_samples, row_line, sample_audio

    if fmt not in ("json", "md"):
        raise _fail("--format must be json or md")
    if model not in ("tiny.en", "base"):
        raise _fail("--model must be tiny.en or base")
    folder = samples or REPO_ROOT / "samples"
    known = {sample_id for sample_id, _, _ in sample_audio(folder, audio)}
    if not known:
        raise _fail(f"{folder}: no sample has {audio} and audio_segments.json")
    missing = sorted(set(only or []) - known)
    if missing:
        raise _fail(f"no such sample with {audio} and a timed reference: {', '.join(missing)}")
    try:
        result = evaluate_samples(folder, get_settings(), audio_name=audio, only=only, model=model,
                                  with_wder=wder, collar=collar,
                                  on_row=lambda i, row: typer.echo(row_line(i, row), err=True))
    except (ImportError, OSError, RuntimeError) as exc:  # a missing model (ModelError) or diariser weights
        raise _fail(f"diarisation unavailable: {exc}") from exc
    if not result["samples"]:
        raise _fail("no multi-voice sample to score")
    table = _diarise_table(result)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "diarisation.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        (out / "diarisation.md").write_text(table + "\n", encoding="utf-8")
    typer.echo(json.dumps(result, indent=2) if fmt == "json" else table)


def _diarise_table(result: dict) -> str:
    lines = [f"Diarisation on {result['audio']} (collar {result['collar']} s; DER and WDER, lower is better; "
             "'default': no count given, as a plain `assistant transcribe`)", "",
             "| sample | speakers | DER known | DER estimated | found | WDER known | WDER default |",
             "|---|---|---|---|---|---|---|"]
    for sample_id, row in result["samples"].items():
        w = f"{row['wder']['wder']:.3f}" if row.get("wder") else "-"
        wd = f"{row['wder_default']['wder']:.3f}" if row.get("wder_default") else "-"
        lines.append(f"| {sample_id} | {row['speakers']} | {row['der_known']['der']:.3f} | "
                     f"{row['der_estimated']['der']:.3f} | {row['der_estimated']['hypothesis_speakers']} | {w} | "
                     f"{wd} |")
    lines += ["", "| speakers | recordings | mean DER known | mean DER estimated | mean WDER known | "
              "mean WDER default |", "|---|---|---|---|---|---|"]
    for key, entry in result["summary"].items():
        cells = [f"{entry[m]:.3f}" if m in entry else "-" for m in ("mean_wder", "mean_wder_default")]
        lines.append(f"| {key} | {entry['recordings']} | {entry['mean_der_known']:.3f} | "
                     f"{entry['mean_der_estimated']:.3f} | {' | '.join(cells)} |")
    return "\n".join(lines)


def _print_headline(summary: dict) -> None:
    m = summary.get("metrics", {})

    def val(key: str, scale: float = 1.0) -> str:
        return f"{m[key]['mean'] * scale:.2f}" if key in m else "-"

    items = summary["items"]
    typer.echo(f"items: {items['ok']} ok, {items['failed']} failed of {items['total']}")
    typer.echo(
        f"ROUGE-1/2/Lsum: {val('rouge1')}/{val('rouge2')}/{val('rougeLsum')}  semantic F1 (ours): "
        f"{val('semantic_f1')}  fact recall: {val('fact_recall', 100)}%  critical: "
        f"{val('critical_fact_recall', 100)}%  unsupported: {val('unsupported_rate', 100)}%"
    )
    ts = summary.get("time_saved")
    if ts:
        typer.echo(
            f"estimated time saved: median {ts['median_saved_s'] / 60:.1f} min/note (IQR "
            f"{ts['iqr_saved_s'][0] / 60:.1f}-{ts['iqr_saved_s'][1] / 60:.1f}), "
            f"~{ts['hours_per_worker_week']:.1f} h/worker/week at {ts['constants']['notes_per_week']:g} notes"
        )
