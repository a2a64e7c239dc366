#include "worker/train/bpe.h"

#include <algorithm>
#include <array>
#include <functional>
#include <limits>
#include <mutex>
#include <queue>
#include <utility>

#include <fmt/format.h>

#include "worker/train/tokenizer_json.h"
#include "worker/train/utf8.h"

namespace gradpool::tok {

// Ids of recently encoded pieces: natural text repeats its words, and the merge loop is the
// costly part of encoding. Sharded locks keep threads from queueing on one mutex. Like
// tokenizers' cache it stops growing when full rather than evicting.
class BpeModel::WordCache {
 public:
  static constexpr size_t kMaxPieceLength = 256;

  bool lookup(const std::string& piece, std::vector<int32_t>& ids) {
    Shard& shard = shard_of(piece);
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.entries.find(piece);
    if (it == shard.entries.end()) return false;
    ids.insert(ids.end(), it->second.begin(), it->second.end());
    return true;
  }

  void insert(const std::string& piece, std::vector<int32_t> piece_ids) {
    Shard& shard = shard_of(piece);
    std::lock_guard<std::mutex> lock(shard.mutex);
    if (shard.entries.size() < kShardCapacity) shard.entries.emplace(piece, std::move(piece_ids));
  }

 private:
  static constexpr size_t kShards = 16;
  static constexpr size_t kShardCapacity = 4096;
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<int32_t>> entries;
  };

  Shard& shard_of(const std::string& piece) {
    return shards_[std::hash<std::string>()(piece) % kShards];
  }

  std::array<Shard, kShards> shards_;
};

// One symbol of a word being merged, in a doubly linked list over a vector (tokenizers' Word).
struct BpeModel::Symbol {
  int32_t id;
  int32_t prev;  // index of the previous live symbol, -1 at the start
  int32_t next;  // index of the next live symbol, -1 at the end
  bool merged_away = false;
};

BpeModel::BpeModel() : cache_(std::make_unique<WordCache>()) {}
BpeModel::~BpeModel() = default;

std::unique_ptr<BpeModel> BpeModel::from_json(const JsonNode& node) {
  if (auto type = node.find("type"); type && type->str() != "BPE")
    type->fail(fmt::format("unsupported '{}' (supported: BPE)", type->str()));
  if (auto dropout = node.find("dropout");
      dropout && (!dropout->json().is_number() || dropout->json().get<double>() != 0.0))
    dropout->fail("BPE dropout is random and not supported; set it to null");

  std::unique_ptr<BpeModel> model(new BpeModel());
  for (const auto& [token, id_node] : node.at("vocab").members()) {
    const int64_t id = id_node.integer();
    if (id < 0 || id >= std::numeric_limits<int32_t>::max())
      id_node.fail(fmt::format("id {} out of range", id));
    model->vocab_.emplace(token, static_cast<int32_t>(id));
    model->tokens_[static_cast<int32_t>(id)] = token;
    model->max_id_ = std::max(model->max_id_, static_cast<int32_t>(id));
  }

  model->continuing_subword_prefix_ = node.str("continuing_subword_prefix", "");
  model->end_of_word_suffix_ = node.str("end_of_word_suffix", "");
  const size_t prefix_length = model->continuing_subword_prefix_.size();
  auto id_of = [&](const JsonNode& where, const std::string& token) {
    auto it = model->vocab_.find(token);
    if (it == model->vocab_.end()) where.fail(fmt::format("'{}' is not in the vocabulary", token));
    return it->second;
  };
  int32_t rank = 0;
  std::vector<std::pair<std::string, std::string>> merge_tokens;
  for (const JsonNode& merge : node.at("merges").elements()) {
    std::string left, right;
    if (merge.json().is_array()) {  // ["a", "b"]
      const auto pair = merge.elements();
      if (pair.size() != 2) merge.fail("expected two tokens");
      left = pair[0].str();
      right = pair[1].str();
    } else {  // "a b", the older form
      const std::string line = merge.str();
      if (line.rfind("#version", 0) == 0) continue;
      const size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos)
        merge.fail(fmt::format("expected \"<left> <right>\", got '{}'", line));
      left = line.substr(0, space);
      right = line.substr(space + 1);
    }
    if (right.size() < prefix_length)
      merge.fail(fmt::format("'{}' is shorter than continuing_subword_prefix", right));
    const uint64_t key = static_cast<uint64_t>(id_of(merge, left)) << 32 |
                         static_cast<uint32_t>(id_of(merge, right));
    // A repeated pair keeps its last rank, as in tokenizers.
    model->merges_[key] = MergeTarget{rank++, id_of(merge, left + right.substr(prefix_length))};
    merge_tokens.emplace_back(std::move(left), std::move(right));
  }
  model->find_junctions(merge_tokens);

  if (auto unk = node.find("unk_token")) model->unk_id_ = id_of(*unk, unk->str());
  model->fuse_unk_ = node.boolean("fuse_unk", false);
  model->byte_fallback_ = node.boolean("byte_fallback", false);
  model->ignore_merges_ = node.boolean("ignore_merges", false);
  model->byte_ids_.assign(256, -1);
  for (int byte = 0; byte < 256; ++byte)
    if (auto id = model->token_to_id(fmt::format("<0x{:02X}>", byte))) model->byte_ids_[byte] = *id;
  return model;
}

