"""`EmbeddedLLMServer`: the packaged GGUF behind llama-cpp-python's OpenAI-compatible server, on loopback.

The app starts it as a subprocess on a free 127.0.0.1 port, health-checks it (GET /v1/models until a
deadline; if the process dies, the error carries its log tail) and stops it (terminate, then kill). Tests
and the CLI talk to it through the real OpenAI protocol, exactly like a remote endpoint.

Server options that matter (llama-cpp-python 0.3.36, `llama_cpp/server/settings.py`):
- one model, one context: requests are served one at a time by one `Llama` object, whose `generate()`
  keeps the KV cache of the previous prompt and only evaluates the tokens after the longest shared prefix
  ("prefix-match hit" in the log). Drafting relies on this (transcript first, question last), so nothing
  here resets the model between requests.
- `--cache false`: the optional RAM cache snapshots whole KV states per prompt; the in-context prefix reuse
  above needs no cache, and the snapshots would cost up to `cache_size` (2 GiB) of RAM.
- `--logits_all false`: the server defaults to true, which allocates n_ctx x n_vocab floats (4096 x 151,936
  x 4 B = 2.5 GB for Qwen) only to offer logprobs, which we never request.
- `--use_mlock false`: do not pin 1.1 GB of weights in RAM on a shared machine; mmap pages are enough.
- `--n_threads` and `--n_threads_batch` explicit: the server defaults to half the cores for decoding.
- `--interrupt_requests false`: a second request must wait, not cancel the one in progress.
- `GOMP_SPINCOUNT=1000` in the child's environment (unless OpenMP is configured): see `_child_env`.
"""

from __future__ import annotations

import atexit
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING

from pydantic import BaseModel

from assistant.config import Settings
from assistant.llm import LLMError
from assistant.llm._serve import PARENT_ENV

if TYPE_CHECKING:
    import httpx

HOST = "127.0.0.1"

# The name each packaged model is served (and recorded in provenance) under.
EMBEDDED_ALIASES: dict[str, str] = {
    "qwen-1.5b": "qwen2.5-coder-1.5b-instruct-q4_k_m",
    "smollm2-135m": "smollm2-135m-instruct-q4_1",
}

# llama-cpp-python's server settings are pydantic BaseSettings without a prefix, and its __main__ reads
# HOST/PORT/CONFIG_FILE directly: a stray `PORT=8000` or `SEED=1` in the environment would silently change
# the child. They are removed from the child's environment; everything that matters is passed explicitly.
_SERVER_ENV_NAMES = frozenset(
    "api_key cache cache_size cache_type chat_format chat_template_kwargs clip_model_path config_file "
    "disable_ping_events draft_model draft_model_num_pred_tokens embedding flash_attn hf_model_repo_id "
    "hf_pretrained_model_name_or_path hf_tokenizer_config_path host interrupt_requests kv_overrides "
    "last_n_tokens_size logits_all lora_base lora_path main_gpu model model_alias models mul_mat_q n_batch "
    "n_ctx n_gpu_layers n_threads n_threads_batch n_ubatch numa offload_kqv port root_path rope_freq_base "
    "rope_freq_scale rope_scaling_type rpc_servers seed split_mode ssl_certfile ssl_keyfile tensor_split "
    "type_k type_v use_mlock use_mmap verbose vocab_only yarn_attn_factor yarn_beta_fast yarn_beta_slow "
    "yarn_ext_factor yarn_orig_ctx".split()
)

