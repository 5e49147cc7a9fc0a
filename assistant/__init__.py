"""Frontline Assistant: local-first transcription and evidence-linked case records."""

__version__ = "0.1.0"
