// Sec. 3.1 semi-matching, max-weight matching (Jonker-Volgenant), Table 1,
// Fig. 1d / Fig. 3 orders and cycle consistency. See matching.hpp.
#include "convergent/matching.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

namespace convergent {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

void check_matrix(const double* m, index_t rows, index_t cols, index_t ld, const char* what) {
    CVG_REQUIRE(rows >= 0 && cols >= 0, InvalidArgument,
                std::string(what) + ": negative matrix size " + std::to_string(rows) + " x " +
                    std::to_string(cols));
    CVG_REQUIRE(ld >= cols, InvalidArgument,
                std::string(what) + ": leading dimension " + std::to_string(ld) +
                    " is smaller than cols " + std::to_string(cols));
    CVG_REQUIRE(m != nullptr || rows * cols == 0, InvalidArgument,
                std::string(what) + ": NULL matrix");
    CVG_REQUIRE(rows < index_t(std::numeric_limits<int>::max()) &&
                    cols < index_t(std::numeric_limits<int>::max()),
                InvalidArgument, std::string(what) + ": matrix too large");
}

void check_finite(const double* m, index_t rows, index_t cols, index_t ld, const char* what) {
    for (index_t i = 0; i < rows; ++i) {
        const double* row = m + i * ld;
        bool ok = true;
        for (index_t j = 0; j < cols; ++j) ok &= std::isfinite(row[j]);
        CVG_REQUIRE(ok, BadData,
                    std::string(what) + ": non-finite weight in row " + std::to_string(i));
    }
}

// Jonker & Volgenant (1987), "A shortest augmenting path algorithm for dense
// and sparse linear assignment problems", on cost c_ij = -w_ij (maximisation
// folded into the reads), for nr <= nc. Row-major scans only; index arrays are
// allocated once per solve. On return rowsol[i] is the column of row i and
// v[j] the column potentials of the minimisation dual
//   max sum_i u_i + sum_j v_j  s.t.  u_i + v_j <= c_ij  (v_j <= 0 if nr < nc).
class JonkerVolgenant {
public:
    JonkerVolgenant(const double* w, int nr, int nc, std::ptrdiff_t ld)
        : w_(w), nr_(nr), nc_(nc), ld_(ld) {}

    void solve() {
        rowsol_.assign(size_t(nr_), -1);
        colsol_.assign(size_t(nc_), -1);
        v_.assign(size_t(nc_), 0.0);
        free_.clear();
        free_.reserve(size_t(nr_));
        if (nr_ == 0) return;
        if (nr_ == nc_) {
            column_reduction();
        } else {
            // Rectangular: start from v = 0 so that columns that stay free keep
            // v_j = 0 (a column whose v_j drops below 0 is matched from then on).
            for (int i = 0; i < nr_; ++i) free_.push_back(i);
        }
        if (nc_ > 1) {
            augmenting_row_reduction();
            augmenting_row_reduction();
        }
        free_.clear();
        for (int i = 0; i < nr_; ++i)
            if (rowsol_[size_t(i)] < 0) free_.push_back(i);
        d_.resize(size_t(nc_));
        pred_.resize(size_t(nc_));
        collist_.resize(size_t(nc_));
        for (int f : free_) augment(f);
    }

    const std::vector<int>& rowsol() const { return rowsol_; }
    const std::vector<double>& v() const { return v_; }

private:
    const double* row(int i) const { return w_ + std::ptrdiff_t(i) * ld_; }

