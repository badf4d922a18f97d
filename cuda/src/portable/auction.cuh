// Sec. 3.1 max-weight matching on the device: Bertsekas' forward auction
// (Jacobi bidding) with epsilon scaling, written as Thrust algorithms and
// __host__ __device__ functors so that nvcc (CUDA device system) and g++
// (THRUST_DEVICE_SYSTEM_OMP) compile the same logic.
//
// Integer problem: n = max(rows, cols), zero-weight dummy rows/cols pad the
// matrix to n x n (scipy semantics: min(rows, cols) real pairs; the padded
// optimum equals the original one). a_ij = round(w_ij * S) * (n + 1) with S
// a power of two keeping |a| <= 2^50. Ending the epsilon-scaling sequence at
// epsilon = 1 (< 1/n on the round(w * S) scale) makes the assignment optimal
// for the rounded integers (Bertsekas 1988). It is then certified on the
// original doubles: dual_bound = sum_i max_j (w'_ij - p_j) + sum_j p_j with
// p = prices / (S (n + 1)) is an upper bound on the optimum for any p (all
// padded columns are matched). If the gap exceeds the tolerance or the round
// cap is hit, the exact Jonker-Volgenant solver of libcore replaces the
// result ("auction+jonker-volgenant"): never silently suboptimal.
#pragma once

#include "portable/common.cuh"

#include <thrust/copy.h>
#include <thrust/iterator/discard_iterator.h>
#include <thrust/fill.h>
#include <thrust/for_each.h>
#include <thrust/functional.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/iterator/zip_iterator.h>
#include <thrust/reduce.h>
#include <thrust/sort.h>
#include <thrust/transform.h>
#include <thrust/transform_reduce.h>
#include <thrust/tuple.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "convergent/backend.hpp"
#include "convergent/jonker_volgenant.hpp"
#include "convergent/matching.hpp"  // certificate_accepts
#include "portable/auction_options.hpp"

