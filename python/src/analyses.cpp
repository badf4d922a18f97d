// The single analyses on caller matrices: Sec. 3.1 semi-matching,
// max-weight matching and alignment, Sec. 3.2 binning and mutual
// information, and the result dicts of the analyses on Statistics.
#include <cmath>

#include "common.hpp"
#include "convergent/matching.hpp"
#include "convergent/mutual_information.hpp"
#include "convergent/options.hpp"
#include "convergent/similarity_indices.hpp"

namespace convergent::python {

namespace {

std::vector<std::int64_t> as_int64(const std::vector<index_t>& v) { return {v.begin(), v.end()}; }

struct Binned {
    BinnedUnits binned;
};

}  // namespace

std::vector<double> similarity_matrix(const py::handle& obj, const char* what, index_t& rows, index_t& cols) {
    auto array = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(obj);
    if (!array) {
        PyErr_Clear();
        throw py::type_error(std::string(what) + ": expected a 2-D array of numbers, got " +
                             py::repr(obj.get_type()).cast<std::string>());
    }
    CVG_REQUIRE(array.ndim() == 2, InvalidArgument,
                std::string(what) + ": expected a 2-D matrix, got " + std::to_string(array.ndim()) + " dimensions");
    rows = index_t(array.shape(0));
    cols = index_t(array.shape(1));
    CVG_REQUIRE(cols > 0 || rows == 0, InvalidArgument, std::string(what) + ": the matrix has rows but no columns");
    const double* data = array.data();
    std::vector<double> out(data, data + rows * cols);
    for (index_t i = 0; i < rows; ++i)
        for (index_t j = 0; j < cols; ++j)
            CVG_REQUIRE(std::isfinite(out[size_t(i * cols + j)]), BadData,
                        std::string(what) + ": non-finite value at row " + std::to_string(i) + ", column " +
                            std::to_string(j));
    return out;
}

py::dict sparse_prediction_dict(const SparsePredictionResult& r) {
    const py::ssize_t alphas = py::ssize_t(r.alphas.size());
    py::dict d;
    d["alphas"] = to_numpy(r.alphas);
    d["mean_loss"] = to_numpy(r.mean_loss);
    d["mean_nonzero"] = to_numpy(r.mean_nonzero);
    d["max_duality_gap"] = to_numpy(r.max_duality_gap);
    py::array_t<bool> conv(alphas);
    for (py::ssize_t i = 0; i < alphas; ++i) conv.mutable_at(i) = r.converged[size_t(i)] != 0;
    d["converged"] = conv;
    std::vector<double> loss;
    std::vector<std::int64_t> nonzero;
    for (py::ssize_t a = 0; a < alphas; ++a) {
        loss.insert(loss.end(), r.loss[size_t(a)].begin(), r.loss[size_t(a)].end());
        nonzero.insert(nonzero.end(), r.nonzero[size_t(a)].begin(), r.nonzero[size_t(a)].end());
    }
    d["loss"] = to_numpy(std::move(loss), {alphas, py::ssize_t(r.targets)});
    d["nonzero"] = to_numpy(std::move(nonzero), {alphas, py::ssize_t(r.targets)});
    if (!r.weights.empty()) {
        std::vector<double> weights;
        for (const auto& w : r.weights) weights.insert(weights.end(), w.begin(), w.end());
        d["weights"] = to_numpy(std::move(weights), {alphas, py::ssize_t(r.targets), py::ssize_t(r.predictors)});
    }
    return d;
}

py::dict clustering_dict(const ClusteringResult& r) {
    py::list clusters;
    for (const ClusterNode& n : r.clusters) {
        py::dict c;
        c["id"] = n.id;
        c["parent"] = n.parent;
        c["depth"] = n.depth;
        c["leaf"] = n.leaf;
        c["members_a"] = to_numpy(as_int64(n.members_a));
        c["members_b"] = to_numpy(as_int64(n.members_b));
        c["children"] = to_numpy(as_int64(n.children));
        c["between_net_similarity"] = n.between_net_similarity;
        c["within_net_similarity"] = n.within_net_similarity;
        clusters.append(c);
    }
    py::dict d;
    d["k"] = r.k;
    d["k_eigengap"] = r.k_eigengap;
    d["clusters"] = clusters;
    d["eigenvalues"] = to_numpy(r.eigenvalues);
    d["leaves_by_similarity"] = to_numpy(as_int64(r.leaves_by_similarity));
    d["permutation"] = to_numpy(as_int64(r.permutation));
    d["sorted_between_net_similarity"] = to_numpy(r.sorted_between_net_similarity);
    d["sorted_within_net_similarity"] = to_numpy(r.sorted_within_net_similarity);
    return d;
}

// One net's activations as samples x units float64: (N, C) as is, 4-D
// (N, C, H, W) or, channels_last, (N, H, W, C) with one row per image position.
std::vector<double> samples_by_units(const py::handle& obj, bool channels_last, const char* what, index_t& rows,
                                     index_t& units) {
    auto array = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(obj);
    if (!array) {
        PyErr_Clear();
        throw py::type_error(std::string(what) + ": expected an array of numbers, got " +
                             py::repr(obj.get_type()).cast<std::string>());
    }
    CVG_REQUIRE(array.ndim() == 2 || array.ndim() == 4, InvalidArgument,
                std::string(what) + ": expected (N, C) or a 4-D conv layer, got " + std::to_string(array.ndim()) +
                    " dimensions");
    const double* data = array.data();
    if (array.ndim() == 2) {
        rows = index_t(array.shape(0)), units = index_t(array.shape(1));
        return std::vector<double>(data, data + rows * units);
    }
    const index_t n = index_t(array.shape(0));
    const index_t c = index_t(channels_last ? array.shape(3) : array.shape(1));
    const index_t positions = index_t(channels_last ? array.shape(1) * array.shape(2) : array.shape(2) * array.shape(3));
    rows = n * positions, units = c;
    if (channels_last) return std::vector<double>(data, data + rows * units);
    std::vector<double> out(size_t(rows * units));
    for (index_t i = 0; i < n; ++i)
        for (index_t u = 0; u < c; ++u)
            for (index_t p = 0; p < positions; ++p)
                out[size_t((i * positions + p) * c + u)] = data[(i * c + u) * positions + p];
    return out;
}

py::dict similarity_indices_dict(const SimilarityIndices& r) {
    py::dict d;
    d["samples"] = r.samples;
    d["units"] = py::make_tuple(r.units_a, r.units_b);
    d["dead_units_excluded"] = py::make_tuple(r.dead_a, r.dead_b);
    d["cka"] = r.cka;
    d["cka_debiased"] = r.cka_debiased;
    if (!r.debiased_note.empty()) d["cka_debiased_note"] = r.debiased_note;
    d["cca"] = to_numpy(r.cca);
    d["cca_mean"] = r.cca_mean;
    d["svcca_variance"] = r.svcca_variance;
    d["svcca_dims"] = py::make_tuple(r.svcca_dims_a, r.svcca_dims_b);
    d["svcca"] = to_numpy(r.svcca);
    d["svcca_mean"] = r.svcca_mean;
    d["pwcca"] = r.pwcca_a;
    d["pwcca_reverse"] = r.pwcca_b;
    d["pwcca_symmetric"] = r.pwcca_symmetric;
    d["procrustes_alpha"] = r.procrustes_alpha;
    d["procrustes_euclidean"] = r.procrustes_euclidean;
    d["procrustes_angular"] = r.procrustes_angular;
    d["ridge"] = py::make_tuple(r.ridge_a, r.ridge_b);
    d["warnings"] = r.warnings;
    return d;
}

void bind_analyses(py::module_& m) {
    m.def("similarity_indices", [](const py::handle& x, const py::handle& y, const py::object& options) {
              const CompareOptions o = options_from(options, "similarity_indices");
              index_t rows_x = 0, rows_y = 0, p = 0, q = 0;
              const std::vector<double> a = samples_by_units(x, o.layout.channels_last, "x", rows_x, p);
              const std::vector<double> b = samples_by_units(y, o.layout.channels_last, "y", rows_y, q);
              CVG_REQUIRE(rows_x == rows_y, BadData,
                          "similarity_indices: x has " + std::to_string(rows_x) + " samples but y has " +
                              std::to_string(rows_y) + "; both nets must see the same inputs");
              SimilarityIndices r;
              {
                  py::gil_scoped_release release;
                  r = similarity_indices_from_data(a.data(), b.data(), rows_x, p, q, similarity_indices_options(o));
              }
              return similarity_indices_dict(r);
          },
          py::arg("x"), py::arg("y"), py::arg("options") = py::none(),
          "Whole-layer similarity indices of two nets' activations in memory (float64): linear and\n"
          "debiased CKA, CCA, SVCCA, PWCCA, Procrustes (docs/summary_schema.md). Options:\n"
          "svcca_variance, procrustes_alpha, cca_ridge, layout (4-D arrays).");

    m.def("semi_matching", [](const py::handle& similarity) {
              index_t rows = 0, cols = 0;
              const std::vector<double> s = similarity_matrix(similarity, "similarity", rows, cols);
              SemiMatching r;
              {
                  py::gil_scoped_release release;
                  r = semi_matching(s.data(), rows, cols, cols);
              }
              py::dict d;
              d["column"] = to_numpy(as_int64(r.column));
              d["value"] = to_numpy(r.value);
              d["mean"] = r.mean;
              return d;
          },
          py::arg("similarity"),
          "Sec. 3.1 semi-matching: per row the column of highest similarity (ties -> lowest).\n"
          "Returns {column, value, mean}; every unit takes part (Statistics.table1 applies the\n"
          "dead-unit convention of the CLI).");

    m.def("max_weight_matching", [](const py::handle& similarity, const py::object& backend) {
              index_t rows = 0, cols = 0;
              const std::vector<double> s = similarity_matrix(similarity, "similarity", rows, cols);
              std::shared_ptr<const Backend> b = backend_of(backend);
              Matching r;
              {
                  py::gil_scoped_release release;
                  r = max_weight_matching(*b, s.data(), rows, cols, cols);
              }
              py::dict d;
              d["column"] = to_numpy(as_int64(r.column));
              d["value"] = to_numpy(r.value);
              d["mean"] = r.mean;
              d["primal"] = r.certificate.primal;
              d["dual_bound"] = r.certificate.dual_bound;
              d["gap"] = r.certificate.gap;
              d["solver"] = r.certificate.solver;
              return d;
          },
          py::arg("similarity"), py::arg("backend") = "cpu",
          "Sec. 3.1 exact max-weight one-to-one matching with its LP certificate\n"
          "(scipy linear_sum_assignment(maximize=True) semantics; column -1 = unmatched row).");

    m.def("align", [](const py::handle& similarity, const py::object& backend) {
              index_t rows = 0, cols = 0;
              const std::vector<double> s = similarity_matrix(similarity, "similarity", rows, cols);
              std::shared_ptr<const Backend> b = backend_of(backend);
              Alignment r;
              {
                  py::gil_scoped_release release;
                  r = align(*b, s.data(), rows, cols);
              }
              py::dict d;
              d["semi_column"] = to_numpy(as_int64(r.semi.column));
              d["matching_column"] = to_numpy(as_int64(r.matching.column));
              d["overlap_ratio"] = r.overlap_ratio;
              d["fig3_order"] = to_numpy(as_int64(r.fig3_order));
              d["matched_order"] = to_numpy(as_int64(r.matched_order));
              d["semi_matching_mean"] = r.semi.mean;
              d["matching_mean"] = r.matching.mean;
              return d;
          },
          py::arg("similarity"), py::arg("backend") = "cpu",
          "Semi-matching, matching, the Table 1 overlap, the Fig. 3 row order and the Fig. 1d column order.");

    m.def("sample_rows", [](index_t total_rows, index_t count, std::uint64_t seed) {
              CVG_REQUIRE(total_rows >= 0, InvalidArgument, "sample_rows: total_rows is negative");
              CVG_REQUIRE(count >= 0, InvalidArgument, "sample_rows: count is negative");
              return to_numpy(as_int64(sample_rows(total_rows, count, seed)));
          },
          py::arg("total_rows"), py::arg("count"), py::arg("seed") = 0,
          "The seeded rows the pipeline draws for Sec. 3.2 (sorted, distinct, in [0, total_rows)).");

    py::class_<Binned>(m, "Binned", R"doc(
Percentile-binned units of one net (Sec. 3.2, footnote 6): code 0 for values
<= mi_zero_threshold, then mi_bins equal-mass bins (numpy.quantile edges).
values: (samples, units), any float dtype. options: a convergent.Options
(mi_bins, mi_zero_threshold).
)doc")
        .def(py::init([](const py::handle& values, const py::object& options) {
                 auto array = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(values);
                 if (!array) {
                     PyErr_Clear();
                     throw py::type_error("Binned: values must be a 2-D array of numbers");
                 }
                 CVG_REQUIRE(array.ndim() == 2, InvalidArgument,
                             "Binned: values must be (samples, units), got " + std::to_string(array.ndim()) +
                                 " dimensions");
                 const index_t samples = index_t(array.shape(0)), units = index_t(array.shape(1));
                 CVG_REQUIRE(samples >= 1 && samples < (index_t(1) << 31), InvalidArgument,
                             "Binned: samples = " + std::to_string(samples) + " is outside [1, 2^31)");
                 CVG_REQUIRE(units >= 1, InvalidArgument, "Binned: units = " + std::to_string(units) + " must be >= 1");
                 const BinningOptions o = binning_options(options_from(options, "Binned"));
                 Binned b;
                 {
                     py::gil_scoped_release release;
                     b.binned = bin_units(array.data(), samples, units, units, o);
                 }
                 return b;
             }),
             py::arg("values"), py::arg("options") = py::none())
        .def_property_readonly("shape", [](const Binned& b) {
            return py::make_tuple(b.binned.units, b.binned.samples, b.binned.bins);
        }, "(units, samples, bins): bins counts every code, the zero bin included.")
        .def("codes", [](const Binned& b) {
            const BinnedUnits& u = b.binned;
            std::vector<std::int32_t> out(size_t(u.samples * u.units));
            for (index_t unit = 0; unit < u.units; ++unit)
                for (index_t s = 0; s < u.samples; ++s)
                    out[size_t(s * u.units + unit)] = u.codes[size_t(unit * u.samples + s)];
            return to_numpy(std::move(out), {py::ssize_t(u.samples), py::ssize_t(u.units)});
        }, "(samples, units) int32 bin codes.")
        .def("edges", [](const Binned& b, index_t unit) {
            CVG_REQUIRE(unit >= 0 && unit < b.binned.units, InvalidArgument,
                        "unit = " + std::to_string(unit) + " is out of range [0, " + std::to_string(b.binned.units) + ")");
            return to_numpy(b.binned.edges[size_t(unit)]);
        }, py::arg("unit"), "The interior percentile edges of one unit (ascending).");

    m.def("mutual_information", [](const Binned& a, const Binned& b, const py::object& backend) {
              CVG_REQUIRE(a.binned.samples == b.binned.samples, InvalidArgument,
                          "mutual_information: a has " + std::to_string(a.binned.samples) + " samples but b has " +
                              std::to_string(b.binned.samples) + ": bin the same sample rows of both nets");
              CVG_REQUIRE(a.binned.bins == b.binned.bins, InvalidArgument,
                          "mutual_information: a has " + std::to_string(a.binned.bins) + " bins but b has " +
                              std::to_string(b.binned.bins));
              std::shared_ptr<const Backend> be = backend_of(backend);
              std::vector<double> mi;
              {
                  py::gil_scoped_release release;
                  mi = mutual_information_matrix(*be, a.binned, b.binned);
              }
              return to_numpy(std::move(mi), {py::ssize_t(a.binned.units), py::ssize_t(b.binned.units)});
          },
          py::arg("a"), py::arg("b"), py::arg("backend") = "cpu",
          "All-pairs plug-in mutual information in nats, a.units x b.units (Sec. 3.2).");
}

}  // namespace convergent::python
