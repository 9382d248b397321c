"""The epsilon-scaling loop every one-launch kernel runs, as `auction._xla_auction` does:
release the pairs the new epsilon no longer allows, bid until every row holds a column, divide
epsilon by `scaling`; after the epsilon = 1 phase, stop. `max_rounds` bounds the bidding."""

import jax
import jax.numpy as jnp


def epsilon_phases(start, release, bid, *, scaling: int, max_rounds: int):
    """Every phase from state `start` (fields `row_col`, `eps`, `rounds`); `release(s)` starts
    a phase, `bid(s)` is one round. Returns the final state."""

    def bidding(s):
        return (jnp.min(s.row_col) < 0) & (s.rounds < max_rounds)

    def phase(carry):
        s, _ = carry
        s = jax.lax.while_loop(bidding, bid, release(s))
        done = s.eps <= 1  # The epsilon = 1 phase has just ended.
        return s._replace(eps=jnp.maximum(jax.lax.div(s.eps, scaling), 1)), done

    s, _ = jax.lax.while_loop(
        lambda c: ~c[1] & (c[0].rounds < max_rounds), phase, (start, jnp.bool_(False))
    )
    return s
