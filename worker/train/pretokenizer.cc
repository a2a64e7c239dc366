#include "worker/train/pretokenizer.h"

#include <algorithm>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "worker/train/byte_level.h"
#include "worker/train/pattern.h"
#include "worker/train/tokenizer_json.h"
#include "worker/train/utf8.h"

namespace gradpool {

namespace {

// What becomes of the matches when a piece is cut (tokenizers' SplitDelimiterBehavior).
enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

Behavior behavior_from_json(const JsonNode& node) {
  const std::string name = node.str();
  if (name == "Removed") return Behavior::kRemoved;
  if (name == "Isolated") return Behavior::kIsolated;
  if (name == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return Behavior::kMergedWithNext;
  if (name == "Contiguous") return Behavior::kContiguous;
  node.fail(fmt::format("unsupported '{}'", name));
}

// Cuts `piece` at `spans` (from Pattern::find_matches) as NormalizedString::split does, and
// passes the non-empty parts on.
void cut(Piece&& piece, const std::vector<Span>& spans, Behavior behavior, const PieceSink& sink) {
  std::vector<std::pair<size_t, size_t>> parts;
  parts.reserve(spans.size());
  bool previous_match = false;
  switch (behavior) {
    case Behavior::kIsolated:
      for (const Span& span : spans) parts.emplace_back(span.begin, span.end);
      break;
    case Behavior::kRemoved:
      for (const Span& span : spans)
        if (!span.is_match) parts.emplace_back(span.begin, span.end);
      break;
    case Behavior::kMergedWithPrevious:
      for (const Span& span : spans) {
        if (span.is_match && !previous_match && !parts.empty())
          parts.back().second = span.end;
        else
          parts.emplace_back(span.begin, span.end);
        previous_match = span.is_match;
      }
      break;
    case Behavior::kMergedWithNext:
      for (auto span = spans.rbegin(); span != spans.rend(); ++span) {
        if (span->is_match && !previous_match && !parts.empty())
          parts.back().first = span->begin;
        else
          parts.emplace_back(span->begin, span->end);
        previous_match = span->is_match;
      }
      std::reverse(parts.begin(), parts.end());
      break;
    case Behavior::kContiguous:
      for (const Span& span : spans) {
        if (span.is_match == previous_match && !parts.empty())
          parts.back().second = span.end;
        else
          parts.emplace_back(span.begin, span.end);
        previous_match = span.is_match;
      }
      break;
  }
  if (parts.size() == 1 && parts[0].first == 0 && parts[0].second == piece.text.size()) {
    if (!piece.text.empty()) sink(std::move(piece));
    return;
  }
  for (const auto& [begin, end] : parts)
    if (end > begin) sink(Piece{piece.text.substr(begin, end - begin), piece.at_start && begin == 0});
}

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(Pattern pattern, Behavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}

  void split(Piece piece, const PieceSink& sink) const override {
    std::vector<Span> spans = pattern_.find_matches(piece.text);
    if (invert_)
      for (Span& span : spans) span.is_match = !span.is_match;
    cut(std::move(piece), spans, behavior_, sink);
  }

 private:
  Pattern pattern_;
  Behavior behavior_;
  bool invert_;
};

// GPT-2's pre-tokenizer: optionally a leading space, the GPT-2 regex, then bytes → characters of
// the byte-level alphabet (after the split, which sees the real characters).
class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space),
        regex_(use_regex ? std::make_optional(Pattern::regex(kGpt2Regex)) : std::nullopt) {}

  void split(Piece piece, const PieceSink& sink) const override {
    if (add_prefix_space_ && piece.text[0] != ' ') piece.text.insert(0, " ");
    const PieceSink to_alphabet = [&sink](Piece&& part) {
      std::string mapped;
      mapped.reserve(part.text.size() * 2);
      for (char byte : part.text) mapped += byte_level::char_of(static_cast<uint8_t>(byte));
      sink(Piece{std::move(mapped), part.at_start});
    };
    if (regex_)
      cut(std::move(piece), regex_->find_matches(piece.text), Behavior::kIsolated, to_alphabet);
    else
      to_alphabet(std::move(piece));
  }

