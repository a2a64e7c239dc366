#include "common/job_spec.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "common/error.h"
#include "common/file_util.h"

namespace gradpool {
namespace {

constexpr int64_t kNoMax = std::numeric_limits<int64_t>::max();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Spellings, shared by parsing and to_string so that the two cannot drift apart.
template <typename E>
using Names = std::pair<const char*, E>;
constexpr Names<Precision> kPrecisions[] = {{"auto", Precision::kAuto},
                                            {"fp32", Precision::kFp32},
                                            {"fp16", Precision::kFp16},
                                            {"bf16", Precision::kBf16}};
constexpr Names<DataFormat> kFormats[] = {{"text", DataFormat::kText},
                                          {"prompt_completion", DataFormat::kPromptCompletion}};
constexpr Names<LrSchedule> kSchedules[] = {{"cosine", LrSchedule::kCosine},
                                            {"linear", LrSchedule::kLinear},
                                            {"constant", LrSchedule::kConstant}};
constexpr Names<int> kPriorities[] = {
    {"low", kPriorityLow}, {"normal", kPriorityNormal}, {"high", kPriorityHigh}};

template <typename E, size_t N>
std::optional<E> lookup(const Names<E> (&names)[N], const std::string& name) {
  for (const auto& [spelling, value] : names)
    if (name == spelling) return value;
  return std::nullopt;
}

template <typename E, size_t N>
const char* name_of(const Names<E> (&names)[N], E value) {
  for (const auto& [spelling, v] : names)
    if (v == value) return spelling;
  return nullptr;
}

template <typename E, size_t N>
std::string spellings(const Names<E> (&names)[N]) {
  std::string out;
  for (const auto& entry : names) out += (out.empty() ? "" : ", ") + std::string(entry.first);
  return out;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// " (did you mean 'alpha'?)" for a near miss, else the list of known keys.
std::string suggest(const std::string& key, const std::vector<const char*>& known) {
  const char* best = nullptr;
  size_t best_distance = std::max<size_t>(2, key.size() / 3) + 1;
  for (const char* candidate : known) {
    const size_t distance = edit_distance(key, candidate);
    if (distance < best_distance) best = candidate, best_distance = distance;
  }
  if (best) return fmt::format(" (did you mean '{}'?)", best);
  std::string all;
  for (const char* candidate : known) all += (all.empty() ? "" : ", ") + std::string(candidate);
  return fmt::format(" (known fields: {})", all);
}

// Whether `word` is non-empty and made of ASCII letters, digits and the characters in `extra`.
bool is_word(const std::string& word, const char* extra) {
  return !word.empty() && std::all_of(word.begin(), word.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr(extra, c) != nullptr;
  });
}

std::string join_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

// What a node is, for "got ..." in messages. Quoted scalars keep their quotes, so that a string
// given where a number goes reads as one: got "16".
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Sequence:
      return node.size() == 0 ? "an empty list" : fmt::format("a list of {}", node.size());
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar: {
      std::string text = node.Scalar();
      if (text.size() > 60) text = text.substr(0, 57) + "...";
      return node.Tag() == "!" ? fmt::format("\"{}\"", text) : text;
    }
    default:
      return "nothing";
  }
}

// A command-line override "lora.r=8": the dotted path and the value, parsed as YAML.
struct Override {
  std::string text;  // as given, for messages
  std::string path;
  YAML::Node value;
};

// Says where a node came from, for the start of a message: the override that set it, if one did
// (its line numbers would point into the override, not the file), else source:line:column.
class Locator {
 public:
  Locator(std::string source, const std::vector<Override>& overrides)
      : source_(std::move(source)), overrides_(overrides) {}

  std::string operator()(const std::string& path, const YAML::Mark& mark) const {
    for (auto it = overrides_.rbegin(); it != overrides_.rend(); ++it) {
      const std::string& set = it->path;
      if (path.compare(0, set.size(), set) == 0 &&
          (path.size() == set.size() || path[set.size()] == '.' || path[set.size()] == '['))
        return fmt::format("override '{}'", it->text);
    }
    if (mark.is_null()) return source_;
    return fmt::format("{}:{}:{}", source_, mark.line + 1, mark.column + 1);
  }

