// SHA-256 (FIPS 180-4), for the script and style hashes of the report's
// Content-Security-Policy.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace convergent::cli {

std::array<std::uint8_t, 32> sha256(std::string_view bytes);

}  // namespace convergent::cli
