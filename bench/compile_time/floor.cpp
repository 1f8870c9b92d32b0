// The floor no laconic program compiles under: the libraries laconic.hpp includes (Eigen's
// dense, sparse and eigenvalue modules, fmt, the standard headers), none of them used.

#include <fmt/format.h>
#include <Eigen/Dense>
#include <Eigen/Sparse>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <variant>
#include <vector>

int main() {}
