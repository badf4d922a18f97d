"""numpy reference of the percentile binning of Sec. 3.2, footnote 6.

Written independently of the C++ code from the rule documented in
libcore/include/convergent/mutual_information.hpp: zero bin for v <= 1e-6,
numpy.quantile(method="linear") edges at k/bins over the remaining values,
right-closed bins via searchsorted(side="left"). Imported by
test_mutual_information_sklearn.py and by bench/mutual_information_reference.py;
it needs numpy only (no pytest), so the benchmark can import it.
"""
import numpy as np


def numpy_binning(values, bins, zero=1e-6):
    """The documented rule: values (samples, units) float32 -> (codes, edges),
    codes (units, samples) uint8 in [0, bins] (0 = the zero bin), edges
    (units, bins - 1) float64, NaN for a unit without values above `zero`."""
    samples, units = values.shape
    codes = np.zeros((units, samples), dtype=np.uint8)
    edges = np.full((units, bins - 1), np.nan)
    for u in range(units):
        v = values[:, u].astype(np.float64)
        positive = v[v > zero]
        if positive.size == 0:
            continue
        e = np.quantile(positive, np.arange(1, bins) / bins, method="linear")
        edges[u] = e
        c = np.searchsorted(e, v, side="left") + 1
        codes[u] = np.where(v <= zero, 0, c)
    return codes, edges
