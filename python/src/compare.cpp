// convergent.compare's engine: the whole pipeline of `convergent compare` on
// arrays read in place or on files, its results held in memory
// (ResultData: summary + float32 arrays at their results-directory paths),
// saved with the CLI's layout, and the single-file report written from
// memory through the report library the CLI uses.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common.hpp"
#include "convergent/activations.hpp"
#include "mpi_comm.hpp"
#include "convergent/npy.hpp"
#include "report.hpp"

namespace fs = std::filesystem;

namespace convergent::python {

namespace {

constexpr const char* kMemoryRoot = "<result in memory>";

// The results of one comparison, as MemorySink collected them.
struct ResultData {
    nlohmann::json summary;
    std::map<std::string, FloatArray> arrays;

    // summary.json exactly as a results directory holds it (DirectorySink).
    std::string summary_text() const { return summary.dump(1) + "\n"; }
};

// The bytes write_npy writes for a float32 (or, descr "<i8", int64) array
// (.npy 1.0, C order, little-endian, data at a 64-byte boundary), so a
// report written from memory embeds the files of the saved directory byte
// for byte.
std::string npy_header(const std::vector<index_t>& shape, const char* descr = "<f4") {
    std::string dims = "(";
    for (size_t i = 0; i < shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
    dims += shape.size() == 1 ? ",)" : ")";
    static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the .npy header below says little-endian");
    std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + dims + ", }";
    const size_t unpadded = 10 + dict.size() + 1;
    dict.append((64 - unpadded % 64) % 64, ' ');
    dict += '\n';
    std::string head = "\x93NUMPY";
    head += char(1);
    head += char(0);
    head += char(dict.size() & 0xff);
    head += char((dict.size() >> 8) & 0xff);
    return head + dict;
}

class MemoryReportInput final : public report::ReportInput {
public:
    explicit MemoryReportInput(const ResultData& data) : data_(data) {}
    std::string display_path(const std::string& relative) const override {
        return std::string(kMemoryRoot) + "/" + relative;
    }
    std::string display_root() const override { return kMemoryRoot; }
    File open_file(const std::string& relative) const override {
        File file;
        if (relative == "summary.json") {
            std::string text = data_.summary_text();
            file.status = File::Opened;
            file.size = text.size();
            file.read = [text] { return text; };
            return file;
        }
        auto it = data_.arrays.find(relative);
        if (it == data_.arrays.end()) return file;
        const FloatArray* array = &it->second;
        if (is_index_array(relative)) {  // int64 on disk (save_results): the same bytes here
            const std::string header = npy_header(array->shape, "<i8");
            file.status = File::Opened;
            file.size = header.size() + array->values.size() * sizeof(std::int64_t);
            file.read = [header, array] {
                const std::vector<std::int64_t> values(array->values.begin(), array->values.end());
                std::string bytes = header;
                bytes.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(std::int64_t));
                return bytes;
            };
            return file;
        }
        const std::string header = npy_header(array->shape);
        file.status = File::Opened;
        file.size = header.size() + array->values.size() * sizeof(float);
        file.read = [header, array] {
            std::string bytes = header;
            bytes.append(reinterpret_cast<const char*>(array->values.data()), array->values.size() * sizeof(float));
            return bytes;
        };
        return file;
    }
    bool exists(const std::string& relative) const override {
        return relative == "summary.json" || data_.arrays.count(relative) != 0;
    }

private:
    const ResultData& data_;
};

// Every .npy a summary refers to (layers.*.files.*.*).
std::vector<std::string> referenced_arrays(const nlohmann::json& summary) {
    std::vector<std::string> paths;
    if (!summary.contains("layers") || !summary["layers"].is_object()) return paths;
    for (const auto& [layer, lj] : summary["layers"].items()) {
        if (!lj.is_object() || !lj.contains("files") || !lj["files"].is_object()) continue;
        for (const auto& [pair, files] : lj["files"].items())
            if (files.is_object())
                for (const auto& [kind, path] : files.items())
                    if (path.is_string()) paths.push_back(path.get<std::string>());
    }
    return paths;
}

FloatArray read_float_array(const std::string& path, const std::string& name) {
    std::unique_ptr<NpyArray> npy = open_npy(path, name);
    const NpyHeader& header = npy->header();
    CVG_REQUIRE(!header.fortran_order || header.shape.size() <= 1, BadData,
                npy->what() + ": Fortran order is not a convergent result array");
    FloatArray array;
    array.shape = header.shape;
    array.values.resize(size_t(header.element_count()));
    npy->read_elements(0, header.element_count(), array.values.data());
    return array;
}

// A results directory written by `convergent compare` or Result.save.
ResultData load_results(const std::string& dir) {
    const fs::path root(dir);
    CVG_REQUIRE(fs::is_directory(root), Io, "'" + dir + "' is not a directory");
    std::ifstream in(root / "summary.json", std::ios::binary);
    CVG_REQUIRE(in.good(), Io, "'" + (root / "summary.json").string() + "' not found: is '" + dir +
                                   "' the --out directory of `convergent compare`?");
    std::stringstream text;
    text << in.rdbuf();
    ResultData data;
    try {
        data.summary = nlohmann::json::parse(text.str());
    } catch (const nlohmann::json::parse_error& e) {
        fail(ErrorCode::BadData, "'" + (root / "summary.json").string() + "' is not valid JSON: " + e.what());
    }
    CVG_REQUIRE(data.summary.is_object() && data.summary.contains("layers") && data.summary.contains("nets"), BadData,
                "'" + (root / "summary.json").string() + "' is not a convergent summary (no \"nets\" and \"layers\")");
    for (const std::string& relative : referenced_arrays(data.summary)) {
        const fs::path p(relative);
        bool inside = !p.is_absolute();
        for (const auto& part : p) inside = inside && part != "..";
        CVG_REQUIRE(inside, BadData, "'" + (root / "summary.json").string() + "' refers to '" + relative +
                                         "', outside the results directory");
        data.arrays[relative] = read_float_array((root / p).string(), relative);
    }
    return data;
}

ResultData data_from_python(const nlohmann::json& summary, const py::dict& arrays) {
    ResultData data;
    data.summary = summary;
    for (const auto& [key, value] : arrays) {
        const std::string path = key.cast<std::string>();
        auto array = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(value);
        if (!array) {
            PyErr_Clear();
            throw py::type_error("arrays['" + path + "'] is not an array of numbers");
        }
        FloatArray f;
        for (py::ssize_t d = 0; d < array.ndim(); ++d) f.shape.push_back(index_t(array.shape(d)));
        f.values.assign(array.data(), array.data() + array.size());
        data.arrays[path] = std::move(f);
    }
    return data;
}

nlohmann::json json_from_python(const py::handle& obj) {
    const std::string text = py::module_::import("json").attr("dumps")(obj).cast<std::string>();
    return nlohmann::json::parse(text);
}

// The nets of convergent.compare as held tensors: [(name, [(layer, array), ...]), ...].
struct HeldNets {
    std::vector<ArrayNet> nets;
    std::vector<HeldTensor> tensors;
};

HeldNets hold_nets(const py::list& nets) {
    HeldNets held;
    for (const py::handle net : nets) {
        const auto entry = net.cast<py::tuple>();
        ArrayNet array_net;
        array_net.name = entry[0].cast<std::string>();
        for (const py::handle layer : entry[1].cast<py::list>()) {
            const auto pair = layer.cast<py::tuple>();
            const std::string layer_name = pair[0].cast<std::string>();
            held.tensors.push_back(hold_tensor(pair[1], "net '" + array_net.name + "', layer '" + layer_name + "'"));
            array_net.layers.emplace_back(layer_name, held.tensors.back().view);
        }
        held.nets.push_back(std::move(array_net));
    }
    return held;
}

// The comparison fed batch by batch (convergent.torch.compare's engine):
// CompareSession with each pushed tensor held until the core releases it.
class Session {
public:
    Session(std::vector<std::string> net_names, const py::object& options, index_t images)
        : options_(options_from(options, "Session")) {
        CVG_REQUIRE(images >= 0, InvalidArgument, "Session: images must be >= 0 (0 = unknown)");
        session_ = std::make_unique<CompareSession>(std::move(net_names), options_, images);
    }

