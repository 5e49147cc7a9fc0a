"""Child-process entry point: llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`,
same arguments), plus a watchdog that exits when the parent process is gone, and greedy grammar sampling
that checks the best tokens first (`assistant.llm.greedy_grammar`).

atexit cleanup in the parent does not run when the parent is killed (SIGKILL, OOM, a CI timeout); without
the watchdog a 2 GB model server would be left behind holding its port.
"""

from __future__ import annotations

import os
import threading
import time

PARENT_ENV = "ASSISTANT_LLM_PARENT_PID"


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:  # re-parented: our parent died
            os._exit(0)
        time.sleep(1.0)


def main() -> None:
    parent = int(os.environ.pop(PARENT_ENV, "0") or 0)
    if parent:
        threading.Thread(target=_watch_parent, args=(parent,), name="parent-watchdog", daemon=True).start()
    from llama_cpp.server.__main__ import main as serve

    from assistant.llm.greedy_grammar import install

    install()  # JSON-schema replies decode ~1.4x faster at temperature 0; same tokens (see the module)
    serve()


if __name__ == "__main__":
    main()
