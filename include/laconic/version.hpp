#pragma once

// The single source of laconic's version; CMake parses these three lines.
#define LACONIC_VERSION_MAJOR 0
#define LACONIC_VERSION_MINOR 1
#define LACONIC_VERSION_PATCH 0

namespace laconic {
inline constexpr int version_major = LACONIC_VERSION_MAJOR;
inline constexpr int version_minor = LACONIC_VERSION_MINOR;
inline constexpr int version_patch = LACONIC_VERSION_PATCH;
}  // namespace laconic
