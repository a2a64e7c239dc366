#include "worker/train/pretokenizer.h"

#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "worker/train/byte_level.h"
#include "worker/train/pattern.h"
#include "worker/train/tokenizer_json.h"
#include "worker/train/utf8.h"

namespace gradpool::tok {

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

// Groups the spans of a piece (from Pattern::for_each_span) into the parts that tokenizers'
// NormalizedString::split makes of them with `behavior`, and passes the non-empty parts on.
// Streaming: at most one part is held back, waiting to see whether the next span joins it.
class Cutter {
 public:
  Cutter(const Piece& piece, Behavior behavior, const PieceSink& sink)
      : piece_(piece), behavior_(behavior), sink_(sink) {}

  void add(const Span& span) {
    switch (behavior_) {
      case Behavior::kIsolated:
        return emit(span.begin, span.end);
      case Behavior::kRemoved:
        if (!span.is_match) emit(span.begin, span.end);
        return;
      case Behavior::kMergedWithPrevious:  // a match joins the part before it
        return hold(span, span.is_match && !previous_match_);
      case Behavior::kContiguous:  // runs of matches, and of non-matches, are one part each
        return hold(span, span.is_match == previous_match_);
      case Behavior::kMergedWithNext:  // a match joins the non-match after it
        if (held_ && !span.is_match) {
          emit(held_begin_, span.end);
          held_ = false;
        } else if (span.is_match) {
          finish();
          held_ = true;
          held_begin_ = span.begin, held_end_ = span.end;
        } else {
          emit(span.begin, span.end);
        }
        return;
    }
  }

  void finish() {
    if (held_) emit(held_begin_, held_end_);
    held_ = false;
  }

 private:
  // Extends the held part with `span` when `joins`, else starts a new one with it.
  void hold(const Span& span, bool joins) {
    if (joins && held_) {
      held_end_ = span.end;
    } else {
      finish();
      held_ = true;
      held_begin_ = span.begin, held_end_ = span.end;
    }
    previous_match_ = span.is_match;
  }

  void emit(size_t begin, size_t end) {
    if (end <= begin) return;
    sink_(Piece{piece_.text.substr(begin, end - begin), piece_.at_start && begin == 0});
  }

  const Piece& piece_;
  Behavior behavior_;
  const PieceSink& sink_;
  bool previous_match_ = false;
  bool held_ = false;
  size_t held_begin_ = 0, held_end_ = 0;
};

// Cuts `piece` where `pattern` matches (flipping matches and gaps when `invert`).
void cut(const Piece& piece, const Pattern& pattern, Behavior behavior, bool invert,
         const PieceSink& sink) {
  Cutter cutter(piece, behavior, sink);
  pattern.for_each_span(piece.text, [&](const Span& span) {
    cutter.add(invert ? Span{span.begin, span.end, !span.is_match} : span);
  });
  cutter.finish();
}

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(Pattern pattern, Behavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}

  void split(Piece piece, const PieceSink& sink) const override {
    cut(piece, pattern_, behavior_, invert_, sink);
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
    if (add_prefix_space_ && piece.text.compare(0, 1, " ") != 0) piece.text.insert(0, " ");
    const PieceSink to_alphabet = [&sink](Piece&& part) {
      std::string mapped;
      mapped.reserve(part.text.size() * 2);
      for (char byte : part.text) mapped += byte_level::char_of(static_cast<uint8_t>(byte));
      sink(Piece{std::move(mapped), part.at_start});
    };
    if (regex_)
      cut(piece, *regex_, Behavior::kIsolated, false, to_alphabet);
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
    const bool starts_replaced =
        text.compare(0, options_.replacement.size(), options_.replacement) == 0;
    const bool prepend = options_.prepend == MetaspaceOptions::Prepend::kAlways ||
                         (options_.prepend == MetaspaceOptions::Prepend::kFirst && piece.at_start);
    if (prepend && !starts_replaced) text.insert(0, options_.replacement);
    if (options_.split)
      cut(piece, delimiter_, Behavior::kMergedWithNext, false, sink);
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

  void split(Piece piece, const PieceSink& sink) const override { run(0, std::move(piece), sink); }

 private:
  // Each step cuts every piece the step before it produced.
  void run(size_t step, Piece&& piece, const PieceSink& sink) const {
    if (step == steps_.size()) return sink(std::move(piece));
    steps_[step]->split(std::move(piece), [this, step, &sink](Piece&& part) {
      run(step + 1, std::move(part), sink);
    });
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
  if (auto add_prefix_space = node.find("add_prefix_space");
      add_prefix_space && !add_prefix_space->boolean()) {
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
    for (const JsonNode& step : node.at("pretokenizers").elements())
      steps.push_back(from_json(step));
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

}  // namespace gradpool::tok
