"""Shared machinery of the deep generative zoo models (:mod:`~kernelcollapse.zoo.vae`,
:mod:`~kernelcollapse.zoo.lm`): float32 scope, layers, an optax training epoch, checkpoints.

Layers are plain JAX (``lax.conv_general_dilated``, ``lax.conv_transpose``, ``einsum``) on
parameter pytrees of nested dicts, not flax: the two models are a few hundred lines each, a
dict of arrays checkpoints to ``.npz`` with nothing but numpy (no pickle, no serialisation
library whose format could change under us), and the library keeps one dependency fewer.
Optimisation is optax (Adam, AdamW, schedules).

Training runs in float32, JAX's default and what the reference experiments use: the networks
gain nothing from float64 and would run several times slower.  The public functions run
inside :func:`float32` (x64 off, scoped, whatever the caller or the rest of the library has
set) and return their metrics as float64 numpy arrays.

Randomness: every generation ``g`` of a chain draws from ``fold_in(key, g)`` (split further
per purpose), never from state carried between generations in memory, so a chain resumed from
its checkpoint of generation ``g`` draws exactly what the uninterrupted chain drew.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from kernelcollapse._util.x64 import float32  # noqa: F401  (the networks' scope: _nn.float32)

#: Version of the checkpoint layout (stored in each file; a mismatch refuses to resume).
CHECKPOINT_FORMAT = 1


def preset(sizes: dict, size: str) -> tuple:
    """The entry of ``size`` in a table of presets (``VAE_SIZES``, ``LM_SIZES``), or a
    ValueError naming the sizes there are."""
    if size not in sizes:
        raise ValueError(f"size must be one of {tuple(sizes)}, got {size!r}")
    return sizes[size]


def generation_key(words: np.ndarray, g: int, purpose: int):
    """The key of generation ``g`` for one ``purpose`` (a small int): a pure function of the
    chain's key words, so a resumed chain draws what the uninterrupted one drew."""
    import jax
    import jax.numpy as jnp

    key = jax.random.wrap_key_data(jnp.asarray(words, dtype=jnp.uint32))
    return jax.random.fold_in(jax.random.fold_in(key, g), purpose)


# --------------------------------------------------------------------------- layers


class Init(NamedTuple):
    """A parameter to draw: its shape and ``value = scale * u`` with ``u`` uniform on
    [-1, 1] (``"uniform"``), standard normal (``"normal"``) or the constant 1 (``"ones"``)."""

    shape: tuple
    kind: str = "uniform"
    scale: float = 1.0


def draw(key, spec):
    """The parameters described by ``spec`` (a pytree of :class:`Init`), float32.

    All the uniform and all the normal numbers come from one call each, split among the
    leaves in tree order: a jitted initialisation with one ``jax.random`` call per layer
    costs seconds of XLA:CPU compile time.
    """
    import jax
    import jax.numpy as jnp

    leaves, treedef = jax.tree_util.tree_flatten(spec, is_leaf=lambda x: isinstance(x, Init))
    sizes = {"uniform": 0, "normal": 0}
    for leaf in leaves:
        if leaf.kind in sizes:
            sizes[leaf.kind] += int(np.prod(leaf.shape))
    ku, kn = jax.random.split(key)
    pools = {"uniform": jax.random.uniform(ku, (sizes["uniform"],), jnp.float32, -1.0, 1.0),
             "normal": jax.random.normal(kn, (sizes["normal"],), jnp.float32)}
    used = {"uniform": 0, "normal": 0}
    out = []
    for leaf in leaves:
        if leaf.kind == "ones":
            out.append(jnp.full(leaf.shape, leaf.scale, jnp.float32))
            continue
        n = int(np.prod(leaf.shape))
        start = used[leaf.kind]
        used[leaf.kind] = start + n
        out.append(leaf.scale * pools[leaf.kind][start:start + n].reshape(leaf.shape))
    return jax.tree_util.tree_unflatten(treedef, out)


def dense_init(fan_in: int, fan_out: int) -> dict:
    """PyTorch's default ``nn.Linear`` initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / np.sqrt(fan_in)
    return {"w": Init((fan_in, fan_out), "uniform", bound), "b": Init((fan_out,), "uniform", bound)}


def conv_init(kernel: int, c_in: int, c_out: int, *, fan_in: int) -> dict:
    """A convolution kernel in HWIO layout with PyTorch's default uniform bound."""
    bound = 1.0 / np.sqrt(fan_in)
    return {"w": Init((kernel, kernel, c_in, c_out), "uniform", bound),
            "b": Init((c_out,), "uniform", bound)}


def dense(p: dict, x):
    return x @ p["w"] + p["b"]


