#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tokenscope {

struct SentencePieceModel;

// A SentencePiece tokenizer (the LLaMA / Mistral / Vicuna `tokenizer.model`) implemented without
// libsentencepiece or protobuf, so that it lives in the torch-free tokenscope_base. (Debian's
// libsentencepiece carries its own copy of protobuf-lite and exports it; loaded into one process
// with Debian's LibTorch, which links libprotobuf.so.32, libprotobuf's static initialisers call into
// the other copy and the process dies before main. Linking order does not change that.)
//
// Reproduces libsentencepiece 0.1.97's SentencePieceProcessor id for id:
//   - the file: a serialized sentencepiece.ModelProto, parsed from the protobuf wire format (pieces
//     with score and type, trainer_spec model_type / byte_fallback / special piece names /
//     unk_surface / treat_whitespace_as_suffix, normalizer_spec add_dummy_prefix /
//     remove_extra_whitespaces / escape_whitespaces / precompiled_charsmap);
//   - normalisation: the precompiled character map when there is one (nmt_nfkc and friends; LLaMA
//     and Mistral have none: "identity"), user-defined pieces passed through unnormalised, invalid
//     UTF-8 bytes replaced by U+FFFD one byte at a time, optional removal of leading, trailing and
//     repeated spaces, " " -> U+2581 "▁", the dummy "▁" prefix (suffix with
//     treat_whitespace_as_suffix);
//   - BPE (LLaMA, Mistral): characters (user-defined pieces whole) merged pairwise, always the pair
//     whose merged piece has the highest score first, the leftmost on ties; merges into UNUSED pieces
//     are split back; UNIGRAM: the Viterbi best path of libsentencepiece's optimised encoder, with its
//     unknown-character penalty and user-defined bonus;
//   - unknown characters: with byte_fallback one <0xNN> piece per UTF-8 byte, without it one unk id
//     per run of consecutive unknown pieces.
// WORD and CHAR models are refused.
//
// On top of that, Hugging Face "added tokens" (fromFolder / addAddedToken): strings such as "<image>"
// (id 32000 in llava-hf) that are matched whole in the input before SentencePiece sees it, longest
// first at each position, like transformers' LlamaTokenizer(Fast). The text between them is encoded
// chunk by chunk, which is what gives every chunk its own dummy prefix (see isLegacy()).
//
// Ids are int64 (the model's input type). Immutable after construction apart from
// addAddedToken/setLegacy: const members may be called from any number of threads.
class SentencePieceTokenizer {
public:
    enum class ModelType { Unigram = 1, Bpe = 2 };
    enum class PieceType : std::uint8_t { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

    // One token declared by a Hugging Face folder outside tokenizer.model.
    struct AddedToken {
        std::string content;
        std::int64_t id = -1;
        bool isSpecial = true;  // dropped by decode(..., skipSpecial = true)
        bool lstrip = false;    // eats the whitespace before it (HF AddedToken.lstrip)
        bool rstrip = false;    // eats the whitespace after it
    };

    // Reads a tokenizer.model. Throws tokenscope::Error naming the file when it cannot be read or
    // is not a valid model: truncated or malformed protobuf (bad varint, length past the end, wrong
    // wire type), an empty or duplicate piece, no or two unknown pieces, byte pieces without
    // byte_fallback or byte_fallback without all 256, a model type other than BPE / UNIGRAM, a
    // broken precompiled character map.
    static SentencePieceTokenizer fromFile(const std::string& modelPath);
    // The same from the bytes of a tokenizer.model; sourceName is used in error messages.
    static SentencePieceTokenizer fromBytes(std::string_view modelBytes, const std::string& sourceName);
    // A Hugging Face folder: tokenizer.model plus the added tokens of tokenizer_config.json
    // ("added_tokens_decoder"), added_tokens.json and tokenizer.json ("added_tokens"), whichever
    // exist, and the legacy flag (see isLegacy()). An added token whose id is a piece of
    // tokenizer.model must be that piece; a content listed with two ids, or an id with two contents,
    // is an Error naming the file.
    static SentencePieceTokenizer fromFolder(const std::string& folder);

    // Text -> ids: added tokens matched whole, the text between them through SentencePiece
    // (see isLegacy() for the dummy prefix), BOS first when addBos and the model has one.
    std::vector<std::int64_t> encode(const std::string& text, bool addBos) const;
    // The same for text that continues a longer text right after an added token (atTextStart
    // false): a non-legacy tokenizer gives its first chunk no dummy prefix.
    std::vector<std::int64_t> encode(const std::string& text, bool addBos, bool atTextStart) const;
    // Exactly libsentencepiece's EncodeAsIds(text): no added tokens, no BOS.
    std::vector<std::int64_t> encodeSentencePiece(std::string_view text) const;
    // The pieces of encode(text, addBos) (added tokens as their content), for display.
    std::vector<std::string> encodeAsPieces(const std::string& text, bool addBos) const;

    // Ids -> text. With skipSpecial (the default) exactly libsentencepiece's DecodeIds once special
    // added tokens are removed: control pieces (<s>, </s>) vanish, the unknown piece reads as
    // unk_surface (" ⁇ "), runs of byte pieces are reassembled into UTF-8 (an invalid byte becomes
    // U+FFFD), "▁" reads as a space, and the first "▁" of the text is dropped when the model adds a
    // dummy prefix. Without skipSpecial, control pieces and special added tokens appear as their
    // text ("<s>", "<image>"): a readable view, not a byte-exact copy of any reference.
    // Throws Error for an id outside [0, vocabSize()) or a gap in the added ids.
    std::string decode(const std::vector<std::int64_t>& ids, bool skipSpecial = true) const;

