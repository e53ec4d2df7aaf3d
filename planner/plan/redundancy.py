"""What one failed unit takes away under `serving.redundancy`: an instance (n_plus_1) or a node
with every instance on it (node). Pure functions of the candidates; the MILP rows that use them
are milp.add_redundancy and horizon_milp.add_redundancy, the checks verify.n_plus_1_checks and
verify.node_loss_checks."""

from __future__ import annotations

from typing import Protocol


class Candidate(Protocol):
    """What these rules read of a candidate (planner.plan.candidates.Candidate)."""

    gpu: str
    prefill_tok_s: float
    decode_tok_s: float

    @property
    def cards(self) -> int: ...


def unit_loss_of(c: Candidate, cap: float, redundancy: str, node_cards: int) -> float:
    """Capacity of one role (tokens/s) lost with one failed unit that runs candidate c:
    n_plus_1 — one instance: cap_c. node — one node of c's GPU type: an instance on one node or
    more dies whole (cap_c); instances smaller than a node lose at most a node full of them,
    N_g/cards_c·cap_c. For a node holding several pools this bounds the loss too: a node loses at
    most N_g × the best capacity per card among its instances, which is the largest of these
    terms, and every used candidate has its own row."""
    if redundancy == "node" and c.cards < node_cards:
        return cap * node_cards / c.cards
    return cap


def largest_node_loss(cands, node_cards: dict[str, int]) -> tuple[float, float]:
    """(prefill, decode): per role, the largest capacity one node can take with it."""
    return (max((unit_loss_of(c, c.prefill_tok_s, "node", node_cards[c.gpu]) for c in cands), default=0.0),
            max((unit_loss_of(c, c.decode_tok_s, "node", node_cards[c.gpu]) for c in cands), default=0.0))
