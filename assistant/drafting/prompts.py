"""Versioned prompt files (`prompts/<id>_v<N>.md`): a front-matter block, then `## system` and `## task`.

The file name is the version recorded in `record.provenance.prompt_versions`, so a changed prompt is a new
file and old records still say which words produced them.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from pydantic import BaseModel

# The repository's top-level prompts/ folder, packaged (see prompts/__init__.py).
PROMPTS_PACKAGE = "assistant.prompts"

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_PART = re.compile(r"^## (system|task)\s*$", re.M)


class PromptError(ValueError):
    pass


class Prompt(BaseModel):
    id: str
    version: str
    system: str
    task: str

    def render(self, part: str, **values: object) -> str:
        """Fill `{name}` placeholders; `{{`/`}}` are literal braces. Values are inserted verbatim, so
        transcript text with braces is safe."""
        text = self.system if part == "system" else self.task
        text = text.replace("{{", "\x00").replace("}}", "\x01")

        def sub(m: re.Match[str]) -> str:
            key = m.group(1)
            if key not in values:
                raise PromptError(f"prompt {self.version}: no value for {{{key}}}")
            return str(values[key])

        return _PLACEHOLDER.sub(sub, text).replace("\x00", "{").replace("\x01", "}").strip()


def _parse(name: str, raw: str) -> Prompt:
    stem = name.removesuffix(".md")
    meta: dict[str, str] = {}
    if raw.startswith("---"):
        end = raw.index("\n---", 3)
        for line in raw[3:end].splitlines():
            if ":" in line and not line.startswith(" "):
                key, value = line.split(":", 1)
                meta[key.strip()] = value.strip()
        raw = raw[end + 4:]
    parts = _PART.split(raw)
    sections = {parts[i]: parts[i + 1].strip("\n") for i in range(1, len(parts) - 1, 2)}
    if "system" not in sections or "task" not in sections:
        raise PromptError(f"{name}: needs '## system' and '## task' parts")
    return Prompt(id=meta.get("id", stem.rsplit("_v", 1)[0]), version=meta.get("version", stem),
                  system=sections["system"], task=sections["task"])


@cache
def load_prompt(prompt_id: str, version: str | None = None) -> Prompt:
    """The named version of a prompt, or its newest, from the installed package's prompt files."""
    folder = resources.files(PROMPTS_PACKAGE)
    if version:
        entry = folder / f"{version}.md"
        if not entry.is_file():
            raise PromptError(f"prompt file {version}.md not found in {PROMPTS_PACKAGE}")
    else:
        numbered = {int(m.group(1)): e for e in folder.iterdir()
                    if (m := re.fullmatch(rf"{re.escape(prompt_id)}_v(\d+)\.md", e.name))}
        if not numbered:
            raise PromptError(f"no prompt file {prompt_id}_v*.md in {PROMPTS_PACKAGE}")
        entry = numbered[max(numbered)]
    return _parse(entry.name, entry.read_text(encoding="utf-8"))
