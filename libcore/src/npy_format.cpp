// The .npy format itself: header parsing and dtype conversion, on bytes in
// memory. Format reference: numpy/lib/format.py (NEP 1) — magic "\x93NUMPY",
// version byte pair, little-endian header length (u16 for 1.0, u32 for 2.0
// and 3.0), then a Python dict literal with the keys 'descr',
// 'fortran_order' and 'shape', padded with spaces and ended by '\n'.
// Standard library only: the report viewer's em++ build compiles this file
// too (wasm_viewer/CMakeLists.txt).
#include "npy_format_internal.hpp"

#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

namespace convergent {

namespace {

constexpr bool kHostBigEndian = __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__;
constexpr std::uint32_t kMaxHeaderBytes = 1u << 24;

// Header text for error messages: printable, and not unbounded.
std::string quoted_header(const std::string& text) {
    std::size_t end = text.size();
    while (end > 0 && (text[end - 1] == ' ' || text[end - 1] == '\n')) --end;
    std::string s;
    for (char c : text.substr(0, end)) {
        if (s.size() >= 160) {
            s += "...";
            break;
        }
        const unsigned char u = static_cast<unsigned char>(c);
        if (c == '\n')
            s += "\\n";
        else if (u < 0x20 || u == 0x7f)
            s += '?';
        else
            s += c;
    }
    return "\"" + s + "\"";
}

// ---- a small parser for the Python literal of the header dict ---------------

struct PyValue {
    enum class Kind { String, Bool, Int, None, Tuple, List, Dict } kind = Kind::None;
    std::string text;                // String: contents; Int: the digits as written
    bool boolean = false;
    bool negative = false;           // Int
    std::uint64_t integer = 0;       // Int magnitude
    bool too_big = false;            // Int did not fit 63 bits
    std::vector<PyValue> items;      // Tuple/List elements, Dict values
    std::vector<std::string> keys;   // Dict keys (strings only)
};

class LiteralParser {
public:
    LiteralParser(const std::string& text, const std::string& what) : s_(text), what_(what) {}

