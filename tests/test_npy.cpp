// NumPy .npy/.npz reading and writing, checked against numpy: the fixtures in
// tests/data/npy/ are written by numpy (tests/data/make_npy_fixtures.py) with
// numpy's own float32 conversions alongside, and write_npy output is loaded
// back by numpy.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "convergent/npy.hpp"
#include "npy_internal.hpp"
#include "npy_test_support.hpp"

namespace {

using namespace npy_test_support;

using convergent::ErrorCode;
using convergent::index_t;

const char* const kKinds[] = {"f2", "f4", "f8"};

// Whether CONVERGENT_TEST_PYTHON can import numpy (tests that need it skip otherwise).
bool numpy_available() {
    return std::system((std::string(CONVERGENT_TEST_PYTHON) + " -c 'import numpy' >/dev/null 2>&1").c_str()) == 0;
}

// Storage index k of a (2, 3, 2, 4) array -> its C-order (logical) index.
index_t logical_index(index_t k, bool fortran) {
    if (!fortran) return k;
    const index_t d[4] = {2, 3, 2, 4};
    index_t i[4];
    for (int a = 0; a < 4; ++a) {
        i[a] = k % d[a];
        k /= d[a];
    }
    return ((i[0] * d[1] + i[1]) * d[2] + i[2]) * d[3] + i[3];
}

}  // namespace

// Every dtype x byte order x memory order x format version written by numpy
// reads back as numpy's own float32 conversion of the values.
TEST(Npy, EveryDtypeOrderAndVersionMatchesNumpy) {
    int checked = 0;
    for (const char* kind : kKinds) {
        const std::vector<float> expected = read_raw_f32(fixture(std::string("expected_") + kind + ".f32"));
        ASSERT_EQ(expected.size(), 48u);
        for (const char* endian : {"le", "be"})
            for (const char* layout : {"C", "F"})
                for (int major = 1; major <= 3; ++major) {
                    const std::string name = std::string(kind) + "_" + endian + "_" + layout + "_v" +
                                             std::to_string(major) + ".npy";
                    SCOPED_TRACE(name);
                    auto array = convergent::open_npy(fixture(name), "x");
                    const convergent::NpyHeader& h = array->header();
                    EXPECT_EQ(h.shape, (std::vector<index_t>{2, 3, 2, 4}));
                    EXPECT_EQ(h.element_count(), 48);
                    EXPECT_EQ(h.element_size(), kind[1] - '0');
                    EXPECT_EQ(h.big_endian, std::string(endian) == "be");
                    EXPECT_EQ(h.fortran_order, std::string(layout) == "F");
                    EXPECT_EQ(h.data_offset % 64, 0u);
                    EXPECT_EQ(int(h.dtype), kind[1] == '2' ? int(convergent::NpyDtype::Float16)
                                            : kind[1] == '4' ? int(convergent::NpyDtype::Float32)
                                                             : int(convergent::NpyDtype::Float64));
                    std::vector<float> all(48);
                    array->read_elements(0, 48, all.data());
                    for (index_t k = 0; k < 48; ++k)
                        EXPECT_TRUE(same_value(all[size_t(k)], expected[size_t(logical_index(k, h.fortran_order))]))
                            << "element " << k << ": " << all[size_t(k)] << " vs numpy "
                            << expected[size_t(logical_index(k, h.fortran_order))];
                    // A partial read equals the same slice of the full read.
                    std::vector<float> part(13);
                    array->read_elements(7, 13, part.data());
                    for (index_t k = 0; k < 13; ++k) EXPECT_TRUE(same_value(part[size_t(k)], all[size_t(7 + k)]));
                    ++checked;
                }
    }
    EXPECT_EQ(checked, 36);
}

