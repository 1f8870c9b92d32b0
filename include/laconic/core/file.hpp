#pragma once

// Writing a whole file so that it is never seen half written: the History's CSV, checkpoints,
// an experiment's run folder.

#include <laconic/core/errors.hpp>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

namespace laconic {

// The file write_atomically(path, ...) writes before it renames it to path.
inline std::filesystem::path temporary_for(const std::filesystem::path& path) {
  auto temporary = path;
  temporary += ".tmp";
  return temporary;
}

// Writes `bytes` to temporary_for(path), then renames it to `path` (creating the folders it
// needs): a reader sees the old file or the new one, and a failed write leaves the old one.
// Throws std::system_error with the system's reason when it cannot (a
// std::filesystem::filesystem_error for the folders and the rename).
inline void write_atomically(const std::filesystem::path& path, std::string_view bytes) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  const std::filesystem::path temporary = temporary_for(path);
  {
    errno = 0;
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) throw std::system_error(errno, std::generic_category());
  }
  std::filesystem::rename(temporary, path);
}

// A failed write's reason for people: the error's own, or errno's when it carries none.
inline std::string reason_of(const std::system_error& e) {
  return e.code() ? e.code().message() : os_reason();
}

}  // namespace laconic
