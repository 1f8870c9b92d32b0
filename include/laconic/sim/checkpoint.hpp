#pragma once

// The checkpoint file: a versioned header, the state, and a checksum.
//
//   "LACONIC-CHECKPOINT\n"           magic (19 bytes)
//   format version                   u64
//   description length, description  what ran: version, method, parameters, workers, seed
//   state length, state              the run's state (core/archive.hpp)
//   checksum                         FNV-1a 64 of every byte before it
//
// all integers little-endian u64. A checkpoint is written to a temporary file next to the
// target and renamed over it, so a crash while saving never destroys the previous one.
// Reading refuses, with a message that says which: a file that is not a checkpoint, another
// format version, a truncated or corrupted file, and a checkpoint of another run.

#include <laconic/core/archive.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/file.hpp>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>

namespace laconic::sim {

inline constexpr std::string_view checkpoint_magic = "LACONIC-CHECKPOINT\n";
inline constexpr std::uint64_t checkpoint_version = 2;  // 2: time's parts, dropped uploads

namespace detail {

inline std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

inline void append_word(std::string& out, std::uint64_t w) {
  for (int b = 0; b < 8; ++b) out.push_back(static_cast<char>((w >> (8 * b)) & 0xff));
}

inline std::uint64_t word_at(std::string_view bytes, std::size_t at) {
  std::uint64_t w = 0;
  for (int b = 0; b < 8; ++b) {
    w |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[at + b])) << (8 * b);
  }
  return w;
}

}  // namespace detail

inline void write_checkpoint(const std::filesystem::path& path, std::string_view description,
                             std::string_view state) {
  std::string file(checkpoint_magic);
  detail::append_word(file, checkpoint_version);
  detail::append_word(file, description.size());
  file.append(description);
  detail::append_word(file, state.size());
  file.append(state);
  detail::append_word(file, detail::fnv1a(file));

  try {
    write_atomically(path, file);
  } catch (const std::system_error& e) {
    throw CheckpointError(
        fmt::format("{}: cannot write the checkpoint: {}", path.string(), reason_of(e)));
  }
}

// The state of the checkpoint at `path`, which must have been written for `description`.
inline std::string read_checkpoint(const std::filesystem::path& path,
                                   std::string_view description) {
  const std::string name = path.string();
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    throw CheckpointError(fmt::format("{}: cannot open the checkpoint: it is a directory", name));
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw CheckpointError(fmt::format("{}: cannot open the checkpoint: {}", name, os_reason()));
  }
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    throw CheckpointError(fmt::format("{}: cannot read the checkpoint: {}", name, os_reason()));
  }
  auto fail = [&](std::string_view what) -> CheckpointError {
    return CheckpointError(fmt::format("{}: {}", name, what));
  };
  const std::size_t header = checkpoint_magic.size() + 16;
  if (file.size() < header ||
      std::string_view(file).substr(0, checkpoint_magic.size()) != checkpoint_magic) {
    throw fail("not a laconic checkpoint");
  }
  const std::uint64_t version = detail::word_at(file, checkpoint_magic.size());
  if (version != checkpoint_version) {
    throw fail(fmt::format("checkpoint format version {}, this laconic reads version {}", version,
                           checkpoint_version));
  }
  const std::uint64_t described = detail::word_at(file, checkpoint_magic.size() + 8);
  if (described > file.size() - header) throw fail("truncated (in the description)");
  const std::size_t state_at = header + described + 8;
  if (file.size() < state_at) throw fail("truncated (before the state)");
  const std::uint64_t state_size = detail::word_at(file, state_at - 8);
  if (state_size > file.size() - state_at || file.size() - state_at - state_size < 8) {
    throw fail(
        fmt::format("truncated: the state should hold {} bytes, the file has {} after "
                    "its header",
                    state_size, file.size() - state_at));
  }
  const std::size_t end = state_at + state_size;
  if (file.size() != end + 8) throw fail("trailing bytes after the checksum");
  if (detail::word_at(file, end) != detail::fnv1a(std::string_view(file).substr(0, end))) {
    throw fail("corrupted: the checksum does not match the contents");
  }
  const std::string_view saved = std::string_view(file).substr(header, described);
  if (saved != description) {
    throw fail(
        fmt::format("written by a different run or parameters:\n  checkpoint: {}\n  "
                    "this run:   {}",
                    saved, description));
  }
  return file.substr(state_at, state_size);
}

}  // namespace laconic::sim
