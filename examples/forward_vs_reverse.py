"""Forward against reverse mode on f(x) = tanh(A x), A an m x n matrix: `fnad.compare_modes`
computes the Jacobian with jacfwd (one tangent per input: work grows with n) and jacrev (one
cotangent per output: work grows with m) over a grid of n and m. It prints a table and the
reason compare_modes gives wherever the measured winner differs from its recommendation,
plots time against n and against m to forward_vs_reverse.png in the current directory (--out
to change it; with --svg or without matplotlib, an SVG drawn by hand, named .svg), and ends
with a two-line summary.

Measured: below ~256 both take well under a millisecond, so fixed overheads decide and the
faster mode can differ from the recommended one; at n=1024, m=4 jacrev takes 0.4 ms against
8 ms for jacfwd, at n=4, m=1024 jacfwd 0.35 ms against 17 ms for jacrev; at n=m=1024 they tie
(~70 ms).

Default run: about 5 s on 2 shared CPU cores.
"""

from __future__ import annotations

import functools
import math
import textwrap
from typing import Any

import numpy as np
from _common import add_plot_arguments, make_parser, one_blas_thread, plot_target

import fnad
import fnad.numpy as fnp

MODES = ("jacfwd", "jacrev")
COLORS = ("#1f77b4", "#d62728")
TITLE = ("Jacobian of f(x) = tanh(A x), A of shape m x n: forward mode wins when inputs are "
         "few, reverse mode when outputs are few")


def measure(sizes: list[int], repeats: int) -> dict[tuple[int, int], Any]:
    """{(n, m): fnad.compare_modes report} for f(x) = tanh(A x) with A of shape (m, n)."""
    rng = np.random.default_rng(0)
    reports = {}
    for n in sizes:
        for m in sizes:
            a = (rng.standard_normal((m, n)) / math.sqrt(n)).astype(np.float32)
            x = rng.standard_normal(n).astype(np.float32)
            reports[n, m] = fnad.compare_modes(lambda x, a=a: fnp.tanh(a @ x), x, repeats=repeats)
    return reports


def faster(report: Any) -> str:
    """The mode that measured faster."""
    return min(MODES, key=lambda mode: report.modes[mode].time_s)


def print_table(reports: dict[tuple[int, int], Any]) -> None:
    """The table, then compare_modes' reason for each row where the measured winner is not
    the recommended mode."""
    print(f"{'n':>4} {'m':>4} {'jacfwd ms':>10} {'jacrev ms':>10} {'jacfwd FLOPs':>13} "
          f"{'jacrev FLOPs':>13}  faster  recommended")
    for (n, m), r in reports.items():
        fwd, rev = r.modes["jacfwd"], r.modes["jacrev"]
        print(f"{n:>4} {m:>4} {fwd.time_s * 1e3:>10.3f} {rev.time_s * 1e3:>10.3f} "
              f"{fwd.flops:>13} {rev.flops:>13}  {faster(r)}  {r.recommended}")
    differing = {k: r for k, r in reports.items() if faster(r) != r.recommended}
    if differing:
        print("\nwhere the faster mode is not the recommended one, compare_modes says why:")
        for (n, m), r in differing.items():
            print(textwrap.fill(f"n={n}, m={m}: {r.reason}", 100, subsequent_indent="    "))


