// Decoder: the `decoder` of tokenizer.json, turning tokens back into text (tokenizers'
// decode_chain: each step maps the list of token strings to a new list, which is then joined).
//
// Supported types: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence.
// Immutable once built.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace gradpool::tok {

class JsonNode;

class Decoder {
 public:
  virtual ~Decoder() = default;

  virtual std::vector<std::string> decode_chain(std::vector<std::string> tokens) const = 0;

  // Builds the decoder described by `node`; fails naming the JSON path of anything unsupported.
  static std::unique_ptr<Decoder> from_json(const JsonNode& node);
};

}  // namespace gradpool::tok
