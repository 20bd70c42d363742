#pragma once

#include "text/bert_tokenizer.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tokenscope {

// What decode() leaves out or tidies; the defaults are those of transformers 4.44's
// `tokenizer.decode(ids)`.
struct BpeDecodeOptions {
    bool skipSpecialTokens = false;         // drop <s>, </s>, <pad>, <unk>, <mask> by id
    bool cleanUpTokenizationSpaces = true;  // " ." -> ".", " n't" -> "n't", ... (clean_up_tokenization)
};

// RoBERTa's byte-level BPE tokenizer (GPT-2's scheme), reproducing the slow, pure-Python
// `RobertaTokenizer(vocab_file, merges_file)` of transformers 4.44 (models/roberta/
// tokenization_roberta.py and the PreTrainedTokenizer machinery it inherits) with its defaults
// (errors="replace", add_prefix_space=False) id for id. The steps, in the reference's order:
//   1. Split out the literal special tokens "<s>", "</s>", "<pad>", "<unk>", "<mask>" (exact,
//      case-sensitive, leftmost first). Each becomes one token. "<mask>" is lstrip=True: the text
//      before it loses its trailing white space (Python's str.rstrip(), i.e. str.isspace());
//      nothing strips the text after any special token.
//   2. Pre-tokenise every other piece with GPT-2's pattern, evaluated as the `regex` module does:
//      's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//      Contractions are lower-case only ("I'M" gives "I", "'", "M"); a run of white space before a
//      word leaves its last character (a space) to the word. The classes come from the `regex`
//      module of the reference environment (Unicode 15.0; \s is White_Space, which excludes
//      U+001C..U+001F although str.isspace() includes them).
//   3. Map every UTF-8 byte of a piece to its printable stand-in (bytes_to_unicode: "Ġ" for a
//      space) and apply the merges in rank order: repeatedly merge every non-overlapping occurrence
//      (left to right) of the adjacent pair with the lowest rank. Results are cached per piece.
//   4. A symbol that is not in vocab.json gets the id of <unk> (the token itself stays as it is).
//
// Files, read as the reference reads them:
//   vocab.json  a JSON object token -> id (json.load: a repeated key keeps its first position and
//               its last id; decoding an id shared by several tokens gives the last of them).
//   merges.txt  UTF-8, universal newlines ("\r\n" and "\r" read as "\n"); split at "\n", the first
//               line (the "#version" header, whatever it says) and the LAST element are dropped:
//               a file that does not end with a newline loses its last rule, as in the reference.
//               Each remaining line is split at white space; blank lines are ignored; a rule listed
//               twice keeps its later rank. Rules may name symbols that vocab.json lacks (the
//               reference accepts that too).
// Errors (tokenscope::Error, the message names the file): a file that cannot be read; vocab.json
// that is not valid JSON, starts with a byte order mark (json.load rejects it), is not an object,
// or has an id that is not a non-negative integer (the reference would accept floats, strings and
// negative numbers); merges.txt that is not valid UTF-8, or a line with one or more than two
// symbols (the reference would silently never apply it); a special token missing from vocab.json
// (the reference would append it with a new id past the vocabulary, which no model embeds).
//
// Deliberate limits: encodePadded()/encodeBatch() need maxLength >= 3 (below that the reference
// gives up truncating and returns rows longer than maxLength). Input text is UTF-8; invalid bytes
// are read as Python's bytes.decode("utf-8", errors="replace") reads them (one U+FFFD per maximal
// invalid subsequence), so the result equals the reference on that decoded string.
//
// Thread-safety: immutable after construction except the per-piece BPE cache, which is guarded by
// a mutex; every const member may be called from any number of threads. Copies share the cache.
class BpeTokenizer {
public:
    // The smallest maxLength of encodePadded(): <s>, one token, </s>.
    static constexpr std::size_t kMinMaxLength = 3;

    // The character classes of step 2: \p{L}, \p{N}, \s and everything else.
    enum class CharClass : std::uint8_t { Other = 0, Letter = 1, Number = 2, Whitespace = 3 };
    static CharClass charClass(char32_t cp);

    // vocab.json and merges.txt in `directory` (a Hugging Face model folder).
    static BpeTokenizer fromDirectory(const std::string& directory);
    static BpeTokenizer fromFiles(const std::string& vocabPath, const std::string& mergesPath);
    // The same from the files' contents; the names are used in error messages.
    static BpeTokenizer fromContent(std::string_view vocabJson, std::string_view mergesText,
                                    const std::string& vocabName, const std::string& mergesName);

