// Job spec parsing: the DESIGN.md example, defaults, the to_yaml round trip, overrides, and one
// case per kind of error, each checking that the message says where, which field and why.
#include "common/job_spec.h"

#include <cctype>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/file_util.h"
#include "tests/test_util.h"

namespace gradpool {
namespace {

// The example from DESIGN.md, "Job spec".
constexpr char kDesignExample[] = R"(name: fortunes-lora
model: /models/llama-3.2-1b          # HF directory: config.json, *.safetensors, tokenizer.json
dataset: fortunes                    # registered dataset name, or a local .jsonl path
format: text                         # text | prompt_completion
seq_len: 512
lora: {r: 16, alpha: 32, dropout: 0.05, target_modules: [q_proj, k_proj, v_proj, o_proj]}
optimizer: {lr: 2.0e-4, weight_decay: 0.0, warmup_steps: 20, schedule: cosine, clip_grad_norm: 1.0}
batch: {global: 64, micro: auto}     # micro: auto → planned per GPU
steps: 500                           # or epochs: 2
precision: auto                      # auto | fp32 | fp16 | bf16  (auto: bf16 on sm_80+, fp32 on Pascal)
resources: {gpus: 4, gpu_type: any, min_gpu_memory_gb: 8}
checkpoint_every: 50
priority: normal
max_restarts: 3
output: /results/fortunes-lora
)";

// The fields without defaults; tests append what they exercise.
constexpr char kMinimal[] = "name: tiny\nmodel: /m\ndataset: d.jsonl\nsteps: 10\n";

// The message of the Error that parsing `yaml` throws, or "" when it parses.
std::string error_of(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    parse_job_spec(yaml, "job.yaml", overrides);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(JobSpec, DesignExampleParses) {
  const JobSpec spec = parse_job_spec(kDesignExample, "design.yaml");
  EXPECT_EQ(spec.name, "fortunes-lora");
  EXPECT_EQ(spec.model, "/models/llama-3.2-1b");
  EXPECT_EQ(spec.dataset, "fortunes");
  EXPECT_EQ(spec.format, DataFormat::kText);
  EXPECT_EQ(spec.seq_len, 512);
  EXPECT_EQ(spec.lora.r, 16);
  EXPECT_EQ(spec.lora.alpha, 32.0);
  EXPECT_EQ(spec.lora.dropout, 0.05);
  EXPECT_FALSE(spec.lora.all_linear);
  EXPECT_EQ(spec.lora.target_modules,
            (std::vector<std::string>{"q_proj", "k_proj", "v_proj", "o_proj"}));
  EXPECT_EQ(spec.optimizer.lr, 2.0e-4);
  EXPECT_EQ(spec.optimizer.weight_decay, 0.0);
  EXPECT_EQ(spec.optimizer.warmup_steps, 20);
  EXPECT_EQ(spec.optimizer.schedule, LrSchedule::kCosine);
  EXPECT_EQ(spec.optimizer.clip_grad_norm, 1.0);
  EXPECT_EQ(spec.batch.global, 64);
  EXPECT_FALSE(spec.batch.micro.has_value());
  EXPECT_EQ(spec.steps, 500);
  EXPECT_FALSE(spec.epochs.has_value());
  EXPECT_EQ(spec.precision, Precision::kAuto);
  EXPECT_EQ(spec.resources.gpus, 4);
  EXPECT_EQ(spec.resources.gpu_type, "any");
  EXPECT_EQ(spec.resources.min_gpu_memory_gb, 8.0);
  EXPECT_EQ(spec.checkpoint_every, 50);
  EXPECT_EQ(spec.priority, kPriorityNormal);
  EXPECT_EQ(spec.max_restarts, 3);
  EXPECT_EQ(spec.output, "/results/fortunes-lora");
}

TEST(JobSpec, DefaultsMatchPeftAndTrainer) {
  const JobSpec spec = parse_job_spec(kMinimal, "job.yaml");
  EXPECT_EQ(spec.format, DataFormat::kText);
  EXPECT_EQ(spec.seq_len, 512);
  EXPECT_EQ(spec.lora.r, 16);
  EXPECT_EQ(spec.lora.alpha, 32.0);
  EXPECT_EQ(spec.lora.dropout, 0.05);
  EXPECT_EQ(spec.lora.target_modules, (std::vector<std::string>{"q_proj", "v_proj"}));
  EXPECT_FALSE(spec.lora.all_linear);
  EXPECT_FALSE(spec.lora.use_rslora);
  EXPECT_FALSE(spec.lora.init_from.has_value());
  EXPECT_EQ(spec.optimizer.lr, 2.0e-4);
  EXPECT_EQ(spec.optimizer.weight_decay, 0.0);
  EXPECT_EQ(spec.optimizer.betas[0], 0.9);
  EXPECT_EQ(spec.optimizer.betas[1], 0.999);
  EXPECT_EQ(spec.optimizer.eps, 1.0e-8);
  EXPECT_EQ(spec.optimizer.warmup_steps, 0);
  EXPECT_EQ(spec.optimizer.schedule, LrSchedule::kCosine);
  EXPECT_EQ(spec.optimizer.min_lr_ratio, 0.0);
  EXPECT_EQ(spec.optimizer.clip_grad_norm, 1.0);
  EXPECT_EQ(spec.batch.global, 64);
  EXPECT_FALSE(spec.batch.micro.has_value());
  EXPECT_EQ(spec.steps, 10);
  EXPECT_FALSE(spec.epochs.has_value());
  EXPECT_EQ(spec.precision, Precision::kAuto);
  EXPECT_EQ(spec.resources.gpus, 1);
  EXPECT_EQ(spec.resources.gpu_type, "any");
  EXPECT_EQ(spec.resources.min_gpu_memory_gb, 0.0);
  EXPECT_EQ(spec.checkpoint_every, 50);
  EXPECT_EQ(spec.priority, kPriorityNormal);
  EXPECT_EQ(spec.max_restarts, 3);
  EXPECT_EQ(spec.seed, 0);
  EXPECT_EQ(spec.log_every, 1);
  EXPECT_FALSE(spec.merge);
  EXPECT_EQ(spec.output, "./runs/tiny");
}

TEST(JobSpec, AlternativeSpellings) {
  const JobSpec spec = parse_job_spec(std::string(kMinimal) + R"(
lora: {target_modules: all-linear, init_from: /adapters/prev}
optimizer: {clip_grad_norm: null, schedule: constant}
batch: {global: 8, micro: 8}
priority: 7
epochs: null
merge: True
)",
                                      "job.yaml");
  EXPECT_TRUE(spec.lora.all_linear);
  EXPECT_TRUE(spec.lora.target_modules.empty());
  EXPECT_EQ(spec.lora.init_from, "/adapters/prev");
  EXPECT_EQ(spec.optimizer.clip_grad_norm, 0.0);
  EXPECT_EQ(spec.optimizer.schedule, LrSchedule::kConstant);
  EXPECT_EQ(spec.batch.micro, 8);
  EXPECT_EQ(spec.priority, 7);
  EXPECT_EQ(spec.steps, 10);
  EXPECT_TRUE(spec.merge);
  EXPECT_EQ(parse_job_spec(std::string(kMinimal) + "priority: high\n", "j").priority,
            kPriorityHigh);
}

// Every field away from its default, so that a field to_yaml forgets cannot go unnoticed.
JobSpec unusual_spec() {
  JobSpec spec;
  spec.name = "r.t_1-x";
  spec.model = "/models/with space/gpt2";
  spec.dataset = "null";  // a dataset named like a YAML null must stay a string
  spec.format = DataFormat::kPromptCompletion;
  spec.seq_len = 77;
  spec.lora = {3, 0.1, 0.3, false, {"c_attn", "mlp.c_fc"}, true, "/a/adapter: x"};
  spec.optimizer = {1.0 / 3, 0.01, {0.8, 0.95}, 1e-6, 7, LrSchedule::kLinear, 0.1, 0.0};
  spec.batch = {12, 5};
  spec.epochs = 3;
  spec.precision = Precision::kBf16;
  spec.resources = {2, "a100", 39.5};
  spec.checkpoint_every = 0;
  spec.priority = -3;
  spec.max_restarts = 0;
  spec.seed = 1234567890123;
  spec.log_every = 9;
  spec.merge = true;
  spec.output = "out dir/#1";
  return spec;
}

TEST(JobSpec, RoundTripsThroughYaml) {
  const JobSpec in = unusual_spec();
  const std::string yaml = to_yaml(in);
  SCOPED_TRACE(yaml);
  const JobSpec out = parse_job_spec(yaml, "round-trip");
  EXPECT_EQ(out.name, in.name);
  EXPECT_EQ(out.model, in.model);
  EXPECT_EQ(out.dataset, in.dataset);
  EXPECT_EQ(out.format, in.format);
  EXPECT_EQ(out.seq_len, in.seq_len);
  EXPECT_EQ(out.lora.r, in.lora.r);
  EXPECT_EQ(out.lora.alpha, in.lora.alpha);
  EXPECT_EQ(out.lora.dropout, in.lora.dropout);
  EXPECT_EQ(out.lora.all_linear, in.lora.all_linear);
  EXPECT_EQ(out.lora.target_modules, in.lora.target_modules);
  EXPECT_EQ(out.lora.use_rslora, in.lora.use_rslora);
  EXPECT_EQ(out.lora.init_from, in.lora.init_from);
  EXPECT_EQ(out.optimizer.lr, in.optimizer.lr);  // exact: 1/3 must survive the text form
  EXPECT_EQ(out.optimizer.weight_decay, in.optimizer.weight_decay);
  EXPECT_EQ(out.optimizer.betas, in.optimizer.betas);
  EXPECT_EQ(out.optimizer.eps, in.optimizer.eps);
  EXPECT_EQ(out.optimizer.warmup_steps, in.optimizer.warmup_steps);
  EXPECT_EQ(out.optimizer.schedule, in.optimizer.schedule);
  EXPECT_EQ(out.optimizer.min_lr_ratio, in.optimizer.min_lr_ratio);
  EXPECT_EQ(out.optimizer.clip_grad_norm, in.optimizer.clip_grad_norm);
  EXPECT_EQ(out.batch.global, in.batch.global);
  EXPECT_EQ(out.batch.micro, in.batch.micro);
  EXPECT_EQ(out.steps, in.steps);
  EXPECT_EQ(out.epochs, in.epochs);
  EXPECT_EQ(out.precision, in.precision);
  EXPECT_EQ(out.resources.gpus, in.resources.gpus);
  EXPECT_EQ(out.resources.gpu_type, in.resources.gpu_type);
  EXPECT_EQ(out.resources.min_gpu_memory_gb, in.resources.min_gpu_memory_gb);
  EXPECT_EQ(out.checkpoint_every, in.checkpoint_every);
  EXPECT_EQ(out.priority, in.priority);
  EXPECT_EQ(out.max_restarts, in.max_restarts);
  EXPECT_EQ(out.seed, in.seed);
  EXPECT_EQ(out.log_every, in.log_every);
  EXPECT_EQ(out.merge, in.merge);
  EXPECT_EQ(out.output, in.output);
  EXPECT_EQ(to_yaml(out), yaml);
}

TEST(JobSpec, RoundTripsDefaultsAndNamedValues) {
  JobSpec in = parse_job_spec(kDesignExample, "design.yaml");
  in.lora.all_linear = true;
  in.lora.target_modules.clear();
  const std::string yaml = to_yaml(in);
  EXPECT_NE(yaml.find("priority: normal"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("micro: auto"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("target_modules: all-linear"), std::string::npos) << yaml;
  const JobSpec out = parse_job_spec(yaml, "round-trip");
  EXPECT_TRUE(out.lora.all_linear);
  EXPECT_FALSE(out.batch.micro.has_value());
  EXPECT_EQ(to_yaml(out), yaml);
}

// The reference page must not drift from the parser: every YAML example in it parses.
TEST(JobSpec, ReferenceExamplesParse) {
  const std::string doc = read_file(std::string(GRADPOOL_SOURCE_DIR) + "/docs/job-spec.md");
  int examples = 0;
  for (size_t begin = doc.find("```yaml\n"); begin != std::string::npos;
       begin = doc.find("```yaml\n", begin + 1)) {
    const size_t start = begin + 8;
    const std::string yaml = doc.substr(start, doc.find("```", start) - start);
    EXPECT_NO_THROW(parse_job_spec(yaml, "docs/job-spec.md")) << yaml;
    ++examples;
  }
  EXPECT_GE(examples, 2);
}

TEST(JobSpec, EnumSpellings) {
  EXPECT_STREQ(to_string(Precision::kFp16), "fp16");
  EXPECT_STREQ(to_string(Precision::kBf16), "bf16");
  EXPECT_STREQ(to_string(DataFormat::kPromptCompletion), "prompt_completion");
  EXPECT_STREQ(to_string(LrSchedule::kLinear), "linear");
}

TEST(JobSpec, OverridesApplyBeforeValidation) {
  // The file alone is invalid (no steps, r: 0); the overrides make it valid.
  const std::string yaml = "name: a\nmodel: /m\ndataset: d\nlora: {r: 0}\n";
  const JobSpec spec =
      parse_job_spec(yaml, "job.yaml",
                     {"lora.r=8", "lora.target_modules=[q_proj, o_proj]", "optimizer.lr=1e-3",
                      "epochs=2", "resources.gpus=2", "output=/tmp/x=y"});
  EXPECT_EQ(spec.lora.r, 8);
  EXPECT_EQ(spec.lora.target_modules, (std::vector<std::string>{"q_proj", "o_proj"}));
  EXPECT_EQ(spec.optimizer.lr, 1e-3);
  EXPECT_EQ(spec.epochs, 2);
  EXPECT_FALSE(spec.steps.has_value());
  EXPECT_EQ(spec.resources.gpus, 2);  // the resources section did not exist in the file
  EXPECT_EQ(spec.output, "/tmp/x=y");

  // Later overrides win, and null unsets.
  const JobSpec later = parse_job_spec(std::string(kMinimal), "job.yaml",
                                       {"steps=null", "epochs=1", "seed=1", "seed=2"});
  EXPECT_FALSE(later.steps.has_value());
  EXPECT_EQ(later.epochs, 1);
  EXPECT_EQ(later.seed, 2);
}

TEST(JobSpec, LoadsFromFileAndNamesThePath) {
  const auto dir = testing::temp_dir("job_spec");
  const std::string good = (dir / "good.yaml").string();
  std::ofstream(good) << kMinimal;
  EXPECT_EQ(load_job_spec(good).name, "tiny");
  EXPECT_EQ(load_job_spec(good, {"name=other"}).output, "./runs/other");

  const std::string bad = (dir / "bad.yaml").string();
  std::ofstream(bad) << kMinimal << "seq_len: 0\n";
  try {
    load_job_spec(bad);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(bad + ":5:10: seq_len: must be an integer in [2, 65536]"),
              std::string::npos)
        << e.what();
  }
  try {
    load_job_spec((dir / "missing.yaml").string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.yaml"), std::string::npos) << e.what();
  }
}

// One bad input and the pieces its message must contain: where, which field, why.
struct ErrorCase {
  const char* what;
  std::string yaml;
  std::vector<std::string> expected;
  std::vector<std::string> overrides = {};
};

void PrintTo(const ErrorCase& c, std::ostream* os) {
  *os << c.what;
}

std::vector<ErrorCase> error_cases() {
  const std::string m = kMinimal;  // 4 lines: errors in appended text start on line 5
  return {
      {"invalid syntax", m + "lora: {r: 8\n", {"job.yaml:6:1: invalid YAML:"}},
      {"tab indentation", "name: a\n\tmodel: b\n", {"job.yaml:2:", "invalid YAML"}},
      {"empty file", "", {"job.yaml: the job spec is empty"}},
      {"only comments", "# nothing\n", {"job.yaml: the job spec is empty"}},
      {"two documents", m + "---\nname: b\n", {"job.yaml:", "expected one YAML document, found 2"}},
      {"list document", "- name: a\n", {"job.yaml:1:1: job spec: must be a mapping", "got a list"}},
      {"scalar document", "hello\n", {"job.yaml:1:1: job spec: must be a mapping", "got hello"}},
      {"unknown top-level key",
       m + "nmae: x\n",
       {"job.yaml:5:1: unknown field 'nmae'", "did you mean 'name'?"}},
      {"unknown nested key",
       m + "lora:\n  r: 8\n  alfa: 16\n",
       {"job.yaml:7:3: unknown field 'lora.alfa' (did you mean 'alpha'?)"}},
      {"unknown key, no near miss",
       m + "optimizer: {momentum: 0.9}\n",
       {"job.yaml:5:13: unknown field 'optimizer.momentum'", "known fields: lr, weight_decay"}},
      {"duplicate key",
       m + "seed: 1\nseed: 2\n",
       {"job.yaml:6:1: seed: duplicate field", "job.yaml:5:7"}},
      {"missing name",
       "model: /m\ndataset: d\nsteps: 1\n",
       {"job.yaml:1:1: name: required field is missing", "letters, digits"}},
      {"missing model",
       "name: a\ndataset: d\nsteps: 1\n",
       {"job.yaml:1:1: model: required field is missing"}},
      {"bad name",
       "name: my job\nmodel: /m\ndataset: d\nsteps: 1\n",
       {"job.yaml:1:7: name: must be 1 to 64 letters", "got my job"}},
      {"name too long",
       "name: " + std::string(65, 'a') + "\nmodel: /m\ndataset: d\nsteps: 1\n",
       {"job.yaml:1:7: name: must be 1 to 64"}},
      {"name of dots",
       "name: ..\nmodel: /m\ndataset: d\nsteps: 1\n",
       {"job.yaml:1:7: name:", "not only dots"}},
      {"negative r",
       m + "lora: {alpha: 16,\n  r: -4}\n",
       {"job.yaml:6:6: lora.r: must be a positive integer, got -4"}},
      {"fractional r",
       m + "lora: {r: 2.5}\n",
       {"job.yaml:5:11: lora.r: must be a positive integer, got 2.5"}},
      {"quoted number", m + "lora: {r: \"16\"}\n", {"job.yaml:5:11: lora.r:", "got \"16\""}},
      {"string for a number",
       m + "seq_len: long\n",
       {"job.yaml:5:10: seq_len: must be an integer in [2, 65536], got long"}},
      {"seq_len of 1", m + "seq_len: 1\n", {"job.yaml:5:10: seq_len:", "got 1"}},
      {"seq_len too big", m + "seq_len: 65537\n", {"job.yaml:5:10: seq_len:", "got 65537"}},
      {"null for a number",
       m + "seq_len:\n",
       {"job.yaml:5:1: seq_len: must be an integer in [2, 65536], got null"}},
      {"dropout of 1",
       m + "lora: {dropout: 1.0}\n",
       {"job.yaml:5:17: lora.dropout: must be a number in [0, 1), got 1.0"}},
      {"zero lr",
       m + "optimizer: {lr: 0}\n",
       {"job.yaml:5:17: optimizer.lr: must be a number > 0, got 0"}},
      {"nan lr", m + "optimizer: {lr: .nan}\n", {"optimizer.lr: must be a number > 0, got .nan"}},
      {"map for a list",
       m + "lora: {target_modules: {q: 1}}\n",
       {"job.yaml:5:24: lora.target_modules: must be \"all-linear\" or a non-empty list",
        "got a mapping"}},
      {"empty module list",
       m + "lora: {target_modules: []}\n",
       {"job.yaml:5:24: lora.target_modules:", "got an empty list"}},
      {"list of lists",
       m + "lora: {target_modules: [q_proj, [v]]}\n",
       {"job.yaml:5:33: lora.target_modules[1]: must be a module name", "got a list of 1"}},
      {"duplicate module",
       m + "lora: {target_modules: [q_proj, q_proj]}\n",
       {"job.yaml:5:33: lora.target_modules[1]: 'q_proj' is listed twice"}},
      {"list for a map",
       m + "lora: [r, 8]\n",
       {"job.yaml:5:7: lora: must be a mapping of fields, got a list of 2"}},
      {"three betas",
       m + "optimizer: {betas: [0.9, 0.99, 0.999]}\n",
       {"job.yaml:5:20: optimizer.betas: must be a list of two numbers in [0, 1), got a list of "
        "3"}},
      {"beta of 1",
       m + "optimizer: {betas: [0.9, 1]}\n",
       {"job.yaml:5:26: optimizer.betas[1]: must be a number in [0, 1), got 1"}},
      {"bad schedule",
       m + "optimizer: {schedule: cosin}\n",
       {"job.yaml:5:23: optimizer.schedule: must be one of cosine, linear, constant, got cosin"}},
      {"bad precision",
       m + "precision: fp8\n",
       {"job.yaml:5:12: precision: must be one of auto, fp32, fp16, bf16, got fp8"}},
      {"bad format",
       m + "format: chat\n",
       {"job.yaml:5:9: format: must be one of text, prompt_completion"}},
      {"bad bool", m + "merge: maybe\n", {"job.yaml:5:8: merge: must be true or false, got maybe"}},
      {"bad priority",
       m + "priority: urgent\n",
       {"job.yaml:5:11: priority: must be low, normal, high or an integer in [-1000, 1000], got "
        "urgent"}},
      {"priority out of range", m + "priority: 5000\n", {"job.yaml:5:11: priority:", "got 5000"}},
      {"micro above global",
       m + "batch: {global: 8, micro: 16}\n",
       {"job.yaml:5:27: batch.micro: must be auto or an integer in [1, 8]", "got 16"}},
      {"zero global",
       m + "batch: {global: 0}\n",
       {"job.yaml:5:17: batch.global: must be a positive integer, got 0"}},
      {"both steps and epochs",
       m + "epochs: 2\n",
       {"job.yaml:5:9: epochs: steps is also set (at job.yaml:4:8)",
        "exactly one of steps and epochs"}},
      {"neither steps nor epochs",
       "name: a\nmodel: /m\ndataset: d\n",
       {"job.yaml:1:1: steps: required field is missing", "epochs"}},
      {"zero epochs",
       "name: a\nmodel: /m\ndataset: d\nepochs: 0\n",
       {"job.yaml:4:9: epochs: must be a positive integer, got 0"}},
      {"negative checkpoint_every",
       m + "checkpoint_every: -1\n",
       {"job.yaml:5:19: checkpoint_every: must be a non-negative integer, got -1"}},
      {"zero gpus",
       m + "resources: {gpus: 0}\n",
       {"job.yaml:5:19: resources.gpus: must be a positive integer"}},
      {"non-string key",
       m + "lora: {[r]: 8}\n",
       {"job.yaml:5:8: lora: field names must be plain words, got a list"}},
      {"bad override value",
       m,
       {"override 'lora.r=-4': lora.r: must be a positive integer, got -4"},
       {"lora.r=-4"}},
      {"unknown override field",
       m,
       {"override 'lora.alfa=3': unknown field 'lora.alfa' (did you mean 'alpha'?)"},
       {"lora.alfa=3"}},
      {"override without =", m, {"override 'lora.r': expected field.path=value"}, {"lora.r"}},
      {"override with empty path", m, {"override '=3': expected field.path=value"}, {"=3"}},
      {"override through a scalar",
       m,
       {"override 'seed.x=1': seed is 0, not a mapping"},
       {"seed=0", "seed.x=1"}},
      {"override with bad YAML", m, {"override 'lora.r=[': invalid YAML value"}, {"lora.r=["}},
  };
}

class JobSpecError : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(JobSpecError, SaysWhereWhichFieldAndWhy) {
  const ErrorCase& c = GetParam();
  const std::string message = error_of(c.yaml, c.overrides);
  ASSERT_FALSE(message.empty()) << "parsed without error:\n" << c.yaml;
  for (const std::string& piece : c.expected)
    EXPECT_NE(message.find(piece), std::string::npos)
        << "missing '" << piece << "' in: " << message;
}

INSTANTIATE_TEST_SUITE_P(Cases, JobSpecError, ::testing::ValuesIn(error_cases()),
                         [](const ::testing::TestParamInfo<ErrorCase>& info) {
                           std::string name = info.param.what;
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

TEST(JobSpec, ErrorsInTheFileStillPointAtTheFileWithOverrides) {
  // An override elsewhere must not take the blame for a file error.
  const std::string message =
      error_of(std::string(kMinimal) + "lora: {r: 4, dropout: 2}\n", {"lora.r=8"});
  EXPECT_NE(message.find("job.yaml:5:23: lora.dropout:"), std::string::npos) << message;
}

}  // namespace
}  // namespace gradpool
