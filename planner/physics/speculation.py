"""Speculative decoding on one instance: the draft, its acceptance, and the steps an answer takes.

Kept apart from `deployment` (which holds it in a `Deployment`) so the step count of a finite
answer, a recurrence over its length, sits beside the expected tokens per step it corrects.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass


@dataclass(frozen=True)
class Speculation:
    """Speculative decoding on one instance (serving.speculative): each step a draft of
    `draft_layers` layers of the model's width (an MTP module or an EAGLE head: one layer)
    proposes k = `draft_tokens` tokens one after another, and the model verifies them in one pass
    over k + 1 tokens per sequence; each proposed token is accepted with probability α =
    `acceptance` if all before it were."""

    method: str
    draft_tokens: int
    acceptance: float
    draft_layers: float = 1.0
    steps_factor: float = 1.0   # E[steps] of the workload's answers ÷ (E[tokens] / accepted_per_step)

    @property
    def tokens_per_step(self) -> float:
        """Tokens a step emits per sequence over the workload's answers: `accepted_per_step` less
        the end of each answer, whose last step emits what is left (`steps_factor`)."""
        return self.accepted_per_step / self.steps_factor

    @property
    def accepted_per_step(self) -> float:
        """Expected tokens one step emits: Σ_{i=0..k} α^i = (1 − α^{k+1})/(1 − α) (the verify pass
        always yields one; the first rejection ends the run).

        >>> Speculation("mtp", 1, 0.85).accepted_per_step
        1.85
        """
        a, k = self.acceptance, self.draft_tokens
        return sum(a**i for i in range(k + 1))

    def label(self) -> str:
        """'mtp1', 'eagle3': method and draft tokens (candidate names, exports)."""
        return f"{self.method}{self.draft_tokens}"

    def expected_steps(self, tokens):
        """Expected decode steps to emit `tokens` (array of n ≥ 0) when each step emits 1 + j tokens,
        j accepted drafts with P(j) = α^j(1 − α) for j < k and α^k for j = k, and an answer ends
        within the step that reaches n: S(n) = 1 + Σ_j P(j)·S(n − 1 − j), S(n ≤ 0) = 0, solved up to
        STEPS_EXACT tokens; beyond, S grows by 1/accepted_per_step a token (the recurrence's
        steady slope; its end term has converged).

        >>> Speculation("mtp", 1, 0.85).expected_steps([1, 2, 4, 1000]).round(4).tolist()
        [1.0, 1.15, 2.2809, 540.7889]
        """
        import numpy as np
        n = np.asarray(tokens, dtype=float)
        s = _steps_table(self.draft_tokens, self.acceptance)
        top = len(s) - 1
        whole = np.clip(np.floor(n), 0, top).astype(int)
        return np.where(n <= top, s[whole], s[top] + (n - top) / self.accepted_per_step)


STEPS_EXACT = 512   # tokens up to which expected_steps solves the recurrence


@functools.lru_cache(maxsize=64)
def _steps_table(k: int, alpha: float):
    """S(0 … STEPS_EXACT) of `Speculation.expected_steps`."""
    import numpy as np
    p = [alpha**j * (1 - alpha) for j in range(k)] + [alpha**k]
    s = np.zeros(STEPS_EXACT + 1)
    for n in range(1, STEPS_EXACT + 1):
        s[n] = 1.0 + sum(pj * s[n - 1 - j] for j, pj in enumerate(p) if n - 1 - j > 0)
    return s