    // tokenizer.pat.findall(text): step 2 alone on the whole text (special tokens are not split
    // off), as UTF-8 pieces.
    std::vector<std::string> preTokenize(std::string_view utf8) const;

    // tokenizer.tokenize(text): BPE tokens (byte-level strings, e.g. "Ġcolor") and special tokens.
    std::vector<std::string> tokenize(std::string_view utf8) const;

    // tokenizer.encode(text, add_special_tokens=...): <s> ids </s>, or the ids alone. Never truncates.
    std::vector<std::int64_t> encode(std::string_view utf8, bool addSpecialTokens = true) const;

    // One row of tokenizer(texts, padding="max_length", truncation=True, max_length=maxLength):
    // <s> ids </s> with the ids cut from the right to fit, then <pad> (attention 0) up to exactly
    // maxLength. tokens holds the vocabulary entry of every id, tokenTypeIds zeros.
    // Throws Error if maxLength < kMinMaxLength.
    TextEncoding encodePadded(std::string_view utf8, std::size_t maxLength) const;
    std::vector<TextEncoding> encodeBatch(const std::vector<std::string>& texts, std::size_t maxLength) const;

    // tokenizer.decode(ids, ...): the tokens' bytes as UTF-8 with errors="replace", then the clean-up.
    // Throws Error for an id that no vocabulary entry has, or a token with a character that is not one
    // of the 256 byte stand-ins (the reference raises there too).
    std::string decode(const std::vector<std::int64_t>& ids, const BpeDecodeOptions& options = {}) const;

    // convert_tokens_to_ids: the id of a vocabulary entry, or unkId().
    std::int64_t idOf(std::string_view token) const;
    // convert_ids_to_tokens for one id; throws Error for an id that no entry has.
    const std::string& tokenOf(std::int64_t id) const;

    std::int64_t bosId() const { return m_specialIds[kBos]; }  // <s>, also the cls token
    std::int64_t eosId() const { return m_specialIds[kEos]; }  // </s>, also the sep token
    std::int64_t padId() const { return m_specialIds[kPad]; }
    std::int64_t unkId() const { return m_specialIds[kUnk]; }
    std::int64_t maskId() const { return m_specialIds[kMask]; }

    // Entries of vocab.json (len(tokenizer.encoder)); ids need not be below it.
    std::size_t vocabSize() const { return m_encoder.size(); }
    // Distinct merge rules in effect.
    std::size_t mergeCount() const { return m_merges.size(); }
    const std::string& vocabName() const { return m_vocabName; }
    const std::string& mergesName() const { return m_mergesName; }

private:
    enum SpecialIndex : std::size_t { kBos = 0, kEos, kPad, kUnk, kMask, kSpecialCount };
    struct Merge {
        std::uint32_t rank;
        std::uint32_t result;  // symbol index of left + right
    };
    struct WordCache;

    BpeTokenizer() = default;

    std::uint32_t internSymbol(const std::string& symbol, std::unordered_map<std::string, std::uint32_t>& index);
    std::uint32_t rankOf(std::uint32_t left, std::uint32_t right) const;
    void appendPieceSymbols(std::string_view pieceBytes, std::vector<std::uint32_t>& out) const;
    void bytePairMerge(std::vector<std::uint32_t>& word) const;
    // Steps 1-3: the symbol index of every token of the text.
    std::vector<std::uint32_t> tokenSymbols(std::string_view utf8) const;
    const std::string* findEntry(std::int64_t id) const;

    std::string m_vocabName;
    std::string m_mergesName;
    std::unordered_map<std::string, std::int64_t> m_encoder;
    std::unordered_map<std::int64_t, std::string> m_decoder;
    // Every symbol BPE can name: the 256 byte stand-ins, both sides and the result of every merge
    // rule, the special tokens. m_symbolIds holds each one's id (unkId() when not in vocab.json).
    std::vector<std::string> m_symbols;
    std::vector<std::int64_t> m_symbolIds;
    std::array<std::uint32_t, 256> m_byteSymbols{};
    std::unordered_map<std::uint64_t, Merge> m_merges;  // key: left << 32 | right
    std::array<std::int64_t, kSpecialCount> m_specialIds{};
    std::array<std::uint32_t, kSpecialCount> m_specialSymbols{};
    std::shared_ptr<WordCache> m_cache;
};

}  // namespace tokenscope