namespace convergent {
namespace CVG_PORTABLE_NS {
namespace auction_detail {

using i64 = long long;
constexpr i64 kNoValue = -(i64(1) << 62);  // "no second-best column" (n == 1)

// Best and second-best value of one row, ties broken by a per-row rotation
// of the columns (rank = (j - i) mod n) so that tied rows spread over tied
// columns instead of all bidding for the lowest one (all-equal matrices
// finish in one round instead of n).
struct Top2 {
    i64 v1, v2;
    int j1, rank1;
};

struct Top2Better {
    CVG_HD bool operator()(const Top2& a, const Top2& b) const {
        return a.v1 > b.v1 || (a.v1 == b.v1 && a.rank1 < b.rank1);
    }
};

struct Top2Merge {
    CVG_HD Top2 operator()(const Top2& a, const Top2& b) const {
        Top2 r;
        if (Top2Better{}(a, b)) {
            r = a;
            r.v2 = a.v2 > b.v1 ? a.v2 : b.v1;
        } else {
            r = b;
            r.v2 = b.v2 > a.v1 ? b.v2 : a.v1;
        }
        return r;
    }
};

// Element f of the segmented reduction: bidder slot s = f / n, column j = f % n.
struct BidValue {
    const i64* benefit;  // n x n
    const i64* price;
    const int* bidders;  // row of each slot
    i64 n;
    CVG_HD Top2 operator()(i64 f) const {
        const i64 s = f / n, j = f % n;
        const i64 i = bidders[s];
        Top2 t;
        t.v1 = benefit[i * n + j] - price[j];
        t.v2 = kNoValue;
        t.j1 = int(j);
        t.rank1 = int((j - i % n + n) % n);
        return t;
    }
};

struct SegmentOf {
    i64 n;
    CVG_HD i64 operator()(i64 f) const { return f / n; }
};

// Bid of slot s: its best column and the price that makes that column just
// eps worse than its second best (Bertsekas' bidding increment).
struct MakeBid {
    const Top2* best;
    const int* bidders;
    const i64* price;
    i64 eps;
    CVG_HD thrust::tuple<int, i64, int> operator()(i64 s) const {
        const Top2 t = best[s];
        const i64 inc = t.v2 == kNoValue ? eps : (t.v1 - t.v2) + eps;
        return thrust::make_tuple(t.j1, price[t.j1] + inc, bidders[s]);
    }
};

// Highest bid per column (ties -> lowest row).
struct MaxBid {
    CVG_HD thrust::tuple<i64, int> operator()(const thrust::tuple<i64, int>& a,
                                              const thrust::tuple<i64, int>& b) const {
        const i64 va = thrust::get<0>(a), vb = thrust::get<0>(b);
        if (va != vb) return va > vb ? a : b;
        return thrust::get<1>(a) < thrust::get<1>(b) ? a : b;
    }
};

// Winning bids touch distinct columns and distinct (previously free) rows;
// the displaced owners are distinct too, so the scatter is race-free.
struct Award {
    const int* col;
    const i64* bid;
    const int* row;
    int* row_col;
    int* col_row;
    i64* price;
    CVG_HD void operator()(i64 t) const {
        const int c = col[t], r = row[t];
        const int old = col_row[c];
        if (old >= 0) row_col[old] = -1;
        col_row[c] = r;
        row_col[r] = c;
        price[c] = bid[t];
    }
};

struct IsFree {
    const int* row_col;
    CVG_HD bool operator()(int i) const { return row_col[i] < 0; }
};

struct ScaleBenefit {
    const double* w;  // rows x cols, compact
    i64 rows, cols, n, multiplier;
    double scale;
    CVG_HD i64 operator()(i64 f) const {
        const i64 i = f / n, j = f % n;
        if (i >= rows || j >= cols) return 0;
        return i64(llrint(w[i * cols + j] * scale)) * multiplier;
    }
};

struct AbsValue {
    CVG_HD double operator()(double x) const { return x < 0 ? -x : x; }
};

// Row profit max_j (w'_ij - p_j) on the original doubles, padded rows/cols = 0.
struct RowProfit {
    const double* w;
    const double* p;
    i64 rows, cols, n;
    CVG_HD double operator()(i64 i) const {
        double best = -1e308;
        for (i64 j = 0; j < n; ++j) {
            const double wij = (i < rows && j < cols) ? w[i * cols + j] : 0.0;
            const double v = wij - p[j];
            best = v > best ? v : best;
        }
        return best;
    }
};

struct PriceToDouble {
    double inv_scale;
    CVG_HD double operator()(i64 x) const { return double(x) * inv_scale; }
};

struct MatchedWeight {
    const double* w;
    const int* row_col;
    i64 rows, cols;
    CVG_HD double operator()(i64 i) const {
        const int j = row_col[i];
        return (j >= 0 && j < cols) ? w[i * cols + j] : 0.0;
    }
};

}  // namespace auction_detail

// Runs the certified auction on the current device system. w is rows x cols
// with leading dimension ld on the host. Returns the assignment of the
// original rows; its solver is "auction" or "auction+jonker-volgenant".
// The automatic round cap is 64 n + 10000 per epsilon phase.
inline Assignment auction_max_weight(const double* w, index_t rows, index_t cols, index_t ld,
                                     const AuctionOptions& options = AuctionOptions{}) {
    using namespace auction_detail;
    CVG_REQUIRE(rows >= 0 && cols >= 0 && ld >= cols, InvalidArgument,
                "auction: bad matrix shape " + std::to_string(rows) + " x " +
                    std::to_string(cols) + " (ld " + std::to_string(ld) + ")");
    CVG_REQUIRE(options.scaling_factor >= 2, InvalidArgument,
                "auction: scaling_factor must be >= 2");
    Assignment result;
    result.column.assign(size_t(rows), -1);
    result.solver = "auction";
    if (rows == 0 || cols == 0) return result;

    std::vector<double> host(size_t(rows * cols));
    double wmax = 0.0;
    for (index_t i = 0; i < rows; ++i)
        for (index_t j = 0; j < cols; ++j) {
            const double x = w[i * ld + j];
            CVG_REQUIRE(std::isfinite(x), BadData,
                        "auction: non-finite weight in row " + std::to_string(i));
            host[size_t(i * cols + j)] = x;
            wmax = std::max(wmax, std::abs(x));
        }

    const auto fallback = [&](const char* why) {
        (void)why;
        Assignment exact = jonker_volgenant_max_weight(w, rows, cols, ld);
        exact.solver = "auction+jonker-volgenant";
        return exact;
    };
    if (options.force_fallback) return fallback("forced");

    const i64 n = std::max<i64>(rows, cols);
    const size_t un = static_cast<size_t>(n);
    const i64 multiplier = n + 1;
    // S = 2^k with |round(w S)| (n + 1) <= 2^50: exact in int64 and in double.
    double scale = 1.0;
    if (wmax > 0.0) scale = std::ldexp(1.0, int(std::floor(std::log2(std::ldexp(1.0, 50) / (double(multiplier) * wmax)))));

    thrust::device_vector<double> dw(host.begin(), host.end());
    thrust::device_vector<i64> benefit(un * un);
    thrust::transform(thrust::counting_iterator<i64>(0), thrust::counting_iterator<i64>(n * n),
                      benefit.begin(),
                      ScaleBenefit{thrust::raw_pointer_cast(dw.data()), rows, cols, n, multiplier, scale});
    const i64 bmax = thrust::reduce(benefit.begin(), benefit.end(), i64(kNoValue), thrust::maximum<i64>());
    const i64 bmin = thrust::reduce(benefit.begin(), benefit.end(), i64(-kNoValue), thrust::minimum<i64>());

    thrust::device_vector<i64> price(un, 0);
    thrust::device_vector<int> row_col(un, -1), col_row(un, -1);
    thrust::device_vector<int> bidders(un);
    thrust::device_vector<Top2> best(un);
    thrust::device_vector<int> bid_col(un), bid_row(un), win_col(un), win_row(un);
    thrust::device_vector<i64> bid_val(un), win_val(un);

    const i64* pb = thrust::raw_pointer_cast(benefit.data());
    i64* pp = thrust::raw_pointer_cast(price.data());
    int* prc = thrust::raw_pointer_cast(row_col.data());
    int* pcr = thrust::raw_pointer_cast(col_row.data());
    const int* pbid = thrust::raw_pointer_cast(bidders.data());

    const i64 range = bmax - bmin;
    i64 eps = std::max<i64>(1, range / options.scaling_factor);
    const i64 cap_per_phase = 64 * n + 10000;
    i64 phases = 1;
    for (i64 e = eps; e > 1; e = std::max<i64>(1, e / options.scaling_factor)) ++phases;
    const i64 cap = options.max_rounds > 0 ? options.max_rounds : cap_per_phase * phases;
    const i64 price_limit = i64(1) << 61;

    i64 rounds = 0;
    bool capped = false;
    for (;;) {
        // A new phase keeps the prices and frees every row (Bertsekas' scaling).
        thrust::fill(row_col.begin(), row_col.end(), -1);
        thrust::fill(col_row.begin(), col_row.end(), -1);
        for (;;) {
            const auto end = thrust::copy_if(thrust::counting_iterator<int>(0),
                                             thrust::counting_iterator<int>(int(n)),
                                             bidders.begin(), IsFree{prc});
            const i64 m = i64(end - bidders.begin());
            if (m == 0) break;
            if (rounds++ >= cap) {
                capped = true;
                break;
            }
            // Bidding: best and second-best value per free row (segmented top-2).
            thrust::reduce_by_key(
                thrust::make_transform_iterator(thrust::counting_iterator<i64>(0), SegmentOf{n}),
                thrust::make_transform_iterator(thrust::counting_iterator<i64>(m * n), SegmentOf{n}),
                thrust::make_transform_iterator(thrust::counting_iterator<i64>(0), BidValue{pb, pp, pbid, n}),
                thrust::make_discard_iterator(), best.begin(), thrust::equal_to<i64>(), Top2Merge{});
            thrust::transform(thrust::counting_iterator<i64>(0), thrust::counting_iterator<i64>(m),
                              thrust::make_zip_iterator(thrust::make_tuple(bid_col.begin(), bid_val.begin(), bid_row.begin())),
                              MakeBid{thrust::raw_pointer_cast(best.data()), pbid, pp, eps});
            // Assignment: highest bid per column (sort by column, segmented max).
            thrust::sort_by_key(bid_col.begin(), bid_col.begin() + m,
                                thrust::make_zip_iterator(thrust::make_tuple(bid_val.begin(), bid_row.begin())));
            const auto won = thrust::reduce_by_key(
                bid_col.begin(), bid_col.begin() + m,
                thrust::make_zip_iterator(thrust::make_tuple(bid_val.begin(), bid_row.begin())),
                win_col.begin(),
                thrust::make_zip_iterator(thrust::make_tuple(win_val.begin(), win_row.begin())),
                thrust::equal_to<int>(), MaxBid{});
            const i64 winners = i64(won.first - win_col.begin());
            thrust::for_each(thrust::counting_iterator<i64>(0), thrust::counting_iterator<i64>(winners),
                             Award{thrust::raw_pointer_cast(win_col.data()), thrust::raw_pointer_cast(win_val.data()),
                                   thrust::raw_pointer_cast(win_row.data()), prc, pcr, pp});
            const i64 top = thrust::reduce(win_val.begin(), win_val.begin() + winners, i64(0), thrust::maximum<i64>());
            if (top > price_limit) {
                capped = true;
                break;
            }
        }
        if (capped || eps == 1) break;
        eps = std::max<i64>(1, eps / options.scaling_factor);
    }
    if (capped) return fallback("round cap");

    // Certificate on the original doubles (padded to n x n with zeros).
    thrust::device_vector<double> p(un);
    thrust::transform(price.begin(), price.end(), p.begin(),
                      PriceToDouble{1.0 / (scale * double(multiplier))});
    const double* pw = thrust::raw_pointer_cast(dw.data());
    const double profits = thrust::transform_reduce(
        thrust::counting_iterator<i64>(0), thrust::counting_iterator<i64>(n),
        RowProfit{pw, thrust::raw_pointer_cast(p.data()), rows, cols, n}, 0.0, thrust::plus<double>());
    const double price_sum = thrust::reduce(p.begin(), p.end(), 0.0, thrust::plus<double>());
    const double primal = thrust::transform_reduce(
        thrust::counting_iterator<i64>(0), thrust::counting_iterator<i64>(rows),
        MatchedWeight{pw, prc, rows, cols}, 0.0, thrust::plus<double>());

    std::vector<int> assigned(un);
    thrust::copy(row_col.begin(), row_col.end(), assigned.begin());
    for (index_t i = 0; i < rows; ++i) {
        const int j = assigned[size_t(i)];
        result.column[size_t(i)] = (j >= 0 && j < cols) ? index_t(j) : index_t(-1);
    }
    result.primal = primal;
    result.dual_bound = profits + price_sum;
    result.gap = result.dual_bound - result.primal;
    if (!certificate_accepts(result, options.tolerance)) return fallback("gap above tolerance");
    return result;
}

}  // namespace CVG_PORTABLE_NS
}  // namespace convergent