 private:
  static constexpr const char* kGpt2Regex =
      R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
  bool add_prefix_space_;
  std::optional<Pattern> regex_;
};

// Llama-2 / Mistral style: spaces become "▁", prepended as the options say, optionally cut
// before each "▁".
class MetaspacePreTokenizer : public PreTokenizer {
 public:
  explicit MetaspacePreTokenizer(MetaspaceOptions options)
      : options_(std::move(options)), delimiter_(Pattern::literal(options_.replacement)) {}

  void split(Piece piece, const PieceSink& sink) const override {
    std::string& text = piece.text;
    std::string replaced;
    replaced.reserve(text.size() + options_.replacement.size());
    for (char c : text) {
      if (c == ' ')
        replaced += options_.replacement;
      else
        replaced += c;
    }
    text = std::move(replaced);
    const bool starts_replaced = text.compare(0, options_.replacement.size(), options_.replacement) == 0;
    const bool prepend = options_.prepend == MetaspaceOptions::Prepend::kAlways ||
                         (options_.prepend == MetaspaceOptions::Prepend::kFirst && piece.at_start);
    if (prepend && !starts_replaced) text.insert(0, options_.replacement);
    if (options_.split)
      cut(std::move(piece), delimiter_.find_matches(piece.text), Behavior::kMergedWithNext, sink);
    else
      sink(std::move(piece));
  }

 private:
  MetaspaceOptions options_;
  Pattern delimiter_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}

  void split(Piece piece, const PieceSink& sink) const override {
    run(0, std::move(piece), sink);
  }

 private:
  // Each step cuts every piece the step before it produced.
  void run(size_t step, Piece&& piece, const PieceSink& sink) const {
    if (step == steps_.size()) return sink(std::move(piece));
    steps_[step]->split(std::move(piece),
                        [this, step, &sink](Piece&& part) { run(step + 1, std::move(part), sink); });
  }

  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace

MetaspaceOptions MetaspaceOptions::from_json(const JsonNode& node) {
  MetaspaceOptions options;
  const JsonNode replacement = node.at("replacement");
  options.replacement = replacement.str();
  const std::string& r = options.replacement;
  if (r.empty() || utf8::sequence_length(r, 0) != r.size())
    replacement.fail(fmt::format("expected one character, got '{}'", r));
  if (auto scheme = node.find("prepend_scheme")) {
    const std::string name = scheme->str();
    if (name == "always")
      options.prepend = Prepend::kAlways;
    else if (name == "first")
      options.prepend = Prepend::kFirst;
    else if (name == "never")
      options.prepend = Prepend::kNever;
    else
      scheme->fail(fmt::format("unsupported '{}' (supported: always, first, never)", name));
  }
  // The older form: add_prefix_space false means never (and contradicts any other scheme).
  if (auto add_prefix_space = node.find("add_prefix_space"); add_prefix_space && !add_prefix_space->boolean()) {
    if (node.find("prepend_scheme") && options.prepend != Prepend::kNever)
      add_prefix_space->fail("false contradicts prepend_scheme");
    options.prepend = Prepend::kNever;
  }
  options.split = node.boolean("split", true);
  return options;
}

std::unique_ptr<PreTokenizer> PreTokenizer::from_json(const JsonNode& node) {
  const std::string type = node.at("type").str();
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (const JsonNode& step : node.at("pretokenizers").elements()) steps.push_back(from_json(step));
    return std::make_unique<SequencePreTokenizer>(std::move(steps));
  }
  if (type == "ByteLevel")
    return std::make_unique<ByteLevelPreTokenizer>(node.boolean("add_prefix_space", true),
                                                   node.boolean("use_regex", true));
  if (type == "Split")
    return std::make_unique<SplitPreTokenizer>(Pattern::from_json(node.at("pattern")),
                                               behavior_from_json(node.at("behavior")),
                                               node.boolean("invert", false));
  if (type == "Metaspace")
    return std::make_unique<MetaspacePreTokenizer>(MetaspaceOptions::from_json(node));
  node.at("type").fail(
      fmt::format("unsupported '{}' (supported: ByteLevel, Split, Metaspace, Sequence)", type));
}

}  // namespace gradpool
