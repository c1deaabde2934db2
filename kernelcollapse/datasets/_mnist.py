"""Real data sets: the MNIST loader (checksummed IDX files) and a seeded pool/held-out split.

A data directory (``data_dir=``, the command line's ``--data-dir``, the environment variable
``KERNELCOLLAPSE_DATA``) is the folder holding ``mnist/`` (and ``wikitext2/``), like the project's
``shared/data/``; a folder holding the MNIST files directly is accepted too (what
``KERNELCOLLAPSE_DATA`` used to mean), ``<dir>/mnist/`` being looked in first.  Where the files
are looked for, in order:

1. ``data_dir`` when given (only there);
2. otherwise ``$KERNELCOLLAPSE_DATA`` (when set), then the cache directory
   ``$XDG_CACHE_HOME/kernelcollapse/mnist`` (``~/.cache/kernelcollapse/mnist`` when
   ``XDG_CACHE_HOME`` is unset).

When the files are in none of them and ``download=True``, they are downloaded from the public
mirrors in :data:`MIRRORS` into ``data_dir`` itself (when given) or the cache directory.  Every
file is checked against its SHA-256 sum in :data:`SHA256` before it is parsed, whether it was found
or downloaded; a mismatch raises :class:`ChecksumError`.  Without the files and without a network
the loader raises :class:`FileNotFoundError` naming the folders it looked in, the expected files,
``--data-dir``, ``data_dir=`` and ``KERNELCOLLAPSE_DATA``.

The figure scripts, the zoo's VAE and the docs also use the project's copy in ``shared/data/``
beside a source checkout when nothing is configured; an installed package has no such copy.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from kernelcollapse._util import datapath as _datapath
from kernelcollapse._util import keys as _keys
from kernelcollapse._util import validate as v
from kernelcollapse._util.keys import Key

__all__ = [
    "ENV_VAR",
    "FILES",
    "MIRRORS",
    "SHA256",
    "ChecksumError",
    "MNIST",
    "Split",
    "cache_dir",
    "mnist",
    "split_pool",
]

ENV_VAR = _datapath.ENV_VAR

#: File names of each split (images, labels): the canonical gzipped IDX distribution.
FILES = {
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
}

#: SHA-256 of the canonical files.  The test-split sums are those recorded with the project's
#: shared copy (``shared/data/mnist/README.md``, verified against the files); the train-split sums
#: are the published ones used by TensorFlow Datasets, torchvision-era loaders and others.
SHA256 = {
    "t10k-images-idx3-ubyte.gz": (
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
    ),
    "train-images-idx3-ubyte.gz": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
    ),
    "train-labels-idx1-ubyte.gz": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
    ),
}

#: Public mirrors of the original (no longer served) yann.lecun.com files, tried in order.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

_IMAGES_MAGIC = 2051
_LABELS_MAGIC = 2049
_TIMEOUT_S = 30.0


class ChecksumError(ValueError):
    """A data file's SHA-256 differs from the published one (corrupted or wrong file)."""


class MNIST(NamedTuple):
    """MNIST images and labels.

    Attributes
    ----------
    images : ndarray, shape (N, 784), float64
        Pixel intensities scaled to ``[0, 1]`` (raw byte / 255), rows are the 28x28 images
        flattened in row-major order.
    labels : ndarray, shape (N,), int64
        Digit classes ``0..9``.
    """

    images: np.ndarray
    labels: np.ndarray


class Split(NamedTuple):
    """A training pool and a disjoint held-out set (arrays indexed along the first axis)."""

    x_pool: np.ndarray
    y_pool: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


# The project's shared copy beside a source checkout (only used from a checkout: see _datapath).
_SHARED_DIR = _datapath.SHARED_ROOT / "mnist"


def _complete(directory: Path, split: str) -> bool:
    """Whether ``directory`` holds both files of ``split``."""
    return all((directory / name).is_file() for name in FILES[split])


def _shared_copy(split: str = "test") -> Path | None:
    """The shared copy beside the source checkout when it holds the files of ``split``, else
    ``None``; for the figure scripts and the docs, which use it when nothing is configured
    (the loader itself searches only the places listed in the module docstring).  From an
    installed package ``None``: the same relative path would point inside the environment."""
    return _SHARED_DIR if _datapath.in_checkout() and _complete(_SHARED_DIR, split) else None


def mnist_dir(data_dir: str | os.PathLike | None = None,
              split: str = "test") -> str | os.PathLike | None:
    """Where the figures, the benchmarks and the zoo load MNIST from: ``data_dir`` when given;
    with neither it nor ``$KERNELCOLLAPSE_DATA``, the shared copy beside a source checkout when
    it holds the files of ``split``; else ``None`` (:func:`mnist`'s own search).  Pass the
    result to :func:`mnist` as its ``data_dir``."""
    if data_dir is None and not os.environ.get(ENV_VAR):
        return _shared_copy(split)
    return data_dir


def cache_dir() -> Path:
    """The download cache: ``$XDG_CACHE_HOME/kernelcollapse/mnist`` or ``~/.cache/...``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kernelcollapse" / "mnist"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path) -> None:
    expected = SHA256[path.name]
    actual = _sha256(path)
    if actual != expected:
        raise ChecksumError(
            f"checksum mismatch for {path}: sha256 {actual}, expected {expected}; the file is "
            "corrupted or not the canonical MNIST file: delete it and load again"
        )


def _download(url: str, dest: Path) -> None:
    """Fetch ``url`` into ``dest`` atomically (temporary file, then rename)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=_TIMEOUT_S) as resp:
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                out.write(chunk)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _fetch(name: str, target: Path) -> list[str]:
    """Try each mirror for ``name``; return the failures (empty list on success)."""
    failures = []
    for mirror in MIRRORS:
        dest = target / name
        try:
            _download(mirror + name, dest)
            _verify(dest)
            return []
        except ChecksumError as exc:
            dest.unlink(missing_ok=True)
            failures.append(f"{mirror}{name}: {exc}")
        except OSError as exc:  # URLError, timeouts and refused connections are OSErrors
            failures.append(f"{mirror}{name}: {exc}")
    return failures


