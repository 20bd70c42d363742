#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tokenscope {

// One encoded text, all four vectors of the same length: [CLS] pieces [SEP] then any [PAD].
struct TextEncoding {
    std::vector<std::int64_t> inputIds;
    std::vector<std::int64_t> tokenTypeIds;   // all 0 (single sequence)
    std::vector<std::int64_t> attentionMask;  // 1 for real tokens, 0 for [PAD]
    std::vector<std::string> tokens;          // the vocabulary entry of every id, UTF-8
};

// BERT's uncased WordPiece tokenizer, reproducing transformers v4.45.2's slow (pure Python)
// `BertTokenizer(vocab_file, do_lower_case=True)` with its defaults (tokenize_chinese_chars=True,
// strip_accents=None, max_input_chars_per_word=100) id for id. The steps, in the reference's order:
//   1. Lowercase every character (str.lower() per character) except literal special tokens.
//   2. Split out the literal special tokens "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]" (exact,
//      case-sensitive; "[cls]" is ordinary text). They become one token each. Only special tokens
//      present in the vocabulary are recognised (HF would append a missing [MASK] with a new id).
//   3. BasicTokenizer on each remaining piece: delete NUL, U+FFFD and every C* character (words on
//      both sides fuse), map whitespace to spaces, surround CJK ideographs with spaces, split on
//      whitespace, lowercase, NFD and drop Mn marks, split off every punctuation character
//      (P* categories and all ASCII symbols). Kana and Hangul are not split per character.
//   4. WordPiece: greedy longest match from the left, continuations prefixed "##"; a word with no
//      complete match (a run of emoji, say) or longer than 100 code points becomes one [UNK].
// The reference normalises to NFC before lowercasing; this implementation omits that step because
// lowercasing commutes with canonical decomposition (tools/gen_unicode_tables.py asserts it for
// every code point), so the NFD in step 3 yields the same result.
//
// Input text is UTF-8. Invalid UTF-8 never throws and never reads outside the input: every byte at
// which decoding fails (stray continuation bytes, truncated or overlong sequences, surrogates, values
// above U+10FFFF) is decoded as U+FFFD, which step 3 deletes like a control character. Python cannot
// hold such text at all, so there is no reference to follow; deleting keeps the rest of the text intact.
//
// Immutable after construction: every const member may be called from any number of threads.
class BertTokenizer {
public:
    static constexpr std::size_t kMaxInputCharsPerWord = 100;

    // Reads a vocab.txt: one token per line, the line number (from 0) is the id. Lines end at
    // "\n", "\r\n" or "\r" (Python's universal newlines, as HF's load_vocab reads it); nothing else
    // is stripped. Throws tokenscope::Error naming the file when it cannot be read, is empty, is not
    // valid UTF-8, or lacks [UNK], [CLS], [SEP] or [PAD].
    static BertTokenizer fromVocabFile(const std::string& path);

    // The same from entries already split into lines; sourceName is used in error messages.
    // A token listed twice maps to its last line (HF builds its dict line by line), while
    // tokenOf() still returns each line's own entry.
    static BertTokenizer fromVocab(std::vector<std::string> vocab, std::string sourceName);

    // HF's BasicTokenizer(do_lower_case=True).tokenize(text): step 3 above alone, applied to the
    // whole text (no special-token handling). Useful to inspect what WordPiece gets.
    std::vector<std::string> basicTokenize(std::string_view utf8) const;

    // HF's tokenizer.tokenize(text): word pieces and special tokens, without [CLS]/[SEP].
    std::vector<std::string> tokenize(std::string_view utf8) const;

    // HF's tokenizer(text) for one sequence: [CLS] pieces [SEP]. With maxLength, the pieces are
    // truncated from the right so that the result has at most maxLength entries ([SEP] stays last);
    // with padToMaxLength as well, [PAD] entries (attention 0) fill it up to exactly maxLength.
    // padToMaxLength without maxLength does nothing. Throws Error if maxLength < 2.
    TextEncoding encode(std::string_view utf8, std::optional<std::size_t> maxLength = std::nullopt,
                        bool padToMaxLength = false) const;

    // Id of a vocabulary entry, or unkId() for a string that is not one.
    std::int64_t idOf(std::string_view token) const;
    std::vector<std::int64_t> idsOf(const std::vector<std::string>& tokens) const;

    std::int64_t padId() const { return m_padId; }
    std::int64_t clsId() const { return m_clsId; }
    std::int64_t sepId() const { return m_sepId; }
    std::int64_t unkId() const { return m_unkId; }
    std::optional<std::int64_t> maskId() const;

    // Number of lines of the vocabulary (the id range, the embedding table's row count).
    std::size_t vocabSize() const { return m_vocab.size(); }
    // The entry of an id; throws Error for an id outside [0, vocabSize()).
    const std::string& tokenOf(std::int64_t id) const;
    const std::string& sourceName() const { return m_sourceName; }

private:
    BertTokenizer() = default;

    void appendBasicTokens(std::u32string_view text, std::vector<std::u32string>& out) const;
    void appendWordPieces(const std::u32string& word, std::vector<std::string>& out) const;
    void appendTokensOfPiece(std::u32string_view piece, std::vector<std::string>& out) const;
    const std::int64_t* findId(const std::string& token) const;

    std::string m_sourceName;
    std::vector<std::string> m_vocab;
    std::unordered_map<std::string, std::int64_t> m_ids;
    std::size_t m_maxTokenBytes = 0;
    std::int64_t m_padId = -1;
    std::int64_t m_unkId = -1;
    std::int64_t m_clsId = -1;
    std::int64_t m_sepId = -1;
    std::int64_t m_maskId = -1;
    // The special tokens present in the vocabulary, as code points, for step 2.
    std::vector<std::u32string> m_specialTokens;
};

}  // namespace tokenscope
