r"""How accurate and how costly is HHL for a Fokker--Planck step?  A one-minute study.

Each implicit filter step solves ``(I - dt A) p' = p``.  HHL returns the solution as the
amplitudes of a quantum state, and three things set its quality and cost:

* the *clock* register of ``m`` qubits resolves the eigenvalues of ``M = I - dt A``; the
  error of the solve falls roughly like ``2^-m`` (``clock.png``);
* the state can only be *sampled*: ``shots`` give ``x_i^2`` with an error ``c / sqrt(shots)``
  (``shots.png``), so a whole density needs ``O(N / eps^2)`` shots;
* the *condition number* ``kappa(I - dt A) ~ 1 + 4 dt Dfp / h^2`` (``Dfp = sigma^2 / 2``)
  grows like ``N^2 dt``: more clock qubits and a success probability ``~ 1/kappa^2``
  (``kappa.png``).

This script runs small versions of the studies in ``paper/study.py`` (``make paper`` runs the
full ones) and prints the key numbers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "paper"))

import study  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sweeps (~15 s)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "output" / "07_hhl_study"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    if args.quick:
        clock = dict(clocks=(3, 5, 7), cases=((1, 8),), steps=2)
        shots = dict(shots=(1000, 10_000, 100_000), cells=8, clock=6, seeds=2)
        kappa = dict(cells_list=(8, 16, 32), dts=(1e-2, 1e-1, 1.0), measure_cells=(8,))
    else:
        clock = dict(clocks=range(3, 10), cases=((1, 16),), steps=3)
        shots = dict(shots=(100, 1000, 10_000, 100_000, 1_000_000), cells=16, seeds=3)
        kappa = dict(cells_list=(8, 16, 32, 64, 128), dts=(1e-3, 1e-2, 1e-1, 1.0))

    rows, v = study.clock_study(**clock)
    study.write_table("clock", rows, out)
    study.plot_clock(rows, out)
    print(study.markdown_table(rows))

    rows, v = study.shots_study(**shots)
    study.write_table("shots", rows, out)
    study.plot_shots(rows, v, out)
    for m in ("sym", "dil"):
        print(
            f"{m}: error ~ {v[f'shots_c_{m}']:.2f} shots^{v[f'shots_slope_{m}']:.2f}; "
            f"Hellinger {v['shots_target']} needs ~{v[f'shots_target_{m}']} shots"
        )

    rows, v = study.kappa_study(**kappa)
    study.write_table("kappa", rows, out)
    study.plot_kappa(rows, out)
    print(study.markdown_table(rows))
    print(
        f"kappa / (1 + 4 dt Dfp / h^2) between {v['kappa_ratio_min']:.3f} "
        f"and {v['kappa_ratio_max']:.3f}"
    )
    print(f"tables and figures in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
