// convergent.Statistics (streaming Sec. 2 statistics of one layer of several
// nets, pushed batch by batch from arrays or tensors read in place) and
// convergent.Context (a backend instance created once).
#include <cctype>
#include <fstream>
#include <mutex>

#include "common.hpp"
#include "convergent/activations.hpp"
#include "convergent/atomic_file.hpp"
#include "convergent/matching.hpp"
#include "convergent/mean_activation.hpp"
#include "convergent/statistics.hpp"

namespace convergent::python {

namespace {

// The instances behind backend="cpu"/"cuda" (one each, created on first use
// and never destroyed, so no device call runs at interpreter exit).
std::shared_ptr<const Backend> default_backend(BackendKind kind) {
    static std::mutex mutex;
    static auto* instances = new std::shared_ptr<const Backend>[2];
    if (kind == BackendKind::Auto)
        kind = backend_available(BackendKind::Cuda, nullptr) ? BackendKind::Cuda : BackendKind::Cpu;
    std::lock_guard<std::mutex> lock(mutex);
    std::shared_ptr<const Backend>& slot = instances[kind == BackendKind::Cpu ? 0 : 1];
    if (!slot) slot = std::shared_ptr<const Backend>(make_backend(kind));  // a failure is not cached
    return slot;
}

ActivationLayout parse_layout(const std::string& text, const char* what) {
    std::string upper;
    for (char c : text) upper += char(std::toupper(static_cast<unsigned char>(c)));
    if (upper == "NCHW") return ActivationLayout{false};
    if (upper == "NHWC") return ActivationLayout{true};
    fail(ErrorCode::InvalidArgument, std::string(what) + ": layout '" + text + "' is not NCHW or NHWC");
}

class Statistics {
public:
    Statistics(std::vector<index_t> units, const py::object& backend, const std::string& layout, index_t chunk_rows)
        : backend_(backend_of(backend)), layout_(parse_layout(layout, "Statistics")), chunk_rows_(chunk_rows) {
        CVG_REQUIRE(!units.empty(), InvalidArgument, "Statistics: units must list the unit count of at least one net");
        for (size_t i = 0; i < units.size(); ++i)
            CVG_REQUIRE(units[i] >= 1, InvalidArgument,
                        "Statistics: net " + std::to_string(i) + " has " + std::to_string(units[i]) +
                            " units; every net needs at least one");
        CVG_REQUIRE(chunk_rows >= 1, InvalidArgument, "Statistics: chunk_rows must be >= 1");
        set_accumulator(MomentAccumulator(units));
    }
    Statistics(const Statistics&) = delete;
    Statistics& operator=(const Statistics&) = delete;
    Statistics(Statistics&&) = default;
    Statistics& operator=(Statistics&&) = default;

    static Statistics load(const std::filesystem::path& file, const py::object& backend) {
        const std::string path = file.string();
        Statistics s;
        s.backend_ = backend_of(backend);
        std::ifstream in(path, std::ios::binary);
        CVG_REQUIRE(in.good(), Io, "cannot open '" + path + "'");
        MomentAccumulator acc;
        {
            py::gil_scoped_release release;
            acc = MomentAccumulator::load(in, "file '" + path + "'");
        }
        s.set_accumulator(std::move(acc));
        return s;
    }

