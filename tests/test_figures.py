"""Figures people read (issue 10, section 2): every series visible, one kind of quantity per
axis, categories drawn as categories, legends off the data."""
import numpy as np
import pytest
import xarray as xr

from eqspike_xbar.energy import COMPONENTS
from eqspike_xbar.figures import plt
from eqspike_xbar.figures import report as F
from eqspike_xbar.figures.sweep import plot_sweep

ROWS = list(COMPONENTS) + ["total", "gpu"]


def metrics(fid, scale=1.0, epochs=3, layers=2):
    rng = np.random.default_rng(len(fid))
    e = np.zeros((epochs, len(ROWS)))
    for k, c in enumerate(ROWS):  # neurons in µJ, crossbar components in nJ or pJ, one component 0
        e[:, k] = {"neurons": 2e-6, "crossbar_devices": 2e-8, "programming": 1e-10, "sense": 9e-7,
                   "gpu": 1.4e-4}.get(c, 0.0 if k == 1 else 5e-9) * scale
    e[:, ROWS.index("total")] = e[:, :len(COMPONENTS)].sum(1)
    ds = xr.Dataset({"energy_train": (("epoch", "component"), e), "energy_inference": (("epoch", "component"), e / 2),
                     "test_accuracy": ("epoch", rng.random(epochs)), "train_accuracy": ("epoch", rng.random(epochs))},
                    coords={"epoch": np.arange(1, epochs + 1), "component": ROWS,
                            "layer": [f"W{k + 1}" for k in range(layers)]})
    ds["diag_ir_drop"] = (("epoch", "layer"), 0.03 + 0.001 * rng.random((epochs, layers)))
    ds["diag_asymmetry"] = (("epoch", "layer"), np.zeros((epochs, layers)))
    ds["diag_stale_error_mean"] = (("epoch", "layer"), 1e-3 * rng.random((epochs, layers)))
    ds["diag_stale_error_max"] = ds["diag_stale_error_mean"] * 2
    ds["diag_wire_share"] = (("epoch", "layer"), np.full((epochs, layers), np.nan))
    return ds


def test_energy_chart_one_linear_axis_per_component_legend_outside():
    ms = {f: metrics(f) for f in ("ideal", "device", "circuit")}
    fig = F.plot_energy(ms, "energy_train")
    used = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_title() for ax in used][:len(COMPONENTS)] == list(COMPONENTS)  # new components appear by themselves
    assert len(used) == len(ROWS)
    for ax in used:
        assert ax.get_yscale() == "linear" and ax.get_legend() is None
        heights = [p.get_height() for p in ax.patches]
        if any(heights):  # the tallest bar fills its own axis: nJ next to µJ is readable
            assert max(heights) > 0.5 * ax.get_ylim()[1]
    assert fig.legends  # one legend for the figure, outside the panels
    plt.close(fig)


def test_circuit_diagnostics_no_invisible_series_one_quantity_per_axis():
    fig = F.plot_circuit_diagnostics(metrics("circuit"))
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert len(set(labels)) == len(labels) == len(fig.axes) == 4
    texts = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "0 at every epoch" in texts and "not recorded" in texts
    for ax in fig.axes:
        assert ax.get_yscale() == "linear"
        for line in ax.get_lines():
            y = np.asarray(line.get_ydata(), dtype=float)
            assert np.isfinite(y).all() and ax.get_ylim()[0] <= y.min() and y.max() <= ax.get_ylim()[1]
    plt.close(fig)


def test_rule_stdp_has_a_zoom_near_zero_and_joins_no_steps():
    dt = np.arange(-15, 16)
    rule = xr.Dataset({k: ("delta_t", np.sin(dt + j)) for j, k in enumerate(("dw_pre_post", "dw_post_pre", "dw_total"))},
                      coords={"delta_t": dt}, attrs={"post_factor": "ternary", "eps": 0.5})
    fig = F.plot_stdp_curves(rule)
    full, zoom = fig.axes
    assert all(line.get_linestyle() == "None" for line in full.get_lines() if len(line.get_xdata()) > 2)
    centres = sorted({round(p.get_x() + p.get_width() / 2) for p in zoom.patches})
    assert centres == list(range(-5, 6))
    plt.close(fig)


def sweep_ds(coord, attrs):
    rng = np.random.default_rng(0)
    n = len(coord)
    ds = xr.Dataset({"test_accuracy": (("x", "seed"), rng.random((n, 2))),
                     "status": (("x", "seed"), np.full((n, 2), "ok", dtype=object))},
                    coords={"x": coord, "seed": [0, 1]})
    ds.x.attrs.update(attrs)
    ds.seed.attrs.update(axis="seeds", config_keys="run.seed")
    return ds


def test_sweep_categories_are_rows_not_a_line(tmp_path, monkeypatch):
    cats = np.array(['[]', '["c2c"]', '["nonlinearity", "asymmetry"]', '["c2c", "nonlinearity", "quantization"]'],
                    dtype=object)
    figs = []
    monkeypatch.setattr("eqspike_xbar.io.save_figure", lambda fig, path, dpi=120: figs.append(fig) or path)
    plot_sweep(sweep_ds(cats, {"axis": "synapses.effects_off", "config_keys": "synapses.effects_off"}), tmp_path)
    ax = figs[0].axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(cats)  # labels on the y axis: no overprint
    for line in ax.get_lines():
        if len(line.get_xdata()) > 1:
            assert line.get_linestyle() == "None", "a line joins two categories"
    figs.clear()
    plot_sweep(sweep_ds(np.array([0.1, 0.2, 0.4]), {"axis": "learning.lr", "config_keys": "learning.lr"}), tmp_path)
    assert any(line.get_linestyle() == "-" for line in figs[0].axes[0].get_lines())  # numbers: a line
    for f in figs:
        plt.close(f)


def test_device_fit_depression_panel_reads_downwards(tmp_path):
    from eqspike_xbar.devices import Conductance, DeviceArray, DeviceParams, Effects, Nonlinearity
    from eqspike_xbar.devices.fitting import fit_ramps
    from eqspike_xbar.devices.measurements import Ramp
    from eqspike_xbar.figures.devices import plot_fit

    truth = DeviceParams(name="t", conductance=Conductance(1e-6, 1e-5, 60, 80), nonlinearity=Nonlinearity(1.0, -2.0))
    arr = DeviceArray(truth, (1,), seed=0, effects=Effects(read_noise=False, quantization=False))
    ramps = []
    for cycle in range(2):
        for d, n in ((1, 60), (-1, 80)):
            g = []
            for _ in range(n):
                arr.apply_pulses(np.full(1, d))
                g.append(arr.conductance()[0])
            ramps.append(Ramp(d, np.array(g), "0", cycle))
    res = fit_ramps(ramps, "t", "synthetic")
    figs = []
    import eqspike_xbar.figures.devices as D

    real = D.save_figure
    D.save_figure = lambda fig, path: figs.append(fig) or path
    try:
        plot_fit(res, tmp_path / "fit.png", tmp_path / "res.png")
    finally:
        D.save_figure = real
    ltp, ltd = figs[0].axes
    for ax, sign in ((ltp, 1), (ltd, -1)):
        x = np.concatenate([line.get_xdata() for line in ax.get_lines()])
        y = np.concatenate([line.get_ydata() for line in ax.get_lines()])
        assert sign * np.corrcoef(x, y)[0, 1] > 0.9
    for f in figs:
        plt.close(f)