def summary(reports: dict[tuple[int, int], Any], sizes: list[int]) -> list[str]:
    """Two lines: how often the recommendation held (and what the exceptions are), and the
    speedups at the two lopsided corners of the grid."""
    differing = {(n, m): r for (n, m), r in reports.items() if faster(r) != r.recommended}
    first = (f"the faster mode was the recommended one in {len(reports) - len(differing)} of "
             f"{len(reports)} cases")
    ties = [r for (n, m), r in differing.items() if n == m]
    close = [r for (n, m), r in differing.items() if n != m]
    parts = [f"{len(ties)} with n = m, where both modes do the same FLOPs (a tie)"] if ties else []
    if close:
        times = [sorted(r.modes[mode].time_s for mode in MODES) for r in close]
        slowest = max(t[0] for t in times)
        parts.append(f"{len(close)} within {max(b / a for a, b in times):.1f}x of each other "
                     f"and under {slowest * 1e3:.2f} ms" + (", where fixed overheads decide"
                                                            if slowest < 1e-3 else ""))
    if parts:
        first += f"; the other {len(differing)}: " + " and ".join(parts)
    corners = []
    for n, m in ((sizes[0], sizes[-1]), (sizes[-1], sizes[0])):
        r = reports[n, m]
        win, lose = sorted(MODES, key=lambda mode: r.modes[mode].time_s)
        corners.append(f"at n={n}, m={m} {win} was {r.modes[lose].time_s / r.modes[win].time_s:.1f}x"
                       " faster")
    expected = faster(reports[sizes[0], sizes[-1]]) == "jacfwd" and \
        faster(reports[sizes[-1], sizes[0]]) == "jacrev"
    second = "; ".join(corners) + (": forward mode wins when inputs are few, reverse mode when "
                                   "outputs are few" if expected else
                                   ": at these sizes overheads hide the modes' difference")
    return [first + ".", second + "."]


Panel = tuple[str, str, dict[str, tuple[list[float], list[float]]]]


def panels(reports: dict[tuple[int, int], Any], sizes: list[int]) -> list[Panel]:
    """Time vs n at the largest m, and time vs m at the largest n, per mode (in ms)."""
    big = sizes[-1]
    by_n = {mode: (sizes, [reports[n, big].modes[mode].time_s * 1e3 for n in sizes])
            for mode in MODES}
    by_m = {mode: (sizes, [reports[big, m].modes[mode].time_s * 1e3 for m in sizes])
            for mode in MODES}
    return [(f"time against inputs n, at m = {big} outputs", "n (inputs)", by_n),
            (f"time against outputs m, at n = {big} inputs", "m (outputs)", by_m)]


def plot_matplotlib(data: list[Panel], path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(data), figsize=(5.5 * len(data), 4.4))
    for ax, (title, xlabel, series) in zip(axes, data):
        for (label, (xs, ys)), color in zip(series.items(), COLORS):
            ax.plot(xs, ys, "o-", color=color, label=label)
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, labels=[f"{x:g}" for x in xs], minor=False)
        ax.minorticks_off()
        ax.set(yscale="log", title=title, xlabel=xlabel + ", log scale",
               ylabel="time (ms), log scale")
        ax.legend()
    fig.suptitle(TITLE.replace(": ", ":\n", 1))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _position(v: float, lo: float, hi: float, start: float, length: float) -> float:
    """Where log10(v) falls on an axis from `start` spanning `length` for [lo, hi] (log10)."""
    return start + (math.log10(v) - lo) / ((hi - lo) or 1) * length


def _decade_label(k: int) -> str:
    return f"{10.0 ** k:g}" if -3 <= k <= 4 else f"1e{k}"


