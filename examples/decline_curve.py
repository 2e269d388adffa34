"""A small real analysis: Permian wells and their monthly oil, a decline curve, a figure.

Pulls wells and production with petro.PetroAI into pandas, fits an Arps
hyperbolic decline to the best well's oil rate, and saves the plot.
Runs against the built-in emulator unless PETRO_BASE_URL (and credentials) are set.

    python examples/decline_curve.py [output.png]
"""

import os
import sys

import numpy as np

import petro


def arps(t, qi, di, b):
    """Arps hyperbolic decline: rate at time t (months)."""
    return qi / np.power(1.0 + b * di * t, 1.0 / b)


def fit_arps(t, q):
    """Fit qi, Di, b by a coarse grid over b and least squares on the rest (numpy only)."""
    best = None
    for b in np.linspace(0.1, 1.5, 29):
        for di in np.geomspace(0.01, 1.0, 60):
            shape = 1.0 / np.power(1.0 + b * di * t, 1.0 / b)
            qi = float(np.dot(shape, q) / np.dot(shape, shape))
            err = float(np.sum((q - qi * shape) ** 2))
            if best is None or err < best[0]:
                best = (err, qi, di, b)
    _, qi, di, b = best
    return qi, di, b


def analyse(client, out_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wells = client.data.query_df(
        "Well", {"basinName": "Permian"}, fields=["wellId", "wellName", "operatorName"]
    )
    print(f"{len(wells)} Permian wells")
    ids = wells["wellId"].head(50).tolist()
    prod = client.data.query_df("MonthlyProduction", {"wellId": {"in": ids}})
    print(f"{len(prod)} production months for {prod['wellId'].nunique()} wells")

    cum = prod.groupby("wellId")["oilVol_bbl"].sum().sort_values(ascending=False)
    best = cum.index[0]
    well = prod[prod["wellId"] == best].sort_values("prodDate")
    peak = int(np.argmax(well["oilRate_bblPerDay"].to_numpy()))
    after = well.iloc[peak:]
    t = np.arange(len(after), dtype=float)
    q = after["oilRate_bblPerDay"].to_numpy(dtype=float)
    qi, di, b = fit_arps(t, q)
    name = wells.loc[wells["wellId"] == best, "wellName"].iloc[0]
    print(f"best well {name} ({best}): qi={qi:.0f} bbl/d, Di={di:.3f}/month, b={b:.2f}")

    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.semilogy(after["prodDate"], q, "o", label="oil rate (bbl/d)")
    ax.semilogy(
        after["prodDate"], arps(t, qi, di, b), "-", label=f"Arps fit: b={b:.2f}, Di={di:.3f}/mo"
    )
    ax.set_title(f"Decline curve: {name}")
    ax.set_xlabel("month")
    ax.set_ylabel("oil rate, bbl/d")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)
    print("saved", out_path)
    return {"well": best, "qi": qi, "di": di, "b": b, "months": len(after)}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "decline_curve.png"
    if os.environ.get("PETRO_BASE_URL"):
        with petro.PetroAI() as client:
            return analyse(client, out)
    with petro.Emulator(sample_wells=400, sample_months=36) as emu:
        with petro.PetroAI(emu.url, app_id=emu.app_id, secret_key=emu.secret_key) as client:
            return analyse(client, out)


if __name__ == "__main__":
    main()