 private:
  std::string source_;
  const std::vector<Override>& overrides_;
};

// "a positive integer", "an integer in [1, 65536]".
std::string integer_rule(int64_t min, int64_t max) {
  if (max != kNoMax) return fmt::format("an integer in [{}, {}]", min, max);
  if (min == 1) return "a positive integer";
  if (min == 0) return "a non-negative integer";
  return fmt::format("an integer >= {}", min);
}

// The allowed range of a real-valued field; always finite.
struct Interval {
  double lo;
  bool lo_open;
  double hi = kInf;
  bool hi_open = true;

  bool contains(double x) const {
    return std::isfinite(x) && (lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi);
  }
  std::string rule() const {
    if (hi == kInf) return fmt::format("a number {} {}", lo_open ? ">" : ">=", lo);
    return fmt::format("a number in {}{}, {}{}", lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]");
  }
};
constexpr Interval kPositive{0, true};
constexpr Interval kNonNegative{0, false};

// One value of the spec with its dotted path; converts it or fails naming where it is.
class Field {
 public:
  // `key_mark` is where the key of a mapping entry is: an empty value ("seq_len:") has no
  // place of its own, yaml-cpp marks it at the next token, so errors about it point at the key.
  Field(const Locator& locator, YAML::Node node, std::string path,
        YAML::Mark key_mark = YAML::Mark::null_mark())
      : locator_(&locator), node_(std::move(node)), path_(std::move(path)), key_mark_(key_mark) {}

  const YAML::Node& node() const { return node_; }
  const std::string& path() const { return path_; }
  const Locator& locator() const { return *locator_; }
  std::string where() const {
    return (*locator_)(path_, node_.IsNull() && !key_mark_.is_null() ? key_mark_ : node_.Mark());
  }
  bool is_null() const { return node_.IsNull(); }
  bool is(const char* word) const { return node_.IsScalar() && node_.Scalar() == word; }

  std::string label() const { return path_.empty() ? "job spec" : path_; }

  [[noreturn]] void reject(const std::string& reason) const {
    fail("{}: {}: {}", where(), label(), reason);
  }
  [[noreturn]] void expected(const std::string& rule) const {
    reject(fmt::format("must be {}, got {}", rule, describe(node_)));
  }

  // The value of a plain (unquoted) scalar that is exactly a decimal number, else nullopt.
  template <typename T>
  std::optional<T> parsed() const {
    if (!node_.IsScalar() || node_.Tag() == "!") return std::nullopt;
    const std::string& text = node_.Scalar();
    T value;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
  }

  int64_t integer(int64_t min, int64_t max = kNoMax, const std::string& rule = "") const {
    const std::optional<int64_t> value = parsed<int64_t>();
    if (!value || *value < min || *value > max)
      expected(rule.empty() ? integer_rule(min, max) : rule);
    return *value;
  }

  double number(const Interval& interval) const {
    const std::optional<double> value = parsed<double>();
    if (!value || !interval.contains(*value)) expected(interval.rule());
    return *value;
  }

  bool boolean() const {
    if (node_.IsScalar() && node_.Tag() != "!") {
      for (const char* word : {"true", "True", "TRUE"})
        if (is(word)) return true;
      for (const char* word : {"false", "False", "FALSE"})
        if (is(word)) return false;
    }
    expected("true or false");
  }

  // Any non-empty scalar: names and paths such as 123 or yes are text here, not numbers.
  std::string text(const std::string& rule) const {
    if (!node_.IsScalar() || node_.Scalar().empty()) expected(rule);
    return node_.Scalar();
  }

  template <typename E, size_t N>
  E choice(const Names<E> (&names)[N]) const {
    std::optional<E> value;
    if (node_.IsScalar()) value = lookup(names, node_.Scalar());
    if (!value) expected("one of " + spellings(names));
    return *value;
  }

