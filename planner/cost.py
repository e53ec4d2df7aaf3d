"""Money per unit time: the conversions the seed note does by hand."""

from __future__ import annotations

SECONDS_PER_MONTH = 30 * 24 * 3600  # the seed note's month: 30 days


def per_second_from_monthly(monthly: float) -> float:
    """Cost per second of a monthly rent: monthly / (30·24·3600).

    >>> round(per_second_from_monthly(120_000), 4)
    0.0463
    """
    return monthly / SECONDS_PER_MONTH


def per_card_hour_from_monthly(monthly_per_server: float, cards_per_server: int) -> float:
    """Price per GPU-hour of a server rented by the month: monthly / cards / (30·24)."""
    return monthly_per_server / cards_per_server / (30 * 24)


def revenue_per_second(tokens_per_s: float, price_per_million_tokens: float) -> float:
    """Revenue per second of selling tokens: tokens/s · price / 10⁶.

    >>> round(revenue_per_second(3872, 16), 4)
    0.062
    """
    return tokens_per_s * price_per_million_tokens / 1e6