    PyValue parse_top() {
        PyValue v = parse_value(0);
        skip_space();
        if (pos_ != s_.size()) error("unexpected text after the dictionary");
        return v;
    }

private:
    [[noreturn]] void error(const std::string& problem) const {
        fail(ErrorCode::BadData, what_ + ": bad .npy header: " + problem + " at character " +
                                     std::to_string(pos_) + " of " + quoted_header(s_));
    }
    void skip_space() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' ||
                                    s_[pos_] == '\r'))
            ++pos_;
    }
    bool eat(char c) {
        skip_space();
        if (pos_ < s_.size() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }

    PyValue parse_value(int depth) {
        if (depth > 16) error("nesting too deep");
        skip_space();
        if (pos_ >= s_.size()) error("unexpected end");
        const char c = s_[pos_];
        if (c == '\'' || c == '"') return parse_string();
        if (c == '(') return parse_sequence(PyValue::Kind::Tuple, ')', depth);
        if (c == '[') return parse_sequence(PyValue::Kind::List, ']', depth);
        if (c == '{') return parse_dict(depth);
        if (c == '-' || c == '+' || (c >= '0' && c <= '9')) return parse_int();
        if (std::isalpha(static_cast<unsigned char>(c))) {
            std::size_t start = pos_;
            while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_'))
                ++pos_;
            const std::string word = s_.substr(start, pos_ - start);
            PyValue v;
            if (word == "True" || word == "False") {
                v.kind = PyValue::Kind::Bool;
                v.boolean = word == "True";
            } else if (word == "None") {
                v.kind = PyValue::Kind::None;
            } else {
                pos_ = start;
                error("unknown name '" + word + "'");
            }
            return v;
        }
        error(std::string("unexpected character '") + c + "'");
    }

    PyValue parse_string() {
        const char quote = s_[pos_++];
        PyValue v;
        v.kind = PyValue::Kind::String;
        while (true) {
            if (pos_ >= s_.size()) error("unterminated string");
            char c = s_[pos_++];
            if (c == quote) break;
            if (c == '\\') {
                if (pos_ >= s_.size()) error("unterminated string");
                c = s_[pos_++];
            }
            v.text += c;
        }
        return v;
    }

    PyValue parse_int() {
        PyValue v;
        v.kind = PyValue::Kind::Int;
        if (s_[pos_] == '-' || s_[pos_] == '+') v.negative = s_[pos_++] == '-';
        const std::size_t start = pos_;
        while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
            const std::uint64_t digit = std::uint64_t(s_[pos_] - '0');
            if (v.integer > (std::uint64_t(std::numeric_limits<index_t>::max()) - digit) / 10)
                v.too_big = true;
            else
                v.integer = v.integer * 10 + digit;
            ++pos_;
        }
        if (pos_ == start) error("expected a number");
        v.text = s_.substr(start, pos_ - start);
        if (pos_ < s_.size() && (s_[pos_] == 'L' || s_[pos_] == 'l')) ++pos_;  // Python 2 long
        return v;
    }

    PyValue parse_sequence(PyValue::Kind kind, char close, int depth) {
        ++pos_;
        PyValue v;
        v.kind = kind;
        bool had_comma = false;
        while (true) {
            if (eat(close)) break;
            if (!v.items.empty() && !had_comma) error(std::string("expected ',' or '") + close + "'");
            v.items.push_back(parse_value(depth + 1));
            had_comma = eat(',');
        }
        return v;
    }

    PyValue parse_dict(int depth) {
        ++pos_;
        PyValue v;
        v.kind = PyValue::Kind::Dict;
        bool had_comma = false;
        while (true) {
            if (eat('}')) break;
            if (!v.items.empty() && !had_comma) error("expected ',' or '}'");
            skip_space();
            if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) error("expected a string key");
            const std::string key = parse_string().text;
            if (!eat(':')) error("expected ':' after key '" + key + "'");
            v.keys.push_back(key);
            v.items.push_back(parse_value(depth + 1));
            had_comma = eat(',');
        }
        return v;
    }

    const std::string& s_;
    const std::string& what_;
    std::size_t pos_ = 0;
};

[[noreturn]] void unsupported_dtype(const std::string& what, const std::string& descr, const std::string& kind) {
    fail(ErrorCode::Unsupported,
         what + ": dtype '" + descr + "' (" + kind +
             ") is not supported; convergent reads float16, float32 and float64 arrays "
             "(convert with arr.astype(numpy.float32))");
}

// Fills dtype and byte order from a descr string such as '<f4'.
void parse_descr(const std::string& descr, const std::string& what, NpyHeader& h) {
    std::size_t i = 0;
    char order = '=';
    if (!descr.empty() && std::strchr("<>=|", descr[0]) != nullptr) order = descr[i++];
    if (i >= descr.size()) fail(ErrorCode::BadData, what + ": bad .npy header: empty dtype '" + descr + "'");
    const char kind = descr[i++];
    const std::string size_text = descr.substr(i);
    for (char c : size_text)
        if (c < '0' || c > '9') {
            if (kind == 'M' || kind == 'm') unsupported_dtype(what, descr, "datetime");
            fail(ErrorCode::BadData, what + ": bad .npy header: unrecognised dtype '" + descr + "'");
        }
    const int size = size_text.empty() || size_text.size() > 4 ? -1 : std::stoi(size_text);
    switch (kind) {
        case 'f': break;
        case 'i': unsupported_dtype(what, descr, "signed integer");
        case 'u': unsupported_dtype(what, descr, "unsigned integer");
        case 'b': unsupported_dtype(what, descr, "boolean");
        case '?': unsupported_dtype(what, descr, "boolean");
        case 'c': unsupported_dtype(what, descr, "complex");
        case 'O': unsupported_dtype(what, descr, "Python object array");
        case 'V': unsupported_dtype(what, descr, "structured/void");
        case 'S': case 'a': unsupported_dtype(what, descr, "byte string");
        case 'U': unsupported_dtype(what, descr, "unicode string");
        case 'M': case 'm': unsupported_dtype(what, descr, "datetime");
        default: fail(ErrorCode::BadData, what + ": bad .npy header: unrecognised dtype '" + descr + "'");
    }
    if (size == 2)
        h.dtype = NpyDtype::Float16;
    else if (size == 4)
        h.dtype = NpyDtype::Float32;
    else if (size == 8)
        h.dtype = NpyDtype::Float64;
    else if (size > 8)
        unsupported_dtype(what, descr, "extended-precision float");
    else
        fail(ErrorCode::BadData, what + ": bad .npy header: unrecognised dtype '" + descr + "'");
    if (order == '|')
        fail(ErrorCode::BadData, what + ": bad .npy header: byte order '|' (not applicable) is meaningless for the " +
                                     std::to_string(size) + "-byte dtype '" + descr + "'");
    h.big_endian = order == '>' || (order == '=' && kHostBigEndian);
    if (order == '<') h.big_endian = false;
}

