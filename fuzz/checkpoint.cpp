// Fuzzes loading a checkpoint into a Simulation. Input: a mode byte and a method byte (see
// checkpoint_cases.hpp), then the payload:
//   raw      the payload is the whole checkpoint file (magic, version, description, state,
//            checksum): the envelope's checks, which a mutation rarely gets past;
//   wrapped  the payload is the state, put in a valid envelope for the simulation's own
//            description by write_checkpoint itself, so that ArchiveReader and every
//            policy's state() restoration see it.
// Simulation::load promises to throw CheckpointError or succeed, and after a refusal to
// leave the simulation unchanged: checked by saving it again and comparing the bytes.
// A successful load is followed by a few rounds, which must not crash either (they may
// diverge, or throw).

#include "checkpoint_cases.hpp"
#include "common.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

using namespace laconic;

namespace {

struct Target {
  std::unique_ptr<fuzz::Run> run;
  std::filesystem::path pristine;  // its checkpoint after a few rounds
  std::string pristine_bytes;
  bool dirty = false;  // loaded something other than pristine
};

Target& target(int method) {
  static std::array<std::unique_ptr<Target>, fuzz::checkpoint_methods> targets;
  auto& t = targets[static_cast<std::size_t>(method)];
  if (t == nullptr) {
    t = std::make_unique<Target>();
    t->run = fuzz::make_run(method, 3);
    t->run->run();
    t->pristine = fuzz::scratch_file("pristine_" + std::to_string(method) + ".ckpt");
    t->run->save(t->pristine);
    t->pristine_bytes = fuzz::read_bytes(t->pristine);
  }
  return *t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Bytes in(data, size);
  const bool wrapped = in.u8() % 2 == 1;
  const int method = in.u8() % fuzz::checkpoint_methods;
  const std::string_view payload = in.rest();
  Target& t = target(method);
  if (t.dirty) {
    t.run->load(t.pristine);
    t.dirty = false;
  }
  static const auto input = fuzz::scratch_file("input.ckpt");
  static const auto after = fuzz::scratch_file("after.ckpt");
  if (wrapped) {
    sim::write_checkpoint(input, t.run->describe(), payload);
  } else {
    fuzz::write_bytes(input, payload);
  }
  try {
    t.run->load(input);
  } catch (const CheckpointError&) {
    t.run->save(after);
    if (fuzz::read_bytes(after) != t.pristine_bytes) {
      fuzz::violated("a refused checkpoint changed the simulation");
    }
    return 0;
  }
  t.dirty = true;
  try {
    t.run->run();
  } catch (const std::exception&) {
    // A state that loads may still be one no run reaches (a model beyond what a compressor
    // can send, say): refusing to go on is fine, undefined behaviour is not.
  }
  return 0;
}
