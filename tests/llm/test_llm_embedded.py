"""Protocol plumbing through the real llama.cpp server (llama-cpp-python's OpenAI-compatible server) with
SmolLM2-135M: fast, useless for quality, but every byte goes over the real OpenAI protocol on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from assistant.config import Settings
from assistant.llm import ChatModel, LLMError
from assistant.llm.client import OpenAIChatModel
from assistant.llm.schema import UnboundedSchemaError
from assistant.llm.server import EMBEDDED_ALIASES, EmbeddedLLMServer, port_open

pytestmark = pytest.mark.slow

COUNT = [{"role": "user", "content": "Count from 1 to 20, separated by commas. Output only the numbers."}]

PERSON_SCHEMA: dict[str, Any] = {
    "title": "person",
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 30},
        "role": {"type": "string", "enum": ["mother", "child", "worker"]},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "concerns": {"type": "array", "maxItems": 3, "items": {"type": "string", "maxLength": 60}},
    },
    "required": ["name", "role", "age", "concerns"],
    "additionalProperties": False,
}
PERSON_MESSAGES = [
    {"role": "system", "content": "Reply with one JSON object."},
    {"role": "user", "content": "Leanne is a 34 year old mother worried about rent arrears. Describe her."},
]


def _requests_since(server: EmbeddedLLMServer, offset: int, expected: int) -> int:
    # uvicorn writes its access-log line just after the response is sent: give it a moment (if any was sent).
    deadline = time.monotonic() + (5 if expected else 0)
    while True:
        count = server.log_text(offset).count('"POST /v1/chat/completions')
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    """A zombie (exited, not yet reaped by init) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_plain_completion(smol_chat: ChatModel) -> None:
    result = smol_chat.complete(COUNT, max_tokens=80)
    assert smol_chat.backend == "embedded"
    assert smol_chat.name == EMBEDDED_ALIASES["smollm2-135m"] == result.model
    assert result.text.strip()
    assert result.prompt_tokens > 10 and result.completion_tokens > 0
    assert result.seconds > 0
    assert result.finish_reason in ("stop", "length")


def test_structured_output_validates_against_its_schema(smol_chat: ChatModel) -> None:
    result = smol_chat.structured(PERSON_MESSAGES, PERSON_SCHEMA, max_tokens=150)
    jsonschema.validate(result.data, PERSON_SCHEMA)
    assert json.loads(result.text) == result.data
    assert result.attempts in (1, 2)
    assert result.completion_tokens > 0


def test_max_tokens_respected(smol_chat: ChatModel) -> None:
    result = smol_chat.complete(COUNT, max_tokens=5)
    assert result.finish_reason == "length"
    assert result.completion_tokens <= 5


def test_stop_strings_respected(smol_chat: ChatModel) -> None:
    full = smol_chat.complete(COUNT, max_tokens=80).text
    assert "7" in full, f"precondition: the model counts past 7 ({full!r})"
    stopped = smol_chat.complete(COUNT, max_tokens=80, stop=["7"])
    assert "7" not in stopped.text
    assert stopped.finish_reason == "stop"
    assert full.startswith(stopped.text)  # same greedy output, cut at the stop string


def test_invalid_output_is_retried_once_then_llm_error(
    smol_chat: ChatModel, smol_server: EmbeddedLLMServer
) -> None:
    # `not` is ignored by llama.cpp's grammar converter but enforced by our validator: every string the
    # grammar lets through is invalid, so the real server answers twice and then we must give up clearly.
    impossible = {
        "title": "impossible",
        "type": "object",
        "properties": {"word": {"type": "string", "maxLength": 10, "not": {"type": "string"}}},
        "required": ["word"],
        "additionalProperties": False,
    }
    offset = smol_server.log_size()
    with pytest.raises(LLMError, match=r"invalid after 2 attempts: does not match the schema at word"):
        smol_chat.structured([{"role": "user", "content": "Say one word."}], impossible, max_tokens=20)
    assert _requests_since(smol_server, offset, 2) == 2


def test_unbounded_schema_refused_without_a_request(
    smol_chat: ChatModel, smol_server: EmbeddedLLMServer
) -> None:
    offset = smol_server.log_size()
    with pytest.raises(UnboundedSchemaError, match=r"#/properties/notes: array without maxItems"):
        smol_chat.structured(
            PERSON_MESSAGES,
            {"type": "object", "properties": {"notes": {"type": "array", "items": {"type": "string"}}}},
        )
    assert _requests_since(smol_server, offset, 0) == 0