  std::vector<Field> list(const std::string& rule) const {
    if (!node_.IsSequence()) expected(rule);
    std::vector<Field> items;
    for (size_t i = 0; i < node_.size(); ++i)
      items.emplace_back(*locator_, node_[i], fmt::format("{}[{}]", path_, i));
    return items;
  }

 private:
  const Locator* locator_;
  YAML::Node node_;
  std::string path_;
  YAML::Mark key_mark_;
};

// A mapping whose keys must all be known: unknown and repeated keys fail when it is built, so
// that every reader below only asks for the keys it knows.
class Section {
 public:
  Section(const Field& field, std::vector<const char*> known) : field_(field) {
    const YAML::Node& node = field.node();
    if (!node.IsMap()) field.expected("a mapping of fields");
    for (const auto& entry : node) {  // entries are values: keep no references into them
      const YAML::Node key = entry.first;
      const std::string path = join_path(field.path(), key.IsScalar() ? key.Scalar() : "?");
      const std::string where = field.locator()(path, key.Mark());
      if (!key.IsScalar())
        fail("{}: {}: field names must be plain words, got {}", where, field.label(),
             describe(key));
      if (const auto first = find(key.Scalar()))
        fail("{}: {}: duplicate field (first given at {})", where, path, first->where());
      if (std::find_if(known.begin(), known.end(),
                       [&](const char* k) { return key.Scalar() == k; }) == known.end())
        fail("{}: unknown field '{}'{}", where, path, suggest(key.Scalar(), known));
      entries_.emplace_back(key.Scalar(), Field(field.locator(), entry.second, path, key.Mark()));
    }
  }

  std::optional<Field> find(const std::string& key) const {
    for (const auto& [name, value] : entries_)
      if (name == key) return value;
    return std::nullopt;
  }

  // Like find, but a null value counts as absent: for fields whose "unset" is spelled null.
  std::optional<Field> find_set(const std::string& key) const {
    std::optional<Field> value = find(key);
    return value && value->is_null() ? std::nullopt : value;
  }

  Field require(const std::string& key, const std::string& rule) const {
    if (std::optional<Field> value = find(key)) return *value;
    fail("{}: {}: required field is missing; expected {}", field_.where(),
         join_path(field_.path(), key), rule);
  }

 private:
  Field field_;
  std::vector<std::pair<std::string, Field>> entries_;
};

constexpr char kNameRule[] = "1 to 64 letters, digits, '.', '_' or '-', not only dots";
constexpr char kTargetsRule[] =
    "\"all-linear\" or a non-empty list of module names such as [q_proj, v_proj]";
constexpr char kBetasRule[] = "a list of two numbers in [0, 1)";
constexpr char kModelRule[] = "a Hugging Face model directory";
constexpr char kDatasetRule[] = "a registered dataset name or a .jsonl path";

// The name becomes a directory (./runs/<name>) and a metric label, hence the narrow alphabet.
std::string read_name(const Field& field) {
  const std::string name = field.text(kNameRule);
  if (!is_word(name, "._-") || name.size() > 64 || name.find_first_not_of('.') == std::string::npos)
    field.expected(kNameRule);
  return name;
}

void read_target_modules(const Field& field, LoraSpec* lora) {
  lora->target_modules.clear();
  lora->all_linear = field.is("all-linear");
  if (lora->all_linear) return;
  const std::vector<Field> items = field.list(kTargetsRule);
  if (items.empty()) field.expected(kTargetsRule);
  for (const Field& item : items) {
    const std::string module = item.text("a module name such as q_proj");
    if (!is_word(module, "_.")) item.expected("a module name of letters, digits, '_' and '.'");
    if (std::count(lora->target_modules.begin(), lora->target_modules.end(), module))
      item.reject(fmt::format("'{}' is listed twice", module));
    lora->target_modules.push_back(module);
  }
}

