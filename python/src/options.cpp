// convergent._core.Options: every option of the one option table
// (convergent/options.hpp), set by name with the table's checks.
#include <cmath>
#include <sstream>

#include "common.hpp"

namespace convergent::python {

namespace {

const OptionSpec& spec_of(const std::string& name) {
    const OptionSpec* spec = find_option(name);
    if (!spec) throw py::type_error("unknown option '" + name + "' (see convergent.option_names())");
    return *spec;
}

std::string python_repr(const py::handle& value) { return py::repr(value).cast<std::string>(); }

bool is_list_type(OptionType type) { return type == OptionType::RealList || type == OptionType::NameList; }

// One list item as the table's text: reals with repr() (round-trips exactly).
std::string list_item_text(const OptionSpec& spec, const py::handle& item) {
    if (spec.type == OptionType::RealList) {
        if (PyBool_Check(item.ptr()) || PyUnicode_Check(item.ptr()))
            throw py::type_error(std::string(spec.name) + " takes numbers, not " + python_repr(item));
        return python_repr(py::float_(py::reinterpret_borrow<py::object>(item)));
    }
    if (!PyUnicode_Check(item.ptr()))
        throw py::type_error(std::string(spec.name) + " takes names (str), not " + python_repr(item));
    return item.cast<std::string>();
}

void set_from_python(CompareOptions& options, const OptionSpec& spec, const py::handle& value) {
    if (value.is_none()) return;  // None: keep the default
    PyObject* v = value.ptr();
    const std::string name = spec.name;
    if (PyBool_Check(v)) {
        if (spec.type != OptionType::Flag)
            throw py::type_error(name + " is not a flag: True/False is not a value for it (" +
                                 (spec.type == OptionType::Choice ? std::string("one of ") + spec.choices
                                                                  : std::string("a number or text")) + ")");
        set_option(options, spec, std::int64_t(v == Py_True ? 1 : 0));
        return;
    }
    if (PyUnicode_Check(v)) {
        set_option(options, spec, value.cast<std::string>());
        return;
    }
    if (is_list_type(spec.type)) {
        if (!PySequence_Check(v))
            throw py::type_error(name + " takes a list (or comma-separated text), not " + python_repr(value));
        std::string text;
        for (const py::handle item : py::reinterpret_borrow<py::sequence>(value)) {
            const std::string item_text = list_item_text(spec, item);
            if (item_text.find(',') != std::string::npos)
                throw py::value_error(name + ": the item '" + item_text + "' holds a comma");
            text += (text.empty() ? "" : ",") + item_text;
        }
        set_option(options, spec, text);
        return;
    }
    if (PyFloat_Check(v)) {
        const double d = value.cast<double>();
        if (spec.type == OptionType::Real) {
            set_option(options, spec, d);
            return;
        }
        throw py::type_error(name + " takes " +
                             (spec.type == OptionType::Choice ? std::string("one of ") + spec.choices
                                                              : std::string("an integer")) +
                             ", not the float " + python_repr(value));
    }
    if (PyIndex_Check(v)) {  // int, numpy integers: as text, so that the table checks the range of any size
        set_option(options, spec, py::str(py::int_(py::reinterpret_borrow<py::object>(value))).cast<std::string>());
        return;
    }
    if (spec.type == OptionType::Real && PyNumber_Check(v)) {  // numpy floating scalars and the like
        set_option(options, spec, py::float_(py::reinterpret_borrow<py::object>(value)).cast<double>());
        return;
    }
    throw py::type_error(name + ": cannot use " + python_repr(value) + " (" +
                         std::string(py::str(value.get_type().attr("__name__"))) + ") as its value");
}

// Names of version 0.1, still accepted: (alias, option name).
struct OptionAlias {
    const char* alias;
    const char* name;
};
constexpr OptionAlias kAliases[] = {
    {"channels_last", "layout"},  // True: NHWC, False: NCHW
    {"matching", "correlation_matching"},
    {"lasso_keep_weights", "lasso_weights"},
};

// TypeError naming the keyword, with the option names closest to it.
[[noreturn]] void unknown_option(const std::string& name, const char* where) {
    py::list names;
    for (const OptionSpec& s : option_table()) names.append(s.name);
    for (const OptionAlias& a : kAliases) names.append(a.alias);
    const py::list close = py::module_::import("difflib").attr("get_close_matches")(name, names, 3, 0.6);
    std::string message = std::string(where) + ": unknown option '" + name + "'";
    if (!close.empty()) {
        message += " (did you mean ";
        for (size_t i = 0; i < close.size(); ++i)
            message += (i ? (i + 1 == close.size() ? " or '" : ", '") : "'") + close[i].cast<std::string>() + "'";
        message += "?)";
    }
    throw py::type_error(message + "; every option: convergent.option_names() or `convergent options`");
}

// Sets one keyword: an option name of the table or an alias.
void set_keyword(CompareOptions& options, const std::string& keyword, const py::handle& value, const char* where) {
    for (const OptionAlias& a : kAliases) {
        if (keyword != a.alias) continue;
        const OptionSpec& spec = spec_of(a.name);
        if (keyword == "channels_last" && PyBool_Check(value.ptr())) {
            set_option(options, spec, std::string(value.ptr() == Py_True ? "NHWC" : "NCHW"));
            return;
        }
        set_from_python(options, spec, value);
        return;
    }
    const OptionSpec* spec = find_option(keyword);
    if (!spec) unknown_option(keyword, where);
    set_from_python(options, *spec, value);
}

}  // namespace

CompareOptions options_from(const py::handle& options, const char* where) {
    if (options.is_none()) return CompareOptions{};
    if (py::isinstance<Options>(options)) return options.cast<const Options&>().values;
    if (!PyMapping_Check(options.ptr()) || PyUnicode_Check(options.ptr()))
        throw py::type_error(std::string(where) + ": options must be a convergent.Options, a dict of options or None, not " +
                             python_repr(options.get_type()));
    CompareOptions values;
    for (const py::handle item : py::reinterpret_borrow<py::object>(options).attr("items")()) {
        const py::tuple kv = item.cast<py::tuple>();
        if (!PyUnicode_Check(kv[0].ptr()))
            throw py::type_error(std::string(where) + ": option names are strings, not " + python_repr(kv[0]));
        set_keyword(values, kv[0].cast<std::string>(), kv[1], where);
    }
    return values;
}

py::object to_python(const nlohmann::json& value) {
    switch (value.type()) {
        case nlohmann::json::value_t::null: return py::none();
        case nlohmann::json::value_t::boolean: return py::bool_(value.get<bool>());
        case nlohmann::json::value_t::number_integer: return py::int_(value.get<std::int64_t>());
        case nlohmann::json::value_t::number_unsigned: return py::int_(value.get<std::uint64_t>());
        case nlohmann::json::value_t::number_float: {
            const double d = value.get<double>();
            if (!std::isfinite(d)) return py::none();
            return py::float_(d);
        }
        case nlohmann::json::value_t::string: {
            const std::string& s = value.get_ref<const std::string&>();
            PyObject* text = PyUnicode_DecodeUTF8(s.data(), py::ssize_t(s.size()), "replace");
            if (!text) throw py::error_already_set();
            return py::reinterpret_steal<py::object>(text);
        }
        case nlohmann::json::value_t::array: {
            py::list list(value.size());
            size_t i = 0;
            for (const auto& item : value) list[i++] = to_python(item);
            return std::move(list);
        }
        case nlohmann::json::value_t::object: {
            py::dict dict;
            for (auto it = value.begin(); it != value.end(); ++it) dict[py::str(it.key())] = to_python(it.value());
            return std::move(dict);
        }
        default: return py::none();  // binary / discarded: not produced by convergent
    }
}

void bind_options(py::module_& m) {
    py::class_<Options>(m, "Options", R"doc(
Every option of ``convergent compare``, by the name ``convergent options``
lists (the one option table of the C++ core). Values are checked when set
(ranges, choices); a rejected value raises ConvergentError and leaves the
option unchanged.

    >>> o = convergent.Options(mi_bins=10, dead_units="include")
    >>> o["mi_bins"]
    10
)doc")
        .def(py::init<>())
        .def("set", [](Options& self, const std::string& name, const py::object& value) {
                 set_keyword(self.values, name, value, "Options.set");
             },
             py::arg("name"), py::arg("value"),
             "Sets one option by its table name or an alias (None keeps the current value).")
        .def("update", [](Options& self, const py::kwargs& options) {
                 // All or nothing: a rejected value leaves every option unchanged.
                 CompareOptions values = self.values;
                 for (const auto& [key, value] : options) set_keyword(values, key.cast<std::string>(), value, "Options");
                 self.values = values;
             },
             "Sets options by keyword; a rejected one leaves all unchanged.")
        .def("update_from", [](Options& self, const py::dict& options, const std::string& where) {
                 CompareOptions values = self.values;
                 for (const auto& [key, value] : options) {
                     if (!PyUnicode_Check(key.ptr()))
                         throw py::type_error(where + ": option names are strings, not " + python_repr(key));
                     set_keyword(values, key.cast<std::string>(), value, where.c_str());
                 }
                 self.values = values;
             },
             py::arg("options"), py::arg("where") = "Options",
             "update() from a dict; `where` names the caller in errors.")
        .def("get", [](const Options& self, const std::string& name) {
                 return to_python(option_json(self.values, spec_of(name)));
             },
             py::arg("name"), "The value of one option (as summary.json records it).")
        .def("to_dict", [](const Options& self) {
                 py::dict d;
                 for (const OptionSpec& s : option_table()) d[s.name] = to_python(option_json(self.values, s));
                 return d;
             },
             "Every option and its value.")
        .def("recorded", [](const Options& self) { return to_python(recorded_options(self.values)); },
             "The options summary.json records (its \"options\" object).")
        .def("assign", [](Options& self, const Options& other) { self.values = other.values; }, py::arg("other"),
             "Makes every option equal to other's.")
        .def("__repr__", [](const Options& self) {
            const CompareOptions defaults;
            std::string changed;
            for (const OptionSpec& s : option_table()) {
                const nlohmann::json v = option_json(self.values, s);
                if (v == option_json(defaults, s)) continue;
                changed += (changed.empty() ? "" : ", ") + std::string(s.name) + "=" +
                           python_repr(to_python(v));
            }
            return "convergent.Options(" + changed + ")";
        });

    m.def("option_aliases", [] {
              py::dict d;
              for (const OptionAlias& a : kAliases) d[a.alias] = a.name;
              return d;
          },
          "Option names of version 0.1 that are still accepted, and the option each stands for.");
    m.def("option_table", [] { return to_python(option_table_json()); },
          "The option table (`convergent options --json`): one dict per option with its name, "
          "CLI flag, C key, type, range, default, step and help.");
}

}  // namespace convergent::python
