"""Random keys, the library's one randomness convention: ``key=`` an int or a JAX key.

Every function of the library that draws random numbers takes ``key=``: an integer in
``[0, 2**63)`` (read as ``jax.random.PRNGKey(key)``), or a JAX PRNG key, typed
(``jax.random.key``) or raw (``uint32[2]``, ``jax.random.PRNGKey``).  :func:`key_data` turns
it into the two 32-bit words of a threefry key, and :func:`seed_keys` into one key per seed,
``jax.random.split(key, seeds)`` computed in numpy, so that seed ``i`` draws the same numbers
whatever the number of seeds or the chunking.

Code that draws with numpy takes the same keys: :func:`numpy_generator` gives the numpy
``Generator`` of a key (and of a stream within it, e.g. a generation).

Nothing here imports jax unless a JAX key is passed (an integer key needs none).
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Union

import numpy as np

if TYPE_CHECKING:
    import jax

__all__ = ["Key", "key_data", "numpy_generator", "seed_keys", "threefry2x32_numpy"]

#: What ``key=`` accepts: an int in ``[0, 2**63)`` or a JAX PRNG key (typed, or raw uint32[2]).
Key = Union[int, np.ndarray, "jax.Array"]

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_KEY_PARITY = 0x1BD11BDA


def threefry_rounds(k0, k1, x0, x1, u32):
    """Threefry-2x32, 20 rounds (Salmon et al. 2011, as ``jax.random``), on uint32 arrays of
    numpy or jax (``u32`` is that module's uint32): the output words ``(y0, y1)``."""
    ks = (k0, k1, k0 ^ k1 ^ u32(_KEY_PARITY))
    x0, x1 = x0 + ks[0], x1 + ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 = x0 + x1
            x1 = (x1 << u32(r)) | (x1 >> u32(32 - r))
            x1 = x1 ^ x0
        x0 = x0 + ks[(i + 1) % 3]
        x1 = x1 + ks[(i + 2) % 3] + u32(i + 1)
    return x0, x1


def threefry2x32_numpy(key, x0, x1):
    """Threefry-2x32 of the counter pairs ``(x0, x1)`` under ``key`` in numpy: the function
    ``jax.extend.random.threefry_2x32`` computes, here so that the per-seed keys need no
    compiled jax program (each costs ~0.3 s of compile time on CPU).  Returns the two output
    words, uint32 arrays of ``x0``'s shape."""
    k0, k1 = (np.uint32(k) for k in np.asarray(key, np.uint32))
    with np.errstate(over="ignore"):  # uint32 arithmetic wraps by design
        return threefry_rounds(k0, k1, np.asarray(x0, np.uint32), np.asarray(x1, np.uint32),
                               np.uint32)


def master_key(seed: int) -> np.ndarray:
    """``jax.random.PRNGKey(seed)`` for an integer ``0 <= seed < 2**63``, in numpy."""
    return np.array([seed >> 32, seed & 0xFFFFFFFF], np.uint32)


def key_data(key: Key, *, name: str = "key") -> np.ndarray:
    """The two uint32 words of ``key`` (an int in ``[0, 2**63)`` or a JAX key), shape ``(2,)``.

    Raises
    ------
    TypeError, ValueError
        ``key`` is neither, naming ``name`` and what is accepted.
    """
    if isinstance(key, (numbers.Integral, np.integer)) and not isinstance(key, (bool,
                                                                                np.bool_)):
        if not 0 <= int(key) < 2**63:
            raise ValueError(f"{name} must be an integer in [0, 2**63) or a JAX PRNG key, "
                             f"got {int(key)}")
        return master_key(int(key))
    arr = key
    if hasattr(key, "dtype") and "key<" in str(key.dtype):  # a typed key: jax is imported
        import jax

        arr = jax.random.key_data(key)
    try:
        arr = np.asarray(arr)
    except Exception:  # noqa: BLE001 - anything that is no array is the same user error
        arr = None
    if arr is None or arr.shape != (2,) or arr.dtype != np.uint32:
        raise TypeError(f"{name} must be an integer in [0, 2**63) or a JAX PRNG key "
                        f"(jax.random.key(i) or jax.random.PRNGKey(i)), got {key!r}")
    return arr.astype(np.uint32)


def seed_keys(key: Key, seeds: int) -> np.ndarray:
    """Keys of ``seeds`` seeds, shape ``(seeds, 2)`` uint32: seed ``i`` has
    ``threefry2x32(key, (0, i))``, which is ``jax.random.split(key, seeds)[i]`` (jax's default,
    partitionable Threefry).  ``key`` is anything :func:`key_data` accepts."""
    hi, lo = threefry2x32_numpy(key_data(key), np.zeros(seeds, np.uint32),
                                np.arange(seeds, dtype=np.uint32))
    return np.stack([hi, lo], axis=1)


def numpy_generator(key: Key, *stream: int) -> np.random.Generator:
    """The numpy ``Generator`` of ``key`` (anything :func:`key_data` accepts) and the stream
    numbered ``stream`` within it (non-negative integers, e.g. a generation index): PCG64 seeded
    by the ``SeedSequence`` of the key's two words followed by ``stream``.  The same key and
    stream always give the same numbers; different streams give independent ones."""
    return np.random.default_rng([*key_data(key).tolist(), *(int(i) for i in stream)])