LoraSpec read_lora(const Field& field) {
  const Section section(field,
                        {"r", "alpha", "dropout", "target_modules", "use_rslora", "init_from"});
  LoraSpec lora;
  if (auto f = section.find("r")) lora.r = f->integer(1);
  if (auto f = section.find("alpha")) lora.alpha = f->number(kPositive);
  if (auto f = section.find("dropout")) lora.dropout = f->number({0, false, 1, true});
  if (auto f = section.find("target_modules")) read_target_modules(*f, &lora);
  if (auto f = section.find("use_rslora")) lora.use_rslora = f->boolean();
  if (auto f = section.find_set("init_from"))
    lora.init_from = f->text("a PEFT adapter directory or null");
  return lora;
}

OptimizerSpec read_optimizer(const Field& field) {
  const Section section(field, {"lr", "weight_decay", "betas", "eps", "warmup_steps", "schedule",
                                "min_lr_ratio", "clip_grad_norm"});
  OptimizerSpec opt;
  if (auto f = section.find("lr")) opt.lr = f->number(kPositive);
  if (auto f = section.find("weight_decay")) opt.weight_decay = f->number(kNonNegative);
  if (auto f = section.find("betas")) {
    const std::vector<Field> items = f->list(kBetasRule);
    if (items.size() != 2) f->expected(kBetasRule);
    for (size_t i = 0; i < 2; ++i) opt.betas[i] = items[i].number({0, false, 1, true});
  }
  if (auto f = section.find("eps")) opt.eps = f->number(kPositive);
  if (auto f = section.find("warmup_steps")) opt.warmup_steps = f->integer(0);
  if (auto f = section.find("schedule")) opt.schedule = f->choice(kSchedules);
  if (auto f = section.find("min_lr_ratio")) opt.min_lr_ratio = f->number({0, false, 1, false});
  if (auto f = section.find("clip_grad_norm"))  // null, like 0, turns clipping off
    opt.clip_grad_norm = f->is_null() ? 0.0 : f->number(kNonNegative);
  return opt;
}

BatchSpec read_batch(const Field& field) {
  const Section section(field, {"global", "micro"});
  BatchSpec batch;
  if (auto f = section.find("global")) batch.global = f->integer(1);
  if (auto f = section.find("micro"); f && !f->is("auto"))
    batch.micro = f->integer(
        1, batch.global,
        fmt::format("auto or an integer in [1, {}] (at most batch.global)", batch.global));
  return batch;
}

ResourceSpec read_resources(const Field& field) {
  const Section section(field, {"gpus", "gpu_type", "min_gpu_memory_gb"});
  ResourceSpec resources;
  if (auto f = section.find("gpus")) resources.gpus = f->integer(1);
  if (auto f = section.find("gpu_type"))
    resources.gpu_type = f->text("any or a GPU model such as a100");
  if (auto f = section.find("min_gpu_memory_gb"))
    resources.min_gpu_memory_gb = f->number(kNonNegative);
  return resources;
}

int read_priority(const Field& field) {
  const std::string rule = fmt::format("{} or an integer in [{}, {}]", spellings(kPriorities),
                                       kMinPriority, kMaxPriority);
  if (field.parsed<int64_t>())
    return static_cast<int>(field.integer(kMinPriority, kMaxPriority, rule));
  const std::optional<int> named =
      field.node().IsScalar() ? lookup(kPriorities, field.node().Scalar()) : std::nullopt;
  if (!named) field.expected(rule);
  return *named;
}

