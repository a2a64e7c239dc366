#include "worker/train/trainer.h"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include <spdlog/spdlog.h>
#ifdef GRADPOOL_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

#include "common/error.h"
#include "worker/train/checkpoint.h"
#include "worker/train/dataset.h"
#include "worker/train/lora.h"
#include "worker/train/model.h"
#include "worker/train/optimizer.h"
#include "worker/train/progress.h"
#include "worker/train/sample_order.h"
#include "worker/train/tokenizer.h"
#include "worker/train/torch_util.h"
#include "worker/train/train_step.h"

namespace gradpool {
namespace fs = std::filesystem;
namespace {

volatile std::sig_atomic_t g_stop_requested = 0;
void request_stop(int) { g_stop_requested = 1; }

at::Device resolve_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? at::Device(at::kCUDA, 0) : at::kCPU;
  at::Device device = at::kCPU;
  try {
    device = at::Device(name);
  } catch (const c10::Error&) {
    fail("--device: '{}' is not a device (expected auto, cpu, cuda or cuda:N)", name);
  }
  if (device.is_cuda() && !torch::cuda::is_available())
    fail("--device {}: this build or machine has no CUDA device", name);
  if (device.is_cuda() && !device.has_index()) device.set_index(0);
  return device;
}

bool has_bf16_tensor_cores(const at::Device& device) {
#ifdef GRADPOOL_WITH_CUDA
  return device.is_cuda() && at::cuda::getDeviceProperties(device.index())->major >= 8;
#else
  return false;
#endif
}

// auto: bf16 where the GPU has bf16 tensor cores (sm_80+), fp32 elsewhere (Pascal, CPU).
at::ScalarType resolve_precision(Precision precision, const at::Device& device) {
  switch (precision) {
    case Precision::kFp32: return at::kFloat;
    case Precision::kBf16: return at::kBFloat16;
    case Precision::kFp16:
      if (!device.is_cuda()) fail("precision: fp16 needs a CUDA device; use fp32 or bf16 on CPU");
      return at::kHalf;
    case Precision::kAuto: break;
  }
  return has_bf16_tensor_cores(device) ? at::kBFloat16 : at::kFloat;
}

LoraConfig lora_config(const JobSpec& spec) {
  if (spec.lora.init_from) return LoraAdapter::read_peft_config(*spec.lora.init_from);
  LoraConfig config;
  config.r = spec.lora.r;
  config.alpha = spec.lora.alpha;
  config.dropout = spec.lora.dropout;
  config.use_rslora = spec.lora.use_rslora;
  config.target_modules =
      spec.lora.all_linear ? std::vector<std::string>{"all-linear"} : spec.lora.target_modules;
  return config;
}

// Keeps the step log consistent with a resumed run: drops lines of steps after the checkpoint.
void truncate_step_log(const std::string& path, int64_t last_step) {
  std::ifstream in(path);
  if (!in) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    const auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (json.is_object() && json.value("step", int64_t{0}) <= last_step) kept += line + "\n";
  }
  std::ofstream(path, std::ios::trunc) << kept;
}

}  // namespace

void install_stop_signal_handlers() {
  std::signal(SIGTERM, request_stop);
  std::signal(SIGINT, request_stop);
}

struct Trainer::State {
  JobSpec spec;
  TrainerOptions options;
  at::Device device = at::kCPU;
  std::unique_ptr<CausalLM> model;
  std::unique_ptr<Dataset> data;
  std::unique_ptr<LoraAdapter> adapter;
  int64_t micro_batch = 1;
  int64_t total_steps = 0;
  std::string fingerprint;
};

Trainer::Trainer(JobSpec spec, TrainerOptions options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.spec = std::move(spec);
  s.options = std::move(options);
  const JobSpec& job = s.spec;
  s.device = resolve_device(s.options.device);
  // LibTorch's OpenMP pool may start with one thread; use the cores we have unless told otherwise.
  if (s.device.is_cpu() && !std::getenv("OMP_NUM_THREADS"))
    at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  const at::ScalarType dtype = resolve_precision(job.precision, s.device);
  torch::manual_seed(static_cast<uint64_t>(job.seed));

  if (!fs::is_directory(job.model))
    fail("model: '{}' is not a directory (expected a Hugging Face model directory with "
         "config.json, *.safetensors and tokenizer.json)",
         job.model);
  s.model = CausalLM::load(job.model, ModelOptions{s.device, dtype});
  const ModelConfig& config = s.model->config();
  if (job.seq_len > config.max_positions)
    fail("seq_len: {} is longer than the model's {} positions ({}/config.json)", job.seq_len,
         config.max_positions, job.model);

  const Tokenizer tokenizer = Tokenizer::from_file(job.model + "/tokenizer.json");
  if (tokenizer.vocab_size() > config.vocab_size)
    fail("{}/tokenizer.json: {} tokens, but the model's vocab_size is {}", job.model,
         tokenizer.vocab_size(), config.vocab_size);
  if (!fs::is_regular_file(job.dataset))
    fail("dataset: '{}' is not a file; gradpool-train reads a local .jsonl (registered dataset "
         "names are resolved by the coordinator)",
         job.dataset);
  s.data = std::make_unique<Dataset>(
      load_jsonl_dataset(job.dataset, job.format, tokenizer, job.seq_len));

  s.adapter = std::make_unique<LoraAdapter>(*s.model, lora_config(job),
                                            static_cast<uint64_t>(job.seed));
  if (job.lora.init_from)
    s.adapter->load_peft_weights(*job.lora.init_from + "/adapter_model.safetensors");

  const int64_t global = job.batch.global;
  s.micro_batch = std::min(global, job.batch.micro.value_or(s.device.is_cuda() ? 8 : 4));
  const int64_t samples = s.data->samples.size();
  s.total_steps = job.steps ? *job.steps : *job.epochs * ((samples + global - 1) / global);
  s.fingerprint = fmt::format("samples={} seq_len={} global_batch={} seed={} lora_params={}",
                              samples, job.seq_len, global, job.seed, s.adapter->numel());
  spdlog::info(
      "{}: {} {} layers on {} in {}, {} LoRA parameters; {} samples of {} tokens; {} steps of "
      "{} sequences ({} per micro-batch)",
      job.name, config.model_type, config.num_layers, s.device.str(), dtype_label(dtype),
      s.adapter->numel(), samples, job.seq_len, s.total_steps, global, s.micro_batch);
}

