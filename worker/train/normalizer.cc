#include "worker/train/normalizer.h"

#include <utility>
#include <vector>

#include <fmt/format.h>

#include "worker/train/pattern.h"
#include "worker/train/tokenizer_json.h"

namespace gradpool::tok {

namespace {

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps)
      : steps_(std::move(steps)) {}
  void normalize(std::string& text) const override {
    for (const auto& step : steps_) step->normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

// Puts `prefix` before any non-empty text.
class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  void normalize(std::string& text) const override {
    if (!text.empty()) text.insert(0, prefix_);
  }

 private:
  std::string prefix_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(Pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void normalize(std::string& text) const override { text = pattern_.replace_all(text, content_); }

 private:
  Pattern pattern_;
  std::string content_;
};

}  // namespace

std::unique_ptr<Normalizer> Normalizer::from_json(const JsonNode& node) {
  const std::string type = node.at("type").str();
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (const JsonNode& step : node.at("normalizers").elements()) steps.push_back(from_json(step));
    return std::make_unique<SequenceNormalizer>(std::move(steps));
  }
  if (type == "Prepend") return std::make_unique<PrependNormalizer>(node.at("prepend").str());
  if (type == "Replace")
    return std::make_unique<ReplaceNormalizer>(Pattern::from_json(node.at("pattern")),
                                               node.at("content").str());
  node.at("type").fail(
      fmt::format("unsupported '{}' (supported: Sequence, Prepend, Replace)", type));
}

}  // namespace gradpool::tok