    void push(int net, const std::string& layer, const py::handle& tensor) {
        CVG_REQUIRE(session_ != nullptr, InvalidArgument, "Session.push: the session is finished");
        BusyGuard busy(busy_, "this Session");
        auto* held = new HeldTensor(hold_tensor(tensor, "net " + std::to_string(net) + ", layer '" + layer + "'"));
        const TensorView view = held->view;
        // Called by the core once the batch no longer needs the view (maybe
        // from a later push, or when the session is destroyed): the Python
        // references are dropped with the GIL.
        std::function<void()> release = [held] {
            py::gil_scoped_acquire gil;
            delete held;
        };
        py::gil_scoped_release unlocked;
        session_->push_owned(net, layer, view, std::move(release));
    }

    py::tuple finish(const py::object& out, const py::object& progress) {
        CVG_REQUIRE(session_ != nullptr, InvalidArgument, "Session.finish: the session is already finished");
        BusyGuard busy(busy_, "this Session");
        const ProgressFn report_progress = progress_function(progress);
        ResultData data;
        {
            py::gil_scoped_release unlocked;
            MemorySink sink;
            session_->finish(sink, report_progress);
            data.summary = sink.summary();
            data.arrays = std::move(sink.arrays());
        }
        {
            std::unique_ptr<CompareSession> done = std::move(session_);
            py::gil_scoped_release unlocked;
            done.reset();
        }
        if (!out.is_none()) {
            const std::string dir = py::str(py::module_::import("os").attr("fspath")(out)).cast<std::string>();
            py::gil_scoped_release unlocked;
            save_results(data.summary, data.arrays, dir, options_.overwrite);
        }
        const std::string text = data.summary_text();
        return py::make_tuple(text, std::move(data));
    }