const char* dtype_name(NpyDtype d) {
    switch (d) {
        case NpyDtype::Float16: return "float16";
        case NpyDtype::Float32: return "float32";
        case NpyDtype::Float64: return "float64";
    }
    return "?";
}

std::uint16_t load_u16(const std::uint8_t* p, bool swap) {
    std::uint16_t v;
    std::memcpy(&v, p, 2);
    return swap ? __builtin_bswap16(v) : v;
}
std::uint32_t load_u32(const std::uint8_t* p, bool swap) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
}
std::uint64_t load_u64(const std::uint8_t* p, bool swap) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return swap ? __builtin_bswap64(v) : v;
}

}  // namespace

// ---- NpyHeader ---------------------------------------------------------------

index_t NpyHeader::element_count() const {
    index_t n = 1;
    for (index_t d : shape)
        if (__builtin_mul_overflow(n, d, &n))
            fail(ErrorCode::BadData, "NpyHeader: shape " + npy_detail::shape_string(shape) + " overflows the element count");
    return n;
}

int NpyHeader::element_size() const {
    switch (dtype) {
        case NpyDtype::Float16: return 2;
        case NpyDtype::Float32: return 4;
        case NpyDtype::Float64: return 8;
    }
    return 0;
}

namespace npy_detail {

std::string shape_string(const std::vector<index_t>& shape) {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    if (shape.size() == 1) s += ",";
    return s + ")";
}

std::uint64_t header_end(const std::uint8_t* bytes, std::size_t size, const std::string& what) {
    static const std::uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    if (size < 6 || std::memcmp(bytes, magic, 6) != 0)
        fail(ErrorCode::BadData, what + ": not a .npy file (bad magic; expected \"\\x93NUMPY\")");
    CVG_REQUIRE(size >= 10, BadData, what + ": truncated .npy header (" + std::to_string(size) + " bytes)");
    const int major = bytes[6], minor = bytes[7];
    if (!((major == 1 || major == 2 || major == 3) && minor == 0))
        fail(ErrorCode::Unsupported, what + ": .npy format version " + std::to_string(major) + "." +
                                         std::to_string(minor) + " is not supported (1.0, 2.0 and 3.0 are)");
    if (major == 1) return 10 + std::uint64_t(load_u16(bytes + 8, kHostBigEndian));
    CVG_REQUIRE(size >= 12, BadData, what + ": truncated .npy header (" + std::to_string(size) + " bytes)");
    const std::uint32_t length = load_u32(bytes + 8, kHostBigEndian);
    // A float array's header is a few hundred bytes; refuse absurd claimed
    // lengths before a streamed reader allocates a buffer for them.
    CVG_REQUIRE(length <= kMaxHeaderBytes, BadData,
                what + ": bad .npy header: claimed header length " + std::to_string(length) +
                    " bytes is implausible (more than " + std::to_string(kMaxHeaderBytes) + ")");
    return 12 + std::uint64_t(length);
}

float half_to_float(std::uint16_t h) {
    const std::uint32_t sign = std::uint32_t(h >> 15) << 31;
    const std::uint32_t exponent = (h >> 10) & 0x1f;
    const std::uint32_t mantissa = h & 0x3ff;
    std::uint32_t bits;
    if (exponent == 0) {
        // Zero or subnormal: mantissa * 2^-24, exact in binary32.
        const float magnitude = std::ldexp(float(mantissa), -24);
        return sign ? -magnitude : magnitude;
    } else if (exponent == 31) {
        bits = sign | 0x7f800000u | (mantissa << 13);  // Inf, or NaN keeping its payload
    } else {
        bits = sign | ((exponent - 15 + 127) << 23) | (mantissa << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

void convert_to_float(const std::uint8_t* src, index_t count, const NpyHeader& header, float* out) {
    if (count <= 0) return;  // out may be null for an empty array (memcpy needs valid pointers)
    const bool swap = header.big_endian != kHostBigEndian;
    switch (header.dtype) {
        case NpyDtype::Float32:
            if (!swap) {
                std::memcpy(out, src, std::size_t(count) * 4);
            } else {
                for (index_t i = 0; i < count; ++i) {
                    const std::uint32_t v = load_u32(src + 4 * i, true);
                    std::memcpy(out + i, &v, 4);
                }
            }
            break;
        case NpyDtype::Float64:
            for (index_t i = 0; i < count; ++i) {
                const std::uint64_t v = load_u64(src + 8 * i, swap);
                double d;
                std::memcpy(&d, &v, 8);
                out[i] = static_cast<float>(d);
            }
            break;
        case NpyDtype::Float16:
            for (index_t i = 0; i < count; ++i) out[i] = half_to_float(load_u16(src + 2 * i, swap));
            break;
    }
}

void check_range(const NpyHeader& header, index_t first, index_t count, const std::string& what) {
    const index_t n = header.element_count();
    CVG_REQUIRE(first >= 0 && count >= 0 && first <= n && count <= n - first, InvalidArgument,
                what + ": read of elements [" + std::to_string(first) + ", " + std::to_string(first) + "+" +
                    std::to_string(count) + ") is outside the " + std::to_string(n) + " elements");
}

}  // namespace npy_detail

NpyHeader parse_npy_header(const std::uint8_t* bytes, std::size_t size, std::uint64_t total_bytes,
                           const std::string& what) {
    if (size < 6 && total_bytes < 6)
        fail(ErrorCode::BadData, what + ": not a .npy file (only " + std::to_string(total_bytes) + " bytes)");
    const std::uint64_t end = npy_detail::header_end(bytes, size, what);
    const std::size_t prefix = bytes[6] == 1 ? 10 : 12;
    if (end > total_bytes)
        fail(ErrorCode::BadData, what + ": truncated .npy header: it claims " + std::to_string(end) +
                                     " bytes but the file holds only " + std::to_string(total_bytes));
    CVG_REQUIRE(end <= size, InvalidArgument,
                what + ": parse_npy_header needs the first " + std::to_string(end) + " bytes, got " +
                    std::to_string(size));
    const std::string text(reinterpret_cast<const char*>(bytes) + prefix, std::size_t(end - prefix));

    const PyValue dict = LiteralParser(text, what).parse_top();
    if (dict.kind != PyValue::Kind::Dict)
        fail(ErrorCode::BadData, what + ": bad .npy header: not a dictionary: " + quoted_header(text));

    NpyHeader h;
    const PyValue* descr = nullptr;
    const PyValue* fortran = nullptr;
    const PyValue* shape = nullptr;
    for (std::size_t i = 0; i < dict.keys.size(); ++i) {
        const std::string& key = dict.keys[i];
        const PyValue* v = &dict.items[i];
        const PyValue** slot = key == "descr" ? &descr
                             : key == "fortran_order" ? &fortran
                             : key == "shape" ? &shape
                                              : nullptr;
        if (!slot)
            fail(ErrorCode::BadData, what + ": bad .npy header: unexpected key '" + key + "' in " + quoted_header(text));
        if (*slot)
            fail(ErrorCode::BadData, what + ": bad .npy header: duplicate key '" + key + "' in " + quoted_header(text));
        *slot = v;
    }
    for (auto [name, v] : {std::pair<const char*, const PyValue*>{"descr", descr},
                           {"fortran_order", fortran}, {"shape", shape}})
        if (!v)
            fail(ErrorCode::BadData, what + ": bad .npy header: missing key '" + std::string(name) + "' in " +
                                         quoted_header(text));

    if (descr->kind == PyValue::Kind::List || descr->kind == PyValue::Kind::Tuple)
        unsupported_dtype(what, "[...]", "structured dtype with fields");
    if (descr->kind != PyValue::Kind::String)
        fail(ErrorCode::BadData, what + ": bad .npy header: 'descr' is not a string in " + quoted_header(text));
    parse_descr(descr->text, what, h);

    if (fortran->kind != PyValue::Kind::Bool)
        fail(ErrorCode::BadData, what + ": bad .npy header: 'fortran_order' is not True/False in " + quoted_header(text));
    h.fortran_order = fortran->boolean;

    std::vector<const PyValue*> dims;
    if (shape->kind == PyValue::Kind::Tuple || shape->kind == PyValue::Kind::List) {
        for (const PyValue& d : shape->items) dims.push_back(&d);
    } else {
        fail(ErrorCode::BadData, what + ": bad .npy header: 'shape' is not a tuple in " + quoted_header(text));
    }
    std::string shape_text = "(";
    for (std::size_t i = 0; i < dims.size(); ++i)
        shape_text += (i ? ", " : "") + (dims[i]->negative ? std::string("-") : std::string()) + dims[i]->text;
    shape_text += dims.size() == 1 ? ",)" : ")";
    for (const PyValue* d : dims) {
        if (d->kind != PyValue::Kind::Int)
            fail(ErrorCode::BadData, what + ": bad .npy header: 'shape' holds a non-integer in " + quoted_header(text));
        if (d->negative && d->integer != 0)
            fail(ErrorCode::BadData, what + ": bad .npy header: negative dimension in shape " + shape_text);
        if (d->too_big)
            fail(ErrorCode::BadData, what + ": absurd shape " + shape_text + ": a dimension exceeds 2^63");
        h.shape.push_back(index_t(d->integer));
    }

    // Element count and byte size with overflow checks, before anything is
    // allocated or mapped on the strength of the claimed shape.
    index_t count = 1;
    for (index_t d : h.shape)
        if (__builtin_mul_overflow(count, d, &count))
            fail(ErrorCode::BadData, what + ": absurd shape " + shape_text +
                                         ": the element count overflows 64 bits");
    index_t data_bytes = 0;
    if (__builtin_mul_overflow(count, index_t(h.element_size()), &data_bytes))
        fail(ErrorCode::BadData, what + ": absurd shape " + shape_text + ": " + std::to_string(count) + " " +
                                     dtype_name(h.dtype) + " elements overflow a 64-bit byte count");
    const std::uint64_t available = total_bytes - end;
    if (std::uint64_t(data_bytes) > available)
        fail(ErrorCode::BadData,
             what + ": truncated data: shape " + shape_text + " of " + dtype_name(h.dtype) + " needs " +
                 std::to_string(data_bytes) + " bytes after the " + std::to_string(end) +
                 "-byte header, but only " + std::to_string(available) + " bytes follow (the stream holds " +
                 std::to_string(total_bytes) + " bytes)");
    h.data_offset = end;
    return h;
}

}  // namespace convergent