def test_shared_prompt_prefix_reuses_the_kv_cache(
    smol_chat: ChatModel, smol_server: EmbeddedLLMServer
) -> None:
    transcript = " ".join(f"[{i}] Worker: item {i} was discussed at the visit." for i in range(1, 40))
    system = {"role": "system", "content": "You read visit transcripts."}

    def ask(question: str) -> int:
        messages = [system, {"role": "user", "content": f"{transcript}\n\n{question}"}]
        return smol_chat.complete(messages, max_tokens=8).prompt_tokens

    ask("How many items were discussed?")
    offset = smol_server.log_size()
    prompt_tokens = ask("Which item came last?")
    log = smol_server.log_text(offset)
    assert "prefix-match hit" in log, log[-2000:]
    timings = smol_server.last_timings(offset)
    assert timings is not None
    # Only the new question was evaluated; the transcript's KV cache was reused.
    assert timings.prompt_tokens < prompt_tokens / 4


def test_stopped_server_is_really_gone(llm_settings: Settings) -> None:
    with EmbeddedLLMServer(llm_settings, "smollm2-135m") as server:
        port, pid, log_path = server.port, server.pid, server.log_path
        assert port is not None and pid is not None and log_path is not None
        assert server.running and port_open(port)
        assert server.base_url == f"http://127.0.0.1:{port}/v1"
    assert not server.running
    assert not port_open(port)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not log_path.exists()


def test_crashed_server_is_diagnosed(llm_settings: Settings) -> None:
    with EmbeddedLLMServer(llm_settings, "smollm2-135m") as server:
        chat = OpenAIChatModel(
            base_url=server.base_url, api_key=server.api_key, model=server.alias, diagnose=server.diagnose
        )
        assert server.pid is not None
        os.kill(server.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while server.running and time.monotonic() < deadline:
            time.sleep(0.1)
        with pytest.raises(LLMError, match=r"unreachable.*exited with code -9; log tail"):
            chat.complete(COUNT, max_tokens=5)


def test_start_failure_names_the_reason(
    llm_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bogus = tmp_path / "broken.gguf"
    bogus.write_bytes(b"GGUF" + b"\0" * 64)
    monkeypatch.setattr("assistant.models.llm_model_file", lambda settings, name=None: bogus)
    server = EmbeddedLLMServer(llm_settings, "smollm2-135m", startup_timeout_s=120)
    with pytest.raises(LLMError, match=r"exited with code \d+ during start-up; log tail:"):
        server.start()
    assert not server.running


def test_server_exits_when_its_parent_dies(llm_settings: Settings, tmp_path: Path) -> None:
    # A parent killed without atexit (SIGKILL, OOM, CI timeout) must not leave a model server behind.
    script = (
        "import os, sys\n"
        "from assistant.config import Settings\n"
        "from assistant.llm.server import EmbeddedLLMServer\n"
        f"s = Settings(data_dir={str(llm_settings.data_dir)!r}, models_cache_dir={str(llm_settings.models_dir)!r})\n"
        "srv = EmbeddedLLMServer(s, 'smollm2-135m').start()\n"
        "print(srv.log_path, srv.pid, srv.port, flush=True)\n"
        "os._exit(0)\n"  # no atexit, no stop(): like being killed
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    ).stdout  # fmt: skip
    log_path, pid_text, port_text = out.split()[-3:]
    pid, port = int(pid_text), int(port_text)
    Path(log_path).unlink(missing_ok=True)  # nobody else will: its owner died without stop()
    deadline = time.monotonic() + 20
    # Gone means the process and its port: a process whose main thread has exited shows as a zombie while its
    # other threads finish, and until they do its socket stays open (seen once in a full run).
    while time.monotonic() < deadline:
        if not _alive(pid) and not port_open(port):
            break
        time.sleep(0.2)
    else:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        pytest.fail("orphaned LLM server kept running after its parent died")


def test_loopback_server_requires_its_key(smol_server: EmbeddedLLMServer) -> None:
    import httpx

    url = f"{smol_server.base_url}/models"
    with httpx.Client(trust_env=False, timeout=10) as client:
        assert client.get(url).status_code == 401
        assert client.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = client.get(url, headers={"Authorization": f"Bearer {smol_server.api_key}"})
    assert ok.status_code == 200
    assert [m["id"] for m in ok.json()["data"]] == [smol_server.alias]


def test_prompt_over_the_context_window_is_a_context_length_error(smol_chat: ChatModel) -> None:
    from assistant.llm import ContextLengthError

    with pytest.raises(ContextLengthError, match=r"HTTP 400: .*maximum context length is 4096 tokens"):
        smol_chat.complete([{"role": "user", "content": "word " * 5000}], max_tokens=10)


def test_child_spins_briefly_unless_openmp_is_configured(llm_settings: Settings,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A short OpenMP spin: most of the free-core decode speed without stalling shared cores (see
    `_child_env`); an operator's own OpenMP setting wins."""
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    env = EmbeddedLLMServer(llm_settings, "smollm2-135m")._child_env()
    assert env["GOMP_SPINCOUNT"] == "1000" and "OMP_WAIT_POLICY" not in env
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    env = EmbeddedLLMServer(llm_settings, "smollm2-135m")._child_env()
    assert env["OMP_WAIT_POLICY"] == "PASSIVE" and "GOMP_SPINCOUNT" not in env
