// Sec. 3.1 semi-matching, max-weight matching through a backend, Table 1,
// Fig. 1d / Fig. 3 orders and cycle consistency. See matching.hpp; the exact
// Jonker-Volgenant solver is in jonker_volgenant.cpp.
#include "convergent/matching.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "matrix_checks.hpp"

namespace convergent {

namespace {

double scaled_tolerance(const Assignment& a, double tolerance) {
    return tolerance * std::max(std::abs(a.primal), std::abs(a.dual_bound));
}

}  // namespace

bool certificate_accepts(const Assignment& assignment, double tolerance) {
    return std::isfinite(assignment.gap) && assignment.gap <= scaled_tolerance(assignment, tolerance);
}

SemiMatching semi_matching(const double* similarity, index_t rows, index_t cols, index_t ld) {
    matrix_detail::check_matrix(similarity, rows, cols, ld, "semi-matching");
    CVG_REQUIRE(cols > 0 || rows == 0, InvalidArgument, "semi-matching: matrix has no columns");
    SemiMatching s;
    s.column.resize(size_t(rows));
    s.value.resize(size_t(rows));
    double sum = 0.0;
    for (index_t i = 0; i < rows; ++i) {
        const double* r = similarity + i * ld;
        index_t best = 0;
        for (index_t j = 1; j < cols; ++j)
            if (r[j] > r[best]) best = j;  // strict: ties keep the lowest column
        CVG_REQUIRE(std::isfinite(r[best]), BadData,
                    "semi-matching: non-finite similarity in row " + std::to_string(i));
        s.column[size_t(i)] = best;
        s.value[size_t(i)] = r[best];
        sum += r[best];
    }
    s.mean = rows > 0 ? sum / double(rows) : 0.0;
    return s;
}

Matching max_weight_matching(const Backend& backend, const double* similarity, index_t rows,
                             index_t cols, index_t ld) {
    matrix_detail::check_matrix(similarity, rows, cols, ld, "max-weight matching");
    Matching m;
    m.certificate = backend.max_weight_assignment(similarity, rows, cols, ld);
    CVG_REQUIRE(index_t(m.certificate.column.size()) == rows, Internal,
                "max-weight matching: backend returned " +
                    std::to_string(m.certificate.column.size()) + " columns for " +
                    std::to_string(rows) + " rows");
    m.column = m.certificate.column;
    m.value.assign(size_t(rows), std::numeric_limits<double>::quiet_NaN());
    double sum = 0.0;
    index_t matched = 0;
    for (index_t i = 0; i < rows; ++i) {
        const index_t j = m.column[size_t(i)];
        if (j < 0) continue;
        CVG_REQUIRE(j < cols, Internal, "max-weight matching: column out of range");
        m.value[size_t(i)] = similarity[i * ld + j];
        sum += m.value[size_t(i)];
        ++matched;
    }
    m.mean = matched > 0 ? sum / double(matched) : 0.0;
    return m;
}

Alignment align(const Backend& backend, const double* similarity, index_t rows, index_t cols) {
    Alignment a;
    a.semi = semi_matching(similarity, rows, cols, cols);
    a.matching = max_weight_matching(backend, similarity, rows, cols, cols);
    index_t same = 0;
    for (index_t i = 0; i < rows; ++i) same += a.semi.column[size_t(i)] == a.matching.column[size_t(i)];
    a.overlap_ratio = rows > 0 ? double(same) / double(rows) : 0.0;

    // Fig. 3: rows by decreasing semi-matching value.
    a.fig3_order.resize(size_t(rows));
    std::iota(a.fig3_order.begin(), a.fig3_order.end(), index_t(0));
    std::stable_sort(a.fig3_order.begin(), a.fig3_order.end(), [&](index_t x, index_t y) {
        return a.semi.value[size_t(x)] > a.semi.value[size_t(y)];
    });

    a.matched_order = matched_column_order(a.matching.column, cols);
    return a;
}

std::vector<index_t> matched_column_order(const std::vector<index_t>& column, index_t cols) {
    // Fig. 1d: matched columns in row order, then the unmatched ones.
    std::vector<std::uint8_t> used(size_t(cols), 0);
    std::vector<index_t> order;
    order.reserve(size_t(cols));
    for (index_t j : column) {
        if (j >= 0) {
            order.push_back(j);
            used[size_t(j)] = 1;
        }
    }
    for (index_t j = 0; j < cols; ++j)
        if (!used[size_t(j)]) order.push_back(j);
    return order;
}

Alignment align_nets(const Backend& backend, const double* similarity, const LayerStatistics& stats, int net_a,
                     int net_b, bool include_dead_units) {
    stats.check_net(net_a, "align_nets");
    stats.check_net(net_b, "align_nets");
    const index_t rows = stats.block_widths[size_t(net_a)], cols = stats.block_widths[size_t(net_b)];
    if (include_dead_units) return align(backend, similarity, rows, cols);
    auto dead = [&](int net) {
        const auto begin = stats.dead.begin() + stats.block_offsets[size_t(net)];
        return std::vector<std::uint8_t>(begin, begin + stats.block_widths[size_t(net)]);
    };
    return align(backend, similarity, rows, cols, dead(net_a), dead(net_b));
}

Alignment align(const Backend& backend, const double* similarity, index_t rows, index_t cols,
                const std::vector<std::uint8_t>& row_dead, const std::vector<std::uint8_t>& col_dead) {
    CVG_REQUIRE(index_t(row_dead.size()) == rows && index_t(col_dead.size()) == cols, InvalidArgument,
                "align: dead-unit masks do not match the matrix shape");
    std::vector<index_t> live_rows, live_cols;
    for (index_t i = 0; i < rows; ++i)
        if (!row_dead[size_t(i)]) live_rows.push_back(i);
    for (index_t j = 0; j < cols; ++j)
        if (!col_dead[size_t(j)]) live_cols.push_back(j);
    if (index_t(live_rows.size()) == rows && index_t(live_cols.size()) == cols)
        return align(backend, similarity, rows, cols);

    const index_t lr = index_t(live_rows.size()), lc = index_t(live_cols.size());
    const double nan = std::numeric_limits<double>::quiet_NaN();
    Alignment full;
    full.semi.column.assign(size_t(rows), -1);
    full.semi.value.assign(size_t(rows), nan);
    full.matching.column.assign(size_t(rows), -1);
    full.matching.value.assign(size_t(rows), nan);
    full.semi.mean = full.matching.mean = nan;
    full.overlap_ratio = 0.0;
    if (lr > 0 && lc > 0) {
        std::vector<double> sub(size_t(lr * lc));
        for (index_t i = 0; i < lr; ++i)
            for (index_t j = 0; j < lc; ++j)
                sub[size_t(i * lc + j)] = similarity[live_rows[size_t(i)] * cols + live_cols[size_t(j)]];
        const Alignment a = align(backend, sub.data(), lr, lc);
        for (index_t i = 0; i < lr; ++i) {
            const size_t r = size_t(live_rows[size_t(i)]);
            full.semi.column[r] = live_cols[size_t(a.semi.column[size_t(i)])];
            full.semi.value[r] = a.semi.value[size_t(i)];
            const index_t m = a.matching.column[size_t(i)];
            full.matching.column[r] = m >= 0 ? live_cols[size_t(m)] : -1;
            full.matching.value[r] = a.matching.value[size_t(i)];
        }
        full.semi.mean = a.semi.mean;
        full.matching.mean = a.matching.mean;
        full.matching.certificate = a.matching.certificate;
        full.overlap_ratio = a.overlap_ratio;
        for (index_t i : a.fig3_order) full.fig3_order.push_back(live_rows[size_t(i)]);
    }
    full.matched_order = matched_column_order(full.matching.column, cols);
    return full;
}

std::vector<double> matched_order_matrix(const double* similarity, index_t rows, index_t cols,
                                         const Alignment& a) {
    matrix_detail::check_matrix(similarity, rows, cols, cols, "matched-order matrix");
    CVG_REQUIRE(index_t(a.matched_order.size()) == cols, InvalidArgument,
                "matched-order matrix: alignment has " + std::to_string(a.matched_order.size()) +
                    " columns, matrix " + std::to_string(cols));
    std::vector<double> out(size_t(rows * cols));
    for (index_t i = 0; i < rows; ++i) {
        const double* r = similarity + i * cols;
        double* o = out.data() + i * cols;
        for (index_t k = 0; k < cols; ++k) o[k] = r[a.matched_order[size_t(k)]];
    }
    return out;
}

namespace {

// Unit maps between nets from the pairwise matchings: forward(a, b)[u] is the
// unit of net b matched to unit u of net a, or -1.
struct NetMaps {
    int nets;
    const AlignmentLookup& pair;
    std::vector<std::vector<index_t>> cache;  // nets * nets, filled lazily

