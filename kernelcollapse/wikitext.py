"""The WikiText-2 sample: a checksummed loader, a split by article and a word-level vocabulary.

The project ships a 512k-token sample of the training split of WikiText-2 (tokenised v1
release: words separated by spaces, rare words already ``<unk>``), one file,
``wikitext2_train_sample.txt``, in ``shared/data/wikitext2/`` beside the checkout.  Where the
file is looked for:

1. ``data_dir`` when given (only there);
2. otherwise the directory in the environment variable ``KERNELCOLLAPSE_WIKITEXT2`` when set;
3. otherwise the project's shared copy, ``../shared/data/wikitext2/`` beside the checkout.

The file is checked against its SHA-256 sum (:data:`SHA256`) before it is read; nothing is
downloaded.  Tokenisation is the corpus's own: whitespace-separated words, plus an ``<eos>``
token at the end of every non-empty line (the usual word-level WikiText language-model setup).

References
----------
S. Merity, C. Xiong, J. Bradbury and R. Socher, "Pointer sentinel mixture models",
arXiv:1609.07843 (2016); WikiText-2, CC BY-SA 3.0.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from kernelcollapse import _validate
from kernelcollapse.datasets import ChecksumError, _sha256

__all__ = ["ENV_VAR", "FILE", "SHA256", "WikiText", "Vocabulary", "wikitext2", "split_articles",
           "tokenize"]

ENV_VAR = "KERNELCOLLAPSE_WIKITEXT2"
FILE = "wikitext2_train_sample.txt"
SHA256 = {FILE: "aca519146ad90d84b7ec5731a0a3b2d15629b4aab61184c3ed18e660b2257fee"}
EOS, UNK = "<eos>", "<unk>"
EOS_ID, UNK_ID = 0, 1  # their ids in every Vocabulary

_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "wikitext2"


class WikiText(NamedTuple):
    """Articles of the sample, in file order.

    Attributes
    ----------
    titles : list of str
        The article titles (from the `` = Title = `` lines).
    articles : list of list of str
        The lines of each article, heading lines included, blank lines dropped.
    """

    titles: list
    articles: list


def default_dir() -> Path:
    """``$KERNELCOLLAPSE_WIKITEXT2`` when set, else the project's shared copy."""
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else _SHARED


def wikitext2(data_dir: str | os.PathLike | None = None) -> WikiText:
    """Read the WikiText-2 sample, verifying its SHA-256 sum.

    Parameters
    ----------
    data_dir : path, optional
        Directory holding ``wikitext2_train_sample.txt`` (default: :func:`default_dir`).

    Returns
    -------
    WikiText

    Raises
    ------
    FileNotFoundError
        The file is not in the directory; the message names the directory, the file, its
        checksum and ``KERNELCOLLAPSE_WIKITEXT2``.
    ChecksumError
        The file's SHA-256 differs (a ``ValueError``).
    """
    directory = Path(data_dir) if data_dir is not None else default_dir()
    path = directory / FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"WikiText-2 sample not found: data directory {directory} has no {FILE} (sha256 "
            f"{SHA256[FILE]}). Put the file there, pass data_dir=..., or set {ENV_VAR} to the "
            "directory holding it (the project's copy is shared/data/wikitext2/ beside the "
            "checkout)")
    actual = _sha256(path)
    if actual != SHA256[FILE]:
        raise ChecksumError(f"checksum mismatch for {path}: sha256 {actual}, expected "
                            f"{SHA256[FILE]}; the file is corrupted or not the project's sample")
    titles, articles = [], []
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            line = raw.strip()
            if not line:
                continue
            if _is_title(line):
                titles.append(line.strip("= ").strip())
                articles.append([])
            elif not articles:  # text before the first title: an untitled article
                titles.append("")
                articles.append([])
            articles[-1].append(line)
    return WikiText(titles=titles, articles=articles)


def _is_title(line: str) -> bool:
    # " = Title = " opens an article; " = = Section = = " does not.
    return line.startswith("= ") and line.endswith(" =") and not line.startswith("= =")


def tokenize(lines: Iterable[str]) -> list[str]:
    """Whitespace-separated words of ``lines`` with ``<eos>`` after each non-empty line."""
    out: list[str] = []
    for line in lines:
        words = line.split()
        if words:
            out.extend(words)
            out.append(EOS)
    return out


def split_articles(corpus: WikiText, fractions: Sequence[float]) -> list[list[str]]:
    """Split the articles, in file order, into consecutive parts holding about ``fractions``
    of the tokens (an article goes to the part in which its middle token falls); returns
    the tokens of each part.

    Raises
    ------
    ValueError
        ``fractions`` are not positive numbers summing to 1, or a part gets no article.
    """
    f = np.asarray([_validate.scalar("fractions", x, check=_validate.probability)
                    for x in fractions])
    if f.size == 0 or np.any(f <= 0) or abs(f.sum() - 1.0) > 1e-9:
        raise ValueError(f"fractions must be positive and sum to 1, got {list(fractions)}")
    tokens = [tokenize(a) for a in corpus.articles]
    sizes = np.array([len(t) for t in tokens], dtype=np.float64)
    mid = (np.cumsum(sizes) - sizes / 2) / sizes.sum()
    part = np.searchsorted(np.cumsum(f)[:-1], mid, side="right")
    parts: list[list[str]] = [[] for _ in f]
    for toks, p in zip(tokens, part):
        parts[p].extend(toks)
    if any(not p for p in parts):
        raise ValueError(f"fractions {list(fractions)} leave a part without articles "
                         f"({len(tokens)} articles)")
    return parts


class Vocabulary:
    """Word-level vocabulary: ``<eos>`` (id 0), ``<unk>`` (id 1), then the most frequent
    words of the text it was built from (ties by first appearance), ``size`` in all; other
    words map to ``<unk>``."""

    def __init__(self, words: Sequence[str]):
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        if self.words[:2] != [EOS, UNK] or len(self.index) != len(self.words):
            raise ValueError("a vocabulary starts with <eos>, <unk> and has no duplicates")

    @classmethod
    def build(cls, tokens: Iterable[str], size: int) -> Vocabulary:
        size = _validate.integer("vocab_size", size, minimum=3)
        counts = Counter(t for t in tokens if t not in (EOS, UNK))
        return cls([EOS, UNK] + [w for w, _ in counts.most_common(size - 2)])

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        unk = self.index[UNK]
        return np.fromiter((self.index.get(t, unk) for t in tokens), dtype=np.int32)

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.words[int(i)] for i in ids).replace(f" {EOS} ", "\n")
