#include "worker/train/byte_level.h"

#include <array>

#include "worker/train/utf8.h"

namespace gradpool::tok::byte_level {

namespace {

// Printable Latin-1 bytes stand for themselves; the others, in byte order, for U+0100 onwards.
struct Alphabet {
  std::array<std::string, 256> chars;
  std::array<int, 324> bytes;  // indexed by code point; the alphabet ends below U+0144

  Alphabet() {
    bytes.fill(-1);
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      const char32_t c = printable ? static_cast<char32_t>(b) : next++;
      utf8::append(chars[b], c);
      bytes[c] = b;
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet instance;
  return instance;
}

}  // namespace

const std::string& char_of(uint8_t byte) {
  return alphabet().chars[byte];
}

int byte_of(char32_t c) {
  return c < alphabet().bytes.size() ? alphabet().bytes[c] : -1;
}

}  // namespace gradpool::tok::byte_level
