#include "worker/train/trainer.h"

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include <spdlog/spdlog.h>
#ifdef GRADPOOL_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "common/error.h"
#include "common/safetensors.h"
#include "worker/train/batch_planner.h"
#include "worker/train/checkpoint.h"
#include "worker/train/comm/communicator.h"
#include "worker/train/comm/rendezvous.h"
#include "worker/train/dataset.h"
#include "worker/train/device_stats.h"
#include "worker/train/gpu_peak_flops.h"
#include "worker/train/lora.h"
#include "worker/train/model.h"
#include "worker/train/optimizer.h"
#include "worker/train/progress.h"
#include "worker/train/report_stream.h"
#include "worker/train/sample_order.h"
#include "worker/train/tokenizer.h"
#include "worker/train/torch_util.h"
#include "worker/train/train_step.h"

namespace gradpool {
namespace fs = std::filesystem;
namespace {

volatile std::sig_atomic_t g_stop_requested = 0;
void request_stop(int) {
  g_stop_requested = 1;
}

// This process's rank among those of its node under mpirun/srun/torchrun-style launchers; 0
// otherwise (a worker runs each rank on its own slot).
int local_rank() {
  for (const char* variable : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "LOCAL_RANK"})
    if (const char* value = std::getenv(variable)) return std::max(0, std::atoi(value));
  return 0;
}

// The GPU of this process when none is named: its local rank's (one rank per GPU of the node),
// which is the first visible one under a worker (it narrows CUDA_VISIBLE_DEVICES to the rank's
// GPU).
int default_cuda_index() {
  return local_rank() % std::max<int>(1, static_cast<int>(torch::cuda::device_count()));
}

at::Device resolve_device(const std::string& name) {
  if (name == "auto" && !torch::cuda::is_available()) return at::kCPU;
  at::Device device = at::kCPU;
  try {
    device = at::Device(name == "auto" ? "cuda" : name);
  } catch (const c10::Error&) {
    fail("--device: '{}' is not a device (expected auto, cpu, cuda or cuda:N)", name);
  }
  if (device.is_cuda() && !torch::cuda::is_available())
    fail("--device {}: this build or machine has no CUDA device", name);
  if (device.is_cuda() && !device.has_index()) device.set_index(default_cuda_index());
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
    case Precision::kFp32:
      return at::kFloat;
    case Precision::kBf16:
      return at::kBFloat16;
    case Precision::kFp16:
      if (!device.is_cuda()) fail("precision: fp16 needs a CUDA device; use fp32 or bf16 on CPU");
      return at::kHalf;
    case Precision::kAuto:
      break;
  }
  return has_bf16_tensor_cores(device) ? at::kBFloat16 : at::kFloat;
}