    std::vector<std::string> layers() const {
        CVG_REQUIRE(session_ != nullptr, InvalidArgument, "Session: the session is finished");
        return session_->layers();
    }
    std::string backend() const {
        CVG_REQUIRE(session_ != nullptr, InvalidArgument, "Session: the session is finished");
        return session_->backend_name();
    }
    std::string backend_description() const {
        CVG_REQUIRE(session_ != nullptr, InvalidArgument, "Session: the session is finished");
        return session_->backend_description();
    }

private:
    CompareOptions options_;
    std::unique_ptr<CompareSession> session_;
    bool busy_ = false;
};

}  // namespace

ProgressFn progress_function(const py::object& progress) {
    // A borrowed pointer: the caller's frame keeps the callable alive for the
    // call, and copies of the std::function made without the GIL must not
    // touch reference counts.
    PyObject* callable = progress.is_none() ? nullptr : progress.ptr();
    return [callable](const std::string& layer, double fraction) {
        py::gil_scoped_acquire gil;
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();  // Ctrl-C: KeyboardInterrupt
        if (callable) {
            const py::handle function(callable);
            function(layer, fraction);
        }
    };
}

void bind_compare(py::module_& m) {
    py::class_<ResultData>(m, "ResultData", "The results of one comparison held in memory (see convergent.Result).")
        .def(py::init([](const py::handle& summary, const py::dict& arrays) {
                 return data_from_python(json_from_python(summary), arrays);
             }),
             py::arg("summary"), py::arg("arrays"))
        .def_static("load", [](const fs::path& dir) {
                        py::gil_scoped_release release;
                        return load_results(dir.string());
                    },
                    py::arg("dir"), "A results directory (summary.json and the arrays it references).")
        .def("summary", [](const ResultData& d) { return to_python(d.summary); })
        .def("summary_json", [](const ResultData& d) { return d.summary_text(); },
             "summary.json's text, as save() writes it.")
        .def("paths", [](const ResultData& d) {
            std::vector<std::string> paths;
            for (const auto& [path, array] : d.arrays) paths.push_back(path);
            return paths;
        })
        .def("array", [](py::object self, const std::string& path) {
                 const ResultData& d = self.cast<const ResultData&>();
                 auto it = d.arrays.find(path);
                 if (it == d.arrays.end()) throw py::key_error("no array '" + path + "' in the results");
                 std::vector<py::ssize_t> shape(it->second.shape.begin(), it->second.shape.end());
                 // A read-only view of the result's own memory (kept alive by self).
                 py::array_t<float> view(shape, it->second.values.data(), self);
                 py::detail::array_proxy(view.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
                 return view;
             },
             py::arg("path"), "The float32 array at a results-directory path, read-only, without a copy.")
        .def("save", [](const ResultData& d, const fs::path& dir, bool overwrite) {
                 py::gil_scoped_release release;
                 save_results(d.summary, d.arrays, dir.string(), overwrite);
             },
             py::arg("dir"), py::arg("overwrite") = false)
        .def("report", [](const ResultData& d, const fs::path& out, double max_file_mb, bool full_precision) {
                 CVG_REQUIRE(max_file_mb > 0 && max_file_mb <= 1e6, InvalidArgument,
                             "report: max_file_mb must be in (0, 1e6]");
                 report::ReportOutcome outcome;
                 {
                     py::gil_scoped_release release;
                     MemoryReportInput input(d);
                     outcome = report::write_report(input, out.string(), std::uint64_t(max_file_mb * 1024.0 * 1024.0),
                                                    full_precision);
                 }
                 py::dict r;
                 r["embedded"] = outcome.embedded;
                 r["bytes"] = outcome.bytes;
                 r["warnings"] = outcome.warnings;
                 py::dict omitted;
                 for (const auto& [path, why] : outcome.omitted) omitted[py::str(path)] = why;
                 r["omitted"] = omitted;
                 return r;
             },
             py::arg("out"), py::arg("max_file_mb") = 64.0, py::arg("full_precision") = false);

    // comm: an MPI communicator's Fortran handle (docs/mpi.md): every rank
    // passes the same nets and reads its slice of the images; rank 0 gets
    // the results, the other ranks None.
    m.def("compare_arrays", [](const py::list& nets, const py::object& options, const py::object& progress,
                               const py::object& comm) -> py::object {
              const CompareOptions o = options_from(options, "compare");
              HeldNets held = hold_nets(nets);
              const ProgressFn report_progress = progress_function(progress);
              ResultData data;
              bool root = true;
              {
                  py::gil_scoped_release release;
                  const std::unique_ptr<Collective> collective = collective_from(comm);
                  root = !collective || collective->rank() == 0;
                  MemorySink sink;
                  run_compare(held.nets, sink, o, report_progress, collective.get());
                  data.summary = sink.summary();
                  data.arrays = std::move(sink.arrays());
              }
              if (!root) return py::none();
              return py::cast(std::move(data));
          },
          py::arg("nets"), py::arg("options") = py::none(), py::arg("progress") = py::none(),
          py::arg("comm") = py::none(),
          "nets: [(name, [(layer, array), ...]), ...]; arrays are read in place. comm: an MPI communicator's "
          "Fortran handle (None: this process alone); then rank 0 returns the results, the others None.");

    m.def("compare_files", [](const std::vector<std::string>& inputs, const py::object& options,
                              const py::object& progress, const py::object& comm) -> py::object {
              const CompareOptions o = options_from(options, "compare");
              const ProgressFn report_progress = progress_function(progress);
              ResultData data;
              bool root = true;
              {
                  py::gil_scoped_release release;
                  const std::unique_ptr<Collective> collective = collective_from(comm);
                  root = !collective || collective->rank() == 0;
                  std::vector<NetInput> parsed;
                  std::vector<std::string> paths;
                  std::vector<NetSource> nets;
                  collectively(collective.get(), [&] {
                      for (const std::string& text : inputs) {
                          parsed.push_back(parse_net_input(text));
                          paths.push_back(parsed.back().path);
                      }
                      nets = open_nets(parsed, o.layout);
                  });
                  MemorySink sink;
                  run_compare(nets, paths, sink, o, report_progress, collective.get());
                  data.summary = sink.summary();
                  data.arrays = std::move(sink.arrays());
              }
              if (!root) return py::none();
              return py::cast(std::move(data));
          },
          py::arg("inputs"), py::arg("options") = py::none(), py::arg("progress") = py::none(),
          py::arg("comm") = py::none(),
          "Nets from files (directories of .npy or .npz, NAME=PATH names one), results in memory. comm: as "
          "compare_arrays.");

    m.def("compare_files_to_directory", [](const std::vector<std::string>& inputs, const fs::path& out,
                                           const py::object& options, const py::object& progress,
                                           const py::object& comm) -> py::object {
              const CompareOptions o = options_from(options, "compare");
              const ProgressFn report_progress = progress_function(progress);
              bool root = true;
              {
                  py::gil_scoped_release release;
                  const std::unique_ptr<Collective> collective = collective_from(comm);
                  root = !collective || collective->rank() == 0;
                  std::vector<NetInput> parsed;
                  for (const std::string& text : inputs) parsed.push_back(parse_net_input(text));
                  run_compare(parsed, out.string(), o, report_progress, collective.get());
              }
              if (!root) return py::none();
              ResultData data;
              {
                  py::gil_scoped_release release;
                  data = load_results(out.string());
              }
              return py::cast(std::move(data));
          },
          py::arg("inputs"), py::arg("out"), py::arg("options") = py::none(), py::arg("progress") = py::none(),
          py::arg("comm") = py::none(),
          "Exactly `convergent compare INPUTS --out OUT` (the inputs are never overwritten), then the results. "
          "comm: as compare_arrays (rank 0 writes OUT).");

    py::class_<Session>(m, "Session", R"doc(
The comparison fed batch by batch, in process (convergent.torch.compare uses
it): every net pushes the same inputs, in the same batches, for every layer;
only the moments, the Sec. 3.2 sample rows and the batch being assembled are
kept. A pushed tensor is read in place and referenced until every net has
pushed that batch. images: the total number of inputs (0 = unknown: a
seeded reservoir sample replaces the CLI's sample rows).
)doc")
        .def(py::init<std::vector<std::string>, py::object, index_t>(), py::arg("nets"),
             py::arg("options") = py::none(), py::arg("images") = 0)
        .def("push", &Session::push, py::arg("net"), py::arg("layer"), py::arg("batch"),
             "One batch of one net's layer: (B, C) or (B, C, H, W) / (B, H, W, C) per the layout option.")
        .def("finish", &Session::finish, py::arg("out") = py::none(), py::arg("progress") = py::none(),
             "Runs the analyses; returns (summary.json text, ResultData); out: also save the results there.")
        .def("layers", &Session::layers, "Layers pushed so far, in first-push order.")
        .def_property_readonly("backend", &Session::backend, "\"cpu\" or \"cuda\".")
        .def_property_readonly("backend_description", &Session::backend_description);

    m.def("viewer_available", &report::viewer_available,
          "Whether this build embeds the report viewer (Result.report needs it).");
    m.def("report_directory", [](const fs::path& dir, const fs::path& out, double max_file_mb, bool full_precision) {
              CVG_REQUIRE(max_file_mb > 0 && max_file_mb <= 1e6, InvalidArgument,
                          "report: max_file_mb must be in (0, 1e6]");
              py::gil_scoped_release release;
              return report::write_report(dir.string(), out.string(), std::uint64_t(max_file_mb * 1024.0 * 1024.0),
                                          full_precision)
                  .embedded;
          },
          py::arg("dir"), py::arg("out"), py::arg("max_file_mb") = 64.0, py::arg("full_precision") = false,
          "`convergent report DIR --out OUT`.");
}

}  // namespace convergent::python