JobSpec read_job(const Field& root) {
  const Section section(
      root, {"name", "model", "dataset", "format", "seq_len", "lora", "optimizer", "batch", "steps",
             "epochs", "precision", "resources", "checkpoint_every", "priority", "max_restarts",
             "seed", "log_every", "merge", "output"});
  JobSpec spec;
  spec.name = read_name(section.require("name", kNameRule));
  spec.model = section.require("model", kModelRule).text(kModelRule);
  spec.dataset = section.require("dataset", kDatasetRule).text(kDatasetRule);
  if (auto f = section.find("format")) spec.format = f->choice(kFormats);
  // A sample needs at least one input and one target after the model's shift: 2 tokens.
  if (auto f = section.find("seq_len")) spec.seq_len = f->integer(2, 65536);
  if (auto f = section.find("lora")) spec.lora = read_lora(*f);
  if (auto f = section.find("optimizer")) spec.optimizer = read_optimizer(*f);
  if (auto f = section.find("batch")) spec.batch = read_batch(*f);

  const std::optional<Field> steps = section.find_set("steps");
  const std::optional<Field> epochs = section.find_set("epochs");
  if (steps) spec.steps = steps->integer(1);
  if (epochs) spec.epochs = epochs->integer(1);
  if (steps && epochs)
    epochs->reject(fmt::format("steps is also set (at {}); give exactly one of steps and epochs",
                               steps->where()));
  if (!steps && !epochs)
    fail(
        "{}: steps: required field is missing; give either steps (optimizer steps) or epochs "
        "(passes over the dataset)",
        root.where());

  if (auto f = section.find("precision")) spec.precision = f->choice(kPrecisions);
  if (auto f = section.find("resources")) spec.resources = read_resources(*f);
  if (auto f = section.find("checkpoint_every")) spec.checkpoint_every = f->integer(0);
  if (auto f = section.find("priority")) spec.priority = read_priority(*f);
  if (auto f = section.find("max_restarts")) spec.max_restarts = f->integer(0);
  if (auto f = section.find("seed")) spec.seed = f->integer(0);
  if (auto f = section.find("log_every")) spec.log_every = f->integer(1);
  if (auto f = section.find("merge")) spec.merge = f->boolean();
  spec.output = "./runs/" + spec.name;
  if (auto f = section.find("output")) spec.output = f->text("an output directory");
  return spec;
}

Override parse_override(const std::string& text) {
  const size_t equals = text.find('=');
  const std::string path = text.substr(0, equals);
  const bool path_ok = is_word(path, "_.") && path.front() != '.' && path.back() != '.' &&
                       path.find("..") == std::string::npos;
  if (equals == std::string::npos || !path_ok)
    fail("override '{}': expected field.path=value, e.g. lora.r=8", text);
  try {
    return {text, path, YAML::Load(text.substr(equals + 1))};
  } catch (const YAML::ParserException& e) {
    fail("override '{}': invalid YAML value: {}", text, e.msg);
  }
}

// Sets the override's value in `root`, creating the mappings on its path that do not exist.
void apply_override(YAML::Node root, const Override& override) {
  YAML::Node map = root;
  std::string walked;
  size_t begin = 0;
  for (size_t dot; (dot = override.path.find('.', begin)) != std::string::npos; begin = dot + 1) {
    const std::string key = override.path.substr(begin, dot - begin);
    walked = join_path(walked, key);
    YAML::Node next = map[key];
    if (!next.IsDefined() || next.IsNull())
      next = YAML::Node(YAML::NodeType::Map);
    else if (!next.IsMap())
      fail("override '{}': {} is {}, not a mapping", override.text, walked, describe(next));
    map.reset(next);
  }
  map[override.path.substr(begin)] = override.value;
}

}  // namespace

const char* to_string(Precision precision) {
  return name_of(kPrecisions, precision);
}
const char* to_string(DataFormat format) {
  return name_of(kFormats, format);
}
const char* to_string(LrSchedule schedule) {
  return name_of(kSchedules, schedule);
}

