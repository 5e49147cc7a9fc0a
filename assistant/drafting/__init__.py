"""Drafting: transcript -> evidence-linked case record. Entry point: `assistant.drafting.pipeline.draft`."""