def _read_idx(path: Path, magic: int) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    ndim = 3 if magic == _IMAGES_MAGIC else 1
    header = 4 * (1 + ndim)
    if len(raw) < header or int.from_bytes(raw[:4], "big") != magic:
        raise ValueError(f"{path} is not an IDX file with magic number {magic}")
    dims = [int.from_bytes(raw[4 * (i + 1): 4 * (i + 2)], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says shape {dims} but holds {data.size} bytes")
    return data.reshape(dims)


def _missing_error(split: str, searched: list[Path], failures: list[str]) -> FileNotFoundError:
    names = ", ".join(FILES[split])
    where = ", ".join(str(p) for p in searched)
    reason = ("; download failed: " + " | ".join(failures)) if failures else ""
    return FileNotFoundError(
        f"MNIST {split} files not found ({names}); looked in {where}{reason}. Download them "
        f"from {MIRRORS[0]} (or {MIRRORS[1]}) into DIR/mnist/. {_datapath.how_to_set('mnist')}"
    )


def mnist(
    data_dir: str | os.PathLike | None = None, *, split: str = "test", download: bool = True
) -> MNIST:
    """Load an MNIST split from the gzipped IDX files, verifying their SHA-256 sums.

    Parameters
    ----------
    data_dir : path, optional
        Data directory: the folder holding ``mnist/``, or the folder holding the files (see the
        module docstring for the search order otherwise).
    split : {"test", "train"}
        ``"test"``: the 10,000-image test set (``t10k-*``); ``"train"``: the 60,000-image set.
    download : bool
        Download missing files from :data:`MIRRORS` (into ``data_dir`` if given, else the cache).

    Returns
    -------
    MNIST
        ``images`` of shape (N, 784), float64 in [0, 1]; ``labels`` of shape (N,), int64.

    Raises
    ------
    FileNotFoundError
        The files are nowhere to be found and could not be downloaded; the message names the
        folders looked in, the expected file names, ``--data-dir``, ``data_dir=`` and
        ``KERNELCOLLAPSE_DATA``.
    ChecksumError
        A file's SHA-256 differs from the canonical one (a ``ValueError``).

    References
    ----------
    Y. LeCun, C. Cortes, C. J. C. Burges, "The MNIST database of handwritten digits" (IDX format).
    """
    if split not in FILES:
        raise ValueError(f"split must be one of {tuple(FILES)}, got {split!r}")
    if data_dir is not None:
        searched = _datapath.layouts(data_dir, "mnist")
    else:
        env = _datapath.environment()
        searched = (_datapath.layouts(env, "mnist") if env is not None else []) + [cache_dir()]
    names = FILES[split]
    found = next((d for d in searched if _complete(d, split)), None)
    if found is None:
        if not download:
            raise _missing_error(split, searched, [])
        target = Path(data_dir) if data_dir is not None else cache_dir()
        failures = []
        for name in names:
            if not (target / name).is_file():
                failures += _fetch(name, target)
                if not (target / name).is_file():
                    raise _missing_error(split, searched, failures)
        found = target
    images_path, labels_path = (found / n for n in names)
    _verify(images_path)
    _verify(labels_path)
    images = _read_idx(images_path, _IMAGES_MAGIC)
    labels = _read_idx(labels_path, _LABELS_MAGIC)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{found}: {images.shape[0]} images but {labels.shape[0]} labels")
    pixels = images.reshape(images.shape[0], -1).astype(np.float64) / 255.0
    return MNIST(images=pixels, labels=labels.astype(np.int64))


def split_pool(x: ArrayLike, labels: ArrayLike, *, n_pool: int, n_test: int,
               key: Key = 0) -> Split:
    """Split a data set at random into a training pool and a disjoint held-out set.

    Parameters
    ----------
    x : array_like, shape (N, ...)
        Inputs.
    labels : array_like, shape (N, ...)
        Targets, same first dimension as ``x``.
    n_pool, n_test : int
        Sizes of the pool and of the held-out set, ``n_pool + n_test <= N``.
    key : int or jax PRNG key
        Key of the permutation (an int in ``[0, 2**63)`` or a JAX key), drawn with
        ``kernelcollapse._util.keys.numpy_generator(key)``; the same key gives the same split.

    Returns
    -------
    Split
        ``x_pool`` (n_pool, ...), ``y_pool`` (n_pool, ...), ``x_test`` (n_test, ...),
        ``y_test`` (n_test, ...).
    """
    x = np.asarray(x)
    labels = np.asarray(labels)
    if x.ndim < 1 or labels.ndim < 1 or x.shape[0] != labels.shape[0]:
        raise ValueError(
            f"x and labels must share their first dimension, got shapes {x.shape}, {labels.shape}"
        )
    total = x.shape[0]
    n_pool = v.integer("n_pool", n_pool, minimum=1)
    n_test = v.integer("n_test", n_test, minimum=1)
    rng = _keys.numpy_generator(key)
    if n_pool + n_test > total:
        raise ValueError(
            f"n_pool + n_test must be at most the {total} available samples, "
            f"got n_pool={n_pool}, n_test={n_test}"
        )
    order = rng.permutation(total)
    pool, test = order[:n_pool], order[n_pool: n_pool + n_test]
    return Split(x[pool], labels[pool], x[test], labels[test])