    void push(int net, const py::handle& data, const py::object& layout_arg) {
        check_usable();
        check_net(net, "net");
        const std::string what = "Statistics.push(net " + std::to_string(net) + ")";
        CVG_REQUIRE(!pending_[size_t(net)], InvalidArgument,
                    what + ": net " + std::to_string(net) +
                        " already pushed its samples of this batch; push the other nets first");
        const ActivationLayout layout =
            layout_arg.is_none() ? layout_ : parse_layout(layout_arg.cast<std::string>(), what.c_str());
        auto batch = std::make_unique<Pending>();
        batch->tensor = hold_tensor(data, what);
        batch->source = std::make_unique<LayerSource>(std::to_string(net), "push",
                                                      tensor_array(batch->tensor.view, what), layout);
        const LayerSource& source = *batch->source;
        CVG_REQUIRE(source.units() == units_[size_t(net)], InvalidArgument,
                    what + ": " + std::to_string(source.units()) + " units, but net " + std::to_string(net) + " has " +
                        std::to_string(units_[size_t(net)]) + " (" + shape_text(batch->tensor.view) + ", layout " +
                        (layout.channels_last ? "NHWC" : "NCHW") + ")");
        for (const auto& other : pending_)
            if (other)
                CVG_REQUIRE(other->source->images() == source.images() && other->source->positions() == source.positions(),
                            InvalidArgument,
                            what + ": " + std::to_string(source.images()) + " images x " +
                                std::to_string(source.positions()) + " positions, but this batch has " +
                                std::to_string(other->source->images()) + " x " +
                                std::to_string(other->source->positions()) + ": every net pushes the same samples");
        BusyGuard busy(busy_, "this Statistics");
        {
            // Check every value before the batch is accepted, so that a
            // NaN/Inf rejects the push and leaves the statistics as they were.
            py::gil_scoped_release release;
            check_finite(source);
        }
        pending_[size_t(net)] = std::move(batch);
        for (const auto& p : pending_)
            if (!p) return;
        try {
            py::gil_scoped_release release;
            accumulate_batch();
        } catch (const std::exception& e) {
            broken_ = e.what();
            clear_pending();
            throw;
        }
        clear_pending();
        finalized_ = false;
    }

    void merge(Statistics& other) {
        check_usable();
        other.check_usable();
        CVG_REQUIRE(this != &other, InvalidArgument, "Statistics.merge: cannot merge statistics into themselves");
        require_no_pending("merge");
        other.require_no_pending("merge (other)");
        CVG_REQUIRE(units_ == other.units_, InvalidArgument, "Statistics.merge: the unit counts differ");
        acc_.merge(other.acc_);
        finalized_ = false;
    }

    void finalize() {
        check_usable();
        require_no_pending("finalize");
        BusyGuard busy(busy_, "this Statistics");
        py::gil_scoped_release release;
        result_ = finalize_statistics(acc_);
        finalized_ = true;
    }

    void save(const std::filesystem::path& path) {
        check_usable();
        require_no_pending("save");
        BusyGuard busy(busy_, "this Statistics");
        py::gil_scoped_release release;
        AtomicFile file(path.string());
        acc_.save(file.stream());
        file.commit();
    }

    const LayerStatistics& finalized() const {
        check_usable();
        CVG_REQUIRE(finalized_, InvalidArgument,
                    "the statistics are not finalised: call finalize() after the last push or merge");
        return result_;
    }

    void check_net(int net, const char* name) const {
        CVG_REQUIRE(net >= 0 && size_t(net) < units_.size(), InvalidArgument,
                    std::string(name) + " = " + std::to_string(net) + " is out of range [0, " +
                        std::to_string(units_.size()) + ")");
    }

    void check_pair(int a, int b, const char* what) const {
        check_net(a, "net_a");
        check_net(b, "net_b");
        CVG_REQUIRE(a != b, InvalidArgument, std::string(what) + ": net_a and net_b are both " + std::to_string(a));
    }

    const std::vector<index_t>& units() const { return units_; }
    index_t samples() const { return acc_.count(); }
    const Backend& backend() const { return *backend_; }
    bool& busy() { return busy_; }

private:
    struct Pending {
        HeldTensor tensor;
        std::unique_ptr<LayerSource> source;
    };

    Statistics() = default;

    void set_accumulator(MomentAccumulator acc) {
        acc_ = std::move(acc);
        units_ = acc_.block_widths();
        offsets_.assign(units_.size(), 0);
        for (size_t i = 1; i < units_.size(); ++i) offsets_[i] = offsets_[i - 1] + units_[i - 1];
        pending_.clear();
        pending_.resize(units_.size());
    }

    static std::string shape_text(const TensorView& view) {
        std::string s = "shape (";
        for (size_t i = 0; i < view.shape.size(); ++i) s += (i ? ", " : "") + std::to_string(view.shape[i]);
        return s + (view.shape.size() == 1 ? ",)" : ")");
    }

    index_t chunk_images(const LayerSource& source) const {
        return std::max<index_t>(1, chunk_rows_ / source.positions());
    }

