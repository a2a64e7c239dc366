// PreTokenizer: the `pre_tokenizer` of tokenizer.json, cutting normalized text into the pieces
// ("words") that BPE then encodes one by one; BPE never merges across two pieces.
//
// Supported types: ByteLevel, Split, Metaspace, Sequence. Immutable once built.
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace gradpool::tok {

class JsonNode;

// Text on its way to the model: tokenizers' split of a PreTokenizedString, without offsets.
struct Piece {
  std::string text;
  // Whether the piece begins at the start of the original input (Metaspace's prepend "first").
  bool at_start = false;
};

// Receives pieces in input order. A callback rather than a vector so that a large document
// streams through pre-tokenization and BPE without holding all its pieces at once.
using PieceSink = std::function<void(Piece&&)>;

// Settings shared by the Metaspace pre-tokenizer and decoder: spaces become `replacement` ("▁"),
// which is also put before the text (`always`, or `first`: only at the start of the input).
struct MetaspaceOptions {
  enum class Prepend { kAlways, kFirst, kNever };
  std::string replacement;  // one character
  Prepend prepend = Prepend::kAlways;
  bool split = true;  // cut before each replacement character

  static MetaspaceOptions from_json(const JsonNode& node);
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;

  // Cuts `piece` and passes the non-empty results to `sink`, in order.
  virtual void split(Piece piece, const PieceSink& sink) const = 0;

  // Builds the pre-tokenizer described by `node`; fails naming the JSON path of anything
  // unsupported.
  static std::unique_ptr<PreTokenizer> from_json(const JsonNode& node);
};

}  // namespace gradpool::tok
