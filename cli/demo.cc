#include "cli/demo.h"

#include <cstdio>
#include <string>
#include <vector>

#include "cli/child_process.h"
#include "common/error.h"

namespace gradpool::cli {

void prepare_demo(const std::filesystem::path& train_bin, const JobSpec& spec) {
  namespace fs = std::filesystem;
  if (!fs::exists(spec.dataset)) {
    const std::vector<std::string> inputs = fortune_files();
    fs::create_directories(fs::path(spec.dataset).parent_path());
    std::vector<std::string> argv = {train_bin.string(), "make-dataset", "--out", spec.dataset};
    argv.insert(argv.end(), inputs.begin(), inputs.end());
    std::fprintf(stderr, "gradpool: demo: writing %s from %zu fortune files\n",
                 spec.dataset.c_str(), inputs.size());
    run_program(argv);
  }
  if (!fs::exists(fs::path(spec.model) / "config.json")) {
    std::fprintf(stderr, "gradpool: demo: writing a random tiny-llama checkpoint to %s\n",
                 spec.model.c_str());
    run_program({train_bin.string(), "init-model", "--preset", "tiny-llama", "--out", spec.model});
  }
}

}  // namespace gradpool::cli
