// gradpool-train: one training rank. Run by a worker, by mpirun/srun, or by hand:
//   gradpool-train --config job.yaml [--set lora.r=8 ...] [--device cuda:0]
//   gradpool-train --config job.yaml --world-size 2 --rank R --rendezvous tcp://127.0.0.1:29500
//   gradpool-train --config spec.yaml ... --rendezvous gradpool://HOST:PORT/JOB/ATTEMPT
//                  --report-fd 3      (as a worker daemon starts its ranks)
//   mpirun -np 4 gradpool-train --config job.yaml [--metrics-listen 0.0.0.0:9480]
//                  [--timeline trace-{rank}.json]
//   gradpool-train init-model --preset tiny-llama --out models/tiny
//   gradpool-train make-dataset --out data.jsonl /usr/share/games/fortunes/*
//   gradpool-train demo
#include <unistd.h>

#include <csignal>
#include <filesystem>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "common/demo_job.h"
#include "common/error.h"
#include "common/job_spec.h"
#include "common/process_main.h"
#include "worker/train/init_model.h"
#include "worker/train/text_import.h"
#include "worker/train/trainer.h"

namespace gradpool {
namespace {

// Exit status: 0 when finished, 128 + SIGTERM when stopped by a signal after checkpointing.
int train(const JobSpec& spec, const TrainerOptions& options) {
  install_stop_signal_handlers();
  Trainer trainer(spec, options);
  return trainer.run() == TrainOutcome::kFinished ? 0 : 128 + SIGTERM;
}

int demo(const TrainerOptions& options) {
  namespace fs = std::filesystem;
  const JobSpec spec = parse_job_spec(kDemoSpec, kDemoSpecSource);
  if (!fs::exists(spec.dataset)) {
    const std::vector<std::string> inputs = fortune_files();
    fs::create_directories(fs::path(spec.dataset).parent_path());
    convert_text_records_to_jsonl(inputs, "%", spec.dataset);
    spdlog::info("demo: wrote {} from {} fortune files", spec.dataset, inputs.size());
  }
  if (!fs::exists(spec.model + "/config.json")) {
    init_model(find_preset("tiny-llama").config, spec.model, 0, "");
    spdlog::info("demo: wrote a random tiny-llama checkpoint to {}", spec.model);
  }
  return train(spec, options);
}

int run(int argc, char** argv) {
  CLI::App app{"gradpool-train: LoRA fine-tuning of Hugging Face checkpoints (one rank)"};
  app.require_subcommand(0, 1);
  TrainerOptions options;
  options.interactive = ::isatty(::fileno(stdout));
  std::string config_path;
  std::vector<std::string> overrides;
  bool no_resume = false;
  DistributedOptions& dist = options.distributed;
  auto add_run_flags = [&](CLI::App* cmd) {
    cmd->add_option("--device", options.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
    cmd->add_flag("--no-resume", no_resume, "start over even if the output holds a checkpoint");
    cmd->add_option("--timeline", options.telemetry.timeline,
                    "write a Chrome trace of this rank's step phases to FILE ({rank}: the rank)");
    cmd->add_option("--metrics-listen", options.telemetry.metrics_listen,
                    "serve this rank's training series at HOST:PORT/metrics (without a worker, "
                    "e.g. under mpirun; the ranks of a node use PORT + their local rank)");
  };
  app.add_option("--rank", dist.rank, "this rank (data parallel; set by MPI under mpirun/srun)");
  app.add_option("--world-size", dist.world_size, "number of ranks")->capture_default_str();
  app.add_option(
      "--rendezvous", dist.rendezvous,
      "tcp://HOST:PORT (rank 0 serves), file:///PATH, or gradpool://HOST:PORT/JOB/ATTEMPT "
      "(the coordinator's; token in env GRADPOOL_RENDEZVOUS_TOKEN)");
  app.add_option("--backend", dist.backend, "auto, gloo, nccl or mpi")->capture_default_str();
  app.add_option("--local-address", dist.local_address, "address this rank's Gloo endpoint binds")
      ->capture_default_str();
  app.add_option("--collective-timeout", dist.collective_timeout_s,
                 "seconds any collective may take before the rank aborts naming the missing ranks")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--local-batch", dist.local_batch,
                 "sequences per step on this rank (default: an even share of batch.global)");
  app.add_option("--report-fd", options.report_fd,
                 "write JSON-lines progress events to this open file descriptor (for a worker)");
  app.add_option("-c,--config", config_path, "job spec (YAML)")->check(CLI::ExistingFile);
  app.add_option("--set", overrides, "override a spec field: --set lora.r=8 (repeatable)");
  add_run_flags(&app);

  auto* init = app.add_subcommand("init-model", "write a randomly initialised HF checkpoint");
  std::string preset = "tiny-llama", out_dir, tokenizer;
  uint64_t seed = 0;
  init->add_option("--preset", preset, "model shape")->capture_default_str();
  init->add_option("--out", out_dir, "output directory")->required();
  init->add_option("--tokenizer", tokenizer, "tokenizer.json to copy (default: byte-level)");
  init->add_option("--seed", seed, "random seed")->capture_default_str();

  auto* make_dataset = app.add_subcommand(
      "make-dataset", "turn plain-text record files (fortune format) into {\"text\"} JSONL");
  std::vector<std::string> inputs;
  std::string separator = "%", jsonl_out;
  make_dataset->add_option("inputs", inputs, "text files")->required()->check(CLI::ExistingFile);
  make_dataset->add_option("--out", jsonl_out, "output .jsonl")->required();
  make_dataset->add_option("--separator", separator, "record separator line")
      ->capture_default_str();

  auto* demo_cmd = app.add_subcommand("demo", "LoRA-train a tiny model on Debian's fortunes");
  add_run_flags(demo_cmd);

  CLI11_PARSE(app, argc, argv);
  options.resume = !no_resume;
  if (*init) {
    const ModelPreset& chosen = find_preset(preset);
    init_model(chosen.config, out_dir, seed, tokenizer);
    spdlog::info("wrote a random {} checkpoint ({}) to {}", chosen.name, chosen.description,
                 out_dir);
    return 0;
  }
  if (*make_dataset) {
    convert_text_records_to_jsonl(inputs, separator, jsonl_out);
    return 0;
  }
  if (*demo_cmd) return demo(options);
  if (config_path.empty()) {
    std::fputs(app.help().c_str(), stderr);
    return 2;
  }
  return train(load_job_spec(config_path, overrides), options);
}

}  // namespace
}  // namespace gradpool

int main(int argc, char** argv) {
  // Log lines, and so every [error], go to stderr; stdout carries the progress report alone.
  return gradpool::process_main(gradpool::run, argc, argv);
}
