// Normalizer: the `normalizer` of tokenizer.json, rewriting each stretch of text between added
// tokens before pre-tokenization (Llama-2 / Mistral put "▁" for spaces there).
//
// Supported types: Sequence, Prepend, Replace. Immutable once built.
#pragma once

#include <memory>
#include <string>

namespace gradpool::tok {

class JsonNode;

class Normalizer {
 public:
  virtual ~Normalizer() = default;

  virtual void normalize(std::string& text) const = 0;

  // Builds the normalizer described by `node`; fails naming the JSON path of anything unsupported.
  static std::unique_ptr<Normalizer> from_json(const JsonNode& node);
};

}  // namespace gradpool::tok
