// The GPT-2 byte-level alphabet (`bytes_to_unicode`): each of the 256 byte values stands for one
// printable character, so that byte-level BPE vocabularies hold no spaces or control bytes.
// Shared by the ByteLevel pre-tokenizer (bytes → characters) and decoder (characters → bytes).
#pragma once

#include <cstdint>
#include <string>

namespace gradpool::tok::byte_level {

// UTF-8 of the character that stands for `byte`.
const std::string& char_of(uint8_t byte);
// The byte that code point `c` stands for, or -1 when `c` is not in the alphabet.
int byte_of(char32_t c);

}  // namespace gradpool::tok::byte_level
