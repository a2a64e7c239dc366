// BpeModel: the `model` of tokenizer.json (type BPE): vocabulary, ranked merges, unknown-token
// and byte-fallback handling. It encodes one pre-tokenized piece at a time, exactly as
// tokenizers' BPE does with dropout off.
//
// Thread-safe: the only mutable state is a cache of recently encoded pieces behind its own locks.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace gradpool::tok {

class JsonNode;

class BpeModel {
 public:
  // Builds the model described by `node`; fails naming the JSON path of anything malformed
  // (missing vocab, a merge naming an unknown token, dropout, ...).
  static std::unique_ptr<BpeModel> from_json(const JsonNode& node);
  ~BpeModel();

  // Appends the ids of `piece` to `ids`. Pieces are valid UTF-8.
  void tokenize(const std::string& piece, std::vector<int32_t>& ids) const;

  std::optional<int32_t> token_to_id(const std::string& token) const;
  const std::string* id_to_token(int32_t id) const;  // null when no token has `id`
  size_t size() const { return vocab_.size(); }
  int32_t max_id() const { return max_id_; }

 private:
  class WordCache;
  struct Symbol;
  struct MergeTarget {
    int32_t rank;  // position in the merges list: lower merges first
    int32_t id;    // id of the merged token
  };

  BpeModel();
  // Finds which characters no merge can join, for cutting long pieces (see tokenize()).
  void find_junctions(const std::vector<std::pair<std::string, std::string>>& merges);
  // Ids of one word: from the cache, or merged.
  void encode_word(const std::string& word, std::vector<int32_t>& ids) const;
  // The word as initial symbols: one per character, or its bytes, or the unknown token.
  std::vector<Symbol> symbols_of(const std::string& word) const;
  // Applies merges lowest rank first (leftmost among equals) until none applies.
  void merge(std::vector<Symbol>& symbols) const;
  const MergeTarget* find_merge(int32_t left, int32_t right) const;

  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<int32_t, std::string> tokens_;
  std::unordered_map<uint64_t, MergeTarget> merges_;  // key: left id << 32 | right id
  int32_t max_id_ = -1;
  std::optional<int32_t> unk_id_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;  // a piece that is itself in the vocabulary is one token
  std::string continuing_subword_prefix_;
  std::string end_of_word_suffix_;
  std::vector<int32_t> byte_ids_;  // id of "<0xNN>" per byte, -1 when absent
  // Pairs (last character of the left, first character of the right token) of every merge, and
  // the characters that are tokens by themselves. Empty where cutting would not be exact.
  std::unordered_set<uint64_t> junctions_;
  std::unordered_set<char32_t> char_tokens_;
  std::unique_ptr<WordCache> cache_;
};

}  // namespace gradpool::tok
