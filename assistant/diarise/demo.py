"""Synthetic multi-voice recordings with known turns (espeak-ng + sox), for the diarisation tests, the
benchmark and the eval. Never on the request path.
"""

from __future__ import annotations

from pathlib import Path

from assistant.audio.synth import DEFAULT_VOICES, VISIT_SCRIPT, Dialogue, Voice, synthesise_dialogue

# Four people, two men and two women, as on a phone in the middle of a meeting table. The voices are
# ones the encoder tells apart: many espeak-ng male voices share one set of formants and sound like one
# man to any speaker-embedding model (and espeak-ng 1.51 ignores a +variant on plain "en-gb").
MEETING_VOICES: dict[str, Voice] = {
    "chair": Voice(label="chair", espeak_voice="en-gb-x-gbclan+m7", pitch=28, speed=160),
    "nurse": Voice(label="nurse", espeak_voice="en-us+f2", pitch=70, speed=165),
    "officer": Voice(label="officer", espeak_voice="en-gb-scotland+f4", pitch=55, speed=170),
    "teacher": Voice(label="teacher", espeak_voice="en+klatt", pitch=45, speed=150),
}

MEETING_SCRIPT: list[tuple[str, str]] = [
    ("chair", "Thank you all for joining. We are here to talk about the family and agree what happens next."),
    ("nurse", "I saw the baby on Tuesday. She is feeding well and her weight is back on track."),
    ("officer", "We were called to the address twice last month, both times late at night, after a neighbour rang."),
    ("teacher", "Her brother has missed nine days of school this term, mostly on Mondays."),
    ("chair", "That is helpful. Does anyone know why the Mondays in particular?"),
    ("teacher", "He told his form tutor that he stays up late looking after his little sister."),
    ("nurse", "That fits with what mum told me. She said the weekends are the hardest for her."),
    ("officer", "On the second call the officers noted that the children were asleep upstairs and unhurt."),
    ("chair", "So the concern is the pattern rather than a single event. Is everyone agreed on that?"),
    ("nurse", "Yes, I agree. I would like to increase my visits to every two weeks for now."),
    ("teacher", "We can offer him a place at breakfast club, which would help with the Monday mornings."),
    ("officer", "I will flag the address so that any further call is shared with children's services the next day."),
    ("chair", "Good. I will write to mum today and arrange a home visit before the end of next week."),
    ("nurse", "Could you let me know the date? I would like to come along if I can."),
    ("chair", "Of course. We will meet again in four weeks to review how things are going."),
    ("teacher", "Thank you, that sounds like a sensible plan to me."),
]



def two_voice_dialogue(path: str | Path, turns: int = 14, min_seconds: float = 0.0) -> Dialogue:
    """A home visit (worker and resident), 16 kHz mono; about 75 s for the first 14 turns."""
    return synthesise_dialogue(path, VISIT_SCRIPT[:turns], voices=DEFAULT_VOICES, gap=0.4, min_seconds=min_seconds)


def four_voice_meeting(path: str | Path, min_seconds: float = 0.0) -> Dialogue:
    """A professionals' meeting, four voices, 16 kHz mono; about 86 s once through."""
    return synthesise_dialogue(path, MEETING_SCRIPT, voices=MEETING_VOICES, gap=0.4, min_seconds=min_seconds)
