// Writes the seed corpora of the fuzz targets:  laconic_fuzz_seeds <out> [<shared data>]
// makes <out>/{libsvm,idx,message,checkpoint}/ with small synthetic inputs (plain and
// gzipped files, messages of every decoder, checkpoint states from real runs) and, when the
// data folder exists, the heads of the real LIBSVM and IDX files in it. Every seed carries
// its target's control bytes.

#include <laconic/data/io.hpp>

#include "checkpoint_cases.hpp"
#include "common.hpp"
#include "message_cases.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

using namespace laconic;
namespace fs = std::filesystem;

namespace {

fs::path out_dir;
int written = 0;

void seed(const std::string& target, const std::string& name, std::string_view bytes) {
  const fs::path dir = out_dir / target;
  fs::create_directories(dir);
  fuzz::write_bytes(dir / name, bytes);
  ++written;
}

std::string gzip(std::string_view text) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    fuzz::violated("deflateInit2");
  }
  std::string out(deflateBound(&stream, static_cast<uLong>(text.size())) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  stream.avail_in = static_cast<uInt>(text.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  if (deflate(&stream, Z_FINISH) != Z_STREAM_END) fuzz::violated("deflate");
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

std::string control(int byte) {
  return std::string(1, static_cast<char>(byte));
}

// The first lines of a text file, at most `limit` bytes, ending at a newline.
std::string head_lines(const std::string& text, std::size_t limit) {
  if (text.size() <= limit) return text;
  const auto cut = text.rfind('\n', limit);
  return text.substr(0, cut == std::string::npos ? limit : cut + 1);
}

void libsvm_seeds(const fs::path& shared) {
  // Control byte: task = byte % 3 (binary, multiclass, regression); 15 * 3 = 45 infers the
  // number of features.
  const int binary = 45, multiclass = 46, regression = 47;
  const std::string plain = "+1 1:0.5 3:-2 7:1e-3\n-1 2:1 # comment\n\n+1 4:0.25 7:3\n";
  seed("libsvm", "binary", control(binary) + plain);
  seed("libsvm", "binary.gz", control(binary) + gzip(plain));
  seed("libsvm", "declared", control(7 * 3) + plain);
  seed("libsvm", "zero_one", control(binary) + "0 1:1 2:2\r\n1 2:1\r\n1 1:-1\r\n");
  seed("libsvm", "bom",
       control(binary) +
           "\xEF\xBB\xBF"
           "2 1:1\n1 3:+4.5E2\n");
  const std::string classes = "3 1:1 2:0 5:2\n1 2:1\n2 3:0.5\n3 4:1e300\n";
  seed("libsvm", "multiclass", control(multiclass) + classes);
  seed("libsvm", "multiclass.gz", control(multiclass) + gzip(classes));
  seed("libsvm", "regression", control(regression) + "1.5 1:1\n-2.25 2:3\t3:4\n0.0\n");
  if (fs::is_directory(shared)) {
    for (const char* file :
         {"a9a/a9a", "mushrooms/mushrooms", "phishing/phishing", "ijcnn1/ijcnn1.tst",
          "german.numer_scale/german_scale.txt", "svmguide1/svmguide1.txt", "w8a/w8a"}) {
      const fs::path path = shared / file;
      if (!fs::exists(path)) continue;
      const std::string head = head_lines(data::read_file(path), 3000);
      const std::string name = path.filename().string();
      seed("libsvm", "real_" + name, control(binary) + head);
      seed("libsvm", "real_" + name + ".gz", control(binary) + gzip(head));
    }
  }
}

std::string be32(std::uint32_t n) {
  return {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
          static_cast<char>(n)};
}

void idx_seeds(const fs::path& shared) {
  // Control byte: 0 images, 1 labels, 2 both (then the images' length in two bytes).
  std::string images = be32(0x803) + be32(3) + be32(2) + be32(3);
  for (int i = 0; i < 18; ++i) images.push_back(static_cast<char>(i % 4 == 0 ? 0 : 37 * i));
  const std::string labels = be32(0x801) + be32(3) + std::string("\x07\x00\x0b", 3);
  const auto both = [](const std::string& im, const std::string& la) {
    const auto n = static_cast<std::uint16_t>(im.size());
    return control(2) + static_cast<char>(n & 0xff) + static_cast<char>(n >> 8) + im + la;
  };
  seed("idx", "images", control(0) + images);
  seed("idx", "images.gz", control(0) + gzip(images));
  seed("idx", "labels", control(1) + labels);
  seed("idx", "labels.gz", control(1) + gzip(labels));
  seed("idx", "mnist", both(images, labels));
  seed("idx", "mnist.gz", both(gzip(images), gzip(labels)));
  const fs::path mnist = shared / "mnist";
  const fs::path images_path = mnist / "t10k-images-idx3-ubyte.gz";
  const fs::path labels_path = mnist / "t10k-labels-idx1-ubyte.gz";
  if (fs::exists(images_path) && fs::exists(labels_path)) {
    // The first few images and labels, with the counts in the headers made to match.
    constexpr std::uint32_t count = 3;
    const std::string all_images = data::read_file(images_path);
    const std::string all_labels = data::read_file(labels_path);
    const std::string head_images = all_images.substr(0, 4) + be32(count) +
                                    all_images.substr(8, 8) +
                                    all_images.substr(16, count * 28 * 28);
    const std::string head_labels =
        all_labels.substr(0, 4) + be32(count) + all_labels.substr(8, count);
    seed("idx", "real_images", control(0) + head_images);
    seed("idx", "real_images.gz", control(0) + gzip(head_images));
    seed("idx", "real_labels", control(1) + head_labels);
    seed("idx", "real_mnist.gz", both(gzip(head_images), gzip(head_labels)));
  }
}

std::string frame(const Message& m) {
  const auto n = static_cast<std::uint16_t>(m.bytes.size());
  std::string out{static_cast<char>(n & 0xff), static_cast<char>(n >> 8)};
  out.append(m.bytes.begin(), m.bytes.end());
  return out;
}

void message_seeds() {
  struct Shape {
    std::uint8_t a, b;
    Index p;
  };
  // Parameters a and b: even a picks k (or a common QSGD level), odd a a fraction (or any
  // level); a also sets Uniform's bits.
  const Shape shapes[] = {{0, 0, 1}, {2, 0, 7}, {3, 1, 64}, {8, 0, 100}, {41, 3, 513}, {6, 1, 0}};
  for (int kind = 0; kind < fuzz::message_kinds; ++kind) {
    for (const Shape& shape : shapes) {
      const fuzz::MessageSetup setup{static_cast<std::uint8_t>(kind), shape.a, shape.b, shape.p};
      fuzz::with_decoder(setup, [&](const auto& link) {
        using L = std::decay_t<decltype(link)>;
        // A dense vector, a sparse one and zero, from the library's own streams.
        std::vector<Vector> xs;
        RandomStream values(static_cast<std::uint64_t>(kind), Purpose::user);
        Vector dense(shape.p), sparse = Vector::Zero(shape.p);
        for (Index i = 0; i < shape.p; ++i) dense[i] = values.normal();
        for (Index i = 0; i < shape.p; i += 5) sparse[i] = 3 * values.normal();
        xs = {dense, sparse, Vector::Zero(shape.p)};
        std::string body;
        if constexpr (std::is_same_v<L, fuzz::SharedSeedRandK>) {
          RandomStream stream = link.stream();
          body = frame(link.rand_k.encode(dense, stream)).substr(2);
        } else if constexpr (compress::Channel<L>) {
          typename L::State sender = link.make_state(shape.p);
          RandomStream rng(1, Purpose::compress);
          for (const Vector& x : xs) body += frame(link.encode(sender, x, rng));
        } else {
          RandomStream rng(1, Purpose::compress);
          body = frame(link.encode(dense, rng)).substr(2);
          const Message zero = link.encode(xs[2], rng);
          seed("message", fmt::format("k{}_p{}_a{}_zero", kind, shape.p, shape.a),
               setup.header() + std::string(zero.bytes.begin(), zero.bytes.end()));
        }
        seed("message", fmt::format("k{}_p{}_a{}", kind, shape.p, shape.a), setup.header() + body);
      });
    }
  }
}

// The state inside a checkpoint file (see sim/checkpoint.hpp): after the magic, the
// version, the description and the state's length; before the 8-byte checksum.
std::string state_of(const std::string& file) {
  const std::size_t described_at = 19 + 8;
  std::uint64_t described = 0;
  for (int b = 0; b < 8; ++b) {
    described |= std::uint64_t{static_cast<unsigned char>(file[described_at + b])} << (8 * b);
  }
  const std::size_t state_at = described_at + 8 + described + 8;
  return file.substr(state_at, file.size() - state_at - 8);
}

void checkpoint_seeds() {
  // Control bytes: mode (0 raw, 1 wrapped), method.
  const fs::path file = fuzz::scratch_file("seed.ckpt");
  for (int method = 0; method < fuzz::checkpoint_methods; ++method) {
    auto run = fuzz::make_run(method, 2);
    for (int rounds = 0; rounds <= 6; rounds += 2) {
      if (rounds > 0) run->run();
      run->save(file);
      const std::string bytes = fuzz::read_bytes(file);
      const std::string head{static_cast<char>(1), static_cast<char>(method)};
      seed("checkpoint", fmt::format("m{}_r{}", method, rounds), head + state_of(bytes));
      if (rounds == 2) {
        seed("checkpoint", fmt::format("m{}_r{}_raw", method, rounds),
             std::string{static_cast<char>(0), static_cast<char>(method)} + bytes);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s <out dir> [<shared data dir>]\n", argv[0]);
    return 2;
  }
  out_dir = argv[1];
  const fs::path shared = argc == 3 ? fs::path(argv[2]) : fs::path();
  libsvm_seeds(shared);
  idx_seeds(shared);
  message_seeds();
  checkpoint_seeds();
  std::printf("wrote %d seeds to %s\n", written, out_dir.c_str());
  return 0;
}