std::optional<int32_t> BpeModel::token_to_id(const std::string& token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  auto it = tokens_.find(id);
  return it == tokens_.end() ? nullptr : &it->second;
}

const BpeModel::MergeTarget* BpeModel::find_merge(int32_t left, int32_t right) const {
  auto it = merges_.find(static_cast<uint64_t>(left) << 32 | static_cast<uint32_t>(right));
  return it == merges_.end() ? nullptr : &it->second;
}

std::vector<BpeModel::Symbol> BpeModel::symbols_of(const std::string& word) const {
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  auto add = [&symbols](int32_t id) {
    const auto index = static_cast<int32_t>(symbols.size());
    if (index > 0) symbols.back().next = index;
    symbols.push_back(Symbol{id, index - 1, -1});
  };
  // An unknown character waits here (-1: none) so that a run of them can fuse into one token.
  int32_t pending_unk = -1;
  std::string text;
  for (size_t pos = 0; pos < word.size();) {
    const size_t length = std::max<size_t>(utf8::sequence_length(word, pos), 1);
    text.assign(pos > 0 ? continuing_subword_prefix_ : std::string());
    text.append(word, pos, length);
    pos += length;
    if (pos == word.size()) text += end_of_word_suffix_;

    if (auto it = vocab_.find(text); it != vocab_.end()) {
      if (pending_unk >= 0) add(pending_unk);
      pending_unk = -1;
      add(it->second);
      continue;
    }
    if (byte_fallback_ && std::all_of(text.begin(), text.end(), [this](char byte) {
          return byte_ids_[static_cast<uint8_t>(byte)] >= 0;
        })) {
      // Like tokenizers, this does not flush a pending unknown token first.
      for (char byte : text) add(byte_ids_[static_cast<uint8_t>(byte)]);
      continue;
    }
    if (!unk_id_) continue;  // no unknown token: the character is dropped, as in tokenizers
    if (pending_unk >= 0 && !fuse_unk_) add(pending_unk);
    pending_unk = *unk_id_;
  }
  if (pending_unk >= 0) add(pending_unk);
  return symbols;
}

