// LayerStatistics built by hand from a correlation matrix, shared by the
// sparse prediction and spectral clustering tests (both read only the
// finalised statistics of a layer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "convergent/statistics.hpp"

namespace statistics_test_support {

// LayerStatistics of nets with the given widths from a hand-made correlation
// matrix (T x T, row-major, T = sum of widths): 100 samples, zero means, unit
// standard deviations, covariance = correlation. Units flagged in `dead`
// (all alive when empty) get a zero standard deviation and zero rows/columns.
inline convergent::LayerStatistics stats_from_correlation(std::vector<convergent::index_t> widths,
                                                          std::vector<double> corr,
                                                          std::vector<std::uint8_t> dead = {}) {
    using convergent::index_t;
    convergent::LayerStatistics s;
    s.block_widths = widths;
    index_t off = 0;
    for (index_t w : widths) {
        s.block_offsets.push_back(off);
        off += w;
    }
    s.samples = 100;
    s.mean.assign(size_t(off), 0.0);
    s.stddev.assign(size_t(off), 1.0);
    s.dead = dead.empty() ? std::vector<std::uint8_t>(size_t(off), 0) : dead;
    for (index_t i = 0; i < off; ++i)
        if (s.dead[size_t(i)]) {
            s.stddev[size_t(i)] = 0.0;
            for (index_t j = 0; j < off; ++j) corr[size_t(i * off + j)] = corr[size_t(j * off + i)] = 0.0;
        }
    s.correlation = corr;
    return s;
}

}  // namespace statistics_test_support
