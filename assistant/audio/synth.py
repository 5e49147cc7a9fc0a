"""Make test and demo audio: encode PCM into any accepted format (PyAV), and synthesise a two-voice
dialogue with espeak-ng + sox whose reference text and turn times are known.

Used by the tests, the ASR benchmark and sample generation; never on the request path.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel

# format -> (FFmpeg muxer, encoder, encoder sample rate or None to keep the input rate)
ENCODINGS: dict[str, tuple[str, str, int | None]] = {
    "wav": ("wav", "pcm_s16le", None),
    "mp3": ("mp3", "libmp3lame", None),
    "aac": ("adts", "aac", None),
    "m4a": ("ipod", "aac", None),
    "opus": ("ogg", "libopus", 48_000),
    "flac": ("flac", "flac", None),
    "webm": ("webm", "libopus", 48_000),
}


class SynthError(RuntimeError):
    """espeak-ng or sox is missing or failed."""


def encode(
    path: str | Path,
    samples: np.ndarray,
    sample_rate: int,
    fmt: str,
    *,
    live: bool = False,
) -> Path:
    """Write float32 samples ((n,) or (channels, n)) as ``fmt``. ``live=True`` writes a webm the way a
    browser's MediaRecorder does: no duration header and no cues."""
    import av

    muxer, codec, rate = ENCODINGS[fmt]
    x = np.atleast_2d(np.asarray(samples, dtype=np.float32))
    layout = "mono" if x.shape[0] == 1 else "stereo"
    options = {"live": "1"} if live else {}
    out_path = Path(path)
    with av.open(str(out_path), "w", format=muxer, options=options) as out:
        stream = out.add_stream(codec, rate=rate or sample_rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x), format="fltp", layout=layout)
        frame.sample_rate = sample_rate
        # PyAV resamples and re-frames to the encoder's format and frame size itself.
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout=layout, rate=stream.rate)
        for chunk in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return out_path


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int) -> Path:
    """16-bit PCM WAV from float32 samples ((n,) or (channels, n)), with the standard library only."""
    x = np.atleast_2d(np.asarray(samples, dtype=np.float32))
    pcm = (np.clip(x, -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(x.shape[0])
        wf.setsampwidth(2)
        wf.setframerate(sample_rate)
        wf.writeframes(pcm.T.tobytes())  # interleave channels
    return Path(path)


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """(samples (channels, n) float32, rate) from a 16-bit PCM WAV."""
    with wave.open(str(path), "rb") as wf:
        if wf.getsampwidth() != 2:
            raise SynthError(f"{path}: expected 16-bit PCM")
        ch, rate = wf.getnchannels(), wf.getframerate()
        data = np.frombuffer(wf.readframes(wf.getnframes()), dtype="<i2")
    return (data.reshape(-1, ch).T.astype(np.float32) / 32768.0), rate


# --- espeak-ng dialogue -------------------------------------------------------------------------


class Voice(BaseModel):
    label: str
    espeak_voice: str
    pitch: int = 50  # espeak-ng -p, 0..99
    speed: int = 160  # words per minute, espeak-ng -s


class Turn(BaseModel):
    speaker: str
    text: str
    start: float = 0.0
    end: float = 0.0


class Dialogue(BaseModel):
    path: Path
    sample_rate: int
    channels: int
    duration: float
    turns: list[Turn]

    @property
    def reference(self) -> str:
        return " ".join(t.text for t in self.turns)


# Two clearly different voices: a British male and an American female variant at a higher pitch.
DEFAULT_VOICES: dict[str, Voice] = {
    "worker": Voice(label="worker", espeak_voice="en-gb", pitch=35, speed=165),
    "resident": Voice(label="resident", espeak_voice="en-us+f2", pitch=70, speed=155),
}

# A home visit, written without digits so the reference reads exactly as it is spoken.
VISIT_SCRIPT: list[tuple[str, str]] = [
    ("worker", "Good morning, thank you for letting me come in today. How have you been since my last visit?"),
    ("resident", "Not too bad, thank you. My back has been painful this week, so I have not been sleeping well."),
    ("worker", "I am sorry to hear that. Have you been able to see your doctor about the pain?"),
    ("resident", "Yes, I saw the doctor on Monday and she changed my tablets. I take them twice a day now."),
    ("worker", "That is good. Are you managing the stairs at home, or is that getting harder?"),
    ("resident", "The stairs are hard in the evening. My daughter comes round three times a week to help me."),
    ("worker", "Would you like me to ask for a stair rail and a visit from the occupational therapist?"),
    ("resident", "Yes please, that would help a lot. I do not want to fall again."),
    ("worker", "You mentioned a fall. Can you tell me what happened?"),
    ("resident", "It was last Thursday. I slipped in the kitchen, but I did not hurt myself badly."),
    ("worker", "Did anyone check on you afterwards, or did you manage on your own?"),
    ("resident", "My neighbour heard me and came over. She helped me back into my chair."),
    ("worker", "I am glad she was there. Do you have a pendant alarm that you can press if you fall?"),
    ("resident", "No, I do not. My son said he would look into it, but nothing has happened yet."),
    ("worker", "I can refer you for a community alarm today, if you agree. It is a small button you wear."),
    ("resident", "That sounds sensible. I would feel safer with one, especially at night."),
    ("worker", "How are you getting on with meals? Are you able to cook for yourself?"),
    ("resident", "I make simple things like soup and toast. My daughter brings a proper dinner on Sundays."),
    ("worker", "Are you eating enough during the week, do you think?"),
    ("resident", "Probably not. I lose my appetite when my back is bad, and I get tired standing at the cooker."),
    ("worker", "We could look at a meal delivery service. Some people find it takes the pressure off."),
    ("resident", "I would like to hear more about that, as long as it is not too expensive."),
    ("worker", "I will bring the leaflets next time, and we can go through the costs together."),
    ("resident", "Thank you. I worry about money since my husband passed away last spring."),
    ("worker", "That must be hard. Would it help to talk to someone about benefits you might be entitled to?"),
    ("resident", "Yes, I think it would. I have never really understood what I can claim."),
    ("worker", "I will ask the welfare rights team to call you. They can check everything with you."),
    ("resident", "Please ask them to ring in the afternoon. I sleep late in the mornings at the moment."),
    ("worker", "Of course. Is there anything else worrying you that we have not talked about today?"),
    ("resident", "Only the garden. It is getting overgrown and I cannot manage it any more."),
    ("worker", "There is a volunteer garden scheme in this area. I will add that to the list."),
    ("resident", "You have been very kind. It is nice to have someone listen."),
    ("worker", "To sum up, I will refer you for the stair rail, the occupational therapist and the alarm."),
    ("worker", "I will also contact welfare rights and bring the meal leaflets next week. Is that right?"),
    ("resident", "Yes, that is all right. Thank you for coming."),
    ("worker", "You are welcome. I will see you next Wednesday at the same time."),
]


def have_tools() -> list[str]:
    """Names of the missing command-line tools (empty when synthesis can run)."""
    return [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]


def _run(cmd: Sequence[str]) -> None:
    try:
        subprocess.run(list(cmd), check=True, capture_output=True, timeout=120)
    except FileNotFoundError as exc:
        raise SynthError(f"{cmd[0]} is not installed (apt-get install espeak-ng sox)") from exc
    except subprocess.CalledProcessError as exc:
        raise SynthError(f"{cmd[0]} failed: {exc.stderr.decode(errors='replace').strip()[:300]}") from exc


def speak(text: str, voice: Voice, sample_rate: int, workdir: Path, name: str) -> np.ndarray:
    """One utterance: espeak-ng to WAV, sox to ``sample_rate`` mono 16-bit; returns float32 samples."""
    raw = workdir / f"{name}.raw.wav"
    out = workdir / f"{name}.wav"
    _run(["espeak-ng", "-v", voice.espeak_voice, "-p", str(voice.pitch), "-s", str(voice.speed),
          "-w", str(raw), text])
    _run(["sox", str(raw), "-r", str(sample_rate), "-c", "1", "-b", "16", str(out)])
    samples, _ = read_wav(out)
    return samples[0]


def synthesise_dialogue(
    path: str | Path,
    script: Sequence[tuple[str, str]] = VISIT_SCRIPT,
    *,
    voices: dict[str, Voice] | None = None,
    sample_rate: int = 16_000,
    stereo: bool = False,
    gap: float = 0.5,
    bleed: float = 0.0,
    min_seconds: float = 0.0,
) -> Dialogue:
    """Render ``script`` to a WAV. ``stereo=True`` puts each speaker on their own channel (a mic per
    person) with ``bleed`` (0..1) of their voice leaking into the other mic. ``min_seconds`` repeats the
    script until the recording is at least that long (for benchmarks)."""
    voices = voices or DEFAULT_VOICES
    speakers = list(dict.fromkeys(s for s, _ in script))
    if stereo and len(speakers) != 2:
        raise SynthError("a stereo dialogue needs exactly two speakers")
    pause = np.zeros(int(gap * sample_rate), dtype=np.float32)
    rendered: dict[int, np.ndarray] = {}
    turns: list[Turn] = []
    pieces: list[tuple[int, np.ndarray]] = []  # (speaker index, samples), pauses included
    cursor = 0
    with tempfile.TemporaryDirectory(prefix="dialogue-") as tmp:
        while True:
            for i, (who, text) in enumerate(script):
                if i not in rendered:
                    rendered[i] = speak(text, voices[who], sample_rate, Path(tmp), f"turn{i:03d}")
                audio = rendered[i]
                turns.append(Turn(speaker=who, text=text, start=cursor / sample_rate,
                                  end=(cursor + len(audio)) / sample_rate))
                pieces.append((speakers.index(who), audio))
                pieces.append((speakers.index(who), pause))
                cursor += len(audio) + len(pause)
            if cursor / sample_rate >= min_seconds:
                break
    mix = np.zeros((2 if stereo else 1, cursor), dtype=np.float32)
    at = 0
    for who, audio in pieces:
        if stereo:
            mix[who, at:at + len(audio)] += audio
            mix[1 - who, at:at + len(audio)] += bleed * audio
        else:
            mix[0, at:at + len(audio)] += audio
        at += len(audio)
    out = write_wav(path, mix, sample_rate)
    return Dialogue(path=out, sample_rate=sample_rate, channels=mix.shape[0], duration=cursor / sample_rate,
                    turns=turns)
