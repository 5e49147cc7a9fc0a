"""Settings defaults are safe and offline; the app factory builds the real app."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from assistant.api.app import create_app
from assistant.config import FLAT_NAMES, GROUPS, LLMSettings, Settings


def test_defaults_are_offline_and_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "ASSISTANT_LLM_BACKEND"):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert s.llm.backend == "embedded" and s.llm.openai_base_url is None
    assert s.whisper.model == "base"
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"
    for flat, (group, name) in FLAT_NAMES.items():
        assert GROUPS[group].model_fields[name].description, f"setting {flat} has no description"


# Every environment variable the settings read before they were grouped: (value to set, where it lands, as read).
ENVIRONMENT: dict[str, tuple[str, str, object]] = {
    "ASSISTANT_DATA_DIR": ("/srv/fa", "data_dir", Path("/srv/fa")),
    "ASSISTANT_WHISPER_MODEL": ("tiny.en", "whisper.model", "tiny.en"),
    "ASSISTANT_WHISPER_BEAM_SIZE": ("3", "whisper.beam_size", 3),
    "ASSISTANT_WHISPER_LANGUAGE": ("cy", "whisper.language", "cy"),
    "ASSISTANT_WHISPER_THREADS": ("3", "whisper.threads", 3),
    "ASSISTANT_LANGUAGE_CHECK": ("0.9", "whisper.language_check", 0.9),
    "ASSISTANT_DIARISE": ("off", "diarisation.mode", "off"),
    "ASSISTANT_DIARISE_MAX_SPEAKERS": ("4", "diarisation.max_speakers", 4),
    "ASSISTANT_DIARISE_THRESHOLD": ("0.3", "diarisation.threshold", 0.3),
    "ASSISTANT_LLM_BACKEND": ("openai", "llm.backend", "openai"),
    "ASSISTANT_LLM_MODEL": ("gpt-x", "llm.model", "gpt-x"),
    "ASSISTANT_EMBEDDED_LLM": ("smollm2-135m", "llm.embedded", "smollm2-135m"),
    "ASSISTANT_LLM_CONTEXT": ("2048", "llm.context", 2048),
    "ASSISTANT_LLM_THREADS": ("5", "llm.threads", 5),
    "ASSISTANT_LLM_TEMPERATURE": ("0.5", "llm.temperature", 0.5),
    "ASSISTANT_LLM_SEED": ("7", "llm.seed", 7),
    "ASSISTANT_LLM_TIMEOUT_S": ("60", "llm.timeout_s", 60.0),
    "ASSISTANT_LLM_RESPONSE_FORMAT": ("json_schema", "llm.response_format", "json_schema"),
    "ASSISTANT_OPENAI_BASE_URL": ("http://10.0.0.1/v1", "llm.openai_base_url", "http://10.0.0.1/v1"),
    "ASSISTANT_OPENAI_API_KEY": ("sk-a", "llm.openai_api_key", "sk-a"),
    "ASSISTANT_REDACT": ("true", "llm.redact", True),
    "ASSISTANT_REDACT_LOOPBACK": ("1", "llm.redact_loopback", True),
    "ASSISTANT_MAX_UPLOAD_BYTES": ("1234", "limits.max_upload_bytes", 1234),
    "ASSISTANT_MAX_AUDIO_SECONDS": ("60", "limits.max_audio_seconds", 60.0),
    "ASSISTANT_DATABASE_URL": ("postgresql+psycopg://db/fa", "database_url", "postgresql+psycopg://db/fa"),
    "ASSISTANT_AUTH_REQUIRED": ("true", "api.auth_required", True),
    "ASSISTANT_JOB_WORKERS": ("2", "jobs.workers", 2),
    "ASSISTANT_QUEUE": ("celery", "jobs.queue", "celery"),
    "ASSISTANT_BROKER_URL": ("amqp://mq//", "jobs.broker_url", "amqp://mq//"),
    "ASSISTANT_BROKER_VISIBILITY_TIMEOUT_S": ("7200", "jobs.broker_visibility_timeout_s", 7200),
    "ASSISTANT_JOB_LOST_AFTER_S": ("12", "jobs.lost_after_s", 12.0),
    "ASSISTANT_JOB_MAX_ATTEMPTS": ("5", "jobs.max_attempts", 5),
    "ASSISTANT_JOB_RETRY_BACKOFF_S": ("2", "jobs.retry_backoff_s", 2.0),
    "ASSISTANT_BLOB_DIR": ("/mnt/share", "blob_dir", Path("/mnt/share")),
    "ASSISTANT_RETAIN_AUDIO_AFTER_APPROVAL_DAYS": ("1", "retention.audio_after_approval_days", 1.0),
    "ASSISTANT_RETAIN_AUDIO_DAYS": ("2", "retention.audio_days", 2.0),
    "ASSISTANT_RETAIN_TRANSCRIPT_DAYS": ("3", "retention.transcript_days", 3.0),
    "ASSISTANT_RETAIN_UNAPPROVED_DAYS": ("4", "retention.unapproved_days", 4.0),
    "ASSISTANT_CLEANUP_INTERVAL_S": ("5", "retention.cleanup_interval_s", 5.0),
    "ASSISTANT_MODELS_CACHE_DIR": ("/srv/models", "models_cache_dir", Path("/srv/models")),
    "ASSISTANT_LEXICON_DIR": ("/srv/lexicons", "lexicon_dir", Path("/srv/lexicons")),
    "ASSISTANT_EVAL_DATA_DIR": ("/srv/eval", "eval_data_dir", Path("/srv/eval")),
}


def _at(settings: Settings, path: str) -> object:
    value: object = settings
    for part in path.split("."):
        value = getattr(value, part)
    return value


def test_every_environment_variable_still_sets_its_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    for var, (value, _, _) in ENVIRONMENT.items():
        monkeypatch.setenv(var, value)
    s = Settings()
    for var, (_, path, expected) in ENVIRONMENT.items():
        assert _at(s, path) == expected, f"{var} did not set {path}"
    flat_env = {f"ASSISTANT_{flat.upper()}" for flat in FLAT_NAMES}
    top_env = {f"ASSISTANT_{name.upper()}" for name in Settings.model_fields if name not in GROUPS}
    assert flat_env | top_env == set(ENVIRONMENT), "a setting's environment variable is not tested here"


def test_the_stray_variables_reach_their_readers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from assistant.lexicons import lexicon_dir
    from evals.datasets import shared_data_dir

    monkeypatch.setenv("ASSISTANT_LEXICON_DIR", str(tmp_path / "lex"))
    monkeypatch.setenv("ASSISTANT_EVAL_DATA_DIR", str(tmp_path / "eval"))
    assert lexicon_dir() == tmp_path / "lex" and shared_data_dir() == tmp_path / "eval"


def test_given_values_beat_the_environment_and_copies_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_LLM_SEED", "7")
    monkeypatch.setenv("ASSISTANT_DIARISE", "off")
    s = Settings(llm_seed=9)
    assert s.llm.seed == 9 and s.diarisation.mode == "off"
    assert Settings(llm=LLMSettings(seed=3)).llm.seed == 3
    changed = s.updated(diarise="on", whisper_model="tiny.en")
    assert (changed.diarisation.mode, changed.whisper.model, changed.llm.seed) == ("on", "tiny.en", 9)
    assert s.diarisation.mode == "off"  # a copy
    with pytest.raises(ValidationError):
        s.updated(whisper_model="large-v3")
    with pytest.raises(ValueError, match="unknown settings: whisper_modle"):
        s.updated(whisper_modle="tiny.en")
    assert s.flat()["llm_seed"] == 9 and set(s.flat()) == set(FLAT_NAMES)


def test_openai_variables_are_read_without_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("ASSISTANT_OPENAI_BASE_URL", "http://127.0.0.1:8/v1")  # the standard name wins
    monkeypatch.setenv("ASSISTANT_MAX_UPLOAD_BYTES", "1234")
    s = Settings()
    assert s.llm.openai_base_url == "http://127.0.0.1:9/v1" and s.limits.max_upload_bytes == 1234


def test_health_and_openapi(settings: Settings) -> None:
    client = TestClient(create_app(settings))
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200


def test_readme_documents_every_setting() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert readme.lstrip().startswith("# Frontline Assistant")
    assert readme.index("make run") < readme.index("## ") and "make test" in readme
    names = [*(n for n in Settings.model_fields if n not in GROUPS), *FLAT_NAMES]
    for name in names:
        env = name.upper() if name.startswith("openai_") else f"ASSISTANT_{name.upper()}"
        assert f"`{env}`" in readme, f"README does not document {env}"
