"""Benchmarks: `python -m natjax.bench {assignment} [--json OUT]`.

Speed targets are checked here, never in tests: each benchmark measures its variants side by
side in one process, alternating them, and reports medians after compilation.
"""