// Specific values from the fixtures, so that a wrong expected file cannot
// hide a wrong conversion: half subnormals/max/overflow, float64 rounding.
TEST(Npy, SpecialValuesConvertLikeNumpy) {
    auto half = convergent::open_npy(fixture("f2_be_C_v1.npy"), "h");
    std::vector<float> v(48);
    half->read_elements(0, 48, v.data());
    EXPECT_EQ(v[0], 0.0f);
    EXPECT_TRUE(std::signbit(v[1]));
    EXPECT_EQ(v[2], INFINITY);
    EXPECT_EQ(v[3], -INFINITY);
    EXPECT_TRUE(std::isnan(v[4]));
    EXPECT_EQ(v[5], 0.333251953125f);  // 1/3 in binary16
    EXPECT_EQ(v[6], std::ldexp(1.0f, -24));
    EXPECT_EQ(v[7], -0.75f * std::ldexp(1.0f, -14));
    EXPECT_EQ(v[8], 65504.0f);
    EXPECT_EQ(v[9], std::ldexp(1.0f, -14));
    EXPECT_EQ(v[10], INFINITY);

    auto dbl = convergent::open_npy(fixture("f8_be_F_v2.npy"), "d");
    dbl->read_elements(0, 1, v.data());  // storage element 0 is logical element 0
    EXPECT_EQ(v[0], 0.0f);
    auto dbl_c = convergent::open_npy(fixture("f8_le_C_v3.npy"), "d");
    dbl_c->read_elements(0, 9, v.data());
    EXPECT_EQ(v[5], float(1.0 / 3.0));
    EXPECT_EQ(v[6], 0.0f);
    EXPECT_EQ(v[7], INFINITY);
    EXPECT_EQ(v[8], float(123456789.123456789));
}

// Every binary16 bit pattern against the IEEE definition.
TEST(Npy, HalfToFloatAllBitPatterns) {
    for (std::uint32_t bits = 0; bits < 65536; ++bits) {
        const float got = convergent::npy_detail::half_to_float(std::uint16_t(bits));
        const int sign = bits >> 15, exponent = (bits >> 10) & 31, mantissa = bits & 1023;
        double want;
        if (exponent == 31)
            want = mantissa ? NAN : INFINITY;
        else if (exponent == 0)
            want = std::ldexp(double(mantissa), -24);
        else
            want = std::ldexp(1.0 + mantissa / 1024.0, exponent - 15);
        if (sign) want = -want;
        ASSERT_TRUE(same_value(got, float(want))) << std::hex << bits;
    }
}

TEST(Npy, HeaderDictIsParsedRobustly) {
    struct Case {
        std::string dict;
        std::vector<index_t> shape;
        bool fortran;
    };
    const std::vector<Case> cases = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", {2, 3}, false},
        {"{'shape': (6,), 'fortran_order': True, 'descr': '<f4'}", {6}, true},
        {"{\"fortran_order\":False,\"descr\":\"<f4\",\"shape\":(1,2,3,),}", {1, 2, 3}, false},
        {"{ 'descr' : '=f4' ,\n 'fortran_order' : False , 'shape' : ( 3L , 2L ) , }", {3, 2}, false},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (), }", {}, false},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }", {0, 5}, false},
    };
    const std::vector<float> data(6, 1.5f);
    for (const Case& c : cases) {
        SCOPED_TRACE(c.dict);
        const std::string bytes = npy_bytes(c.dict, float_bytes(data));
        const auto h = convergent::parse_npy_header(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(),
                                                    bytes.size(), "test");
        EXPECT_EQ(h.shape, c.shape);
        EXPECT_EQ(h.fortran_order, c.fortran);
        EXPECT_EQ(int(h.dtype), int(convergent::NpyDtype::Float32));
        EXPECT_FALSE(h.big_endian);
        EXPECT_EQ(h.data_offset % 64, 0u);
        EXPECT_EQ(h.data_offset, bytes.size() - 24);
    }
    // A scalar () has one element.
    const std::string scalar = npy_bytes("{'descr': '>f8', 'fortran_order': False, 'shape': ()}", std::string(8, '\0'), 2);
    TempDir dir;
    write_bytes(dir.file("scalar.npy"), scalar);
    auto a = convergent::open_npy(dir.file("scalar.npy"), "s");
    EXPECT_EQ(a->header().element_count(), 1);
    EXPECT_TRUE(a->header().big_endian);
    float f = 1.0f;
    a->read_elements(0, 1, &f);
    EXPECT_EQ(f, 0.0f);
}

