"""Settings, read from the environment (prefix ``ASSISTANT_``) plus the standard ``OPENAI_*`` variables.

Every setting has a safe, offline default: embedded Whisper, embedded LLM, SQLite in the data dir. Settings are
grouped by what they configure (`settings.llm.seed`), and each keeps the flat environment variable the README
documents (`ASSISTANT_LLM_SEED`): a group field's validation alias is its flat name, and `Settings(llm_seed=1)`
or `settings.updated(llm_seed=1)` accept it too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "ASSISTANT_"


def _default_data_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "frontline-assistant"


class _Group(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class WhisperSettings(_Group):
    model: Literal["base", "tiny.en"] = Field(
        default="base", validation_alias="whisper_model",
        description="Packaged Whisper model: 'base' (multilingual, accurate) or 'tiny.en' (fast).",
    )
    beam_size: int = Field(
        default=5, ge=1, le=10, validation_alias="whisper_beam_size", description="Beam size for Whisper decoding."
    )
    language: str | None = Field(
        default="en", validation_alias="whisper_language",
        description="Language code passed to Whisper; empty to auto-detect.",
    )
    threads: int = Field(
        default=0, ge=0, validation_alias="whisper_threads",
        description="CPU threads for Whisper; 0 means one per core.",
    )
    language_check: float = Field(
        default=0.6, ge=0.0, le=1.0, validation_alias="language_check",
        description="A recording that Whisper's own language detection (first 30 s of speech) puts in another "
        "language than ASSISTANT_WHISPER_LANGUAGE with at least this probability is refused with the reason, "
        "rather than decoded into confident nonsense. 0 switches the check off; needs a multilingual model.",
    )


class DiarisationSettings(_Group):
    mode: Literal["auto", "on", "off"] = Field(
        default="auto", validation_alias="diarise",
        description="Who-said-what for single-channel recordings: 'auto' (and 'on', the same) diarises every "
        "single-channel recording, estimating the number of speakers unless the caller gives it, and skips "
        "only when the caller says one person speaks (speakers=1, e.g. dictation); 'off' never. Two-channel "
        "recordings with a mic per person always use the channels instead.",
    )
    max_speakers: int = Field(
        default=8, ge=1, le=20, validation_alias="diarise_max_speakers",
        description="Most speakers the diariser will find when it estimates the number.",
    )
    threshold: float = Field(
        default=0.25, gt=0.0, lt=1.0, validation_alias="diarise_threshold",
        description="Cosine distance at which voice clusters stop merging when the number of speakers is "
        "estimated (lower finds more speakers).",
    )


class LLMSettings(_Group):
    backend: Literal["embedded", "openai"] = Field(
        default="embedded", validation_alias="llm_backend",
        description="'embedded' runs the packaged Qwen2.5-Coder-1.5B GGUF behind a loopback OpenAI-compatible "
        "server; 'openai' uses OPENAI_BASE_URL / OPENAI_API_KEY (any OpenAI-compatible endpoint).",
    )
    model: str = Field(
        default="qwen2.5-coder-1.5b-instruct-q4_k_m", validation_alias="llm_model",
        description="Model name sent to the endpoint (for 'openai' it must be one the endpoint serves).",
    )
    embedded: Literal["qwen-1.5b", "smollm2-135m"] = Field(
        default="qwen-1.5b", validation_alias="embedded_llm",
        description="Which packaged GGUF the embedded server loads (SmolLM2 is for protocol tests only).",
    )
    context: int = Field(
        default=4096, ge=512, validation_alias="llm_context", description="Context window of the embedded LLM (tokens)."
    )
    threads: int = Field(
        default=0, ge=0, validation_alias="llm_threads",
        description="CPU threads for the embedded LLM; 0 means one per core.",
    )
    temperature: float = Field(
        default=0.0, ge=0.0, le=2.0, validation_alias="llm_temperature", description="Sampling temperature."
    )
    seed: int = Field(
        default=42, validation_alias="llm_seed", description="Sampling seed, recorded in each record's provenance."
    )
    timeout_s: float = Field(
        default=600.0, gt=0, validation_alias="llm_timeout_s", description="Timeout of one LLM request, in seconds."
    )
    response_format: Literal["auto", "json_schema", "llama_cpp"] = Field(
        default="auto", validation_alias="llm_response_format",
        description="How a JSON schema is sent: 'json_schema' (OpenAI standard: OpenAI/Azure, vLLM, Ollama, "
        "llama-server), 'llama_cpp' (llama-cpp-python's json_object+schema); 'auto' picks llama_cpp for the "
        "embedded server and json_schema for llm_backend=openai.",
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias="openai_base_url",
        description="OpenAI-compatible endpoint for llm_backend=openai (opt-in; text leaves the machine). "
        "OPENAI_BASE_URL, or ASSISTANT_OPENAI_BASE_URL.",
    )
    openai_api_key: str | None = Field(
        default=None, validation_alias="openai_api_key",
        description="API key for the OpenAI-compatible endpoint. OPENAI_API_KEY, or ASSISTANT_OPENAI_API_KEY.",
    )
    redact: bool = Field(
        default=False, validation_alias="redact",
        description="Replace identifiers (NHS and NI numbers, postcodes, phones, emails, dates of birth, "
        "participants' names) with placeholders before text goes to a non-loopback LLM endpoint; restored in "
        "the returned record.",
    )
    redact_loopback: bool = Field(
        default=False, validation_alias="redact_loopback",
        description="Redact for a loopback endpoint too (a local tunnel or proxy that forwards to a remote "
        "service).",
    )


class LimitSettings(_Group):
    max_upload_bytes: int = Field(
        default=200 * 1024 * 1024, gt=0, validation_alias="max_upload_bytes",
        description="Largest accepted upload, in bytes (default 200 MiB).",
    )
    max_audio_seconds: float = Field(
        default=3 * 3600, gt=0, validation_alias="max_audio_seconds",
        description="Longest accepted recording, in seconds of decoded audio (default 3 h).",
    )


class ApiSettings(_Group):
    auth_required: bool = Field(
        default=False, validation_alias="auth_required",
        description="Require bearer tokens (`assistant users add NAME`). Off only for single-user loopback "
        "use; `serve` refuses a non-loopback address without it.",
    )


class JobSettings(_Group):
    workers: int = Field(
        default=1, ge=1, le=8, validation_alias="job_workers",
        description="In-process job worker threads (each job uses every core).",
    )
    queue: Literal["local", "celery"] = Field(
        default="local", validation_alias="queue",
        description="'local' runs jobs on threads inside the API process; 'celery' sends them to "
        "`assistant worker` processes through the broker.",
    )
    broker_url: str = Field(
        default="redis://127.0.0.1:6379/0", validation_alias="broker_url",
        description="Celery broker for queue=celery: redis://HOST:6379/N or amqp://USER:PASS@HOST:5672//.",
    )
    broker_visibility_timeout_s: int = Field(
        default=6 * 3600, ge=1, validation_alias="broker_visibility_timeout_s",
        description="Redis broker: seconds before an unacknowledged message is delivered again. A last resort "
        "only (a lost worker's job is re-queued by the reaper, `job_lost_after_s`); must be longer than the "
        "longest job (a 3-hour recording).",
    )
    lost_after_s: float = Field(
        default=30.0, ge=1, validation_alias="job_lost_after_s",
        description="A running job whose lock is free (its worker died) and whose heartbeat is older than this "
        "is re-queued by the reaper that every worker and job-running API process runs. Workers beat every "
        "sixth of it.",
    )
    max_attempts: int = Field(
        default=3, ge=1, le=20, validation_alias="job_max_attempts",
        description="Attempts per stage (transient errors and lost workers) before a job is marked failed.",
    )
    retry_backoff_s: float = Field(
        default=30.0, ge=0, validation_alias="job_retry_backoff_s",
        description="First retry delay for transient errors; doubles per attempt (max 10 min).",
    )


class RetentionSettings(_Group):
    audio_after_approval_days: float = Field(
        default=0.0, ge=0, validation_alias="retain_audio_after_approval_days",
        description="Days a recording is kept after its record is approved (0: deleted at the next clean-up).",
    )
    audio_days: float = Field(
        default=30.0, ge=0, validation_alias="retain_audio_days",
        description="Days any recording is kept at most, approved or not (0: no age limit).",
    )
    transcript_days: float = Field(
        default=30.0, ge=0, validation_alias="retain_transcript_days",
        description="Days a job's working copy of the transcript or typed notes is kept after the job was created "
        "(the record keeps its own transcript). 0: no age limit.",
    )
    unapproved_days: float = Field(
        default=90.0, ge=0, validation_alias="retain_unapproved_days",
        description="Days a draft or rejected record is kept after its last change (0: no age limit).",
    )
    cleanup_interval_s: float = Field(
        default=3600.0, ge=0, validation_alias="cleanup_interval_s",
        description="Seconds between the server's retention clean-ups (0: never in the server).",
    )


# Group field on `Settings` -> its model. The groups' own names are not environment variables of their own.
GROUPS: dict[str, type[_Group]] = {
    "whisper": WhisperSettings,
    "diarisation": DiarisationSettings,
    "llm": LLMSettings,
    "limits": LimitSettings,
    "api": ApiSettings,
    "jobs": JobSettings,
    "retention": RetentionSettings,
}
# The standard OpenAI client variables, read without our prefix and before their ASSISTANT_ spelling.
STANDARD_ENV = {"openai_base_url": "OPENAI_BASE_URL", "openai_api_key": "OPENAI_API_KEY"}


def _flat_names() -> dict[str, tuple[str, str]]:
    """Flat setting name (the environment variable without its prefix) -> (group, field)."""
    out: dict[str, tuple[str, str]] = {}
    for group, model in GROUPS.items():
        for name, field in model.model_fields.items():
            out[str(field.validation_alias or name)] = (group, name)
    return out


FLAT_NAMES = _flat_names()


def env_names(flat: str) -> list[str]:
    """The environment variables that set a flat setting, first one wins."""
    return [*([STANDARD_ENV[flat]] if flat in STANDARD_ENV else []), f"{ENV_PREFIX}{flat.upper()}"]


class _GroupedEnv(PydanticBaseSettingsSource):
    """Reads each group field from its flat environment variable (`ASSISTANT_LLM_SEED` -> llm.seed)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every group at once

    def __call__(self) -> dict[str, Any]:
        env = {k.upper(): v for k, v in os.environ.items()}
        out: dict[str, dict[str, Any]] = {}
        for flat, (group, name) in FLAT_NAMES.items():
            found = next((env[n] for n in env_names(flat) if n in env), None)
            if found is not None:
                out.setdefault(group, {})[name] = found
        return out


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", populate_by_name=True)

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Where assembled model files, uploads, the SQLite database and outputs live.",
    )
    models_cache_dir: Path | None = Field(
        default=None,
        description="Where split model files are assembled (about 1.2 GB); defaults to <data_dir>/models.",
    )
    blob_dir: Path | None = Field(
        default=None,
        description="Root of the file store (uploads) that the API and every worker read; defaults to the "
        "data dir. With several machines, mount one shared volume at the same path everywhere.",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy database URL; defaults to SQLite (WAL) in the data dir."
    )
    lexicon_dir: Path | None = Field(
        default=None,
        description="A folder with the deployment's own copies of the lexicon files (same names as in "
        "assistant/lexicons/); a file it lacks comes from the packaged lexicons.",
    )
    eval_data_dir: Path | None = Field(
        default=None,
        description="Shared evaluation data (ACI-Bench, PriMock57); defaults to <repo>/../shared/data.",
    )
    whisper: WhisperSettings = Field(default_factory=WhisperSettings, description="Speech to text.")
    diarisation: DiarisationSettings = Field(
        default_factory=DiarisationSettings, description="Speaker diarisation of single-channel recordings."
    )
    llm: LLMSettings = Field(default_factory=LLMSettings, description="The language model and redaction.")
    limits: LimitSettings = Field(default_factory=LimitSettings, description="Upload limits.")
    api: ApiSettings = Field(default_factory=ApiSettings, description="The HTTP service.")
    jobs: JobSettings = Field(default_factory=JobSettings, description="Job queue and retries.")
    retention: RetentionSettings = Field(default_factory=RetentionSettings, description="Retention of data.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _GroupedEnv(settings_cls), env_settings, dotenv_settings, file_secret_settings

    @model_validator(mode="before")
    @classmethod
    def _group_flat_names(cls, data: Any) -> Any:
        """`Settings(llm_seed=1)`: a flat name given directly goes into its group, over the environment."""
        if not isinstance(data, dict) or not any(k in FLAT_NAMES for k in data):
            return data
        data = dict(data)
        for key in [k for k in data if k in FLAT_NAMES]:
            group, name = FLAT_NAMES[key]
            current = data.get(group) or {}
            if isinstance(current, BaseModel):
                current = current.model_dump()
            data[group] = {**current, name: data.pop(key)}
        return data

    def updated(self, **changes: Any) -> Settings:
        """A validated copy with some settings changed, by flat name (`llm_seed=1`) or by group."""
        unknown = set(changes) - set(FLAT_NAMES) - set(type(self).model_fields)
        if unknown:  # the top level ignores unknown names (stray environment); a caller's typo must not pass
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        return type(self).model_validate({**self.model_dump(), **changes})

    def flat(self) -> dict[str, Any]:
        """Every group setting by its flat name (`llm_seed`), as the environment and the audit log name them."""
        return {flat: getattr(getattr(self, group), name) for flat, (group, name) in FLAT_NAMES.items()}

    @property
    def models_dir(self) -> Path:
        return self.models_cache_dir or self.data_dir / "models"

    def cpu_threads(self, requested: int) -> int:
        return requested or (os.cpu_count() or 1)


def get_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