    // v_j = min_i c_ij by one row-major pass; the argmin row takes column j
    // when it has none yet (columns in reverse order, as JV recommend), then
    // rows matched exactly once transfer their reduction to the column.
    void column_reduction() {
        std::vector<int>& imin = pred_;  // scratch
        imin.assign(size_t(nc_), 0);
        double* v = v_.data();
        int* im = imin.data();
        {
            const double* r0 = row(0);
            for (int j = 0; j < nc_; ++j) v[j] = -r0[j];
        }
        for (int i = 1; i < nr_; ++i) {
            const double* r = row(i);
            for (int j = 0; j < nc_; ++j) {
                const double c = -r[j];
                const bool better = c < v[j];
                v[j] = better ? c : v[j];
                im[j] = better ? i : im[j];
            }
        }
        std::vector<int> matches(size_t(nr_), 0);
        for (int j = nc_ - 1; j >= 0; --j) {
            const int i = im[j];
            if (++matches[size_t(i)] == 1) {
                rowsol_[size_t(i)] = j;
                colsol_[size_t(j)] = i;
            }
        }
        for (int i = 0; i < nr_; ++i) {
            if (matches[size_t(i)] == 0) {
                free_.push_back(i);
            } else if (matches[size_t(i)] == 1 && nc_ > 1) {
                const int j1 = rowsol_[size_t(i)];
                const double* r = row(i);
                double mn = kInf;
                for (int j = 0; j < nc_; ++j) {
                    const double h = j == j1 ? kInf : -r[j] - v[j];
                    mn = h < mn ? h : mn;
                }
                v[j1] -= mn;
            }
        }
    }

    // One pass of JV's augmenting row reduction: each free row takes its
    // cheapest column, lowering that column's potential to the second-best
    // reduced cost, and displaces its owner. The invariant "every matched
    // row's column has minimum reduced cost" holds after every step, so the
    // pass may stop anywhere; it is capped because tiny decrements on
    // near-tied weights can make it cycle for a long time.
    void augmenting_row_reduction() {
        const int prv = int(free_.size());
        int k = 0, numfree = 0;
        std::int64_t budget = 4 * std::int64_t(nr_) + 64;
        double* v = v_.data();
        while (k < prv && budget-- > 0) {
            const int i = free_[size_t(k++)];
            const double* r = row(i);
            double umin = -r[0] - v[0], usubmin = kInf;
            int j1 = 0, j2 = -1;
            for (int j = 1; j < nc_; ++j) {
                const double h = -r[j] - v[j];
                if (h < usubmin) {
                    if (h >= umin) {
                        usubmin = h;
                        j2 = j;
                    } else {
                        usubmin = umin;
                        umin = h;
                        j2 = j1;
                        j1 = j;
                    }
                }
            }
            int i0 = colsol_[size_t(j1)];
            const bool strict = umin < usubmin;
            if (strict) {
                v[j1] -= usubmin - umin;
            } else if (i0 >= 0) {
                j1 = j2;
                i0 = colsol_[size_t(j2)];
            }
            rowsol_[size_t(i)] = j1;
            colsol_[size_t(j1)] = i;
            if (i0 >= 0) {
                rowsol_[size_t(i0)] = -1;
                if (strict)
                    free_[size_t(--k)] = i0;
                else
                    free_[size_t(numfree++)] = i0;
            }
        }
        // Rows not reached because of the cap stay free too.
        while (k < prv) free_[size_t(numfree++)] = free_[size_t(k++)];
        free_.resize(size_t(numfree));
    }