// The format unit on bytes in memory, without a file: what the report
// viewer's WebAssembly build runs (parse_npy_header + convert_to_float).
TEST(NpyFormat, InMemoryStreamsDecodeWithoutAFile) {
    // Big-endian float64 in Fortran order, version 2.0: storage order is
    // column-major, so element k of the stream is (k % 2, k / 2) of a 2 x 3.
    const double values[6] = {1.5, -2.25, 1e300, -0.0, 3.0, 1.0 / 3.0};
    std::string data;
    for (double v : values) {
        std::uint64_t bits;
        std::memcpy(&bits, &v, 8);
        for (int b = 7; b >= 0; --b) data += char((bits >> (8 * b)) & 0xff);
    }
    const std::string bytes = npy_bytes("{'descr': '>f8', 'fortran_order': True, 'shape': (2, 3), }", data, 2);
    const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
    const convergent::NpyHeader h = convergent::parse_npy_header(p, bytes.size(), bytes.size(), "mem");
    EXPECT_EQ(convergent::npy_detail::header_end(p, bytes.size(), "mem"), h.data_offset);
    EXPECT_EQ(h.data_offset, bytes.size() - 48);
    EXPECT_TRUE(h.big_endian);
    EXPECT_TRUE(h.fortran_order);
    EXPECT_EQ(int(h.dtype), int(convergent::NpyDtype::Float64));
    std::vector<float> out(6, 7.0f);
    convergent::npy_detail::convert_to_float(p + h.data_offset, 6, h, out.data());
    for (int k = 0; k < 6; ++k) EXPECT_TRUE(same_value(out[size_t(k)], float(values[k]))) << k;
    EXPECT_TRUE(std::signbit(out[3]));

    // Little-endian float16, C order, 1-D: 0x3c00 = 1, 0xc000 = -2, 0x0001 = 2^-24.
    const std::string half = std::string("\x00\x3c\x00\xc0\x01\x00", 6);
    const std::string hb = npy_bytes("{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }", half);
    const auto* hp = reinterpret_cast<const std::uint8_t*>(hb.data());
    const convergent::NpyHeader hh = convergent::parse_npy_header(hp, hb.size(), hb.size(), "mem16");
    ASSERT_EQ(hh.shape, std::vector<index_t>{3});
    float h3[3];
    convergent::npy_detail::convert_to_float(hp + hh.data_offset, 3, hh, h3);
    EXPECT_EQ(h3[0], 1.0f);
    EXPECT_EQ(h3[1], -2.0f);
    EXPECT_EQ(h3[2], std::ldexp(1.0f, -24));

    // One element short of the claimed shape: refused before any decoding,
    // naming the stream and both byte counts.
    expect_error([&] { convergent::parse_npy_header(hp, hb.size() - 1, hb.size() - 1, "mem16"); },
                 ErrorCode::BadData, {"mem16", "truncated data", "needs 6 bytes", "only 5 bytes"});
    // A version 2.0 length field needs 12 bytes.
    expect_error([&] { convergent::npy_detail::header_end(p, 10, "mem"); }, ErrorCode::BadData,
                 {"mem", "truncated .npy header (10 bytes)"});
}

TEST(NpyFormat, ShapeStringIsPythonsTupleSyntax) {
    using convergent::npy_detail::shape_string;
    EXPECT_EQ(shape_string({}), "()");
    EXPECT_EQ(shape_string({5}), "(5,)");
    EXPECT_EQ(shape_string({2, 0, 3}), "(2, 0, 3)");
}

TEST(Npy, BadMagicIsBadData) {
    TempDir dir;
    const std::string path = dir.file("magic.npy");
    std::string bytes = read_bytes(fixture("f4_le_C_v1.npy"));
    bytes[1] = 'X';
    write_bytes(path, bytes);
    expect_error([&] { convergent::open_npy(path, "arr"); }, ErrorCode::BadData, {path, "'arr'", "bad magic"});
    write_bytes(path, "");
    expect_error([&] { convergent::open_npy(path, "arr"); }, ErrorCode::BadData, {path, "not a .npy file"});
}

TEST(Npy, BadHeadersAreBadData) {
    TempDir dir;
    const std::string path = dir.file("bad.npy");
    const std::string data = float_bytes(std::vector<float>(6, 0.0f));
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"{'descr': '<f4', 'fortran_order': False}", "missing key 'shape'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}", "unexpected key 'extra'"},
        {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2, 3)}", "unknown name 'Maybe'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", "expected ',' or '}'"},
        {"{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}", "'fortran_order' is not True/False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}", "negative dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': '6'}", "'shape' is not a tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,)}", "expected ',' or ')'"},
        {"{'descr': '<q9', 'fortran_order': False, 'shape': (6,)}", "unrecognised dtype '<q9'"},
        {"{'descr': '|f4', 'fortran_order': False, 'shape': (6,)}", "byte order '|'"},
        {"['descr', '<f4']", "not a dictionary"},
        {"garbage", "unknown name 'garbage'"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.first);
        write_bytes(path, npy_bytes(c.first, data));
        expect_error([&] { convergent::open_npy(path, "arr"); }, ErrorCode::BadData, {path, "'arr'", c.second});
    }
    // A header length beyond the end of the file.
    std::string bytes = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", "");
    bytes[8] = char(0xff);
    bytes[9] = char(0x7f);
    write_bytes(path, bytes);
    expect_error([&] { convergent::open_npy(path, "arr"); }, ErrorCode::BadData,
                 {path, "truncated .npy header", "32777"});
    // A version 2.0 header length of 4 GiB is refused before any buffer is sized for it.
    bytes = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", data, 2);
    bytes[8] = bytes[9] = bytes[10] = bytes[11] = char(0xff);
    write_bytes(path, bytes);
    expect_error([&] { convergent::open_npy(path, "arr"); }, ErrorCode::BadData, {path, "4294967295", "implausible"});
    // An unknown format version.
    bytes = read_bytes(fixture("f4_le_C_v1.npy"));
    bytes[6] = 4;
    write_bytes(path, bytes);
    expect_error([&] { convergent::open_npy(path, "arr"); }, ErrorCode::Unsupported, {path, "version 4.0"});
}