def plot_svg(data: list[Panel], path: str, w: int = 400, h: int = 340, pad: int = 56,
             top: int = 56) -> None:
    """A log-log line plot per panel, side by side, as plain SVG: the title with the
    takeaway, tick marks and labels on both log axes, markers on each measurement."""
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w * len(data)}" height="{h}" '
           'font-family="sans-serif" font-size="11">',
           f'<rect width="{w * len(data)}" height="{h}" fill="white"/>']
    head, tail = TITLE.split(": ", 1)
    out.append(f'<text x="{w * len(data) / 2}" y="18" text-anchor="middle" font-size="13" '
               f'font-weight="bold">{head}:</text>')
    out.append(f'<text x="{w * len(data) / 2}" y="34" text-anchor="middle" '
               f'font-size="13">{tail}</text>')
    pw, ph, bottom = w - 1.4 * pad, h - top - pad - 16, h - pad
    for k, (title, xlabel, series) in enumerate(data):
        left = k * w + pad
        xs = [x for v in series.values() for x in v[0]]
        ys = [y for v in series.values() for y in v[1]]
        # x: the measured sizes, with a margin so the markers clear the frame; y: whole decades
        x_lo, x_hi = math.log10(min(xs)), math.log10(max(xs))
        margin = 0.05 * ((x_hi - x_lo) or 1)
        px = functools.partial(_position, lo=x_lo - margin, hi=x_hi + margin, start=left,
                               length=pw)
        y_lo, y_hi = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
        y_hi += y_hi == y_lo
        py = functools.partial(_position, lo=y_lo, hi=y_hi, start=bottom, length=-ph)
        out.append(f'<text x="{left + pw / 2}" y="{top + 10}" text-anchor="middle" '
                   f'font-size="12">{title}</text>')
        for dec in range(y_lo, y_hi + 1):
            y = py(10.0 ** dec)
            out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" '
                       'stroke="#e4e4e4"/>')
            out.append(f'<line x1="{left - 5}" y1="{y:.1f}" x2="{left}" y2="{y:.1f}" '
                       'stroke="#333"/>')
            out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">'
                       f'{_decade_label(dec)}</text>')
        for x in sorted(set(xs)):
            out.append(f'<line x1="{px(x):.1f}" y1="{bottom}" x2="{px(x):.1f}" '
                       f'y2="{bottom + 5}" stroke="#333"/>')
            out.append(f'<text x="{px(x):.1f}" y="{bottom + 18}" text-anchor="middle">{x:g}'
                       '</text>')
        out.append(f'<rect x="{left}" y="{bottom - ph}" width="{pw}" height="{ph}" '
                   'fill="none" stroke="#333"/>')
        out.append(f'<text x="{left + pw / 2}" y="{bottom + 36}" text-anchor="middle">'
                   f'{xlabel}, log scale</text>')
        mid = bottom - ph / 2
        out.append(f'<text x="{left - 40}" y="{mid:.1f}" transform="rotate(-90 {left - 40} '
                   f'{mid:.1f})" text-anchor="middle">time (ms), log scale</text>')
        for i, ((label, (xv, yv)), color) in enumerate(zip(series.items(), COLORS)):
            points = [(px(x), py(y)) for x, y in zip(xv, yv)]
            out.append('<polyline points="' + " ".join(f"{a:.1f},{b:.1f}" for a, b in points)
                       + f'" fill="none" stroke="{color}" stroke-width="2"/>')
            out += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3.5" fill="{color}"/>'
                    for a, b in points]
            ly = bottom - ph + 16 + 16 * i
            out.append(f'<line x1="{left + 10}" y1="{ly - 4}" x2="{left + 34}" y2="{ly - 4}" '
                       f'stroke="{color}" stroke-width="2"/>')
            out.append(f'<circle cx="{left + 22}" cy="{ly - 4}" r="3.5" fill="{color}"/>')
            out.append(f'<text x="{left + 40}" y="{ly}">{label}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure, print the table and the summary, write the plot; returns the reports, the
    summary lines and the plot's path."""
    p = make_parser(__doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=[4, 16, 64, 256, 1024],
                   help="the values of n and m")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per mode (median)")
    add_plot_arguments(p, "forward_vs_reverse.png")
    args = p.parse_args(argv)
    path, use_svg, note = plot_target(args)
    sizes = sorted(set(args.sizes))
    with one_blas_thread():
        reports = measure(sizes, args.repeats)
    print_table(reports)
    (plot_svg if use_svg else plot_matplotlib)(panels(reports, sizes), path)
    print(f"\n{note or f'plot written to {path}'}")
    lines = summary(reports, sizes)
    print("\nsummary:\n" + "\n".join(lines))
    return {"reports": reports, "summary": lines, "plot": path}


if __name__ == "__main__":
    main()