    // Dijkstra from free row f over reduced costs c_ij - v_j until a free
    // column is reached (JV augmentation; collist keeps [ready | scan | todo]).
    void augment(int freerow) {
        double* d = d_.data();
        int* pred = pred_.data();
        int* collist = collist_.data();
        double* v = v_.data();
        const int* colsol = colsol_.data();
        {
            const double* r = row(freerow);
            for (int j = 0; j < nc_; ++j) {
                d[j] = -r[j] - v[j];
                pred[j] = freerow;
                collist[j] = j;
            }
        }
        int low = 0, up = 0, last = 0, endofpath = -1;
        double mn = 0.0;
        bool found = false;
        do {
            if (up == low) {
                last = low - 1;
                // All todo columns at the new minimum distance go to [low, up).
                mn = d[collist[up++]];
                for (int k = up; k < nc_; ++k) {
                    const int j = collist[k];
                    const double h = d[j];
                    if (h <= mn) {
                        if (h < mn) {
                            up = low;
                            mn = h;
                        }
                        collist[k] = collist[up];
                        collist[up++] = j;
                    }
                }
                for (int k = low; k < up; ++k) {
                    if (colsol[collist[k]] < 0) {
                        endofpath = collist[k];
                        found = true;
                        break;
                    }
                }
            }
            if (!found) {
                const int j1 = collist[low++];
                const int i = colsol[j1];
                const double* r = row(i);
                const double h = -r[j1] - v[j1] - mn;
                for (int k = up; k < nc_; ++k) {
                    const int j = collist[k];
                    const double v2 = -r[j] - v[j] - h;
                    if (v2 < d[j]) {
                        pred[j] = i;
                        if (v2 == mn) {
                            if (colsol[j] < 0) {
                                endofpath = j;
                                found = true;
                                break;
                            }
                            collist[k] = collist[up];
                            collist[up++] = j;
                        }
                        d[j] = v2;
                    }
                }
            }
        } while (!found);
        // Potentials of the columns made ready (distance < mn) move by their slack.
        for (int k = 0; k <= last; ++k) {
            const int j1 = collist[k];
            v[j1] += d[j1] - mn;
        }
        int i;
        do {
            i = pred[endofpath];
            colsol_[size_t(endofpath)] = i;
            const int j1 = endofpath;
            endofpath = rowsol_[size_t(i)];
            rowsol_[size_t(i)] = j1;
        } while (i != freerow);
    }

    const double* w_;
    int nr_, nc_;
    std::ptrdiff_t ld_;
    std::vector<int> rowsol_, colsol_, free_, pred_, collist_;
    std::vector<double> v_, d_;
};

double scaled_tolerance(const Assignment& a, double tolerance) {
    return tolerance * std::max(std::abs(a.primal), std::abs(a.dual_bound));
}

}  // namespace

bool certificate_accepts(const Assignment& assignment, double tolerance) {
    return std::isfinite(assignment.gap) && assignment.gap <= scaled_tolerance(assignment, tolerance);
}

Assignment jonker_volgenant_max_weight(const double* weights, index_t rows, index_t cols,
                                       index_t ld) {
    check_matrix(weights, rows, cols, ld, "max-weight assignment");
    check_finite(weights, rows, cols, ld, "max-weight assignment");
    Assignment result;
    result.solver = "jonker-volgenant";
    result.column.assign(size_t(rows), -1);
    if (rows == 0 || cols == 0) return result;

    // The solver wants nr <= nc; for rows > cols solve the transpose.
    const bool transposed = rows > cols;
    std::vector<double> wt;
    const double* w = weights;
    std::ptrdiff_t wld = ld;
    int nr = int(rows), nc = int(cols);
    if (transposed) {
        wt.resize(size_t(rows * cols));
        constexpr index_t B = 64;  // blocked transpose keeps both sides in cache
        for (index_t i0 = 0; i0 < rows; i0 += B)
            for (index_t j0 = 0; j0 < cols; j0 += B)
                for (index_t i = i0; i < std::min(rows, i0 + B); ++i)
                    for (index_t j = j0; j < std::min(cols, j0 + B); ++j)
                        wt[size_t(j * rows + i)] = weights[i * ld + j];
        w = wt.data();
        wld = rows;
        nr = int(cols);
        nc = int(rows);
    }
    JonkerVolgenant jv(w, nr, nc, wld);
    jv.solve();

    // Certificate on the solved orientation (same optimum): prices p = -v,
    // clamped at 0 on the side with free units (nr < nc) where the dual
    // requires it (JV keeps them <= 0 there; the clamp only guards rounding).
    std::vector<double> p(static_cast<size_t>(nc));
    for (int j = 0; j < nc; ++j) {
        p[size_t(j)] = -jv.v()[size_t(j)];
        if (nr < nc) p[size_t(j)] = std::max(p[size_t(j)], 0.0);
    }
    double primal = 0.0, dual = 0.0;
    for (int j = 0; j < nc; ++j) dual += p[size_t(j)];
    for (int i = 0; i < nr; ++i) {
        const double* r = w + std::ptrdiff_t(i) * wld;
        double best = -kInf;
        for (int j = 0; j < nc; ++j) best = std::max(best, r[j] - p[size_t(j)]);
        dual += best;
        primal += r[jv.rowsol()[size_t(i)]];
    }
    if (transposed) {
        for (int i = 0; i < nr; ++i) result.column[size_t(jv.rowsol()[size_t(i)])] = i;
    } else {
        for (int i = 0; i < nr; ++i) result.column[size_t(i)] = jv.rowsol()[size_t(i)];
    }
    result.primal = primal;
    result.dual_bound = dual;
    result.gap = dual - primal;
    return result;
}

