"""Beam search with a repetition penalty, for any next-token model (JAX, batched).

The decoding the authors of "The Curse of Recursion" used through Hugging Face's
``generate(num_beams=5, min_new_tokens=L, max_new_tokens=L, repetition_penalty=3.0)``:

* the scores are log-probabilities; the repetition penalty ``rho`` (Keskar et al. 2019)
  multiplies the log-probability of every token already present in the sequence (prompt and
  generated part) by ``rho`` (``rho > 1`` makes it more negative, so less likely); the
  penalty acts on the log-probabilities, after the softmax, as Hugging Face's beam search
  applies its logits processors to ``log_softmax`` scores;
* a beam's score is the sum of its penalised log-probabilities; each step keeps the
  ``width`` best of the ``width * V`` one-token extensions; after ``L`` tokens the best
  beam is returned.  All sequences have the same length (no end token), so the length
  normalisation of Hugging Face plays no part.

The model enters as ``step(context, state, tokens, t) -> (logprobs, state)``: the
log-probabilities of the next token given the beams' last tokens ``tokens`` (B, W) at
generation step ``t`` (``t = 1 .. L - 1``); ``context`` is passed through unchanged (the
parameters, a prompt's cache shared by its beams) and ``state`` is any pytree whose leaves
have leading axes (B, W) (the beams' key/value cache), reordered here when beams are
pruned.

References
----------
.. [1] N. S. Keskar et al., "CTRL: a conditional transformer language model for
   controllable generation", arXiv:1909.05858 (2019), section 4.1 (repetition penalty).
.. [2] I. Shumailov et al., Nature 631 (2024) 755-759, Methods (OPT-125m experiments).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["beam_search", "penalize"]


def penalize(logprobs, seen, penalty):
    """Log-probabilities with the repetition penalty: ``logp * penalty`` where ``seen``
    (``logp / penalty`` for the positive scores a general scorer might give, as Hugging
    Face does; log-probabilities are never positive)."""
    import jax.numpy as jnp

    hit = jnp.where(logprobs < 0, logprobs * penalty, logprobs / penalty)
    return jnp.where(seen, hit, logprobs)


def _gather(parent):
    import jax.numpy as jnp

    def take(a):
        idx = parent.reshape(parent.shape + (1,) * (a.ndim - 2))
        return jnp.take_along_axis(a, idx, axis=1)

    return take


def _make_update(step: Callable, W: int):
    import jax
    import jax.numpy as jnp
    from jax import lax

    def update(context, carry, t, penalty):
        scores, tok, seen, seqs, state = carry
        B, _, V = seen.shape
        logprobs, state = step(context, state, tok, t)
        cand = scores[:, :, None] + penalize(logprobs, seen, penalty)        # (B, W, V)
        scores, flat = lax.top_k(cand.reshape(B, W * V), W)
        parent, tok = flat // V, (flat % V).astype(jnp.int32)
        take = _gather(parent)
        state = jax.tree_util.tree_map(take, state)
        seen = take(seen) | jax.nn.one_hot(tok, V, dtype=jnp.bool_)
        seqs = take(seqs).at[:, :, t].set(tok)
        return scores, tok, seen, seqs, state

    return update


# Compiled updates per (step function, width), so repeated searches compile once.
_UPDATES: dict = {}


def beam_search(step: Callable, context, state, first_logprobs, seen, *, steps: int,
                width: int, penalty: float = 1.0):
    """Beam search over ``steps`` new tokens, batched over ``B`` prompts.

    Parameters
    ----------
    step : callable
        ``step(context, state, tokens, t) -> (logprobs, state)`` as in the module docstring;
        ``logprobs`` of shape (B, W, V).  Pass the same function object to repeated
        searches: the per-step update is compiled once per ``(step, width)``.
    context : pytree
        Passed to ``step`` unchanged (may be ``None``).
    state : pytree
        The model's state for the beams, leaves of leading shape (B, W) (the W copies
        of a prompt's state are identical at the start).
    first_logprobs : array, shape (B, V)
        Log-probabilities of the first new token after each prompt.
    seen : bool array, shape (B, V)
        Tokens present in each prompt (penalised from the first step on).
    steps, width : int
        New tokens ``L >= 1`` and beams ``W >= 1`` (``W >= V^(L-1)`` makes the search
        exhaustive).
    penalty : float
        Repetition penalty ``rho >= 1`` (1: none).

    Returns
    -------
    tokens : int32 array, shape (B, L)
        The highest-scoring beam of each prompt.
    score : float array, shape (B,)
        Its score (sum of penalised log-probabilities).

    Notes
    -----
    A Python loop drives the steps, each one compiled call: XLA:CPU runs a model inside a
    compiled loop (``lax.scan``) markedly slower, and on a GPU the calls queue up
    asynchronously.
    """
    import jax
    import jax.numpy as jnp
    from jax import lax

    B, V = first_logprobs.shape
    W = width
    if W < 1:
        raise ValueError(f"beam width must be an integer >= 1, got {W}")
    if (step, W) not in _UPDATES:
        _UPDATES[(step, W)] = jax.jit(_make_update(step, W))
    run = _UPDATES[(step, W)]
    penalty = jnp.float32(penalty)
    first = penalize(first_logprobs, seen, penalty)
    if W > V:  # more beams than tokens: the extra beams start at -inf and never win
        first = jnp.pad(first, ((0, 0), (0, W - V)), constant_values=-jnp.inf)
    scores, tok = lax.top_k(first, W)                                          # (B, W)
    tok = jnp.minimum(tok, V - 1)
    seen = jnp.broadcast_to(seen[:, None, :], (B, W, V))
    seen = seen | jax.nn.one_hot(tok, V, dtype=jnp.bool_)
    seqs = jnp.zeros((B, W, steps), jnp.int32).at[:, :, 0].set(tok)
    carry = (scores, tok.astype(jnp.int32), seen, seqs, state)
    for t in range(1, steps):
        carry = run(context, carry, jnp.int32(t), penalty)
    scores, _, _, seqs, _ = carry
    # top_k returns the beams sorted by score: beam 0 is the best.
    return seqs[:, 0], scores[:, 0]