def conv2d(p: dict, x, *, stride: int, padding: int):
    """NHWC convolution, as ``torch.nn.Conv2d(stride, padding)``."""
    from jax import lax

    y = lax.conv_general_dilated(x, p["w"], (stride, stride), [(padding, padding)] * 2,
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y + p["b"]


# Sub-pixel form of the transposed convolution with kernel 4, stride 2, padding 1: output row
# 2m + r only sees kernel rows _TAPS[r] (applied to input rows m - 1, m for r = 0 and m, m + 1
# for r = 1), so each of the four output phases is a stride-1 2x2 convolution.
_TAPS = {0: (3, 1), 1: (2, 0)}


def conv_transpose2d(p: dict, x, *, stride: int = 2, padding: int = 1):
    """NHWC transposed convolution, as ``torch.nn.ConvTranspose2d(kernel 4, stride 2,
    padding 1)`` (output ``2H x 2W``), with the kernel in HWIO layout (I = input channels).

    Computed as four stride-1 convolutions, one per output phase, interleaved: on CPU,
    XLA's input-dilated convolution (``lax.conv_transpose``) and its gradient run several
    times slower than these.
    """
    import jax.numpy as jnp
    from jax import lax

    w = p["w"]
    if w.shape[:2] != (4, 4) or stride != 2 or padding != 1:
        raise NotImplementedError("conv_transpose2d implements kernel 4, stride 2, padding 1")
    B, H, W, _ = x.shape
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    phases = []
    for r in (0, 1):
        for s in (0, 1):
            k = w[np.array(_TAPS[r])][:, np.array(_TAPS[s])]
            phases.append(lax.conv_general_dilated(
                xp[:, r:r + H + 1, s:s + W + 1], k, (1, 1), "VALID",
                dimension_numbers=("NHWC", "HWIO", "NHWC")))
    c_out = w.shape[3]
    y = jnp.stack(phases, 3).reshape(B, H, W, 2, 2, c_out)
    return y.transpose(0, 1, 3, 2, 4, 5).reshape(B, 2 * H, 2 * W, c_out) + p["b"]


def layer_norm(p: dict, x, eps: float = 1e-5):
    import jax.numpy as jnp

    mean = x.mean(axis=-1, keepdims=True)
    var = jnp.square(x - mean).mean(axis=-1, keepdims=True)
    return (x - mean) / jnp.sqrt(var + eps) * p["scale"] + p["bias"]


def count_parameters(params) -> int:
    import jax

    return int(sum(np.prod(a.shape) for a in jax.tree_util.tree_leaves(params)))


# --------------------------------------------------------------------------- training


def make_epoch(loss_fn: Callable, optimizer, batch: int) -> Callable:
    """A training epoch: ``epoch(params, opt_state, data, key) -> (params, opt_state, losses)``.

    ``data`` is a pytree of device arrays sharing their leading axis ``N``; the epoch
    shuffles it with ``key``, takes ``N // batch`` full batches (the ``N mod batch`` left
    over are different ones each epoch) and runs one jit-compiled optax step per batch.
    ``loss_fn(params, batch_data, key)`` returns the scalar loss to minimise; its key is
    split per step (the VAE's reparameterisation noise).  ``losses`` has shape
    ``(N // batch,)``.

    The loop over steps is Python, not ``lax.scan``: XLA:CPU runs convolutions inside a
    while loop an order of magnitude slower than as separate calls, and the dispatch cost of
    a call is negligible next to a step.
    """
    import jax
    import optax

    grad_fn = jax.value_and_grad(loss_fn)

    @jax.jit
    def step(params, opt_state, data, order, keys, i):
        chunk = jax.tree_util.tree_map(lambda a: a[order[i]], data)
        loss, grads = grad_fn(params, chunk, keys[i])
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    @functools.partial(jax.jit, static_argnums=1)
    def plan(key, n):
        steps = n // batch
        k_perm, k_steps = jax.random.split(key)
        order = jax.random.permutation(k_perm, n)[: steps * batch].reshape(steps, batch)
        return order, jax.random.split(k_steps, steps)

    def epoch(params, opt_state, data, key):
        n = jax.tree_util.tree_leaves(data)[0].shape[0]
        order, keys = plan(key, n)
        losses = []
        for i in range(order.shape[0]):
            # the step index goes in as a traced scalar: one compilation for all steps
            params, opt_state, loss = step(params, opt_state, data, order, keys, np.int32(i))
            losses.append(loss)
        return params, opt_state, jax.numpy.stack(losses)

    return epoch


def batched(fn: Callable, data, *, chunk: int):
    """``fn`` over the leading axis of the arrays ``data`` (a tuple) in chunks of ``chunk``
    rows (the last chunk padded by repeating row 0, so every call has one shape and compiles
    once); outputs concatenated as numpy, padding dropped."""
    n = data[0].shape[0]
    outs = []
    for start in range(0, n, chunk):
        part = [np.asarray(a[start:start + chunk]) for a in data]
        m = part[0].shape[0]
        if m < chunk:
            part = [np.concatenate([p, np.repeat(p[:1], chunk - m, axis=0)]) for p in part]
        res = fn(*part)
        outs.append(tuple(np.asarray(r)[:m] for r in (res if isinstance(res, tuple) else (res,))))
    cat = tuple(np.concatenate([o[i] for o in outs]) for i in range(len(outs[0])))
    return cat if len(cat) > 1 else cat[0]


# --------------------------------------------------------------------------- checkpoints


def tree_arrays(prefix: str, tree) -> dict[str, np.ndarray]:
    """The leaves of a pytree as ``{prefix/path: ndarray}`` (paths of dict keys, indices and
    NamedTuple fields, e.g. ``opt/1/0/mu/enc/conv1/w``)."""
    import jax

    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {f"{prefix}/{jax.tree_util.keystr(path, simple=True, separator='/')}":
            np.asarray(leaf) for path, leaf in leaves}


def tree_from_arrays(prefix: str, arrays: dict, template):
    """Inverse of :func:`tree_arrays`: the leaves of ``arrays`` in the structure of
    ``template`` (a pytree of the same shape, e.g. ``optimizer.init(params)``)."""
    import jax
    import jax.numpy as jnp

    leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
    out = []
    for path, leaf in leaves:
        name = f"{prefix}/{jax.tree_util.keystr(path, simple=True, separator='/')}"
        if name not in arrays:
            raise ValueError(f"checkpoint lacks {name!r}: it was written by a different model")
        value = arrays[name]
        if value.shape != np.shape(leaf):
            raise ValueError(f"checkpoint entry {name!r} has shape {value.shape}, the model "
                             f"expects {np.shape(leaf)}")
        out.append(jnp.asarray(value, dtype=leaf.dtype))
    return jax.tree_util.tree_unflatten(treedef, [o for o in out])


def fingerprint(settings: dict, *arrays: np.ndarray) -> str:
    """SHA-256 of the settings (JSON) and of the bytes of ``arrays`` (the real data): two
    chains share checkpoints only when both agree."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(str((a.dtype.str, a.shape)).encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` to ``path`` atomically (a temporary file, then a rename), so an
    interruption never leaves a half-written checkpoint under the final name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def meta_arrays(fp: str, g: int) -> dict[str, np.ndarray]:
    return {"meta/fingerprint": np.array(fp), "meta/generation": np.array(g, np.int64),
            "meta/format": np.array(CHECKPOINT_FORMAT, np.int64)}


def check_meta(arrays: dict, path: Path, fp: str, g: int) -> None:
    """Refuse a checkpoint of another chain (settings, data or key differ) or format."""
    if int(arrays.get("meta/format", -1)) != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} has checkpoint format {int(arrays.get('meta/format', -1))}, "
                         f"this version reads format {CHECKPOINT_FORMAT}; use another "
                         "checkpoint_dir")
    if str(arrays["meta/fingerprint"]) != fp or int(arrays["meta/generation"]) != g:
        raise ValueError(f"checkpoint_dir holds a chain with different settings, data or key "
                         f"({path}); pass an empty or new checkpoint_dir, or the same "
                         "arguments as the run that wrote it")


class Checkpoints:
    """The checkpoints of one chain in ``directory``: ``gen_GGG.npz`` (the generation's
    parameters and metrics) and ``gen_GGG_data.npz`` (the data it made,
    which the next generation trains on; only the latest is kept, older ones are deleted once
    a later generation is saved, since a resume needs only the latest).

    A generation counts as done when its ``gen_GGG.npz`` exists (written after its data
    file, each atomically) and carries this chain's fingerprint.
    """

    def __init__(self, directory, fp: str):
        self.directory = None if directory is None else Path(directory)
        self.fp = fp

    def path(self, g: int) -> Path:
        return self.directory / f"gen_{g:03d}.npz"

    def data_path(self, g: int) -> Path:
        return self.directory / f"gen_{g:03d}_data.npz"

    def completed(self, limit: int) -> int:
        """How many leading generations (at most ``limit``) are saved; raises ValueError when
        the directory holds another chain's checkpoints."""
        if self.directory is None:
            return 0
        done = 0
        while done < limit and self.path(done).is_file():
            check_meta(load_npz(self.path(done)), self.path(done), self.fp, done)
            done += 1
        if done < limit and done and not self.data_path(done - 1).is_file():
            raise FileNotFoundError(f"{self.data_path(done - 1)} is missing: the chain cannot "
                                    f"go on past generation {done - 1} without the data that "
                                    "generation made; use a new checkpoint_dir")
        return done

    def save(self, g: int, arrays: dict, data: dict) -> None:
        if self.directory is None:
            return
        save_npz(self.data_path(g), {**data, **meta_arrays(self.fp, g)})
        save_npz(self.path(g), {**arrays, **meta_arrays(self.fp, g)})
        if g > 0:
            self.data_path(g - 1).unlink(missing_ok=True)

    def load(self, g: int) -> dict:
        arrays = load_npz(self.path(g))
        check_meta(arrays, self.path(g), self.fp, g)
        return arrays

    def load_data(self, g: int) -> dict:
        arrays = load_npz(self.data_path(g))
        check_meta(arrays, self.data_path(g), self.fp, g)
        return arrays
