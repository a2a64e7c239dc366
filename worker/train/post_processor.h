// PostProcessor: the `post_processor` of tokenizer.json, which puts special tokens around an
// encoded sequence when encode() is asked to add them (Llama's leading <s> or
// <|begin_of_text|>). TemplateProcessing does that; ByteLevel only trims offsets, which we do not
// keep, so it adds nothing. Sequence applies its steps in order.
//
// Immutable once built.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gradpool::tok {

class JsonNode;

class PostProcessor {
 public:
  // Builds the processor described by `node`; fails naming the JSON path of anything
  // unsupported or inconsistent (a template naming a special token it does not define, ...).
  static std::unique_ptr<PostProcessor> from_json(const JsonNode& node);

  // `ids` of one sequence with the special tokens of the single-sequence template(s) added.
  std::vector<int32_t> apply(std::vector<int32_t> ids) const;

 private:
  // One element of a template: the ids of a special token, or the sequence itself (is_sequence).
  struct Item {
    bool is_sequence;
    std::vector<int32_t> ids;
  };
  using Template = std::vector<Item>;

  void add_from_json(const JsonNode& node);

  std::vector<Template> templates_;  // applied in order
};

}  // namespace gradpool::tok
