// JobSpec: one training job as the user writes it in YAML, the same file for `gradpool run`,
// `gradpool submit` and `gradpool-train --config`. docs/job-spec.md is the field reference.
//
// Parsing checks everything that can be checked without the model (types, ranges, unknown keys,
// steps vs. epochs, micro vs. global batch) and throws Error at the first problem, naming the
// source and line:column, the dotted field, what was wrong and what is allowed:
//   job.yaml:7:9: lora.r: must be a positive integer, got -4
// Checks that need the model or the cluster (seq_len vs. positions, target modules that exist,
// GPUs that fit) belong to the trainer and the scheduler.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gradpool {

enum class Precision { kAuto, kFp32, kFp16, kBf16 };    // auto: bf16 on sm_80+, else fp32
enum class DataFormat { kText, kPromptCompletion };     // jsonl {"text"} | {"prompt","completion"}
enum class LrSchedule { kCosine, kLinear, kConstant };  // decay after warmup

// The YAML spellings: "auto", "prompt_completion", "cosine", ...
const char* to_string(Precision precision);
const char* to_string(DataFormat format);
const char* to_string(LrSchedule schedule);

// Named priority levels; a spec may also give any integer in [kMinPriority, kMaxPriority].
// Higher runs first.
constexpr int kPriorityLow = -10;
constexpr int kPriorityNormal = 0;
constexpr int kPriorityHigh = 10;
constexpr int kMinPriority = -1000;
constexpr int kMaxPriority = 1000;

// Defaults follow HF PEFT's LoraConfig and Trainer where they have one.
struct LoraSpec {
  int64_t r = 16;
  double alpha = 32;  // scaling is alpha / r, or alpha / sqrt(r) with use_rslora
  double dropout = 0.05;
  bool all_linear = false;  // PEFT's "all-linear": every linear layer but the output head
  std::vector<std::string> target_modules = {"q_proj", "v_proj"};  // empty when all_linear
  bool use_rslora = false;
  std::optional<std::string> init_from;  // existing PEFT adapter directory to start from
};

struct OptimizerSpec {  // AdamW with warmup then `schedule` down to lr * min_lr_ratio
  double lr = 2.0e-4;
  double weight_decay = 0.0;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1.0e-8;
  int64_t warmup_steps = 0;
  LrSchedule schedule = LrSchedule::kCosine;
  double min_lr_ratio = 0.0;
  double clip_grad_norm = 1.0;  // max global gradient norm; 0 disables clipping
};

struct BatchSpec {
  int64_t global = 64;           // sequences per optimizer step, over all ranks
  std::optional<int64_t> micro;  // sequences per forward pass; nullopt = planned per GPU ("auto")
};

struct ResourceSpec {
  int64_t gpus = 1;              // ranks, one GPU each
  std::string gpu_type = "any";  // "any", or a GPU model the scheduler must match
  double min_gpu_memory_gb = 0;  // per GPU
};

struct JobSpec {
  std::string name;     // [A-Za-z0-9._-]{1,64}
  std::string model;    // Hugging Face model directory
  std::string dataset;  // registered dataset name or path to a .jsonl file
  DataFormat format = DataFormat::kText;
  int64_t seq_len = 512;  // tokens per training sequence, 2..65536
  LoraSpec lora;
  OptimizerSpec optimizer;
  BatchSpec batch;
  std::optional<int64_t> steps;  // exactly one of steps and epochs is set
  std::optional<int64_t> epochs;
  Precision precision = Precision::kAuto;
  ResourceSpec resources;
  int64_t checkpoint_every = 50;  // optimizer steps; 0 = only at the end
  int priority = kPriorityNormal;
  int64_t max_restarts = 3;
  int64_t seed = 0;
  int64_t log_every = 1;  // optimizer steps between progress reports
  bool merge = false;     // also write merged full weights at the end
  std::string output;     // defaults to ./runs/<name>
};

// Parses and validates a spec; `source_name` (usually the path) prefixes every error message.
JobSpec parse_job_spec(const std::string& yaml_text, const std::string& source_name);

// Same, after applying command-line overrides "dotted.field=value" in order. The value is YAML
// ("lora.r=8", "lora.target_modules=[q_proj, v_proj]", "epochs=null"); missing sections are
// created. Errors in an overridden value name the override instead of a file line.
JobSpec parse_job_spec(const std::string& yaml_text, const std::string& source_name,
                       const std::vector<std::string>& overrides);

// Reads `path` and parses it with `path` as the source name.
JobSpec load_job_spec(const std::string& path, const std::vector<std::string>& overrides = {});

// Every field written out explicitly; parse_job_spec(to_yaml(spec)) gives `spec` back.
std::string to_yaml(const JobSpec& spec);

}  // namespace gradpool
