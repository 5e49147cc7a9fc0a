"""Upload check beyond the probe: the start of the recording must actually decode.

A probe reads only headers, so a file whose header is valid but whose audio is missing or garbage (a FLAC cut
after its STREAMINFO, a polyglot behind a real header) would be accepted and fail later in a job. Decoding
about a second from the start costs milliseconds and turns those into a 422 at upload time.
"""

from __future__ import annotations

from pathlib import Path

from assistant.audio import AudioError, AudioInfo

MAX_CHANNELS = 8  # recorders and browsers give 1-2; hundreds of channels is a crafted file


def check_decodable(info: AudioInfo, seconds: float = 1.0, max_packets: int = 200) -> None:
    """Raise AudioError unless some audio decodes from the start of the file."""
    import av

    from assistant.audio.probe import open_container

    if info.channels > MAX_CHANNELS:
        raise AudioError("unsupported", f"{info.channels} audio channels; at most {MAX_CHANNELS} are accepted")
    decoded = packets = 0
    with open_container(Path(info.path), info.format) as container:
        stream = container.streams.audio[0]
        try:
            for packet in container.demux(stream):
                packets += 1
                try:
                    decoded += sum(frame.samples for frame in packet.decode())
                except av.error.InvalidDataError:
                    pass
                if decoded >= seconds * info.sample_rate or packets >= max_packets:
                    break
        except (av.FFmpegError, OSError):
            pass  # judged by what decoded before the failure
    if decoded == 0:
        raise AudioError("undecodable", f"no {info.format} audio could be decoded from the start of the file")
