"""Render every sample's transcript to speech, deterministically (espeak-ng + sox + opusenc).

For each samples/<id>/ with a meta.json:
  audio.opus            16 kHz mono, one espeak-ng voice per speaker (meta.json "voices"), Ogg Opus
  audio_segments.json   per transcript segment: segment_id, speaker, start, end, text (WER/diarisation reference)
  audio_<variant>.opus  for each meta.json "audio_variants" entry:
                        telephone: 8 kHz, 300-3400 Hz band; noise: seeded pink/brown noise mixed in with sox;
                        stereo: the first speaker on the left channel, everyone else on the right.
Audio-only samples (meta.json "audio_only") render sox tones and room noise, with no speech.

Segments are parse_text() segments, so audio_segments.json segment ids equal the gold record's ids.
Determinism: espeak-ng is deterministic; sox runs with -R (fixed seeds, no time stamps) and without
dither; opusenc gets a fixed Ogg serial number. Same inputs and tool versions -> same bytes.

Usage: python samples/generate_audio.py [--only ID ...] [--out DIR] [--no-variants]
Needs: espeak-ng, sox, opus-tools (apt-get install espeak-ng sox opus-tools).
"""

from __future__ import annotations

import argparse
import array
import json
import shutil
import subprocess
import sys
import tempfile
import wave
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

SAMPLES_DIR = Path(__file__).resolve().parent
ROOT = SAMPLES_DIR.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from assistant.transcript import parse_text  # noqa: E402

ESPEAK_RATE = 22050  # espeak-ng's native output rate
OUT_RATE = 16000
LEAD_S = 0.6  # silence before the first and after the last segment
SAME_SPEAKER_GAP_S = 0.18  # between sentence segments of one turn
TURN_GAPS_S = (0.35, 0.5, 0.7, 0.45)  # between turns, cycled by segment id: varied but deterministic
MONO_KBPS = 12
STEREO_KBPS = 20
PHONE_KBPS = 8
OGG_SERIAL = 20250101
TOOLS = ("espeak-ng", "sox", "soxi", "opusenc")
VARIANTS = ("telephone", "noise", "stereo")


class Voice(BaseModel):
    voice: str
    speed: int = 160
    pitch: int = 50


class AudioSegment(BaseModel):
    segment_id: int
    speaker: str
    start: float
    end: float
    text: str


class AudioIndex(BaseModel):
    id: str
    sample_rate: int = OUT_RATE
    duration: float
    generator: str = "samples/generate_audio.py"
    voices: dict[str, Voice]
    variants: list[str]
    segments: list[AudioSegment]


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


def _run(cmd: list[str], stdin: bytes | None = None) -> None:
    proc = subprocess.run(cmd, input=stdin, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.decode(errors='replace')[-400:]}")


def _read_pcm(path: Path) -> array.array:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1 or w.getframerate() != ESPEAK_RATE:
            raise RuntimeError(f"unexpected wav format from espeak-ng: {path}")
        pcm = array.array("h")
        pcm.frombytes(w.readframes(w.getnframes()))
    if sys.byteorder == "big":
        pcm.byteswap()
    return pcm


def _write_wav(path: Path, channels: list[array.array], rate: int) -> None:
    n = len(channels[0])
    if len(channels) == 1:
        data = channels[0]
    else:  # interleave
        data = array.array("h", bytes(2 * n * len(channels)))
        for c, ch in enumerate(channels):
            data[c :: len(channels)] = ch
    if sys.byteorder == "big":
        data = array.array("h", data)
        data.byteswap()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(len(channels))
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data.tobytes())


def _speak(text: str, voice: Voice, wav: Path) -> array.array:
    # Text goes in on stdin so nothing in it can be read as an option; -b 1 = UTF-8 input.
    _run(["espeak-ng", "-b", "1", "-v", voice.voice, "-s", str(voice.speed), "-p", str(voice.pitch),
          "-w", str(wav), "--stdin"], stdin=text.encode("utf-8"))
    pcm = _read_pcm(wav)
    # espeak pads each utterance with silence; trim leading/trailing near-silence so gaps are ours.
    lo, hi = 0, len(pcm)
    while lo < hi and abs(pcm[lo]) < 64:
        lo += 1
    while hi > lo and abs(pcm[hi - 1]) < 64:
        hi -= 1
    return pcm[lo:hi]


def _silence(seconds: float, rate: int = ESPEAK_RATE) -> array.array:
    return array.array("h", bytes(2 * round(seconds * rate)))


