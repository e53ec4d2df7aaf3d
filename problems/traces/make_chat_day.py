"""Generate problems/traces/chat_day_sample.csv: a synthetic one-day request trace in the column
layout of the public Azure LLM inference traces (TIMESTAMP,ContextTokens,GeneratedTokens).

Synthetic, not measured: arrivals are Poisson within each hour at the diurnal shape of
problems/deepseek_day.yaml (30 % of the peak at 04:00, the peak at 20:00) times 0.09 requests/s,
a 1-in-~2,200 sample of a 200 req/s service (problems/deepseek_trace.yaml replays it with
scale: 2222); prompt lengths lognormal (median 1,000 tokens, σ 0.8, at most 16,000) and output
lengths lognormal (median 400, σ 0.7, at most 4,000). Seeded, so the file is reproducible:

    python problems/traces/make_chat_day.py > problems/traces/chat_day_sample.csv
"""

import datetime as dt
import sys

import numpy as np

SHAPE = [0.55, 0.45, 0.37, 0.32, 0.30, 0.32, 0.38, 0.48, 0.60, 0.72, 0.80, 0.85,
         0.85, 0.83, 0.82, 0.83, 0.85, 0.88, 0.92, 0.97, 1.00, 0.97, 0.85, 0.70]
PEAK_SAMPLE_RATE = 0.09   # requests/s in the busiest hour of the sample


def main() -> None:
    rng = np.random.default_rng(20261201)
    day = dt.datetime(2026, 11, 30)
    out = sys.stdout
    out.write("TIMESTAMP,ContextTokens,GeneratedTokens\n")
    for hour, f in enumerate(SHAPE):
        n = rng.poisson(f * PEAK_SAMPLE_RATE * 3600)
        for s in np.sort(rng.uniform(0.0, 3600.0, n)):
            t = day + dt.timedelta(hours=hour, seconds=float(s))
            isl = int(min(16_000, max(1, round(rng.lognormal(np.log(1000), 0.8)))))
            osl = int(min(4_000, max(1, round(rng.lognormal(np.log(400), 0.7)))))
            out.write(f"{t:%Y-%m-%d %H:%M:%S.%f}0,{isl},{osl}\n")


if __name__ == "__main__":
    main()
