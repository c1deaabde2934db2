"""Checkout entry of the benchmarks: ``python -m benchmarks [--quick | --smoke] [--out DIR]``.

The suite itself is :mod:`kernelcollapse.bench` (``kernelcollapse bench``, the same options);
``results/`` holds the committed results of the last full run.
"""
