#include "worker/train/post_processor.h"

#include <utility>

#include <fmt/format.h>

#include "worker/train/tokenizer_json.h"

namespace gradpool::tok {

std::unique_ptr<PostProcessor> PostProcessor::from_json(const JsonNode& node) {
  auto processor = std::make_unique<PostProcessor>();
  processor->add_from_json(node);
  return processor;
}

void PostProcessor::add_from_json(const JsonNode& node) {
  const std::string type = node.at("type").str();
  if (type == "ByteLevel") return;
  if (type == "Sequence") {
    for (const JsonNode& step : node.at("processors").elements()) add_from_json(step);
    return;
  }
  if (type != "TemplateProcessing")
    node.at("type").fail(
        fmt::format("unsupported '{}' (supported: TemplateProcessing, ByteLevel, Sequence)", type));

  const JsonNode special_tokens = node.at("special_tokens");
  Template single;
  for (const JsonNode& element : node.at("single").elements()) {
    if (auto sequence = element.find("Sequence")) {
      const JsonNode id = sequence->at("id");
      if (id.str() != "A") id.fail("a single-sequence template can only hold sequence 'A'");
      single.push_back({true, {}});
      continue;
    }
    const JsonNode name = element.at("SpecialToken").at("id");
    auto special = special_tokens.find(name.str());
    if (!special) name.fail(fmt::format("'{}' is not in special_tokens", name.str()));
    Item item{false, {}};
    for (const JsonNode& id : special->at("ids").elements()) {
      const int64_t value = id.integer();
      if (value < 0 || value > INT32_MAX) id.fail(fmt::format("id {} out of range", value));
      item.ids.push_back(static_cast<int32_t>(value));
    }
    single.push_back(std::move(item));
  }
  templates_.push_back(std::move(single));
}

std::vector<int32_t> PostProcessor::apply(std::vector<int32_t> ids) const {
  for (const Template& pattern : templates_) {
    std::vector<int32_t> out;
    out.reserve(ids.size() + pattern.size());
    for (const Item& item : pattern) {
      const std::vector<int32_t>& source = item.is_sequence ? ids : item.ids;
      out.insert(out.end(), source.begin(), source.end());
    }
    ids = std::move(out);
  }
  return ids;
}

}  // namespace gradpool::tok
