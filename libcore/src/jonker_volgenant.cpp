// Jonker-Volgenant shortest augmenting paths: the exact max-weight
// assignment behind Sec. 3.1's one-to-one matching, with its duality
// certificate. See convergent/jonker_volgenant.hpp.
#include "convergent/jonker_volgenant.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "matrix_checks.hpp"

namespace convergent {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

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

}  // namespace

Assignment jonker_volgenant_max_weight(const double* weights, index_t rows, index_t cols,
                                       index_t ld) {
    matrix_detail::check_matrix(weights, rows, cols, ld, "max-weight assignment");
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

}  // namespace convergent