    void check_finite(const LayerSource& source) const {
        const index_t step = chunk_images(source);
        std::vector<float> scratch(size_t(std::min(step, source.images()) * source.positions() * source.units()));
        for (index_t first = 0; first < source.images(); first += step)
            source.read_images(first, std::min(step, source.images() - first), scratch.data());
    }

    // One batch, every net read in place, in chunks of about chunk_rows_ samples.
    void accumulate_batch() {
        const LayerSource& first_source = *pending_[0]->source;
        const index_t images = first_source.images(), positions = first_source.positions();
        const index_t step = chunk_images(first_source);
        index_t widest = 0;
        for (index_t u : units_) widest = std::max(widest, u);
        std::vector<float> scratch(size_t(std::min(step, images) * positions * widest));
        for (index_t first = 0; first < images; first += step) {
            const index_t count = std::min(step, images - first);
            const index_t rows = count * positions;
            acc_.begin_chunk(*backend_, rows);
            for (size_t net = 0; net < pending_.size(); ++net) {
                pending_[net]->source->read_images(first, count, scratch.data());
                acc_.add_block(scratch.data(), rows, units_[net], 0, offsets_[net], units_[net]);
            }
            acc_.end_chunk();
        }
    }

    void clear_pending() {
        for (auto& p : pending_) p.reset();
    }

    void require_no_pending(const char* what) const {
        for (size_t i = 0; i < pending_.size(); ++i)
            CVG_REQUIRE(!pending_[i], InvalidArgument,
                        std::string(what) + ": a batch is partially pushed (net " + std::to_string(i) +
                            " pushed, not every net): push the same samples for every net first");
    }

    void check_usable() const {
        CVG_REQUIRE(broken_.empty(), InvalidArgument,
                    "these statistics hold part of a batch that failed midway (" + broken_ +
                        "); create new Statistics");
    }