SemiMatching semi_matching(const double* similarity, index_t rows, index_t cols, index_t ld) {
    check_matrix(similarity, rows, cols, ld, "semi-matching");
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
    check_matrix(similarity, rows, cols, ld, "max-weight matching");
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

namespace {
nlohmann::json value_or_null(double v) {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}
}  // namespace

nlohmann::json alignment_to_json(const Alignment& a) {
    using nlohmann::json;
    json values = json::array(), semi_values = json::array(), fig3_semi = json::array(),
         fig3_matching = json::array();
    for (double v : a.matching.value) values.push_back(value_or_null(v));
    for (double v : a.semi.value) semi_values.push_back(value_or_null(v));
    for (index_t r : a.fig3_order) {
        fig3_semi.push_back(value_or_null(a.semi.value[size_t(r)]));
        fig3_matching.push_back(value_or_null(a.matching.value[size_t(r)]));
    }
    json j;
    j["semi_matching"] = a.semi.column;
    j["semi_matching_values"] = std::move(semi_values);
    j["semi_matching_mean"] = value_or_null(a.semi.mean);
    j["matching"] = a.matching.column;
    j["matching_values"] = std::move(values);
    j["matching_mean"] = value_or_null(a.matching.mean);
    j["overlap_ratio"] = a.overlap_ratio;
    j["fig3_order"] = a.fig3_order;
    j["fig3_semi_matching"] = std::move(fig3_semi);
    j["fig3_matching"] = std::move(fig3_matching);
    j["matched_order"] = a.matched_order;
    const Assignment& c = a.matching.certificate;
    j["solver"] = {{"name", c.solver}, {"primal", c.primal}, {"dual_bound", c.dual_bound},
                   {"gap", c.gap}};
    return j;
}

std::vector<double> matched_order_matrix(const double* similarity, index_t rows, index_t cols,
                                         const Alignment& a) {
    check_matrix(similarity, rows, cols, cols, "matched-order matrix");
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

nlohmann::json cycle_consistency_json(const std::vector<std::string>& nets,
                                      const AlignmentLookup& pair) {
    const CycleConsistency c = cycle_consistency(int(nets.size()), pair);
    nlohmann::json cycle = nets;
    cycle.push_back(nets.front());
    std::vector<bool> returns(c.cycle_returns.begin(), c.cycle_returns.end());
    index_t returned = 0;
    for (auto r : c.cycle_returns) returned += r;
    const double units = c.units > 0 ? double(c.units) : 1.0;
    return {{"reference", nets.front()},
            {"cycle", std::move(cycle)},
            {"units", c.units},
            {"triangles", c.triangles},
            {"cycle_returns", returns},
            {"cycle_end", c.cycle_end},
            {"cycle_return_fraction", double(returned) / units},
            {"triangle_return_fraction", c.triangle_return_fraction},
            {"core_units", c.core_units},
            {"rare_units", c.rare_units},
            {"core_fraction", double(c.core_units.size()) / units}};
}

}  // namespace convergent
