// Tokenizer: a Hugging Face `tokenizer.json` BPE tokenizer (ByteLevel GPT-2 / Llama-3 style, or
// Metaspace with byte fallback, Llama-2 / Mistral style), reproducing `tokenizers` ids exactly.
//
// The pipeline is tokenizers' own, one stage per file (namespace gradpool::tok): added tokens
// (added_vocabulary.h), normalizer.h, pretokenizer.h, the BPE model (bpe.h), post_processor.h, and
// decoder.h back to text.
// Immutable after loading, so one instance may be shared by threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace gradpool {

class Tokenizer {
 public:
  // Loads and validates `path`; throws Error naming the file and JSON path of anything
  // unsupported or malformed.
  static Tokenizer from_file(const std::string& path);

  // Token ids of `text` as `tokenizers`' `encode(text, add_special_tokens=...)` gives them.
  // add_special_tokens applies the post-processor template (e.g. Llama's leading <s>).
  // Throws Error when `text` is not valid UTF-8.
  std::vector<int32_t> encode(const std::string& text, bool add_special_tokens = false) const;
  // Text of `ids` as `decode(ids, skip_special_tokens=False)`: special tokens are kept, and
  // ids that name no token are skipped.
  std::string decode(const std::vector<int32_t>& ids) const;

  int32_t vocab_size() const;  // one past the largest id, added tokens included
  std::optional<int32_t> token_to_id(const std::string& token) const;
  // End-of-sequence / beginning-of-sequence ids: the first added special token found of
  // </s>, <|end_of_text|>, <|endoftext|>, <|eot_id|>, <|im_end|>, <eos> / <s>, <|begin_of_text|>,
  // <bos> (tokenizer.json does not say which it is; tokenizer_config.json does).
  std::optional<int32_t> eos_id() const;
  std::optional<int32_t> bos_id() const;

  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gradpool
