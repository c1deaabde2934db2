"""Benchmarks of the library (time per step, per generation, ...), importable from the package."""