TEST(Npy, TruncatedDataNamesExpectedAndActualBytes) {
    TempDir dir;
    const std::string path = dir.file("short.npy");
    const std::string bytes = read_bytes(fixture("f4_le_C_v1.npy"));  // 128-byte header + 192 data bytes
    ASSERT_EQ(bytes.size(), 128u + 192u);
    write_bytes(path, bytes.substr(0, bytes.size() - 10));
    expect_error([&] { convergent::open_npy(path, "layer"); }, ErrorCode::BadData,
                 {path, "'layer'", "truncated", "needs 192 bytes", "only 182 bytes"});
}

// Claimed shapes far beyond the file: refused from the header alone, before
// anything is allocated (the test would run out of memory otherwise).
TEST(Npy, AbsurdShapesAreRefusedWithoutAllocating) {
    TempDir dir;
    const std::string path = dir.file("huge.npy");
    write_bytes(path, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }",
                                float_bytes({1.0f, 2.0f})));
    expect_error([&] { convergent::open_npy(path, "huge"); }, ErrorCode::BadData,
                 {path, "'huge'", "absurd shape (1099511627776, 1099511627776)", "overflows"});
    write_bytes(path, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,), }", ""));
    expect_error([&] { convergent::open_npy(path, "huge"); }, ErrorCode::BadData, {path, "absurd shape"});
    write_bytes(path, npy_bytes("{'descr': '<f2', 'fortran_order': False, 'shape': (3037000499, 3037000499), }", ""));
    expect_error([&] { convergent::open_npy(path, "huge"); }, ErrorCode::BadData, {path, "absurd shape", "overflow"});
    // Representable but larger than the file: 2^40 floats.
    write_bytes(path, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1048576, 1048576), }",
                                float_bytes({1.0f})));
    expect_error([&] { convergent::open_npy(path, "huge"); }, ErrorCode::BadData,
                 {path, "needs 4398046511104 bytes", "only 4 bytes"});
}

TEST(Npy, RefusedDtypesAreUnsupported) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"int32.npy", "'<i4' (signed integer)"}, {"object.npy", "'|O' (Python object array)"},
        {"complex64.npy", "'<c8' (complex)"},    {"bool.npy", "'|b1' (boolean)"},
        {"structured.npy", "structured"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.first);
        expect_error([&] { convergent::open_npy(fixture(c.first), "acts"); }, ErrorCode::Unsupported,
                     {c.first, "'acts'", c.second, "not supported"});
    }
}

TEST(Npy, MissingFileAndBadRangesAreReported) {
    expect_error([&] { convergent::open_npy("/nonexistent/dir/a.npy", "a"); }, ErrorCode::Io,
                 {"/nonexistent/dir/a.npy", "No such file"});
    auto a = convergent::open_npy(fixture("f4_le_C_v1.npy"), "a");
    std::vector<float> out(64);
    expect_error([&] { a->read_elements(40, 9, out.data()); }, ErrorCode::InvalidArgument, {"f4_le_C_v1.npy", "outside"});
    expect_error([&] { a->read_elements(-1, 1, out.data()); }, ErrorCode::InvalidArgument, {"outside"});
}

