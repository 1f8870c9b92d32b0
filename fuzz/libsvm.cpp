// Fuzzes the LIBSVM reader. Input: one control byte (the task, and the declared number of
// features or 0 to infer it), then the file's bytes, gunzipped first when they start with
// the gzip magic, as read_libsvm's read_file does.

#include <laconic/data/io.hpp>
#include <laconic/data/libsvm.hpp>

#include "common.hpp"

#include <cmath>
#include <cstdint>
#include <string>

using namespace laconic;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Bytes in(data, size);
  const std::uint8_t control = in.u8();
  data::LibsvmOptions options;
  options.task = static_cast<data::Task>(control % 3);
  options.num_features = control / 3 % 16 == 15 ? 0 : control / 3 % 16;
  const std::string_view file = in.rest();
  try {
    std::string unzipped;
    std::string_view text = file;
    if (data::is_gzip(file)) {
      unzipped = data::gunzip(file, "fuzz.libsvm");
      text = unzipped;
    }
    const data::Dataset set = data::parse_libsvm(text, "fuzz.libsvm", options);
    // What a successful read promises: one finite label per row, the declared width, and
    // labels as the task maps them.
    if (set.rows() < 1) fuzz::violated("a dataset without rows");
    if (options.num_features > 0 && set.cols() != options.num_features) {
      fuzz::violated("the declared number of features not kept");
    }
    const Vector& labels = set.labels();
    if (labels.size() != set.rows() || !labels.allFinite()) fuzz::violated("bad labels");
    for (Index i = 0; i < labels.size(); ++i) {
      const double y = labels[i];
      const bool ok = options.task == data::Task::binary ? (y == -1 || y == 1)
                      : options.task == data::Task::multiclass
                          ? (y >= 0 && y < set.num_classes() && y == std::floor(y))
                          : true;
      if (!ok) fuzz::violated("a label outside the task's range");
    }
  } catch (const ParseError&) {
    // A refusal that names the place: what malformed input must give.
  }
  return 0;
}