void BpeModel::merge(std::vector<Symbol>& symbols) const {
  struct Candidate {
    int32_t rank;
    int32_t pos;  // index of the left symbol
    int32_t id;
    bool operator<(const Candidate& other) const {  // priority_queue pops the greatest
      return rank != other.rank ? rank > other.rank : pos > other.pos;
    }
  };
  std::vector<Candidate> initial;
  for (size_t i = 0; i + 1 < symbols.size(); ++i)
    if (const MergeTarget* m = find_merge(symbols[i].id, symbols[i + 1].id))
      initial.push_back({m->rank, static_cast<int32_t>(i), m->id});
  std::priority_queue<Candidate> queue(std::less<Candidate>(), std::move(initial));

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (left.merged_away || left.next < 0) continue;
    const Symbol right = symbols[left.next];
    // A stale candidate: one of its symbols has changed since it was queued.
    const MergeTarget* current = find_merge(left.id, right.id);
    if (!current || current->id != top.id) continue;

    left.id = top.id;
    symbols[left.next].merged_away = true;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.pos;
    if (left.prev >= 0)
      if (const MergeTarget* m = find_merge(symbols[left.prev].id, left.id))
        queue.push({m->rank, left.prev, m->id});
    if (left.next >= 0)
      if (const MergeTarget* m = find_merge(left.id, symbols[left.next].id))
        queue.push({m->rank, top.pos, m->id});
  }
}

void BpeModel::find_junctions(const std::vector<std::pair<std::string, std::string>>& merges) {
  // The argument for cutting needs a merge to join exactly the characters of its two sides:
  // not so with a subword prefix or suffix, an empty side, or two tokens sharing an id.
  const bool plain = continuing_subword_prefix_.empty() && end_of_word_suffix_.empty() &&
                     tokens_.size() == vocab_.size();
  if (!plain) return;
  for (const auto& [left, right] : merges) {
    if (left.empty() || right.empty()) return;
    size_t length;
    const char32_t last = utf8::decode(left, utf8::last_char_start(left), &length);
    junctions_.insert(uint64_t{last} << 32 | utf8::decode(right, 0, &length));
  }
  for (const auto& [token, id] : vocab_) {
    size_t length;
    const char32_t c = token.empty() ? 0 : utf8::decode(token, 0, &length);
    if (!token.empty() && length == token.size()) char_tokens_.insert(c);
  }
}

void BpeModel::encode_word(const std::string& word, std::vector<int32_t>& ids) const {
  const bool cacheable = word.size() < WordCache::kMaxPieceLength;
  if (cacheable && cache_->lookup(word, ids)) return;
  std::vector<Symbol> symbols = symbols_of(word);
  merge(symbols);
  const size_t first = ids.size();
  for (const Symbol& symbol : symbols)
    if (!symbol.merged_away) ids.push_back(symbol.id);
  if (cacheable) cache_->insert(word, std::vector<int32_t>(ids.begin() + first, ids.end()));
}

void BpeModel::tokenize(const std::string& piece, std::vector<int32_t>& ids) const {
  if (piece.empty()) return;
  if (ignore_merges_) {
    if (auto it = vocab_.find(piece); it != vocab_.end()) {
      ids.push_back(it->second);
      return;
    }
  }
  if (piece.size() < WordCache::kMaxPieceLength || char_tokens_.empty())
    return encode_word(piece, ids);
  // A piece too long to cache (Llama-2 has no pre-tokenizer: a piece is a whole paragraph) is
  // cut between two characters that are tokens and that no merge joins: a merge across the cut
  // would have to be one whose left token ends, and right token begins, with them. The parts
  // merge alone exactly as within the whole, on small queues, and are short enough to cache.
  size_t begin = 0;
  char32_t previous = 0;
  bool previous_is_token = false;
  for (size_t pos = 0, length; pos < piece.size(); pos += length) {
    const char32_t c = utf8::decode(piece, pos, &length);
    const bool is_token = char_tokens_.count(c) > 0;
    if (previous_is_token && is_token && !junctions_.count(uint64_t{previous} << 32 | c)) {
      encode_word(piece.substr(begin, pos - begin), ids);
      begin = pos;
    }
    previous = c;
    previous_is_token = is_token;
  }
  encode_word(piece.substr(begin), ids);
}

}  // namespace gradpool::tok