Trainer::~Trainer() = default;

TrainOutcome Trainer::run() {
  State& s = *state_;
  const JobSpec& job = s.spec;
  fs::create_directories(job.output);
  const std::string step_log_path = job.output + "/train_log.jsonl";

  AdamWOptions adam;
  adam.beta1 = job.optimizer.betas[0];
  adam.beta2 = job.optimizer.betas[1];
  adam.eps = job.optimizer.eps;
  adam.weight_decay = job.optimizer.weight_decay;
  AdamW optimizer(s.adapter->params(), adam);
  StepRunner runner(*s.model, *s.adapter, optimizer, job.optimizer.clip_grad_norm);
  const LearningRateSchedule schedule{job.optimizer.lr, job.optimizer.warmup_steps,
                                      s.total_steps, job.optimizer.schedule,
                                      job.optimizer.min_lr_ratio};

  // Resume from the latest checkpoint, if this output directory has one.
  CheckpointStore checkpoints(job.output + "/checkpoints");
  TrainerState state;
  state.fingerprint = s.fingerprint;
  if (s.options.resume) {
    if (auto saved = checkpoints.latest_state()) {
      if (saved->fingerprint != s.fingerprint)
        fail("{}: the checkpoint belongs to another job ({}; this job: {}); use another output "
             "directory or --no-resume",
             checkpoints.root(), saved->fingerprint, s.fingerprint);
      state = *saved;
      checkpoints.restore(*s.adapter, optimizer, s.device);
      runner.loss_scaler().scale = state.loss_scale > 0 ? state.loss_scale : runner.loss_scaler().scale;
      runner.loss_scaler().clean_steps = state.clean_steps;
      truncate_step_log(step_log_path, state.step);
      spdlog::info("{}: resuming after step {} from {}", job.name, state.step, checkpoints.root());
    }
  } else {
    std::ofstream(step_log_path, std::ios::trunc);
  }
  SampleOrder order(s.data->samples.size(), static_cast<uint64_t>(job.seed), state.cursor);

  auto save_checkpoint = [&] {
    state.cursor = order.cursor();
    state.loss_scale = runner.loss_scaler().enabled ? runner.loss_scaler().scale : 0;
    state.clean_steps = runner.loss_scaler().clean_steps;
    checkpoints.save(state, *s.adapter, optimizer, job.model);
  };

  const int64_t seq_len = job.seq_len, global = job.batch.global;
  std::vector<int32_t> ids(global * seq_len), labels(global * seq_len);
  std::ofstream step_log(step_log_path, std::ios::app);
  ProgressReporter progress(state.step, s.total_steps, job.log_every, stdout,
                            s.options.interactive);
  while (state.step < s.total_steps) {
    if (g_stop_requested) {
      progress.finish();
      save_checkpoint();
      spdlog::warn("{}: stopped by signal after step {}; checkpoint saved", job.name, state.step);
      return TrainOutcome::kInterrupted;
    }
    s.data->samples.gather(order.next_global_batch(global), ids.data(), labels.data());
    const at::Tensor all_ids = at::from_blob(ids.data(), {global, seq_len}, at::kInt).to(at::kLong);
    const at::Tensor all_labels =
        at::from_blob(labels.data(), {global, seq_len}, at::kInt).to(at::kLong);
    std::vector<MicroBatch> micro_batches;
    for (int64_t row = 0; row < global; row += s.micro_batch) {
      const int64_t rows = std::min(s.micro_batch, global - row);
      micro_batches.push_back({all_ids.narrow(0, row, rows), all_labels.narrow(0, row, rows)});
    }

    const double lr = schedule.at(state.step);
    const StepResult result = runner.run(micro_batches, lr);
    if (!result.skipped && !std::isfinite(result.loss))
      fail("step {}: loss is {} — training diverged (lower optimizer.lr, or use fp32/bf16)",
           state.step + 1, result.loss);
    ++state.step;
    progress.report({state.step, result.loss, lr, result.grad_norm, global * seq_len,
                     result.skipped});
    step_log << nlohmann::json{{"step", state.step},          {"loss", result.loss},
                               {"lr", lr},                    {"grad_norm", result.grad_norm},
                               {"label_tokens", result.label_tokens},
                               {"skipped", result.skipped}}
                    .dump()
             << "\n"
             << std::flush;
    if (job.checkpoint_every > 0 && state.step % job.checkpoint_every == 0 &&
        state.step < s.total_steps)
      save_checkpoint();
  }
  progress.finish();
  save_checkpoint();
  s.adapter->save_peft(job.output, job.model);
  if (job.merge) {
    const std::string merged = job.output + "/merged";
    fs::create_directories(merged);
    s.model->save_pretrained(merged, /*merge_lora=*/true);
    fs::copy_file(job.model + "/tokenizer.json", merged + "/tokenizer.json",
                  fs::copy_options::overwrite_existing);
  }
  spdlog::info("{}: done after {} steps; adapter in {} ({:.0f} tokens/s)", job.name, state.step,
               job.output, progress.tokens_per_second());
  return TrainOutcome::kFinished;
}

}  // namespace gradpool
