// Helpers shared by the .npy/.npz reading tests (test_npy.cpp) and the
// activation-source tests (test_activations.cpp): numpy fixtures in
// tests/data/npy/, hand-written .npy streams, a scratch directory and an
// expected-error check.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include "convergent/error.hpp"

namespace npy_test_support {

inline std::string fixture(const std::string& name) {
    return std::string(CONVERGENT_SOURCE_DIR) + "/tests/data/npy/" + name;
}

inline std::vector<float> read_raw_f32(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in.good()) << path;
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<float> out(bytes.size() / 4);
    std::memcpy(out.data(), bytes.data(), out.size() * 4);  // fixtures are little-endian; so is the host
    return out;
}

inline std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    ASSERT_TRUE(out.good()) << path;
}

// An .npy stream with a hand-written header dict (padded like numpy does).
inline std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1) {
    std::string header = dict;
    const std::size_t prefix = major == 1 ? 10 : 12;
    while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::string out = "\x93NUMPY";
    out += char(major);
    out += char(0);
    const std::uint32_t len = std::uint32_t(header.size());
    out += char(len & 0xff);
    out += char((len >> 8) & 0xff);
    if (major != 1) {
        out += char((len >> 16) & 0xff);
        out += char((len >> 24) & 0xff);
    }
    return out + header + data;
}

inline std::string float_bytes(const std::vector<float>& v) {
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// A fresh directory under the system temp dir, removed with its contents.
class TempDir {
public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "convergent-npy-XXXXXX").string();
        std::vector<char> buf(pattern.begin(), pattern.end());
        buf.push_back('\0');
        const char* made = ::mkdtemp(buf.data());
        EXPECT_NE(made, nullptr);
        path_ = made ? made : "";
    }
    ~TempDir() {
        std::error_code ec;
        if (!path_.empty()) std::filesystem::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// Runs fn, expects a convergent::Error with `code` whose message contains
// every one of `parts`; returns the message.
inline std::string expect_error(const std::function<void()>& fn, convergent::ErrorCode code,
                                std::initializer_list<std::string> parts) {
    try {
        fn();
    } catch (const convergent::Error& e) {
        EXPECT_EQ(int(e.code()), int(code)) << e.what();
        const std::string message = e.what();
        for (const std::string& part : parts)
            EXPECT_NE(message.find(part), std::string::npos) << "message lacks '" << part << "': " << message;
        return message;
    } catch (const std::exception& e) {
        ADD_FAILURE() << "expected convergent::Error, got std::exception: " << e.what();
        return "";
    }
    ADD_FAILURE() << "expected convergent::Error, nothing was thrown";
    return "";
}

inline bool same_value(float a, float b) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
    return a == b && std::signbit(a) == std::signbit(b);
}

}  // namespace npy_test_support