// write_npy output read back by numpy (the oracle) and by open_npy.
TEST(Npy, WriteNpyRoundTripThroughNumpy) {
    TempDir dir;
    const std::vector<index_t> shape = {3, 4, 5};
    std::vector<float> f(60);
    std::vector<double> d(60);
    std::vector<std::int64_t> q(60);
    for (int i = 0; i < 60; ++i) {
        f[size_t(i)] = float(i) * 0.25f - 3.0f;
        d[size_t(i)] = double(i) / 3.0 - 7.0;
        q[size_t(i)] = std::int64_t(i) * 1000000007LL - 5;
    }
    convergent::write_npy(dir.file("f.npy"), f.data(), shape);
    convergent::write_npy(dir.file("d.npy"), d.data(), shape);
    convergent::write_npy(dir.file("q.npy"), q.data(), shape);
    convergent::write_npy(dir.file("scalar.npy"), d.data(), {});
    convergent::write_npy(dir.file("empty.npy"), static_cast<const float*>(nullptr), {0, 7});

    for (const char* name : {"f.npy", "d.npy", "q.npy", "scalar.npy", "empty.npy"}) {
        const std::string bytes = read_bytes(dir.file(name));
        ASSERT_GT(bytes.size(), 10u);
        const std::size_t header = 10 + std::uint8_t(bytes[8]) + 256 * std::uint8_t(bytes[9]);
        EXPECT_EQ(header % 64, 0u) << name;
        EXPECT_EQ(bytes[header - 1], '\n') << name;
        EXPECT_EQ(bytes[6], 1) << name;
    }
    auto fa = convergent::open_npy(dir.file("f.npy"), "f");
    std::vector<float> back(60);
    fa->read_elements(0, 60, back.data());
    EXPECT_EQ(back, f);
    EXPECT_EQ(fa->header().shape, shape);
    expect_error([&] { convergent::open_npy(dir.file("q.npy"), "q"); }, ErrorCode::Unsupported, {"'<i8'"});

    const std::string script = dir.file("check.py");
    write_bytes(script,
                "import sys, numpy as np\n"
                "d = sys.argv[1]\n"
                "i = np.arange(60)\n"
                "f = np.load(d + '/f.npy'); assert f.dtype == np.float32 and f.shape == (3, 4, 5), (f.dtype, f.shape)\n"
                "assert np.array_equal(f, (i.astype(np.float32) * np.float32(0.25) - np.float32(3)).reshape(3, 4, 5))\n"
                "x = np.load(d + '/d.npy'); assert x.dtype == np.float64 and x.shape == (3, 4, 5)\n"
                "assert np.array_equal(x, (i / 3.0 - 7.0).reshape(3, 4, 5))\n"
                "q = np.load(d + '/q.npy'); assert q.dtype == np.int64 and q.shape == (3, 4, 5)\n"
                "assert np.array_equal(q, (i.astype(np.int64) * 1000000007 - 5).reshape(3, 4, 5))\n"
                "s = np.load(d + '/scalar.npy'); assert s.shape == () and s == -7.0\n"
                "e = np.load(d + '/empty.npy'); assert e.shape == (0, 7) and e.dtype == np.float32\n"
                "print('numpy-ok')\n");
    if (!numpy_available())
        GTEST_SKIP() << "numpy is not available to " << CONVERGENT_TEST_PYTHON;
    const std::string command = std::string(CONVERGENT_TEST_PYTHON) + " " + script + " " + dir.path();
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
}

TEST(Npy, WriteNpyReportsUnwritablePaths) {
    const float x = 1.0f;
    expect_error([&] { convergent::write_npy("/nonexistent/dir/x.npy", &x, {1}); }, ErrorCode::Io,
                 {"/nonexistent/dir/x.npy"});
    expect_error([&] { convergent::write_npy("/tmp/x.npy", &x, {-1}); }, ErrorCode::InvalidArgument, {"negative"});
}

// ---- .npz -------------------------------------------------------------------------

