// C ABI: options by key (cvg_options_*), so the ABI grows without breaking.
// Keys, types and ranges come from the one option table,
// convergent::option_table() (libcore/src/options.cpp): CVG_OPT_* numbers are
// its c_key column.
#include <cstring>

#include "capi_internal.hpp"
#include "convergent/options.hpp"

using namespace convergent;

namespace {

enum class CType { Int, Double, String };

CType c_type(const OptionSpec& s) {
    switch (s.type) {
        case OptionType::Real: return CType::Double;
        case OptionType::RealList:
        case OptionType::NameList: return CType::String;
        default: return CType::Int;
    }
}

const char* c_type_name(CType t) {
    return t == CType::Int ? "an integer" : t == CType::Double ? "a floating-point" : "a string";
}

const OptionSpec& key_info(int32_t key) {
    const OptionSpec* s = find_option_by_key(key);
    if (s == nullptr)
        fail(ErrorCode::InvalidArgument, "unknown option key " + std::to_string(key) + " (see CVG_OPT_* in convergent.h)");
    return *s;
}

void check_options(const cvg_options* o) { capi::require_live(o, capi::HandleKind::Options, "opts"); }

// set_option leaves the options unchanged when it rejects a value; the
// message gains the C key's name.
template <typename Value>
void set_checked(cvg_options& opts, const OptionSpec& s, const Value& value) {
    try {
        set_option(opts.compare, s, value);
    } catch (const Error& e) {
        throw Error(e.code(), std::string(s.c_name) + ": " + e.what());
    }
}

}  // namespace

namespace convergent {
namespace capi {

const cvg_options& options_or_defaults(const cvg_options* opts) {
    static const cvg_options defaults{};
    if (opts == nullptr) return defaults;
    check_options(opts);
    return *opts;
}

}  // namespace capi
}  // namespace convergent

extern "C" {

int cvg_options_create(cvg_options** out) {
    return capi::translate_exceptions("cvg_options_create", [&] {
        CVG_ARG(out != nullptr, "out is NULL");
        *out = nullptr;
        *out = capi::publish(std::make_unique<cvg_options>(), capi::HandleKind::Options);
    });
}

void cvg_options_destroy(cvg_options* opts) { capi::destroy(opts, capi::HandleKind::Options, "cvg_options_destroy"); }

int cvg_options_set_int(cvg_options* opts, int32_t key, int64_t value) {
    return capi::translate_exceptions("cvg_options_set_int", [&] {
        check_options(opts);
        const OptionSpec& s = key_info(key);
        CVG_ARG(c_type(s) != CType::String, std::string(s.c_name) + " is a string option: use cvg_options_set_string");
        if (c_type(s) == CType::Double) set_checked(*opts, s, double(value));
        else set_checked(*opts, s, std::int64_t(value));
    });
}

int cvg_options_set_double(cvg_options* opts, int32_t key, double value) {
    return capi::translate_exceptions("cvg_options_set_double", [&] {
        check_options(opts);
        const OptionSpec& s = key_info(key);
        CVG_ARG(c_type(s) == CType::Double, std::string(s.c_name) + " takes " + c_type_name(c_type(s)) +
                                                " value: use cvg_options_set_" +
                                                (c_type(s) == CType::Int ? "int" : "string"));
        set_checked(*opts, s, value);
    });
}

int cvg_options_set_string(cvg_options* opts, int32_t key, const char* value) {
    return capi::translate_exceptions("cvg_options_set_string", [&] {
        check_options(opts);
        const OptionSpec& s = key_info(key);
        CVG_ARG(value != nullptr, "value is NULL");
        set_checked(*opts, s, std::string(value));
    });
}

int cvg_options_get_int(const cvg_options* opts, int32_t key, int64_t* out) {
    return capi::translate_exceptions("cvg_options_get_int", [&] {
        check_options(opts);
        const OptionSpec& s = key_info(key);
        CVG_ARG(out != nullptr, "out is NULL");
        CVG_ARG(c_type(s) == CType::Int, std::string(s.c_name) + " is not an integer option");
        *out = option_integer(opts->compare, s);
    });
}

int cvg_options_get_double(const cvg_options* opts, int32_t key, double* out) {
    return capi::translate_exceptions("cvg_options_get_double", [&] {
        check_options(opts);
        const OptionSpec& s = key_info(key);
        CVG_ARG(out != nullptr, "out is NULL");
        CVG_ARG(c_type(s) == CType::Double, std::string(s.c_name) + " is not a floating-point option");
        *out = option_real(opts->compare, s);
    });
}

int cvg_options_get_string(const cvg_options* opts, int32_t key, char* buf, int64_t capacity, int64_t* length) {
    return capi::translate_exceptions("cvg_options_get_string", [&] {
        check_options(opts);
        const OptionSpec& s = key_info(key);
        CVG_ARG(length != nullptr, "length is NULL");
        const std::string text = option_text(opts->compare, s);
        *length = int64_t(text.size());
        if (buf == nullptr) return;
        CVG_ARG(capacity >= int64_t(text.size()) + 1,
                std::string(s.c_name) + ": capacity " + std::to_string(capacity) + " cannot hold " +
                    std::to_string(text.size()) + " characters and the terminating NUL");
        std::memcpy(buf, text.c_str(), text.size() + 1);
    });
}

}  // extern "C"
