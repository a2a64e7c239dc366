#include "worker/train/decoder.h"

#include <utility>

#include <fmt/format.h>

#include "worker/train/byte_level.h"
#include "worker/train/pattern.h"
#include "worker/train/pretokenizer.h"
#include "worker/train/tokenizer_json.h"
#include "worker/train/utf8.h"

namespace gradpool::tok {

namespace {

const char kReplacementCharacter[] = "\xEF\xBF\xBD";  // U+FFFD

// Byte-level alphabet back to bytes; a token with a character outside the alphabet (an added
// token with a space, say) is taken as it is. Bytes that are not valid UTF-8 become U+FFFD.
class ByteLevelDecoder : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::string bytes;
    for (const std::string& token : tokens) {
      const size_t mark = bytes.size();
      for (size_t pos = 0; pos < token.size();) {
        size_t length;
        const int byte = byte_level::byte_of(utf8::decode(token, pos, &length));
        if (byte < 0) {
          bytes.resize(mark);
          bytes += token;
          break;
        }
        bytes += static_cast<char>(byte);
        pos += length;
      }
    }
    return {utf8::lossy(bytes)};
  }
};

// "▁" back to spaces; every "▁" of the first token is dropped when one was prepended.
class MetaspaceDecoder : public Decoder {
 public:
  explicit MetaspaceDecoder(MetaspaceOptions options) : options_(std::move(options)) {}

  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    const std::string& replacement = options_.replacement;
    for (size_t i = 0; i < tokens.size(); ++i) {
      const bool drop = i == 0 && options_.prepend != MetaspaceOptions::Prepend::kNever;
      std::string out;
      for (size_t pos = 0; pos < tokens[i].size();) {
        if (tokens[i].compare(pos, replacement.size(), replacement) == 0) {
          if (!drop) out += ' ';
          pos += replacement.size();
        } else {
          out += tokens[i][pos++];
        }
      }
      tokens[i] = std::move(out);
    }
    return tokens;
  }

 private:
  MetaspaceOptions options_;
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(Pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}

  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (std::string& token : tokens) token = pattern_.replace_all(token, content_);
    return tokens;
  }

 private:
  Pattern pattern_;
  std::string content_;
};

// Runs of "<0xNN>" tokens back to the bytes they stand for, as one token when those bytes are
// valid UTF-8 and as one U+FFFD per byte otherwise.
class ByteFallbackDecoder : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::vector<std::string> out;
    std::string bytes;
    auto flush = [&] {
      if (bytes.empty()) return;
      if (utf8::find_invalid(bytes)) {
        for (size_t i = 0; i < bytes.size(); ++i) out.emplace_back(kReplacementCharacter);
      } else {
        out.push_back(bytes);
      }
      bytes.clear();
    };
    for (std::string& token : tokens) {
      if (const int byte = byte_of(token); byte >= 0) {
        bytes += static_cast<char>(byte);
        continue;
      }
      flush();
      out.push_back(std::move(token));
    }
    flush();
    return out;
  }

 private:
  // The byte of a "<0xNN>" token, or -1. Parses NN as Rust's u8::from_str_radix(_, 16) does.
  static int byte_of(const std::string& token) {
    if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return -1;
    auto digit = [](char c) {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int high = token[3] == '+' ? 0 : digit(token[3]), low = digit(token[4]);
    return high < 0 || low < 0 ? -1 : high * 16 + low;
  }
};

class FuseDecoder : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::string joined;
    for (const std::string& token : tokens) joined += token;
    return {joined};
  }
};

// Removes up to `start` leading and `stop` trailing `content` characters from each token.
class StripDecoder : public Decoder {
 public:
  StripDecoder(std::string content, size_t start, size_t stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}

  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    const size_t n = content_.size();
    for (std::string& token : tokens) {
      size_t begin = 0, end = token.size();
      for (size_t i = 0; i < start_ && end - begin >= n && token.compare(begin, n, content_) == 0;
           ++i)
        begin += n;
      for (size_t i = 0; i < stop_ && end - begin >= n && token.compare(end - n, n, content_) == 0;
           ++i)
        end -= n;
      token = token.substr(begin, end - begin);
    }
    return tokens;
  }

 private:
  std::string content_;
  size_t start_, stop_;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps)
      : steps_(std::move(steps)) {}

  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (const auto& step : steps_) tokens = step->decode_chain(std::move(tokens));
    return tokens;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

size_t count(const JsonNode& node) {
  const int64_t value = node.integer();
  if (value < 0) node.fail("must be >= 0");
  return static_cast<size_t>(value);
}

}  // namespace

std::unique_ptr<Decoder> Decoder::from_json(const JsonNode& node) {
  const std::string type = node.at("type").str();
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Metaspace")
    return std::make_unique<MetaspaceDecoder>(MetaspaceOptions::from_json(node));
  if (type == "Replace")
    return std::make_unique<ReplaceDecoder>(Pattern::from_json(node.at("pattern")),
                                            node.at("content").str());
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") {
    const JsonNode content = node.at("content");
    const std::string character = content.str();
    if (character.empty() || utf8::sequence_length(character, 0) != character.size())
      content.fail(fmt::format("expected one character, got '{}'", character));
    return std::make_unique<StripDecoder>(character, count(node.at("start")),
                                          count(node.at("stop")));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> steps;
    for (const JsonNode& step : node.at("decoders").elements()) steps.push_back(from_json(step));
    return std::make_unique<SequenceDecoder>(std::move(steps));
  }
  node.at("type").fail(fmt::format(
      "unsupported '{}' (supported: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, "
      "Sequence)",
      type));
}

}  // namespace gradpool::tok
