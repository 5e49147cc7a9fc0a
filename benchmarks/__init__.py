"""Speed benchmarks (`make bench`); each writes its own section of bench/results.json."""