// N of MFU's 6·N·tokens: the base model's parameters, counted from its checkpoint's headers.
int64_t base_model_parameters(const std::string& model_dir) {
  const CheckpointDir checkpoint = CheckpointDir::open(model_dir);
  int64_t parameters = 0;
  for (const std::string& name : checkpoint.names()) parameters += checkpoint.info(name).numel();
  return parameters;
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

CommOptions comm_options(const DistributedOptions& distributed, const at::Device& device) {
  CommOptions options;
  options.backend = parse_comm_backend(distributed.backend);
  options.rank = distributed.rank;
  options.world_size = distributed.world_size;
  options.local_address = distributed.local_address;
  options.timeout =
      std::chrono::milliseconds(static_cast<int64_t>(distributed.collective_timeout_s * 1000));
  options.device = device;
  if (options.world_size < 1) fail("--world-size: must be at least 1");
  if (options.rank < 0 || options.rank >= options.world_size)
    fail("--rank: {} is not in [0, {})", options.rank, options.world_size);
  // A world of one needs no rendezvous, so a gradpool:// one is not resolved (no coordinator call).
  options.rendezvous = options.world_size > 1
                           ? resolve_rendezvous(distributed.rendezvous, options.rank,
                                                options.local_address, options.timeout)
                           : distributed.rendezvous;
  return options;
}

struct BatchShare {
  int64_t size = 0;    // sequences of each global batch that this rank trains on
  int64_t offset = 0;  // where its slice of the global batch starts
};

// Decides this rank's share of each global batch and where it starts: every rank announces its
// share in its own slot of a vector that one all-reduce sums, so all learn the whole split.
BatchShare plan_batch_share(Communicator* comm, int64_t global, std::optional<int64_t> requested,
                            const at::Device& device) {
  const int rank = comm ? comm->rank() : 0, world = comm ? comm->size() : 1;
  BatchShare share;
  share.size = requested.value_or(global / world + (rank < global % world ? 1 : 0));
  if (share.size < 0) fail("--local-batch: must not be negative");
  if (!comm) {
    if (share.size != global)
      fail("--local-batch: {} alone must equal batch.global ({})", share.size, global);
    return share;
  }
  at::Tensor shares = at::zeros({world}, at::TensorOptions().dtype(at::kFloat).device(device));
  shares[rank] = static_cast<double>(share.size);
  comm->all_reduce_sum(shares);
  shares = shares.to(at::kCPU);
  std::vector<int64_t> all;
  for (int r = 0; r < world; ++r) all.push_back(static_cast<int64_t>(shares[r].item<float>()));
  int64_t sum = 0;
  for (int r = 0; r < world; ++r) {
    if (r == rank) share.offset = sum;
    sum += all[r];
  }
  if (sum != global)
    fail("--local-batch: the ranks' shares [{}] sum to {}, but batch.global is {}",
         fmt::join(all, ", "), sum, global);
  return share;
}

// Sequences per forward pass on this rank: the spec's number, or for `micro: auto` the largest
// that fits this GPU (tried with a real forward + backward, halving on out-of-memory); on a CPU,
// up to 4 (memory is rarely the limit there, and larger matmuls gain little).
int64_t plan_micro(CausalLM& model, LoraAdapter& adapter, const JobSpec& job, int64_t local) {
  if (local == 0) return 1;
  if (job.batch.micro) return std::min(local, *job.batch.micro);
  const at::Device device = model.options().device;
  if (!device.is_cuda()) return std::min<int64_t>(local, 4);
  const int64_t micro = plan_micro_batch(
      local,
      [&](int64_t rows) {
        const at::Tensor ids =
            at::zeros({rows, job.seq_len}, at::TensorOptions().dtype(at::kLong).device(device));
        causal_lm_loss_sum(model.forward(ids, /*training=*/true), ids).backward();
        adapter.zero_grad();
      },
      [&] {
        adapter.zero_grad();
#ifdef GRADPOOL_WITH_CUDA
        c10::cuda::CUDACachingAllocator::emptyCache();
#endif
      });
  spdlog::info("batch.micro auto: {} sequences of {} tokens per forward pass on {}", micro,
               job.seq_len, device.str());
  return micro;
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
  std::unique_ptr<Communicator> comm;  // null when training alone
  std::unique_ptr<ReportStream> report;
  std::unique_ptr<RankTelemetry> telemetry;
  int rank = 0, world_size = 1;
  int64_t local_batch = 0;   // sequences of each global batch that this rank trains on
  int64_t local_offset = 0;  // where this rank's slice of the global batch starts
  int64_t micro_batch = 1;
  int64_t total_steps = 0;
  std::string fingerprint;
  // MFU: the GPU's peak for the compute dtype and the base model's size; no peak, no MFU.
  std::optional<double> peak_flops;
  int64_t base_parameters = 0;
};

Trainer::Trainer(JobSpec spec, TrainerOptions options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.spec = std::move(spec);
  s.options = std::move(options);
  const JobSpec& job = s.spec;
  s.report = std::make_unique<ReportStream>(s.options.report_fd);
  s.device = resolve_device(s.options.device);
  const at::ScalarType dtype = resolve_precision(job.precision, s.device);
  s.comm = connect(comm_options(s.options.distributed, s.device));
  if (s.comm) {
    s.rank = s.comm->rank();
    s.world_size = s.comm->size();
  }
  const DeviceIdentity device_identity = describe_device(s.device);
  s.telemetry = std::make_unique<RankTelemetry>(s.options.telemetry, job.name, s.rank, local_rank(),
                                                device_identity);
  if (s.telemetry->metrics_enabled())
    s.report->set_sink(
        [telemetry = s.telemetry.get()](const nlohmann::json& event) { telemetry->event(event); });
  // LibTorch's OpenMP pool may start with one thread. Unless told otherwise (OMP_NUM_THREADS),
  // use the cores, shared by the ranks — which on CPU usually run on one machine.
  if (s.device.is_cpu() && !std::getenv("OMP_NUM_THREADS")) {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    at::set_num_threads(std::max(1, cores / s.world_size));
  }
  torch::manual_seed(static_cast<uint64_t>(job.seed));

  if (!fs::is_directory(job.model))
    fail(
        "model: '{}' is not a directory (expected a Hugging Face model directory with "
        "config.json, *.safetensors and tokenizer.json)",
        job.model);
  s.model = CausalLM::load(job.model, ModelOptions{s.device, dtype});
  s.peak_flops = peak_flops(device_identity, dtype);
  if (s.peak_flops) s.base_parameters = base_model_parameters(job.model);
  const ModelConfig& config = s.model->config();
  if (job.seq_len > config.max_positions)
    fail("seq_len: {} is longer than the model's {} positions ({}/config.json)", job.seq_len,
         config.max_positions, job.model);

  const Tokenizer tokenizer = Tokenizer::from_file(job.model + "/tokenizer.json");
  if (tokenizer.vocab_size() > config.vocab_size)
    fail("{}/tokenizer.json: {} tokens, but the model's vocab_size is {}", job.model,
         tokenizer.vocab_size(), config.vocab_size);
  if (!fs::is_regular_file(job.dataset))
    fail(
        "dataset: '{}' is not a file; gradpool-train reads a local .jsonl (registered dataset "
        "names are resolved by the coordinator)",
        job.dataset);
  s.data = std::make_unique<Dataset>(
      load_jsonl_dataset(job.dataset, job.format, tokenizer, job.seq_len));

  s.adapter =
      std::make_unique<LoraAdapter>(*s.model, lora_config(job), static_cast<uint64_t>(job.seed));
  if (job.lora.init_from)
    s.adapter->load_peft_weights(*job.lora.init_from + "/adapter_model.safetensors");

  const int64_t global = job.batch.global;
  const BatchShare share =
      plan_batch_share(s.comm.get(), global, s.options.distributed.local_batch, s.device);
  s.local_batch = share.size;
  s.local_offset = share.offset;
  s.micro_batch = plan_micro(*s.model, *s.adapter, job, s.local_batch);
  if (s.comm) s.comm->broadcast(s.adapter->params(), 0);  // identical adapters everywhere
  const int64_t samples = s.data->samples.size();
  s.total_steps = job.steps ? *job.steps : *job.epochs * ((samples + global - 1) / global);
  s.fingerprint = fmt::format("samples={} seq_len={} global_batch={} seed={} lora_params={}",
                              samples, job.seq_len, global, job.seed, s.adapter->numel());
  spdlog::info(
      "{}: rank {}/{}: {} {} layers on {} in {}, {} LoRA parameters; {} samples of {} tokens; "
      "{} steps of {} sequences, {} of them here ({} per micro-batch)",
      job.name, s.rank, s.world_size, config.model_type, config.num_layers, s.device.str(),
      dtype_label(dtype), s.adapter->numel(), samples, job.seq_len, s.total_steps, global,
      s.local_batch, s.micro_batch);
}

Trainer::~Trainer() = default;

TrainOutcome Trainer::run() {
  State& s = *state_;
  const JobSpec& job = s.spec;
  const bool leader = s.rank == 0;  // the one rank that writes
  const std::string step_log_path = job.output + "/train_log.jsonl";
  if (leader) fs::create_directories(job.output);

  AdamWOptions adam;
  adam.beta1 = job.optimizer.betas[0];
  adam.beta2 = job.optimizer.betas[1];
  adam.eps = job.optimizer.eps;
  adam.weight_decay = job.optimizer.weight_decay;
  AdamW optimizer(s.adapter->params(), adam);
  // Wall time of this step's all-reduce on this rank (waiting for slower ranks included), for
  // train_log.jsonl's allreduce_s; 0 alone.
  double allreduce_s = 0;
  RankTelemetry& telemetry = *s.telemetry;
  GradientReducer reducer;
  if (s.comm)
    reducer = [&s, &allreduce_s, &telemetry](at::Tensor& flat) {
      const auto start = PhaseClock::now();
      s.comm->all_reduce_sum(flat);
      const auto end = PhaseClock::now();
      allreduce_s = std::chrono::duration<double>(end - start).count();
      telemetry.record(StepPhase::kAllReduce, start, end);
    };
  StepRunner runner(*s.model, *s.adapter, optimizer, job.optimizer.clip_grad_norm, reducer);
  if (telemetry.timeline_enabled())
    runner.set_phase_recorder(
        [&telemetry](StepPhase phase, PhaseClock::time_point start, PhaseClock::time_point end,
                     const nlohmann::json& args) { telemetry.record(phase, start, end, args); });
  const LearningRateSchedule schedule{job.optimizer.lr, job.optimizer.warmup_steps, s.total_steps,
                                      job.optimizer.schedule, job.optimizer.min_lr_ratio};

  // Resume from the latest checkpoint, if this output directory has one. Every rank reads it, so
  // all continue from the same adapter, moments and data cursor, whatever the world size was.
  CheckpointStore checkpoints(job.output + "/checkpoints");
  TrainerState state;
  state.fingerprint = s.fingerprint;
  if (s.options.resume) {
    if (auto saved = checkpoints.latest_state()) {
      if (saved->fingerprint != s.fingerprint)
        fail(
            "{}: the checkpoint belongs to another job ({}; this job: {}); use another output "
            "directory or --no-resume",
            checkpoints.root(), saved->fingerprint, s.fingerprint);
      state = *saved;
      checkpoints.restore(*s.adapter, optimizer, s.device);
      LossScaler& scaler = runner.loss_scaler();
      if (state.loss_scale > 0) scaler.scale = state.loss_scale;
      scaler.clean_steps = state.clean_steps;
      if (leader) truncate_step_log(step_log_path, state.step);
      spdlog::info("{}: resuming after step {} from {}", job.name, state.step, checkpoints.root());
    }
  }
  SampleOrder order(s.data->samples.size(), static_cast<uint64_t>(job.seed), state.cursor);
  ReportStream& report = *s.report;
  report.start(s.rank, s.world_size, state.step, s.total_steps);

  // Rank 0 writes; the others wait at the barrier so that all leave it at the same step.
  auto save_checkpoint = [&] {
    const auto start = PhaseClock::now();
    state.cursor = order.cursor();
    state.loss_scale = runner.loss_scaler().enabled ? runner.loss_scaler().scale : 0;
    state.clean_steps = runner.loss_scaler().clean_steps;
    if (leader) checkpoints.save(state, *s.adapter, optimizer, job.model);
    if (s.comm) s.comm->barrier();
    const auto end = PhaseClock::now();
    telemetry.record(StepPhase::kCheckpoint, start, end, {{"step", state.step}});
    report.checkpoint(state.step, std::chrono::duration<double>(end - start).count());
  };

  const int64_t seq_len = job.seq_len, global = job.batch.global, local = s.local_batch;
  // A step as the report events tell it: the global figures, this rank's share and, on a GPU, its
  // memory and (where the peak is known) MFU over the sequences it ran, padding included.
  auto step_report = [&](const StepResult& result, double lr, int64_t local_tokens, double step_s) {
    StepReport r{state.step,       s.total_steps,       result.loss,   lr,
                 result.grad_norm, result.label_tokens, local_tokens,  global,
                 step_s,           allreduce_s,         result.skipped};
    r.local_samples = local;
    if (s.peak_flops)
      r.mfu = model_flops_utilisation(s.base_parameters, local * seq_len, step_s, *s.peak_flops);
    if (const auto memory = gpu_memory(s.device)) {
      r.gpu_memory_allocated_bytes = memory->allocated_bytes;
      r.gpu_memory_reserved_bytes = memory->reserved_bytes;
      r.gpu_memory_peak_bytes = memory->peak_bytes;
    }
    return r;
  };
  std::vector<int32_t> ids(std::max<int64_t>(1, local) * seq_len), labels(ids.size());
  std::ofstream step_log;
  // A run that resumed nothing starts a fresh log, even where a run killed before its first
  // checkpoint left lines behind.
  if (leader) step_log.open(step_log_path, state.step > 0 ? std::ios::app : std::ios::trunc);
  ProgressReporter progress(state.step, s.total_steps, job.log_every, stdout,
                            s.options.interactive && leader);
  while (state.step < s.total_steps) {
    // This rank's slice of the next global batch, cut into micro-batches.
    const auto step_start = PhaseClock::now();
    allreduce_s = 0;
    const std::vector<int64_t> batch = order.next_global_batch(global);
    const std::vector<int64_t> mine(batch.begin() + s.local_offset,
                                    batch.begin() + s.local_offset + local);
    std::vector<MicroBatch> micro_batches;
    int64_t local_tokens = 0;  // only counted for the report stream
    if (local > 0) {
      s.data->samples.gather(mine, ids.data(), labels.data());
      const at::Tensor my_ids = at::from_blob(ids.data(), {local, seq_len}, at::kInt).to(at::kLong);
      const at::Tensor my_labels =
          at::from_blob(labels.data(), {local, seq_len}, at::kInt).to(at::kLong);
      if (report.enabled()) local_tokens = count_label_tokens(my_labels);
      for (int64_t row = 0; row < local; row += s.micro_batch) {
        const int64_t rows = std::min(s.micro_batch, local - row);
        micro_batches.push_back({my_ids.narrow(0, row, rows), my_labels.narrow(0, row, rows)});
      }
    }
    telemetry.record(StepPhase::kDataWait, step_start, PhaseClock::now());

    const double lr = schedule.at(state.step);
    const StepResult result = runner.run(micro_batches, lr, g_stop_requested != 0);
    const auto step_end = PhaseClock::now();
    const double step_s = std::chrono::duration<double>(step_end - step_start).count();
    if (!result.skipped && !std::isfinite(result.loss))
      fail("step {}: loss is {} — training diverged (lower optimizer.lr, or use fp32/bf16)",
           state.step + 1, result.loss);
    ++state.step;
    telemetry.record(StepPhase::kStep, step_start, step_end, {{"step", state.step}});
    if (leader) {
      progress.report(
          {state.step, result.loss, lr, result.grad_norm, global * seq_len, result.skipped});
      step_log << nlohmann::json{{"step", state.step},
                                 {"loss", result.loss},
                                 {"lr", lr},
                                 {"grad_norm", result.grad_norm},
                                 {"label_tokens", result.label_tokens},
                                 {"skipped", result.skipped},
                                 {"step_s", step_s},
                                 {"allreduce_s", allreduce_s}}
                      .dump()
               << "\n"
               << std::flush;
    }
    if (report.enabled()) report.step(step_report(result, lr, local_tokens, step_s));
    if (result.stop_requested && state.step < s.total_steps) {
      progress.finish();
      save_checkpoint();
      spdlog::warn("{}: stopped by signal after step {}; checkpoint saved", job.name, state.step);
      telemetry.close();
      return TrainOutcome::kInterrupted;
    }
    if (job.checkpoint_every > 0 && state.step % job.checkpoint_every == 0 &&
        state.step < s.total_steps)
      save_checkpoint();
  }
  progress.finish();
  save_checkpoint();
  if (leader) {
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
  }
  if (s.comm) s.comm->barrier();
  report.done(state.step);
  telemetry.close();
  return TrainOutcome::kFinished;
}

}  // namespace gradpool
