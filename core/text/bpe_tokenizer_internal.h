#pragma once

// Internal to core/text: what the parts of BpeTokenizer share (bpe_tokenizer.cpp: files, byte-level
// BPE; bpe_pretokenizer.cpp: UTF-8, pre-tokenisation, character classes; bpe_encode.cpp: special
// tokens, encode and decode).

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "text/utf8.h"

namespace tokenscope {

namespace bpe {

// RobertaTokenizer's defaults, in the order of BpeTokenizer::SpecialIndex.
constexpr std::size_t kSpecialTokenCount = 5;
const char* const kSpecialTexts[kSpecialTokenCount] = {"<s>", "</s>", "<pad>", "<unk>", "<mask>"};

// ---- UTF-8 (bpe_pretokenizer.cpp) -----------------------------------------------------------

// Decodes the sequence at text[i] as CPython's UTF-8 decoder does: a valid sequence gives its code
// point; otherwise U+FFFD for the maximal prefix of a valid sequence (at least one byte; Unicode
// 15.0 section 3.9, "U+FFFD Substitution of Maximal Subparts"), which is what errors="replace" emits.
char32_t decodeStep(std::string_view text, std::size_t i, std::size_t& length, bool& valid);
std::u32string decodeUtf8(std::string_view text);
// Byte offset of the first byte that is not part of valid UTF-8, or npos.
std::size_t firstInvalidUtf8(std::string_view text);
// A token or line for an error message: control bytes escaped, long text shortened.
std::string printable(std::string_view text);

// ---- pre-tokenisation (bpe_pretokenizer.cpp) ------------------------------------------------

// End of the match of GPT-2's pattern that starts at text[i] (i < text.size()), following the
// alternation order of 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+.
// Some alternative always matches, so every call consumes at least one character.
std::size_t pieceEnd(std::u32string_view text, std::size_t i);

// ---- bytes_to_unicode (bpe_tokenizer.cpp) ---------------------------------------------------

// GPT-2's reversible byte -> character map (tokenization_roberta.py bytes_to_unicode): the
// printable Latin-1 bytes stand for themselves, the other 68 take U+0100.. in byte order.
struct ByteStandIns {
    std::array<char32_t, 256> charOfByte{};
    std::array<int, 0x144> byteOfChar{};  // -1 where no byte maps to the character

    ByteStandIns() {
        byteOfChar.fill(-1);
        char32_t next = 0x100;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
            charOfByte[static_cast<std::size_t>(b)] = printable ? static_cast<char32_t>(b) : next++;
            byteOfChar[charOfByte[static_cast<std::size_t>(b)]] = b;
        }
    }
};

const ByteStandIns& byteStandIns();

}  // namespace bpe

}  // namespace tokenscope
