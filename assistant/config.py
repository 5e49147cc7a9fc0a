"""Settings, read from the environment (prefix ``ASSISTANT_``) plus the standard ``OPENAI_*`` variables.

Every setting has a safe, offline default: embedded Whisper, embedded LLM, SQLite in the data dir.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_data_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "frontline-assistant"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Where assembled model files, uploads, the SQLite database and outputs live.",
    )
    whisper_model: Literal["base", "tiny.en"] = Field(
        default="base", description="Packaged Whisper model: 'base' (multilingual, accurate) or 'tiny.en' (fast)."
    )
    whisper_beam_size: int = Field(default=5, ge=1, le=10, description="Beam size for Whisper decoding.")
    whisper_language: str | None = Field(
        default="en", description="Language code passed to Whisper; empty to auto-detect."
    )
    whisper_threads: int = Field(
        default=0, ge=0, description="CPU threads for Whisper; 0 means one per core."
    )
    language_check: float = Field(
        default=0.6, ge=0.0, le=1.0,
        description="A recording that Whisper's own language detection (first 30 s of speech) puts in another "
        "language than ASSISTANT_WHISPER_LANGUAGE with at least this probability is refused with the reason, "
        "rather than decoded into confident nonsense. 0 switches the check off; needs a multilingual model.",
    )
    # -- speaker diarisation of single-channel recordings (issue 10) --------------------------------
    diarise: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Who-said-what for single-channel recordings: 'auto' (and 'on', the same) diarises every "
        "single-channel recording, estimating the number of speakers unless the caller gives it, and skips "
        "only when the caller says one person speaks (speakers=1, e.g. dictation); 'off' never. Two-channel "
        "recordings with a mic per person always use the channels instead.",
    )
    diarise_max_speakers: int = Field(
        default=8, ge=1, le=20, description="Most speakers the diariser will find when it estimates the number."
    )
    diarise_threshold: float = Field(
        default=0.25, gt=0.0, lt=1.0,
        description="Cosine distance at which voice clusters stop merging when the number of speakers is "
        "estimated (lower finds more speakers).",
    )
    llm_backend: Literal["embedded", "openai"] = Field(
        default="embedded",
        description="'embedded' runs the packaged Qwen2.5-Coder-1.5B GGUF behind a loopback OpenAI-compatible "
        "server; 'openai' uses OPENAI_BASE_URL / OPENAI_API_KEY (any OpenAI-compatible endpoint).",
    )
    llm_model: str = Field(
        default="qwen2.5-coder-1.5b-instruct-q4_k_m",
        description="Model name sent to the endpoint (for 'openai' it must be one the endpoint serves).",
    )
    embedded_llm: Literal["qwen-1.5b", "smollm2-135m"] = Field(
        default="qwen-1.5b",
        description="Which packaged GGUF the embedded server loads (SmolLM2 is for protocol tests only).",
    )
    llm_context: int = Field(default=4096, ge=512, description="Context window of the embedded LLM (tokens).")
    llm_threads: int = Field(default=0, ge=0, description="CPU threads for the embedded LLM; 0 means one per core.")
    llm_temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="Sampling temperature.")
    llm_seed: int = Field(default=42, description="Sampling seed, recorded in each record's provenance.")
    llm_timeout_s: float = Field(default=600.0, gt=0, description="Timeout of one LLM request, in seconds.")
    llm_response_format: Literal["auto", "json_schema", "llama_cpp"] = Field(
        default="auto",
        description="How a JSON schema is sent: 'json_schema' (OpenAI standard: OpenAI/Azure, vLLM, Ollama, "
        "llama-server), 'llama_cpp' (llama-cpp-python's json_object+schema); 'auto' picks llama_cpp for the "
        "embedded server and json_schema for llm_backend=openai.",
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "ASSISTANT_OPENAI_BASE_URL"),
        description="OpenAI-compatible endpoint for llm_backend=openai (opt-in; text leaves the machine).",
    )
    openai_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "ASSISTANT_OPENAI_API_KEY"),
        description="API key for the OpenAI-compatible endpoint.",
    )
    # -- hardening (issue 8) --------------------------------------------------------------------------
    redact: bool = Field(
        default=False,
        description="Replace identifiers (NHS and NI numbers, postcodes, phones, emails, dates of birth, "
        "participants' names) with placeholders before text goes to a non-loopback LLM endpoint; restored in "
        "the returned record.",
    )
    redact_loopback: bool = Field(
        default=False,
        description="Redact for a loopback endpoint too (a local tunnel or proxy that forwards to a remote "
        "service).",
    )
    max_upload_bytes: int = Field(
        default=200 * 1024 * 1024, gt=0, description="Largest accepted upload, in bytes (default 200 MiB)."
    )
    max_audio_seconds: float = Field(
        default=3 * 3600, gt=0, description="Longest accepted recording, in seconds of decoded audio (default 3 h)."
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy database URL; defaults to SQLite (WAL) in the data dir."
    )
    auth_required: bool = Field(
        default=False,
        description="Require bearer tokens (`assistant users add NAME`). Off only for single-user loopback "
        "use; `serve` refuses a non-loopback address without it.",
    )
    job_workers: int = Field(
        default=1, ge=1, le=8, description="In-process job worker threads (each job uses every core)."
    )
    # -- scale-out (issue 7): Celery workers, shared files ------------------------------------------
    queue: Literal["local", "celery"] = Field(
        default="local",
        description="'local' runs jobs on threads inside the API process; 'celery' sends them to "
        "`assistant worker` processes through the broker.",
    )
    broker_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="Celery broker for queue=celery: redis://HOST:6379/N or amqp://USER:PASS@HOST:5672//.",
    )
    broker_visibility_timeout_s: int = Field(
        default=6 * 3600, ge=1,
        description="Redis broker: seconds before an unacknowledged message is delivered again. A last resort "
        "only (a lost worker's job is re-queued by the reaper, `job_lost_after_s`); must be longer than the "
        "longest job (a 3-hour recording).",
    )
    job_lost_after_s: float = Field(
        default=30.0, ge=1,
        description="A running job whose lock is free (its worker died) and whose heartbeat is older than this "
        "is re-queued by the reaper that every worker and job-running API process runs. Workers beat every "
        "sixth of it.",
    )
    job_max_attempts: int = Field(
        default=3, ge=1, le=20,
        description="Attempts per stage (transient errors and lost workers) before a job is marked failed.",
    )
    job_retry_backoff_s: float = Field(
        default=30.0, ge=0, description="First retry delay for transient errors; doubles per attempt (max 10 min)."
    )
    blob_dir: Path | None = Field(
        default=None,
        description="Root of the file store (uploads) that the API and every worker read; defaults to the "
        "data dir. With several machines, mount one shared volume at the same path everywhere.",
    )
    # -- retention (issue 8) --------------------------------------------------------------------------
    retain_audio_after_approval_days: float = Field(
        default=0.0, ge=0,
        description="Days a recording is kept after its record is approved (0: deleted at the next clean-up).",
    )
    retain_audio_days: float = Field(
        default=30.0, ge=0,
        description="Days any recording is kept at most, approved or not (0: no age limit).",
    )
    retain_transcript_days: float = Field(
        default=30.0, ge=0,
        description="Days a job's working copy of the transcript or typed notes is kept after the job was created "
        "(the record keeps its own transcript). 0: no age limit.",
    )
    retain_unapproved_days: float = Field(
        default=90.0, ge=0,
        description="Days a draft or rejected record is kept after its last change (0: no age limit).",
    )
    cleanup_interval_s: float = Field(
        default=3600.0, ge=0, description="Seconds between the server's retention clean-ups (0: never in the server)."
    )

    models_cache_dir: Path | None = Field(
        default=None,
        description="Where split model files are assembled (about 1.2 GB); defaults to <data_dir>/models.",
    )

    @property
    def models_dir(self) -> Path:
        return self.models_cache_dir or self.data_dir / "models"

    def cpu_threads(self, requested: int) -> int:
        return requested or (os.cpu_count() or 1)


def get_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