    std::shared_ptr<const Backend> backend_;
    std::vector<index_t> units_, offsets_;
    ActivationLayout layout_;
    index_t chunk_rows_ = 16384;
    MomentAccumulator acc_;
    std::vector<std::unique_ptr<Pending>> pending_;
    bool finalized_ = false;
    LayerStatistics result_;
    std::string broken_;
    bool busy_ = false;
};

py::array_t<double> block_of(const std::vector<double>& values, index_t offset, index_t width) {
    return to_numpy(std::vector<double>(values.begin() + offset, values.begin() + offset + width));
}

py::dict table1_dict(const Alignment& a) {
    py::dict d;
    d["semi_matching_mean"] = a.semi.mean;
    d["matching_mean"] = a.matching.mean;
    d["overlap_ratio"] = a.overlap_ratio;
    return d;
}

}  // namespace

std::shared_ptr<const Backend> backend_of(const py::object& backend) {
    if (py::isinstance<py::str>(backend)) return default_backend(parse_backend_kind(backend.cast<std::string>()));
    if (py::isinstance<Context>(backend)) {
        const Context& ctx = backend.cast<const Context&>();
        CVG_REQUIRE(ctx.backend != nullptr, InvalidArgument, "the Context was closed");
        return ctx.backend;
    }
    throw py::type_error("backend must be \"auto\", \"cpu\", \"cuda\" or a convergent.Context, not " +
                         py::repr(backend).cast<std::string>());
}

void bind_statistics(py::module_& m) {
    py::class_<Context>(m, "Context", R"doc(
One backend instance ("auto", "cpu" or "cuda"; for CUDA the device context,
stream and library handles), created once and passed as ``backend=`` to
Statistics, max_weight_matching, align, mutual_information and
Statistics.spectral_clustering. "cuda" without a usable device raises
ConvergentError (code "unsupported"): never a silent fallback.
)doc")
        .def(py::init([](const std::string& backend) {
                 return Context{std::shared_ptr<const Backend>(make_backend(parse_backend_kind(backend)))};
             }),
             py::arg("backend") = "auto")
        .def_property_readonly("backend", [](const Context& c) {
            CVG_REQUIRE(c.backend != nullptr, InvalidArgument, "the Context was closed");
            return std::string(backend_kind_name(c.backend->kind()));
        }, "The backend it resolved to: \"cpu\" or \"cuda\".")
        .def_property_readonly("description", [](const Context& c) {
            CVG_REQUIRE(c.backend != nullptr, InvalidArgument, "the Context was closed");
            return c.backend->device_description();
        }, "What runs, e.g. \"cpu (Eigen 3.4, OpenBLAS, 2 threads)\".")
        .def("close", [](Context& c) { c.backend.reset(); },
             "Releases the backend (objects created with it keep it alive).")
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](Context& c, py::args) { c.backend.reset(); })
        .def("__repr__", [](const Context& c) {
            return c.backend ? "convergent.Context('" + std::string(backend_kind_name(c.backend->kind())) + "')"
                             : std::string("convergent.Context(<closed>)");
        });

    py::class_<Statistics>(m, "Statistics", R"doc(
Streaming per-unit statistics of one layer of several nets (paper Sec. 2):
mean, standard deviation, within- and between-net correlation, merged chunk
by chunk in float64 (Chan et al.).

Push the same samples, in the same order, for every net, batch by batch:
each ``push(net, batch)`` takes an (N, C) array or an (N, C, H, W) /
(N, H, W, C) one (``layout=``; every spatial position is a sample), float16,
float32 or float64, from numpy (buffer protocol) or torch and other
frameworks (DLPack). Host arrays are read in place: nothing is copied but
the bounded chunk the accumulator converts. A batch is accumulated once
every net has pushed it, so each pushed array must not change until then.
)doc")
        .def(py::init<std::vector<index_t>, py::object, std::string, index_t>(), py::arg("units"),
             py::arg("backend") = "cpu", py::arg("layout") = "NCHW", py::arg("chunk_rows") = 16384,
             "units: the number of units (channels) of each net.")
        .def_static("load", &Statistics::load, py::arg("path"), py::arg("backend") = "cpu",
                    "Statistics saved by save() (or cvg_stats_save).")
        .def("push", &Statistics::push, py::arg("net"), py::arg("batch"), py::arg("layout") = py::none(),
             "Adds one batch of net `net` (0-based); layout overrides the constructor's for this push.")
        .def("merge", &Statistics::merge, py::arg("other"), "Adds the samples of other (Chan merge).")
        .def("finalize", [](py::object self) {
                 self.cast<Statistics&>().finalize();
                 return self;
             },
             "Computes mean, std and correlation from what was pushed; returns self.")
        .def("save", &Statistics::save, py::arg("path"), "Writes the accumulated moments (binary, versioned).")
        .def_property_readonly("nets", [](const Statistics& s) { return int(s.units().size()); })
        .def_property_readonly("samples", &Statistics::samples, "Samples accumulated (images x positions).")
        .def_property_readonly("backend", [](const Statistics& s) { return std::string(backend_kind_name(s.backend().kind())); })
        .def("units", [](const Statistics& s, int net) {
                 s.check_net(net, "net");
                 return s.units()[size_t(net)];
             }, py::arg("net"))
        .def("mean", [](const Statistics& s, int net) {
                 s.check_net(net, "net");
                 const LayerStatistics& r = s.finalized();
                 return block_of(r.mean, r.block_offsets[size_t(net)], r.block_widths[size_t(net)]);
             }, py::arg("net"), "Per-unit means of net `net` (float64).")
        .def("std", [](const Statistics& s, int net) {
                 s.check_net(net, "net");
                 const LayerStatistics& r = s.finalized();
                 return block_of(r.stddev, r.block_offsets[size_t(net)], r.block_widths[size_t(net)]);
             }, py::arg("net"), "Per-unit population standard deviations of net `net`.")
        .def("correlation", [](const Statistics& s, int a, int b) {
                 s.check_net(a, "net_a");
                 s.check_net(b, "net_b");
                 const LayerStatistics& r = s.finalized();
                 return to_numpy(r.correlation_block(a, b),
                                 {py::ssize_t(s.units()[size_t(a)]), py::ssize_t(s.units()[size_t(b)])});
             }, py::arg("net_a"), py::arg("net_b"),
             "units(a) x units(b) correlation (0 in rows/columns of dead units); a == b: within-net.")
        .def("dead_units", [](const Statistics& s, int net) {
                 s.check_net(net, "net");
                 std::vector<index_t> dead = s.finalized().dead_units(net);
                 return to_numpy(std::vector<std::int64_t>(dead.begin(), dead.end()));
             }, py::arg("net"), "Indices of the units of net `net` with zero variance.")
        .def("table1", [](Statistics& s, int a, int b, const std::string& dead_units) {
                 s.check_pair(a, b, "table1");
                 CVG_REQUIRE(dead_units == "exclude" || dead_units == "include", InvalidArgument,
                             "table1: dead_units = '" + dead_units + "' (expected exclude or include)");
                 const LayerStatistics& r = s.finalized();
                 BusyGuard busy(s.busy(), "this Statistics");
                 Alignment alignment;
                 {
                     py::gil_scoped_release release;
                     const std::vector<double> c = r.correlation_block(a, b);
                     alignment = align_nets(s.backend(), c.data(), r, a, b, dead_units == "include");
                 }
                 return table1_dict(alignment);
             }, py::arg("net_a"), py::arg("net_b"), py::arg("dead_units") = "exclude",
             "Table 1 of a net pair (semi_matching_mean, matching_mean, overlap_ratio) with the CLI's\n"
             "dead-unit convention: excluded (default) or included with correlation 0 (\"include\", the\n"
             "paper's code). These are the figures `convergent compare` reports.")
        .def("sparse_prediction", [](Statistics& s, int target, int predictor, const py::object& options) {
                 s.check_net(target, "target_net");
                 s.check_net(predictor, "predictor_net");
                 CVG_REQUIRE(target != predictor, InvalidArgument,
                             "sparse_prediction: target_net and predictor_net are both " + std::to_string(target) +
                                 ": a net would predict each unit from itself");
                 const SparsePredictionOptions o = sparse_prediction_options(options_from(options, "sparse_prediction"));
                 const LayerStatistics& r = s.finalized();
                 BusyGuard busy(s.busy(), "this Statistics");
                 SparsePredictionResult result;
                 {
                     py::gil_scoped_release release;
                     result = sparse_prediction(r, target, predictor, o);
                 }
                 return sparse_prediction_dict(result);
             }, py::arg("target_net"), py::arg("predictor_net"), py::arg("options") = py::none(),
             "Sec. 4 lasso path predicting each unit of target_net from all units of predictor_net.")
        .def("spectral_clustering", [](Statistics& s, int a, int b, const py::object& options, const py::object& context) {
                 s.check_pair(a, b, "spectral_clustering");
                 const ClusteringOptions o = clustering_options(options_from(options, "spectral_clustering"));
                 std::shared_ptr<const Backend> backend = context.is_none() ? nullptr : backend_of(context);
                 const LayerStatistics& r = s.finalized();
                 BusyGuard busy(s.busy(), "this Statistics");
                 ClusteringResult result;
                 {
                     py::gil_scoped_release release;
                     result = spectral_clustering(backend ? *backend : s.backend(), r, a, b, o);
                 }
                 return clustering_dict(result);
             }, py::arg("net_a"), py::arg("net_b"), py::arg("options") = py::none(), py::arg("context") = py::none(),
             "Sec. 4 hierarchical spectral clustering of two nets; context: run the eigensolves there.")
        .def("mean_activation_sorted", [](const Statistics& s, int net) {
                 s.check_net(net, "net");
                 const MeanActivationResult r = mean_activation(s.finalized());
                 return py::make_tuple(to_numpy(r.sorted_means[size_t(net)]), r.within_net_spread[size_t(net)]);
             }, py::arg("net"), "(unit means sorted decreasing, their population std).")
        .def("mean_activation_distance", [](const Statistics& s, int a, int b) {
                 s.check_net(a, "net_a");
                 s.check_net(b, "net_b");
                 if (a == b) return 0.0;
                 return mean_activation(s.finalized()).distance(a, b);
             }, py::arg("net_a"), py::arg("net_b"), "RMS difference of the sorted mean curves.")
        .def("mean_activation_ratio", [](const Statistics& s) {
                 return mean_activation(s.finalized()).distance_to_spread_ratio;
             }, "Mean between-net distance / mean within-net spread.")
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](Statistics&, py::args) {})
        .def("__repr__", [](const Statistics& s) {
            std::string units;
            for (index_t u : s.units()) units += (units.empty() ? "" : ", ") + std::to_string(u);
            return "convergent.Statistics(units=[" + units + "], samples=" + std::to_string(s.samples()) + ")";
        });
}

}  // namespace convergent::python