JobSpec parse_job_spec(const std::string& yaml_text, const std::string& source_name,
                       const std::vector<std::string>& overrides) {
  std::vector<Override> parsed_overrides;
  for (const std::string& text : overrides) parsed_overrides.push_back(parse_override(text));
  const Locator locator(source_name, parsed_overrides);

  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(yaml_text);
  } catch (const YAML::ParserException& e) {
    fail("{}:{}:{}: invalid YAML: {}", source_name, e.mark.line + 1, e.mark.column + 1, e.msg);
  }
  if (documents.empty() || documents[0].IsNull())
    fail(
        "{}: the job spec is empty; expected a mapping with at least name, model, dataset and "
        "steps or epochs",
        source_name);
  if (documents.size() > 1)
    fail("{}: expected one YAML document, found {}", locator("", documents[1].Mark()),
         documents.size());

  const Field root(locator, documents[0], "");
  if (!root.node().IsMap()) root.expected("a mapping of fields (name: ..., model: ...)");
  for (const Override& override : parsed_overrides) apply_override(documents[0], override);
  return read_job(root);
}

JobSpec parse_job_spec(const std::string& yaml_text, const std::string& source_name) {
  return parse_job_spec(yaml_text, source_name, {});
}

JobSpec load_job_spec(const std::string& path, const std::vector<std::string>& overrides) {
  return parse_job_spec(read_file(path), path, overrides);
}

std::string to_yaml(const JobSpec& spec) {
  // Numbers go out as the shortest text that reads back to the same double.
  const auto number = [](double value) { return fmt::format("{}", value); };
  // Short sections print on one line, as people write them.
  const auto flow = [](YAML::Node node) {
    node.SetStyle(YAML::EmitterStyle::Flow);
    return node;
  };
  YAML::Node lora;
  lora["r"] = spec.lora.r;
  lora["alpha"] = number(spec.lora.alpha);
  lora["dropout"] = number(spec.lora.dropout);
  lora["target_modules"] =
      spec.lora.all_linear ? YAML::Node("all-linear") : flow(YAML::Node(spec.lora.target_modules));
  lora["use_rslora"] = spec.lora.use_rslora;
  if (spec.lora.init_from) lora["init_from"] = *spec.lora.init_from;

  const OptimizerSpec& opt = spec.optimizer;
  YAML::Node optimizer;
  optimizer["lr"] = number(opt.lr);
  optimizer["weight_decay"] = number(opt.weight_decay);
  optimizer["betas"] =
      flow(YAML::Node(std::vector<std::string>{number(opt.betas[0]), number(opt.betas[1])}));
  optimizer["eps"] = number(opt.eps);
  optimizer["warmup_steps"] = opt.warmup_steps;
  optimizer["schedule"] = to_string(opt.schedule);
  optimizer["min_lr_ratio"] = number(opt.min_lr_ratio);
  optimizer["clip_grad_norm"] = number(opt.clip_grad_norm);

  YAML::Node batch = flow(YAML::Node(YAML::NodeType::Map));
  batch["global"] = spec.batch.global;
  batch["micro"] = spec.batch.micro ? std::to_string(*spec.batch.micro) : "auto";

  YAML::Node resources = flow(YAML::Node(YAML::NodeType::Map));
  resources["gpus"] = spec.resources.gpus;
  resources["gpu_type"] = spec.resources.gpu_type;
  resources["min_gpu_memory_gb"] = number(spec.resources.min_gpu_memory_gb);

  YAML::Node root;  // keys print in insertion order: the order of docs/job-spec.md
  root["name"] = spec.name;
  root["model"] = spec.model;
  root["dataset"] = spec.dataset;
  root["format"] = to_string(spec.format);
  root["seq_len"] = spec.seq_len;
  root["lora"] = lora;
  root["optimizer"] = optimizer;
  root["batch"] = batch;
  if (spec.steps) root["steps"] = *spec.steps;
  if (spec.epochs) root["epochs"] = *spec.epochs;
  root["precision"] = to_string(spec.precision);
  root["resources"] = resources;
  root["checkpoint_every"] = spec.checkpoint_every;
  const char* priority = name_of(kPriorities, spec.priority);
  root["priority"] = priority ? priority : std::to_string(spec.priority);
  root["max_restarts"] = spec.max_restarts;
  root["seed"] = spec.seed;
  root["log_every"] = spec.log_every;
  root["merge"] = spec.merge;
  root["output"] = spec.output;
  return YAML::Dump(root) + "\n";
}

}  // namespace gradpool