TEST(Npz, StoredDeflatedAndZip64ArchivesMatchNumpy) {
    const std::vector<float> rows_fc = read_raw_f32(fixture("rows_fc.f32"));  // (3, 7) C order
    ASSERT_EQ(rows_fc.size(), 21u);
    for (const char* name : {"net_stored.npz", "net_deflated.npz", "net_zip64.npz", "net_zip64_full.npz"}) {
        SCOPED_TRACE(name);
        auto archive = convergent::NpzArchive::open(fixture(name));
        const bool full = std::string(name).find("stored") != std::string::npos ||
                          std::string(name).find("deflated") != std::string::npos;
        const std::vector<std::string> want =
            full ? std::vector<std::string>{"conv", "convF", "conv_f2be", "conv_f8F", "fc", "fcF"}
                 : std::vector<std::string>{"conv", "fc"};
        EXPECT_EQ(archive->array_names(), want);
        auto fc = archive->array("fc");
        EXPECT_EQ(fc->header().shape, (std::vector<index_t>{3, 7}));
        EXPECT_EQ(fc->what(), "file '" + fixture(name) + "', array 'fc'");
        std::vector<float> got(21);
        fc->read_elements(0, 21, got.data());
        EXPECT_EQ(got, rows_fc);
        if (full) {
            // F order: storage element k = (n, c) with k = c * 3 + n.
            auto fcF = archive->array("fcF");
            EXPECT_TRUE(fcF->header().fortran_order);
            fcF->read_elements(0, 21, got.data());
            for (int n = 0; n < 3; ++n)
                for (int c = 0; c < 7; ++c) EXPECT_EQ(got[size_t(c * 3 + n)], rows_fc[size_t(n * 7 + c)]);
        }
        // Forward, backward (re-opens a deflated member) and repeated reads.
        auto conv = archive->array("conv");
        const index_t total = conv->header().element_count();
        ASSERT_EQ(total, 90);
        std::vector<float> all(static_cast<size_t>(total)), part(30);
        conv->read_elements(0, total, all.data());
        for (index_t first : {60, 30, 0, 45, 45, 10}) {
            conv->read_elements(first, 30, part.data());
            for (index_t k = 0; k < 30; ++k) EXPECT_EQ(part[size_t(k)], all[size_t(first + k)]) << first;
        }
    }
}

TEST(Npz, RefusedAndBrokenMembersNameArchiveAndMember) {
    const std::string encrypted = fixture("encrypted.npz");
    auto a = convergent::NpzArchive::open(encrypted);
    EXPECT_EQ(a->array_names(), std::vector<std::string>{"fc"});
    expect_error([&] { a->array("fc"); }, ErrorCode::Unsupported, {encrypted, "'fc.npy'", "encrypted"});

    const std::string bzip2 = fixture("bzip2.npz");
    auto b = convergent::NpzArchive::open(bzip2);
    expect_error([&] { b->array("fc"); }, ErrorCode::Unsupported, {bzip2, "'fc.npy'", "bzip2", "not supported"});

    const std::string junk = fixture("not_npy_member.npz");
    auto j = convergent::NpzArchive::open(junk);
    EXPECT_EQ(j->array_names(), (std::vector<std::string>{"fc", "junk"}));
    EXPECT_NO_THROW(j->array("fc"));
    expect_error([&] { j->array("junk"); }, ErrorCode::BadData, {junk, "'junk.npy'", "bad magic"});
    expect_error([&] { j->array("conv"); }, ErrorCode::BadData, {junk, "no array 'conv'", "fc, junk"});
}

TEST(Npz, TruncatedOrNonZipArchivesAreBadData) {
    TempDir dir;
    const std::string path = dir.file("cut.npz");
    const std::string bytes = read_bytes(fixture("net_stored.npz"));
    write_bytes(path, bytes.substr(0, bytes.size() / 2));
    expect_error([&] { convergent::NpzArchive::open(path); }, ErrorCode::BadData, {path, "not a valid .npz"});
    write_bytes(path, "hello, I am text");
    expect_error([&] { convergent::NpzArchive::open(path); }, ErrorCode::BadData, {path, "not a valid .npz"});
    expect_error([&] { convergent::NpzArchive::open(dir.file("missing.npz")); }, ErrorCode::Io, {"missing.npz"});

    // A deflated member whose .npy header claims more data than it holds.
    const std::string deflated = dir.file("short.npz");
    const std::string script = dir.file("mk.py");
    write_bytes(script,
                "import sys, io, zipfile, numpy as np\n"
                "b = io.BytesIO(); np.lib.format.write_array(b, np.ones((4, 5), np.float32))\n"
                "z = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED)\n"
                "z.writestr('w.npy', b.getvalue()[:-8]); z.close()\n");
    if (!numpy_available())
        GTEST_SKIP() << "numpy is not available to " << CONVERGENT_TEST_PYTHON;
    ASSERT_EQ(std::system((std::string(CONVERGENT_TEST_PYTHON) + " " + script + " " + deflated).c_str()), 0);
    auto z = convergent::NpzArchive::open(deflated);
    expect_error([&] { z->array("w"); }, ErrorCode::BadData, {deflated, "'w.npy'", "needs 80 bytes", "only 72"});
}
