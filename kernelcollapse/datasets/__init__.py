"""Real data sets with checksums: MNIST (:func:`mnist`, downloaded when missing) with a seeded
pool/held-out split (:func:`split_pool`), and the WikiText-2 sample (:func:`wikitext2`) with its
split by article and a word-level vocabulary.

A data directory (``data_dir=``, the command line's ``--data-dir``, ``KERNELCOLLAPSE_DATA``) is
the folder holding ``mnist/`` and ``wikitext2/``.
"""

from __future__ import annotations

from kernelcollapse.datasets._mnist import (
    ENV_VAR,
    FILES,
    MIRRORS,
    MNIST,
    SHA256,
    ChecksumError,
    Split,
    cache_dir,
    mnist,
    mnist_dir,
    split_pool,
)
from kernelcollapse.datasets._wikitext import ENV_VAR as WIKITEXT2_ENV_VAR
from kernelcollapse.datasets._wikitext import (
    EOS,
    UNK,
    UNK_ID,
    Vocabulary,
    WikiText,
    split_articles,
    tokenize,
    wikitext2,
)
from kernelcollapse.datasets._wikitext import FILE as WIKITEXT2_FILE
from kernelcollapse.datasets._wikitext import SHA256 as WIKITEXT2_SHA256

__all__ = ["ENV_VAR", "EOS", "FILES", "MIRRORS", "MNIST", "SHA256", "UNK", "UNK_ID",
           "WIKITEXT2_ENV_VAR", "WIKITEXT2_FILE", "WIKITEXT2_SHA256", "ChecksumError", "Split",
           "Vocabulary", "WikiText", "cache_dir", "mnist", "mnist_dir", "split_articles",
           "split_pool", "tokenize", "wikitext2"]
