"""The API's routes, one module per resource, each an `APIRouter` under `/api` that the app factory includes.
Every object belongs to its owner; anyone else gets 404, never 403 (no existence leak)."""

from __future__ import annotations

from fastapi import APIRouter

from assistant.api.routes import jobs, notes, recordings, records, templates

# In this order in the OpenAPI document.
routers: list[APIRouter] = [recordings.router, notes.router, jobs.router, records.router, templates.router]