def _sox(args: list[str]) -> None:
    # -R: repeatable (fixed seeds, no time stamps); -D: no dither, so output depends only on input.
    _run(["sox", "-R", "-D", *args])


def _opus(src: Path, dst: Path, kbps: int) -> None:
    _run(["opusenc", "--quiet", "--bitrate", str(kbps), "--comp", "10", "--framesize", "20",
          "--serial", str(OGG_SERIAL), "--discard-comments", str(src), str(dst)])


def load_meta(sample_dir: Path) -> dict:
    return json.loads((sample_dir / "meta.json").read_text(encoding="utf-8"))


def render_speech(sample_dir: Path, tmp: Path) -> tuple[list[AudioSegment], list[array.array], dict[str, Voice]]:
    """Return segment timings and [mix, first-speaker track, others track] at ESPEAK_RATE."""
    meta = load_meta(sample_dir)
    transcript = parse_text((sample_dir / "transcript.txt").read_text(encoding="utf-8"), source_id=sample_dir.name)
    voices = {k: Voice.model_validate(v) for k, v in meta["voices"].items()}
    first = transcript.segments[0].speaker if transcript.segments else ""
    mix, left, right = _silence(LEAD_S), _silence(LEAD_S), _silence(LEAD_S)
    timings: list[AudioSegment] = []
    prev = None
    for seg in transcript.segments:
        if seg.speaker not in voices:
            raise RuntimeError(f"{sample_dir.name}: no voice for speaker {seg.speaker!r} in meta.json")
        if prev is not None:
            gap = SAME_SPEAKER_GAP_S if seg.speaker == prev else TURN_GAPS_S[seg.id % len(TURN_GAPS_S)]
            for track in (mix, left, right):
                track.extend(_silence(gap))
        pcm = _speak(seg.text, voices[seg.speaker], tmp / "seg.wav")
        start = len(mix) / ESPEAK_RATE
        mix.extend(pcm)
        quiet = array.array("h", bytes(2 * len(pcm)))
        (left if seg.speaker == first else right).extend(pcm)
        (right if seg.speaker == first else left).extend(quiet)
        timings.append(AudioSegment(segment_id=seg.id, speaker=seg.speaker, start=round(start, 3),
                                    end=round(len(mix) / ESPEAK_RATE, 3), text=seg.text))
        prev = seg.speaker
    for track in (mix, left, right):
        track.extend(_silence(LEAD_S))
    return timings, [mix, left, right], voices


def render_tones(meta: dict, tmp: Path) -> Path:
    """Audio-only sample: room noise with soft tones and chords, no speech. Returns a 16 kHz mono wav."""
    seconds = float(meta["audio_only"].get("seconds", 20))
    parts: list[Path] = []
    notes = [261.63, 293.66, 329.63, 392.0, 440.0, 392.0, 329.63, 293.66]
    layout: list[tuple[str, float, list[float]]] = [("gap", 3.0, [])]
    layout += [("tone", 0.45, [f]) for f in notes]
    layout += [("gap", 2.0, []), ("tone", 2.5, [261.63, 329.63, 392.0]), ("gap", 1.5, []),
               ("tone", 2.5, [220.0, 261.63, 329.63]), ("gap", 2.5, [])]
    for i, (kind, dur, freqs) in enumerate(layout):
        out = tmp / f"tone{i:02d}.wav"
        if kind == "gap":
            _sox(["-n", "-r", str(OUT_RATE), "-b", "16", "-c", "1", str(out), "trim", "0", str(dur)])
        else:
            multi = tmp / f"multi{i:02d}.wav"
            synth = [x for f in freqs for x in ("sine", str(f))]
            _sox(["-n", "-r", str(OUT_RATE), "-b", "16", "-c", str(len(freqs)), str(multi), "synth", str(dur),
                  *synth])
            _sox([str(multi), "-c", "1", str(out), "fade", "q", "0.05", str(dur), "0.15", "vol", "0.25"])
        parts.append(out)
    body = tmp / "tones_body.wav"
    _sox([*map(str, parts), str(body)])
    body_s = float(subprocess.run(["soxi", "-D", str(body)], capture_output=True, text=True, check=True).stdout)
    padded = tmp / "tones_padded.wav"
    _sox([str(body), str(padded), "pad", "0", str(max(0.0, seconds - body_s))])
    noise = tmp / "room.wav"
    _sox(["-n", "-r", str(OUT_RATE), "-b", "16", "-c", "1", str(noise), "synth", str(max(seconds, body_s)),
          "brownnoise", "vol", "0.02"])
    out = tmp / "tones.wav"
    _sox(["-m", "-v", "1", str(padded), "-v", "1", str(noise), str(out)])
    return out


