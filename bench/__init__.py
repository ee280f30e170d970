"""Benchmarks: each ``bench/<name>.py`` is a script that measures one thing against a baseline measured in
the same run and can write its figures into docs/PERFORMANCE.md; ``bench/harness/`` is what they share."""
