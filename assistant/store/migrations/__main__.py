"""`python -m assistant.store.migrations revision -m MESSAGE` (see the package docstring)."""

import sys

from assistant.store.migrations import _revision_cli

_revision_cli(sys.argv[1:])