    NetMaps(int n, const AlignmentLookup& p) : nets(n), pair(p), cache(size_t(n * n)) {}

    const std::vector<index_t>& map(int a, int b) {
        std::vector<index_t>& m = cache[size_t(a * nets + b)];
        if (!m.empty() || a == b) return m;
        if (a < b) {
            m = pair(a, b).matching.column;
        } else {
            const Alignment& al = pair(b, a);
            const std::vector<index_t>& fwd = al.matching.column;
            m.assign(al.matched_order.size(), -1);  // units of net a = cols of (b, a)
            for (size_t u = 0; u < fwd.size(); ++u)
                if (fwd[u] >= 0) m[size_t(fwd[u])] = index_t(u);
        }
        return m;
    }

    index_t step(int a, int b, index_t u) {
        if (u < 0) return -1;
        const std::vector<index_t>& m = map(a, b);
        return u < index_t(m.size()) ? m[size_t(u)] : -1;
    }
};

}  // namespace

CycleConsistency cycle_consistency(int nets, const AlignmentLookup& pair) {
    CVG_REQUIRE(nets >= 3, InvalidArgument,
                "cycle consistency needs at least 3 nets, got " + std::to_string(nets));
    NetMaps maps(nets, pair);
    CycleConsistency c;
    c.units = index_t(maps.map(0, 1).size());
    c.triangles = index_t(nets - 1) * index_t(nets - 2) / 2;
    c.cycle_end.resize(size_t(c.units));
    c.cycle_returns.resize(size_t(c.units));
    c.triangle_return_fraction.resize(size_t(c.units));
    for (index_t u = 0; u < c.units; ++u) {
        index_t x = u;
        for (int k = 0; k < nets; ++k) x = maps.step(k, (k + 1) % nets, x);
        c.cycle_end[size_t(u)] = x;
        c.cycle_returns[size_t(u)] = x == u;
        index_t returned = 0;
        for (int i = 1; i < nets; ++i)
            for (int j = i + 1; j < nets; ++j)
                returned += maps.step(j, 0, maps.step(i, j, maps.step(0, i, u))) == u;
        c.triangle_return_fraction[size_t(u)] = double(returned) / double(c.triangles);
        (returned == c.triangles ? c.core_units : c.rare_units).push_back(u);
    }
    return c;
}

}  // namespace convergent
