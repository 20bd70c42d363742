#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

// Internal to core/text: the file format under SentencePieceTokenizer.

namespace tokenscope {

// The fields of a serialized sentencepiece.ModelProto (sentencepiece_model.proto, proto2) that
// encoding and decoding need, with the proto's defaults. Everything else is skipped by wire type.
struct SentencePieceModelProto {
    struct Piece {
        std::string text;
        float score = 0.0f;
        int type = 1;  // NORMAL; see SentencePieceTokenizer::PieceType
    };
    std::vector<Piece> pieces;                       // ModelProto.pieces = 1
    // TrainerSpec (ModelProto.trainer_spec = 2)
    int modelType = 1;                               // model_type = 3: UNIGRAM 1, BPE 2, WORD 3, CHAR 4
    bool byteFallback = false;                       // byte_fallback = 35
    bool treatWhitespaceAsSuffix = false;            // treat_whitespace_as_suffix = 24
    std::string unkPiece, bosPiece, eosPiece, padPiece;  // 45..48; empty = the default name
    bool hasUnkSurface = false;
    std::string unkSurface;                          // unk_surface = 44
    // NormalizerSpec (ModelProto.normalizer_spec = 3)
    std::string normalizerName;                      // name = 1
    std::string precompiledCharsmap;                 // precompiled_charsmap = 2
    bool addDummyPrefix = true;                      // add_dummy_prefix = 3
    bool removeExtraWhitespaces = true;              // remove_extra_whitespaces = 4
    bool escapeWhitespaces = true;                   // escape_whitespaces = 5
    // ModelProto.denormalizer_spec = 5: only its character map matters (a non-empty one is refused).
    std::string denormalizerCharsmap;
};

// Parses the protobuf wire format: varints of at most 10 bytes, length-delimited fields inside their
// parent, fixed32 / fixed64 skipped, repeated embedded messages merged as protobuf does. Throws Error
// "<sourceName>: ..." for a truncated message, an over-long varint, a length past the end, a field
// number 0, a group or unknown wire type, a known field with the wrong wire type, an unknown piece
// type or an empty file.
SentencePieceModelProto parseSentencePieceModelProto(std::string_view bytes, const std::string& sourceName);

// A normaliser's precompiled_charsmap: <uint32 LE trie size><darts-clone double-array trie>
// <NUL-terminated replacement strings>. The trie maps UTF-8 byte sequences to offsets into the
// strings; normalising takes the longest match at each position (libsentencepiece looks at the
// first 32 matches only; the builder guarantees fewer).
class PrecompiledCharsMap {
public:
    PrecompiledCharsMap() = default;
    // Throws Error "<sourceName>: precompiled_charsmap ..." for a blob too short for its trie.
    PrecompiledCharsMap(std::string_view blob, const std::string& sourceName);
    bool empty() const { return m_units.empty(); }
    // Length of the longest rule matching the start of input (0: none) and its replacement.
    // Throws Error when the trie leads outside itself or to a string without its terminator.
    std::size_t longestMatch(std::string_view input, std::string_view& replacement) const;

private:
    std::vector<std::uint32_t> m_units;
    std::string m_strings;
    std::string m_sourceName;
};

}  // namespace tokenscope