def generate(sample_id: str, out_root: Path = SAMPLES_DIR, variants: bool | Sequence[str] = True) -> AudioIndex:
    """Render one sample into out_root/<id>/. variants: True = meta.json's list, False = none, or a list."""
    sample_dir = SAMPLES_DIR / sample_id
    meta = load_meta(sample_dir)
    dest = out_root / sample_id
    dest.mkdir(parents=True, exist_ok=True)
    if isinstance(variants, bool):
        wanted = list(meta.get("audio_variants", [])) if variants else []
    else:
        wanted = list(variants)
    if unknown := set(wanted) - set(VARIANTS):
        raise ValueError(f"unknown audio variants {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    with tempfile.TemporaryDirectory(prefix=f"gen_{sample_id}_") as td:
        tmp = Path(td)
        if "audio_only" in meta:
            main16 = render_tones(meta, tmp)
            timings: list[AudioSegment] = []
            voices: dict[str, Voice] = {}
            wanted = [v for v in wanted if v != "stereo"]  # no speakers to split
            tracks: list[array.array] = []
        else:
            timings, tracks, voices = render_speech(sample_dir, tmp)
            raw = tmp / "mix22.wav"
            _write_wav(raw, [tracks[0]], ESPEAK_RATE)
            main16 = tmp / "mix16.wav"
            _sox([str(raw), "-r", str(OUT_RATE), "-b", "16", "-c", "1", str(main16), "rate", "-h"])
        _opus(main16, dest / "audio.opus", MONO_KBPS)
        frames = wave.open(str(main16), "rb").getnframes()
        duration = round(frames / OUT_RATE, 3)

        if "telephone" in wanted:
            phone = tmp / "phone.wav"
            _sox([str(main16), "-r", "8000", "-b", "16", "-c", "1", str(phone), "sinc", "300-3400",
                  "compand", "0.02,0.2", "-60,-60,-30,-15,0,-6", "-3", "rate", "-h"])
            _opus(phone, dest / "audio_telephone.opus", PHONE_KBPS)
        if "noise" in wanted:
            noise = tmp / "noise.wav"
            _sox(["-n", "-r", str(OUT_RATE), "-b", "16", "-c", "2", str(noise), "synth", str(duration),
                  "pinknoise", "brownnoise", "remix", "-", "vol", "0.12"])
            noisy = tmp / "noisy.wav"
            _sox(["-m", "-v", "0.9", str(main16), "-v", "1", str(noise), "-b", "16", str(noisy)])
            _opus(noisy, dest / "audio_noise.opus", MONO_KBPS)
        if "stereo" in wanted:
            raw_st = tmp / "stereo22.wav"
            _write_wav(raw_st, tracks[1:3], ESPEAK_RATE)
            st16 = tmp / "stereo16.wav"
            _sox([str(raw_st), "-r", str(OUT_RATE), "-b", "16", str(st16), "rate", "-h"])
            _opus(st16, dest / "audio_stereo.opus", STEREO_KBPS)
    for stale in dest.glob("audio_*.opus"):
        if stale.stem.removeprefix("audio_") not in wanted:
            stale.unlink()
    index = AudioIndex(id=sample_id, duration=duration, voices=voices, variants=wanted, segments=timings)
    (dest / "audio_segments.json").write_text(index.model_dump_json(indent=1) + "\n", encoding="utf-8")
    return index


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", metavar="ID", help="render only this sample (repeatable)")
    ap.add_argument("--out", type=Path, default=SAMPLES_DIR, help="output root (default: samples/)")
    ap.add_argument("--no-variants", action="store_true")
    args = ap.parse_args(argv)
    if missing := missing_tools():
        print(f"missing tools: {', '.join(missing)} (apt-get install espeak-ng sox opus-tools)", file=sys.stderr)
        return 2
    ids = args.only or sorted(p.parent.name for p in SAMPLES_DIR.glob("*/meta.json"))
    for sid in ids:
        idx = generate(sid, args.out, variants=not args.no_variants)
        extra = f" + {', '.join(idx.variants)}" if idx.variants else ""
        print(f"{sid}: {idx.duration:.1f} s, {len(idx.segments)} segments{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
