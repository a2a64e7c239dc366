#include "worker/train/tokenizer.h"

#include <algorithm>
#include <unordered_map>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file_util.h"
#include "worker/train/added_vocabulary.h"
#include "worker/train/bpe.h"
#include "worker/train/decoder.h"
#include "worker/train/normalizer.h"
#include "worker/train/post_processor.h"
#include "worker/train/pretokenizer.h"
#include "worker/train/tokenizer_json.h"
#include "worker/train/utf8.h"

namespace gradpool {

using tok::AddedToken;
using tok::AddedVocabulary;
using tok::BpeModel;
using tok::Decoder;
using tok::JsonNode;
using tok::Normalizer;
using tok::Piece;
using tok::PieceSink;
using tok::PostProcessor;
using tok::PreTokenizer;
using tok::Segment;

// The stages of tokenizers' pipeline, in the order encode() runs them.
struct Tokenizer::Impl {
  std::unique_ptr<AddedVocabulary> added;
  std::unique_ptr<Normalizer> normalizer;       // may be null
  std::unique_ptr<PreTokenizer> pre_tokenizer;  // may be null: the whole text is one piece
  std::unique_ptr<BpeModel> model;
  std::unique_ptr<PostProcessor> post_processor;  // may be null
  std::unique_ptr<Decoder> decoder;               // may be null: tokens joined by spaces

  std::unordered_map<std::string, int32_t> added_ids;
  std::unordered_map<int32_t, std::string> added_text;  // what decode() uses for an added id
  std::optional<int32_t> eos, bos;
  int32_t vocab_size = 0;

  void load_added_tokens(const JsonNode& node);
  std::optional<int32_t> first_special(std::initializer_list<const char*> names) const;
};

namespace {

AddedToken added_token_from_json(const JsonNode& node) {
  AddedToken token;
  token.content = node.at("content").str();
  token.special = node.boolean("special", false);
  token.single_word = node.boolean("single_word", false);
  token.lstrip = node.boolean("lstrip", false);
  token.rstrip = node.boolean("rstrip", false);
  token.normalized = node.boolean("normalized", true);
  return token;
}

}  // namespace

// Ids as tokenizers' AddedVocabulary assigns them on load: the vocabulary's id when the model has
// the token, else the next id past the vocabulary. (The "id" written in the file is not consulted;
// tokenizers only warns when it differs.) A repeated token keeps its id and takes the later flags.
void Tokenizer::Impl::load_added_tokens(const JsonNode& node) {
  std::vector<AddedToken> tokens;
  int64_t next_id = static_cast<int64_t>(model->size());
  for (const JsonNode& element : node.elements()) {
    AddedToken token = added_token_from_json(element);
    if (token.content.empty()) continue;
    auto same = std::find_if(tokens.begin(), tokens.end(),
                             [&](const AddedToken& t) { return t.content == token.content; });
    if (same != tokens.end()) {
      token.id = same->id;
      *same = std::move(token);
      continue;
    }
    if (auto id = model->token_to_id(token.content)) {
      token.id = *id;
    } else {
      if (next_id >= INT32_MAX) element.fail("too many tokens");
      token.id = static_cast<int32_t>(next_id++);
    }
    tokens.push_back(std::move(token));
  }
  added = std::make_unique<AddedVocabulary>(std::move(tokens), normalizer.get());
  for (const AddedToken& token : added->tokens()) {
    added_ids[token.content] = token.id;
    // decode() hands the decoder what encode() matched: the normalized form ("▁the" for "the"
    // under Llama-2's normalizer), so that the decoder undoes the normalization.
    std::string text = token.content;
    if (token.normalized && normalizer) normalizer->normalize(text);
    added_text[token.id] = std::move(text);
  }
}

std::optional<int32_t> Tokenizer::Impl::first_special(
    std::initializer_list<const char*> names) const {
  for (const char* name : names)
    for (const AddedToken& token : added->tokens())
      if (token.special && token.content == name) return token.id;
  return std::nullopt;
}

Tokenizer Tokenizer::from_file(const std::string& path) {
  const std::string text = read_file(path);
  auto impl = std::make_unique<Impl>();
  try {
    const nlohmann::json document = nlohmann::json::parse(text);
    const JsonNode root(path, document);
    if (!document.is_object()) root.fail("expected a JSON object");
    if (auto node = root.find("normalizer")) impl->normalizer = Normalizer::from_json(*node);
    if (auto node = root.find("pre_tokenizer"))
      impl->pre_tokenizer = PreTokenizer::from_json(*node);
    impl->model = BpeModel::from_json(root.at("model"));
    if (auto node = root.find("post_processor"))
      impl->post_processor = PostProcessor::from_json(*node);
    if (auto node = root.find("decoder")) impl->decoder = Decoder::from_json(*node);
    // Truncation and padding are left to the data pipeline, as transformers does per call.
    if (auto node = root.find("added_tokens"))
      impl->load_added_tokens(*node);
    else
      impl->added = std::make_unique<AddedVocabulary>(std::vector<AddedToken>{}, nullptr);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: invalid JSON: {}", path, e.what());
  }
  impl->eos = impl->first_special(
      {"</s>", "<|end_of_text|>", "<|endoftext|>", "<|eot_id|>", "<|im_end|>", "<eos>"});
  impl->bos = impl->first_special({"<s>", "<|begin_of_text|>", "<bos>"});
  int32_t max_id = impl->model->max_id();
  for (const AddedToken& token : impl->added->tokens()) max_id = std::max(max_id, token.id);
  impl->vocab_size = max_id + 1;
  return Tokenizer(std::move(impl));
}

std::vector<int32_t> Tokenizer::encode(const std::string& text, bool add_special_tokens) const {
  if (auto bad = tok::utf8::find_invalid(text))
    fail("encode: text is not valid UTF-8 at byte {}", *bad);
  std::vector<int32_t> ids;
  const Impl& impl = *impl_;
  const PieceSink to_model = [&](Piece&& piece) { impl.model->tokenize(piece.text, ids); };
  impl.added->split(text, impl.normalizer.get(), [&](Segment&& segment) {
    if (segment.added_id >= 0)
      ids.push_back(segment.added_id);
    else if (impl.pre_tokenizer)
      impl.pre_tokenizer->split(std::move(segment.piece), to_model);
    else
      to_model(std::move(segment.piece));
  });
  if (add_special_tokens && impl.post_processor) ids = impl.post_processor->apply(std::move(ids));
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (auto it = impl_->added_text.find(id); it != impl_->added_text.end())
      tokens.push_back(it->second);
    else if (const std::string* token = impl_->model->id_to_token(id))
      tokens.push_back(*token);
  }
  if (impl_->decoder) tokens = impl_->decoder->decode_chain(std::move(tokens));
  std::string text;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i > 0 && !impl_->decoder) text += ' ';
    text += tokens[i];
  }
  return text;
}

int32_t Tokenizer::vocab_size() const {
  return impl_->vocab_size;
}

std::optional<int32_t> Tokenizer::token_to_id(const std::string& token) const {
  if (auto it = impl_->added_ids.find(token); it != impl_->added_ids.end()) return it->second;
  return impl_->model->token_to_id(token);
}

std::optional<int32_t> Tokenizer::eos_id() const {
  return impl_->eos;
}
std::optional<int32_t> Tokenizer::bos_id() const {
  return impl_->bos;
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

}  // namespace gradpool
