"""Versioned prompt files, one per task and version (`section_v2.md`).

The folder stays at the repository's top level; `assistant/prompts` links to it, so the package, the wheel built
from it and a source checkout all read it as `assistant.prompts` (`importlib.resources`).
"""
