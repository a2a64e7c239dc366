// Helpers shared by the tests: where the golden cases are, and fresh temporary directories.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace gradpool::testing {

// $GRADPOOL_GOLDEN_DIR, or ../shared/testdata/golden beside the source tree.
inline std::filesystem::path golden_dir() {
  if (const char* dir = std::getenv("GRADPOOL_GOLDEN_DIR")) return dir;
  return std::filesystem::path(GRADPOOL_SOURCE_DIR) / ".." / "shared" / "testdata" / "golden";
}

// Every case directory (one holding case.json) under golden_dir(), sorted; none if it is missing
// (the golden tests then fail, naming the directory).
inline std::vector<std::filesystem::path> golden_cases() {
  std::vector<std::filesystem::path> cases;
  if (!std::filesystem::is_directory(golden_dir())) return cases;
  for (const auto& entry : std::filesystem::directory_iterator(golden_dir()))
    if (std::filesystem::exists(entry.path() / "case.json")) cases.push_back(entry.path());
  std::sort(cases.begin(), cases.end());
  return cases;
}

// A new empty directory under the build tree, unique to this process and `tag`.
inline std::filesystem::path temp_dir(const std::string& tag) {
  const char* root = std::getenv("GRADPOOL_TEST_TMP");
  std::filesystem::path dir = std::filesystem::path(root ? root : "/tmp/gradpool-test") /
                              (tag + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace gradpool::testing
