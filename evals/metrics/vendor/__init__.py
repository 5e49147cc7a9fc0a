"""Third-party code kept as published (each file names its source and licence)."""