    // The piece of an id (an added token's content); throws Error outside [0, vocabSize()).
    std::string idToPiece(std::int64_t id) const;
    // The id of a piece or added token, -1 when absent (libsentencepiece answers unk instead).
    std::int64_t pieceToId(const std::string& piece) const;

    std::int64_t bosId() const { return m_bosId; }  // -1 if none
    std::int64_t eosId() const { return m_eosId; }
    std::int64_t unkId() const { return m_unkId; }
    std::int64_t padId() const { return m_padId; }
    // Ids in use: the pieces of tokenizer.model and every added token (max id + 1).
    std::int64_t vocabSize() const;
    // The pieces of tokenizer.model alone (libsentencepiece's GetPieceSize()).
    std::int64_t pieceCount() const;

    ModelType modelType() const;
    bool hasByteFallback() const;
    bool addsDummyPrefix() const;
    // The type of a tokenizer.model piece; throws Error outside [0, pieceCount()).
    PieceType pieceType(std::int64_t id) const;
    float pieceScore(std::int64_t id) const;
    // True for control and unknown pieces and for special added tokens.
    bool isSpecial(std::int64_t id) const;
    // The <0xNN> byte of a byte piece, -1 for any other id.
    int byteOf(std::int64_t id) const;

    // Legacy (true: transformers' default, LlamaTokenizer(legacy=True), the Hub's llava-hf and
    // Mistral tokenizer.json with a Prepend("▁") normaliser, and the original LLaVA code that
    // tokenizes each chunk around <image> separately): every chunk of text between added tokens gets
    // its own dummy prefix, so "<image>\nWhat" encodes as <image> "▁" <0x0A> "What". Non-legacy
    // (tokenizer_config "legacy": false, or a tokenizer.json Metaspace pre-tokenizer with
    // prepend_scheme "first"): only a chunk at the very start of the text gets one.
    bool isLegacy() const { return m_legacy; }
    void setLegacy(bool legacy) { m_legacy = legacy; }

    // Adds (or re-declares) an added token; throws Error for an empty content, a negative id, or an
    // id inside tokenizer.model whose piece differs from content.
    void addAddedToken(const AddedToken& token);
    const std::vector<AddedToken>& addedTokens() const { return m_addedTokens; }
    const std::string& sourceName() const { return m_sourceName; }

private:
    friend class StreamingDecoder;
    // One piece of text between added tokens (id -1) or one added token, in text order.
    struct Segment {
        std::string_view text;
        std::int64_t addedId = -1;
        std::size_t offset = 0;  // of text in the whole input
    };

    SentencePieceTokenizer() = default;
    void appendSentencePieceIds(std::string_view text, bool addDummyPrefix, std::vector<std::int64_t>& out) const;
    std::vector<Segment> splitOnAddedTokens(std::string_view text) const;
    const AddedToken* addedTokenOf(std::int64_t id) const;
    void mergeAddedToken(const AddedToken& token, bool overrideFlags, const std::string& fileName);
    // The id of a control piece, or of the unknown piece for unk (libsentencepiece's bos_id() etc.).
    std::int64_t specialPieceId(const std::string& piece, PieceType type) const;

    std::shared_ptr<const SentencePieceModel> m_model;  // immutable, shared between copies
    std::string m_sourceName;
    std::int64_t m_unkId = -1;
    std::int64_t m_bosId = -1;
    std::int64_t m_eosId = -1;
    std::int64_t m_padId = -1;
    bool m_legacy = true;
    std::vector<AddedToken> m_addedTokens;
    std::unordered_map<std::string, std::size_t> m_addedByContent;  // -> index in m_addedTokens
    std::unordered_map<std::int64_t, std::size_t> m_addedById;
    std::int64_t m_maxAddedId = -1;
    bool m_addedFirstBytes[256] = {};  // bytes an added token can start with
};

// Turns generated ids into text as they arrive, for streaming answers. push(id) returns the text
// that id adds; the concatenation of every push() and finish() equals
// tokenizer.decode(all ids, skipSpecial = true). Byte pieces that may still be the start of a
// multi-byte UTF-8 character are held back until the character is complete (or proven invalid, then
// U+FFFD as decode() gives), so a delta never ends inside a character. finish() returns what is held
// back. The tokenizer must outlive the decoder. Not thread-safe.
class StreamingDecoder {
public:
    // skipSpecial as in SentencePieceTokenizer::decode.
    explicit StreamingDecoder(const SentencePieceTokenizer& tokenizer, bool skipSpecial = true);
    std::string push(std::int64_t id);
    std::string finish();
    // Every byte of text returned so far.
    const std::string& text() const { return m_text; }

private:
    // Moves decided characters of m_pendingBytes to out; with flushAll also the undecided ones.
    void drainBytes(std::string& out, bool flushAll);

    const SentencePieceTokenizer* m_tokenizer;
    bool m_skipSpecial = true;
    std::string m_text;
    std::string m_pendingBytes;
    bool m_expectLeadingSpace = true;  // the first "▁" of the text is still to be dropped
    bool m_leadingSpaceSeen = false;
};

}  // namespace tokenscope
