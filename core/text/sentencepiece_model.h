#pragma once

#include "text/sentencepiece_proto.h"
#include "text/sentencepiece_tokenizer.h"

#include <cfloat>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

// Internal to core/text: what SentencePieceTokenizer runs on. The behaviour is libsentencepiece
// 0.1.97's (ModelInterface, Normalizer, bpe::Model, unigram::Model's optimised encoder); see
// sentencepiece_tokenizer.h for the summary.

namespace tokenscope {

namespace spm {
inline constexpr std::string_view kSpaceSymbol = "\xe2\x96\x81";      // U+2581 "▁"
inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Bytes of the UTF-8 character a lead byte announces, as libsentencepiece guesses it (no checks).
inline std::size_t oneCharLen(char c) {
    return static_cast<std::size_t>("\1\1\1\1\1\1\1\1\1\1\1\1\2\2\3\4"[static_cast<std::uint8_t>(c) >> 4]);
}
inline bool isTrailByte(char c) { return (static_cast<std::uint8_t>(c) & 0xC0) == 0x80; }
// libsentencepiece's UTF-8 check of the character at the start of a non-empty s: true with its
// length, or false with length 1 for anything malformed (truncated, overlong, surrogate, above
// U+10FFFF, a stray continuation byte). A real U+FFFD is valid.
bool isValidUtf8Prefix(std::string_view s, std::size_t& length);
// The byte of "<0xNN>" (upper-case hex, as libsentencepiece writes it), -1 for anything else.
int pieceToByte(std::string_view piece);
inline bool startsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
}  // namespace spm

// A validated tokenizer.model. Immutable; shared by every copy of a SentencePieceTokenizer.
struct SentencePieceModel {
    using PieceType = SentencePieceTokenizer::PieceType;
    using ModelType = SentencePieceTokenizer::ModelType;
    struct Piece {
        std::string text;
        float score = 0.0f;
        PieceType type = PieceType::Normal;
    };
    // (piece text, id) as the model cuts the normalised text.
    using Cut = std::vector<std::pair<std::string_view, int>>;

    // Checks what libsentencepiece checks on load (non-empty unique pieces, one unknown piece,
    // byte pieces exactly with byte_fallback and then all 256, a model type it implements) and
    // throws Error "<sourceName>: ..." otherwise.
    static std::shared_ptr<const SentencePieceModel> create(SentencePieceModelProto proto, const std::string& sourceName);

    PieceType typeOf(int id) const { return pieces[static_cast<std::size_t>(id)].type; }
    // libsentencepiece's PieceToId: reserved, then normal, else the unknown id.
    int pieceToId(std::string_view piece) const;
    // Normaliser::Normalize without the alignment; dummyPrefix overrides add_dummy_prefix.
    std::string normalize(std::string_view input, bool dummyPrefix) const;
    // Normalised text -> ids, with byte fallback, or runs of unknown pieces folded into one unk id.
    void appendIds(std::string_view normalized, std::vector<std::int64_t>& out) const;

    std::string sourceName;
    ModelType modelType = ModelType::Unigram;
    std::vector<Piece> pieces;
    // Views into pieces[].text. normal: NORMAL, USER_DEFINED, UNUSED (what the models produce);
    // reserved: CONTROL, UNKNOWN, BYTE. A text may be in both; lookups try reserved first.
    std::unordered_map<std::string_view, int> normal;
    std::unordered_map<std::string_view, int> reserved;
    std::vector<std::string_view> userDefined;  // longest first
    // UNIGRAM: every prefix of a normal piece -> the piece's id, or -1 for a prefix that is no piece
    // (stands in for libsentencepiece's trie, so the search stops where no piece continues).
    std::unordered_map<std::string_view, int> prefixes;
    int byteIds[256] = {};
    int unkId = -1;
    bool byteFallback = false;
    bool addDummyPrefix = true;
    bool removeExtraWhitespaces = true;
    bool escapeWhitespaces = true;
    bool treatWhitespaceAsSuffix = false;
    PrecompiledCharsMap charsMap;
    std::string unkSurface = " \xE2\x81\x87 ";
    std::string unkPiece = "<unk>", bosPiece = "<s>", eosPiece = "</s>", padPiece = "<pad>";
    float minScore = FLT_MAX;  // over NORMAL pieces (UNIGRAM); the initial values are libsentencepiece's
    float maxScore = FLT_MIN;

private:
    std::size_t matchUserDefined(std::string_view text) const;
    // The next normalisation unit of a non-empty input: (replacement, bytes consumed).
    std::pair<std::string_view, std::size_t> normalizePrefix(std::string_view input) const;
    Cut encodeBpe(std::string_view normalized) const;
    Cut encodeUnigram(std::string_view normalized) const;
};

}  // namespace tokenscope
