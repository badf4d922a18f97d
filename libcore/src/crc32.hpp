// CRC-32 (ISO-HDLC, the zip/zlib/PNG polynomial 0xEDB88320, reflected),
// slice-by-8. Written here rather than taken from zlib because libcore links
// libzip only (zlib is libzip's private dependency, not on our link line).
// crc32_update(crc32_update(0, a), b) == crc32 of a followed by b, and the
// result equals zlib.crc32 / the CRC field of a zip entry.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace convergent {
namespace crc_detail {

struct Crc32Tables {
    std::uint32_t t[8][256];
    Crc32Tables() {
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[0][i] = c;
        }
        for (std::uint32_t i = 0; i < 256; ++i)
            for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    }
};

inline const Crc32Tables& crc32_tables() {
    static const Crc32Tables tables;
    return tables;
}

}  // namespace crc_detail

inline std::uint32_t crc32_update(std::uint32_t crc, const std::uint8_t* p, std::size_t n) {
    const auto& t = crc_detail::crc32_tables().t;
    std::uint32_t c = ~crc;
    while (n >= 8) {
        const std::uint32_t lo = c ^ (std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
                                      std::uint32_t(p[3]) << 24);
        c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^ t[3][p[4]] ^
            t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n--) c = t[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

}  // namespace convergent
