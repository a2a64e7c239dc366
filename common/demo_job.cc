#include "common/demo_job.h"

#include <algorithm>
#include <filesystem>

#include "common/error.h"

namespace gradpool {

std::vector<std::string> fortune_files() {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code error;
  if (fs::is_directory(kFortunesDir, error))
    for (const auto& entry : fs::directory_iterator(kFortunesDir))
      if (entry.is_regular_file() && entry.path().extension().empty())
        files.push_back(entry.path().string());
  if (files.empty())
    fail("{}: no fortune files; install Debian's 'fortunes' package (scripts/setup.sh does)",
         kFortunesDir);
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace gradpool
