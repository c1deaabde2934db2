"""The WikiText-2 sample: a checksummed loader, a split by article and a word-level vocabulary.

The project ships a 512k-token sample of the training split of WikiText-2 (tokenised v1
release: words separated by spaces, rare words already ``<unk>``), one file,
``wikitext2_train_sample.txt``, in ``shared/data/wikitext2/`` beside the checkout.  A data
directory means what it means for MNIST (:mod:`kernelcollapse.datasets`): the folder holding
``wikitext2/`` (and ``mnist/``), or the folder holding the file itself, ``<dir>/wikitext2/``
being looked in first.  Where the file is looked for:

1. ``data_dir`` (``--data-dir`` on the command line) when given (only there);
2. otherwise the folder in the environment variable ``KERNELCOLLAPSE_WIKITEXT2`` when set: the
   folder holding the file itself, an override of the next one for this data set only;
3. otherwise the data directory ``$KERNELCOLLAPSE_DATA`` when set;
4. otherwise the project's shared copy, ``../shared/data/wikitext2/`` beside a source checkout
   (an installed package has none: set one of the above).

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

from kernelcollapse._util import datapath as _datapath
from kernelcollapse._util import validate as _validate
from kernelcollapse.datasets._mnist import ChecksumError, _sha256

__all__ = ["DATA_ENV_VAR", "ENV_VAR", "EOS", "FILE", "SHA256", "UNK", "UNK_ID", "WikiText",
           "Vocabulary", "wikitext2", "split_articles", "tokenize"]

ENV_VAR = "KERNELCOLLAPSE_WIKITEXT2"  # the folder holding the file; overrides DATA_ENV_VAR
DATA_ENV_VAR = _datapath.ENV_VAR
FILE = "wikitext2_train_sample.txt"
SHA256 = {FILE: "aca519146ad90d84b7ec5731a0a3b2d15629b4aab61184c3ed18e660b2257fee"}
EOS, UNK = "<eos>", "<unk>"
EOS_ID, UNK_ID = 0, 1  # their ids in every Vocabulary

_SHARED = _datapath.SHARED_ROOT / "wikitext2"


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


def _holds(directory: Path) -> bool:
    return (directory / FILE).is_file()


def _candidates() -> tuple[list[Path], list[str]]:
    """The folders looked in without ``data_dir``, in order, and what each came from."""
    override = os.environ.get(ENV_VAR)
    if override:
        return [Path(override)], [ENV_VAR]
    env = _datapath.environment()
    if env is not None:
        return _datapath.layouts(env, "wikitext2"), [DATA_ENV_VAR] * 2
    if _datapath.in_checkout():
        return [_SHARED], ["the project's copy beside the checkout"]
    return [], []


def default_dir() -> Path | None:
    """Where the file is read from without ``data_dir``: ``$KERNELCOLLAPSE_WIKITEXT2``, else
    ``$KERNELCOLLAPSE_DATA`` (``wikitext2/`` in it, or itself when it holds the file), else the
    project's shared copy beside a source checkout; ``None`` from an installed package with
    neither variable set."""
    folders, _ = _candidates()
    return next((d for d in folders if _holds(d)), folders[0] if folders else None)


def _not_found(folders: list[Path], origin: str) -> FileNotFoundError:
    where = ("looked in " + ", ".join(str(d) for d in folders) + f" ({origin})" if folders else
             f"no folder to look in: neither {ENV_VAR} nor {DATA_ENV_VAR} is set and this "
             "installed package has no project copy beside it")
    return FileNotFoundError(
        f"WikiText-2 sample {FILE} (sha256 {SHA256[FILE]}) not found; {where}. "
        f"{_datapath.how_to_set('wikitext2')}; {ENV_VAR}=DIR names the folder holding the file "
        "itself and overrides the data directory (the project's copy is shared/data/wikitext2/ "
        "beside the checkout)")


def wikitext2(data_dir: str | os.PathLike | None = None) -> WikiText:
    """Read the WikiText-2 sample, verifying its SHA-256 sum.

    Parameters
    ----------
    data_dir : path, optional
        Data directory: the folder holding ``wikitext2/``, or the folder holding
        ``wikitext2_train_sample.txt`` (default: :func:`default_dir`).

    Returns
    -------
    WikiText

    Raises
    ------
    FileNotFoundError
        The file is not found; the message names the folders looked in, the file, its checksum,
        ``--data-dir``, ``data_dir=``, ``KERNELCOLLAPSE_DATA`` and ``KERNELCOLLAPSE_WIKITEXT2``.
    ChecksumError
        The file's SHA-256 differs (a ``ValueError``).
    """
    if data_dir is not None:
        folders, origin = _datapath.layouts(data_dir, "wikitext2"), "data_dir"
    else:
        folders, origins = _candidates()
        origin = origins[0] if origins else ""
    directory = next((d for d in folders if _holds(d)), None)
    if directory is None:
        raise _not_found(folders, origin)
    path = directory / FILE
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
