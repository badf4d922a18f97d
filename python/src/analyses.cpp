// The single analyses on caller matrices: Sec. 3.1 semi-matching,
// max-weight matching and alignment, Sec. 3.2 binning and mutual
// information, and the result dicts of the analyses on Statistics.
#include <cmath>

#include "common.hpp"
#include "convergent/matching.hpp"
#include "convergent/mutual_information.hpp"

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

void bind_analyses(py::module_& m) {
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