_PERF_PROMPT = re.compile(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens")
_PERF_EVAL = re.compile(r"(?<!prompt )eval time =\s*([\d.]+) ms /\s*(\d+) runs")

_LIVE: set[EmbeddedLLMServer] = set()
_LIVE_LOCK = threading.Lock()


class ServerTimings(BaseModel):
    """llama.cpp's own timings of the latest request (from the server log)."""

    prompt_tokens: int  # tokens actually evaluated: after a prefix-cache hit, only the new suffix
    prompt_ms: float
    decode_tokens: int
    decode_ms: float

    @property
    def prefill_tps(self) -> float:
        return self.prompt_tokens / (self.prompt_ms / 1000) if self.prompt_ms else 0.0

    @property
    def decode_tps(self) -> float:
        return self.decode_tokens / (self.decode_ms / 1000) if self.decode_ms else 0.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


class EmbeddedLLMServer:
    """One llama-cpp-python server subprocess for one packaged model. Use as a context manager or call
    `start()`/`stop()`; servers still running at interpreter exit are stopped by an atexit hook."""

    def __init__(
        self, settings: Settings, model: str | None = None, *, startup_timeout_s: float = 180.0
    ) -> None:
        self.settings = settings
        self.model_id = model or settings.embedded_llm
        if self.model_id not in EMBEDDED_ALIASES:
            choices = ", ".join(sorted(EMBEDDED_ALIASES))
            raise LLMError(f"unknown embedded model {self.model_id!r}; choose one of {choices}")
        self.alias = EMBEDDED_ALIASES[self.model_id]
        self.threads = settings.cpu_threads(settings.llm_threads)
        self.startup_timeout_s = startup_timeout_s
        # The loopback port is reachable by every local user: require a per-run key (passed by environment,
        # not argv, so it does not show in `ps`).
        self.api_key = secrets.token_urlsafe(24)
        self.port: int | None = None
        self.model_file: Path | None = None
        self.log_path: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self.port is None:
            raise LLMError("embedded LLM server is not started")
        return f"http://{HOST}:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def command(self, model_file: Path, port: int) -> list[str]:
        s = self.settings
        return [
            sys.executable, "-m", "assistant.llm._serve",
            "--model", str(model_file),
            "--model_alias", self.alias,
            "--host", HOST,
            "--port", str(port),
            "--n_ctx", str(s.llm_context),
            "--n_threads", str(self.threads),
            "--n_threads_batch", str(self.threads),
            "--seed", str(s.llm_seed),
            "--cache", "false",
            "--logits_all", "false",
            "--use_mlock", "false",
            "--n_gpu_layers", "0",
            "--interrupt_requests", "false",
            "--verbose", "true",  # llama.cpp timings and prefix-cache hits go to the log
        ]  # fmt: skip

    def _child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k.lower() not in _SERVER_ENV_NAMES}
        env["API_KEY"] = self.api_key
        env[PARENT_ENV] = str(os.getpid())
        env["HF_HUB_OFFLINE"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        # llama.cpp is built with OpenMP, whose threads spin at every barrier before sleeping. Spinning long
        # (the default) stalls everything when the cores are shared (Whisper, the web app); never spinning
        # (OMP_WAIT_POLICY=PASSIVE) gives up much of the decode speed on free cores. A short spin keeps nearly
        # all the free-core speed and most of the busy-core one (measurements: README, "Speed").
        if "OMP_WAIT_POLICY" not in env:
            env.setdefault("GOMP_SPINCOUNT", "1000")
        return env

    def start(self) -> EmbeddedLLMServer:
        with self._lock:
            if self.running:
                return self
            from assistant.models import llm_model_file

            self.model_file = llm_model_file(self.settings, self.model_id)  # ModelError says what to install
            last_error: LLMError | None = None
            for _ in range(2):  # a second try only if another process took the free port first
                try:
                    self._launch(self.model_file)
                    return self
                except LLMError as exc:
                    last_error = exc
                    if "address already in use" not in str(exc).lower():
                        raise
            assert last_error is not None
            raise last_error

    def _launch(self, model_file: Path) -> None:
        self.port = free_port()
        fd, name = tempfile.mkstemp(prefix=f"assistant-llm-{self.model_id}-", suffix=".log")
        self.log_path = Path(name)
        # A file, not a pipe: nobody drains a pipe while the server runs, and a full pipe would block it.
        self._log = os.fdopen(fd, "wb")
        self._proc = subprocess.Popen(
            self.command(model_file, self.port),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self._child_env(),
        )
        with _LIVE_LOCK:
            _LIVE.add(self)
        try:
            self._wait_ready()
        except BaseException:
            self._terminate()
            raise

    def _wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + self.startup_timeout_s
        url = f"{self.base_url}/models"
        headers = {"Authorization": f"Bearer {self.api_key}"}
        # trust_env=False: a proxy from HTTP(S)_PROXY must never see loopback traffic.
        with httpx.Client(trust_env=False, timeout=5.0) as client:
            while True:
                assert self._proc is not None
                code = self._proc.poll()
                if code is not None:
                    raise LLMError(
                        f"embedded LLM server ({self.model_id}) exited with code {code} during start-up; "
                        f"log tail:\n{self.log_tail()}"
                    )
                try:
                    response = client.get(url, headers=headers)
                    if response.status_code == 200 and any(
                        m.get("id") == self.alias for m in response.json().get("data", [])
                    ):
                        break
                except (httpx.HTTPError, ValueError):
                    pass  # not listening yet
                if time.monotonic() > deadline:
                    raise LLMError(
                        f"embedded LLM server ({self.model_id}) not ready after "
                        f"{self.startup_timeout_s:.0f} s; log tail:\n{self.log_tail()}"
                    )
                time.sleep(0.25)
            self._warm_up(client, headers, deadline)

    def _warm_up(self, client: httpx.Client, headers: dict[str, str], deadline: float) -> None:
        """Decode one token. Listening is not enough: a llama.cpp built for CPU features this machine cannot
        run (AMX inside a VM) loads and listens, then dies on its first decode. Better here than mid-job."""
        import httpx

        body = {"model": self.alias, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1,
                "temperature": 0.0}  # fmt: skip
        try:
            response = client.post(
                f"{self.base_url}/chat/completions",
                json=body,
                headers=headers,
                timeout=max(30.0, deadline - time.monotonic()),
            )
        except httpx.HTTPError as exc:
            raise LLMError(f"embedded LLM server failed its first decode ({exc}); {self._why()}") from exc
        if response.status_code != 200:
            raise LLMError(
                f"embedded LLM server failed its first decode: HTTP {response.status_code} "
                f"{response.text[:300]}; {self._why()}"
            )

    def _why(self) -> str:
        return self.diagnose() or f"log tail:\n{self.log_tail()}"

    def stop(self, timeout_s: float = 10.0) -> None:
        with self._lock:
            self._terminate(timeout_s)

    def _terminate(self, timeout_s: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout_s)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def __enter__(self) -> EmbeddedLLMServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def diagnose(self) -> str:
        """Why requests fail, if the process is the reason: appended to connection errors by the client."""
        code = self._proc.poll() if self._proc is not None else None
        if self._proc is None:
            return "the embedded LLM server is stopped"
        if code is None:
            return ""
        why = f"the embedded LLM server ({self.model_id}) exited with code {code}"
        if code == -signal.SIGILL:
            why += (
                " (illegal instruction: llama.cpp was compiled for CPU features this machine cannot run, "
                "e.g. AMX inside a VM; rebuild llama-cpp-python as the Makefile does)"
            )
        return f"{why}; log tail:\n{self.log_tail()}"

    # -- log ----------------------------------------------------------------------------------------
    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size if self.log_path else 0
        except OSError:
            return 0

    def log_text(self, since: int = 0) -> str:
        if self.log_path is None:
            return ""
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(since)
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, chars: int = 2000) -> str:
        return self.log_text(max(0, self.log_size() - chars)).strip() or "(empty log)"

    def last_timings(self, since: int = 0) -> ServerTimings | None:
        """llama.cpp's timings of the latest request logged after byte offset `since`."""
        text = self.log_text(since)
        prompts, evals = _PERF_PROMPT.findall(text), _PERF_EVAL.findall(text)
        if not prompts or not evals:
            return None
        (p_ms, p_tok), (e_ms, e_tok) = prompts[-1], evals[-1]
        return ServerTimings(
            prompt_tokens=int(p_tok), prompt_ms=float(p_ms), decode_tokens=int(e_tok), decode_ms=float(e_ms)
        )


def stop_all() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for server in live:
        server.stop()


atexit.register(stop_all)
