"""Benchmark: simulate N customers from the CDNOW BG/NBD and Gamma-Gamma parameters (Fader, Hardie & Lee
2005; Fader & Hardie 2013), fit both models, report true vs fitted parameters and wall times.

    .venv/bin/python benchmarks/bench_clv_recovery.py --customers 10000 --seed 0

Observation windows T are uniform on 30-78 weeks, as in the CDNOW calibration period."""

import argparse
import time
from pathlib import Path
import sys

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assets.profiles.clv import (  # noqa: E402
    BgNbdParams,
    GammaGammaParams,
    customer_lifetime_value,
    fit_bgnbd,
    fit_gamma_gamma,
    simulate_bgnbd,
    simulate_gamma_gamma,
)

TRUE_BGNBD = BgNbdParams(r=0.24, alpha=4.41, a=0.79, b=2.43)
TRUE_GAMMA_GAMMA = GammaGammaParams(p=6.25, q=3.74, v=15.44)


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    return function(*args, **kwargs), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    started = time.perf_counter()
    T = np.random.default_rng(args.seed).uniform(30, 78, args.customers)
    frequency, recency, T = simulate_bgnbd(args.customers, TRUE_BGNBD, T, args.seed)
    monetary = simulate_gamma_gamma(frequency, TRUE_GAMMA_GAMMA, args.seed + 1)
    simulate_seconds = time.perf_counter() - started
    bgnbd, bgnbd_seconds = timed(fit_bgnbd, frequency, recency, T)
    gamma_gamma, gamma_gamma_seconds = timed(fit_gamma_gamma, frequency, monetary)
    _, clv_seconds = timed(customer_lifetime_value, bgnbd, gamma_gamma, frequency, recency, T, monetary,
                           horizon_periods=52, discount_rate_per_period=0.002)

    print(f"{args.customers} customers ({int((frequency > 0).sum())} with repeat purchases), seed {args.seed}")
    print(f"{'model':<12} {'param':<6} {'true':>9} {'fitted':>9} {'rel.err':>8}")
    for model, truth, fitted in [("BG/NBD", TRUE_BGNBD, bgnbd), ("Gamma-Gamma", TRUE_GAMMA_GAMMA, gamma_gamma)]:
        for name, value in truth.as_dict().items():
            estimate = fitted.as_dict()[name]
            print(f"{model:<12} {name:<6} {value:>9.4f} {estimate:>9.4f} {estimate / value - 1:>+8.1%}")
    print(f"simulate {simulate_seconds:.2f} s, fit BG/NBD {bgnbd_seconds:.2f} s, "
          f"fit Gamma-Gamma {gamma_gamma_seconds:.2f} s, 52-period discounted CLV {clv_seconds:.2f} s")


if __name__ == "__main__":
    main()
