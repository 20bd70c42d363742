#include "text/bert_tokenizer.h"

#include "text/unicode_tables.h"
#include "text/utf8.h"

#include "common/error.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

namespace tokenscope {

namespace {

constexpr char32_t kReplacementCharacter = 0xFFFD;
constexpr char32_t kCapitalSigma = 0x03A3;
constexpr char32_t kSmallSigma = 0x03C3;
constexpr char32_t kFinalSigma = 0x03C2;

const char* const kPadToken = "[PAD]";
const char* const kUnkToken = "[UNK]";
const char* const kClsToken = "[CLS]";
const char* const kSepToken = "[SEP]";
const char* const kMaskToken = "[MASK]";

// Decodes the UTF-8 sequence starting at text[i]; returns the code point and sets `length` to the
// bytes it used, or returns U+FFFD with length 1 when no valid sequence starts there (Unicode
// Table 3-7: no overlongs, no surrogates, nothing above U+10FFFF).
char32_t decodeOne(std::string_view text, std::size_t i, std::size_t& length) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char lead = byte(i);
    length = 1;
    if (lead < 0x80) {
        return lead;
    }
    std::size_t count = 0;
    char32_t cp = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        count = 1;
        cp = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        count = 2;
        cp = lead & 0x0F;
        if (lead == 0xE0) {
            low = 0xA0;  // overlong
        } else if (lead == 0xED) {
            high = 0x9F;  // surrogates
        }
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        count = 3;
        cp = lead & 0x07;
        if (lead == 0xF0) {
            low = 0x90;  // overlong
        } else if (lead == 0xF4) {
            high = 0x8F;  // above U+10FFFF
        }
    } else {
        return kReplacementCharacter;  // continuation byte, C0, C1 or F5..FF as a lead
    }
    if (text.size() - i <= count) {
        return kReplacementCharacter;  // truncated at the end of the input
    }
    for (std::size_t k = 1; k <= count; ++k) {
        const unsigned char next = byte(i + k);
        const unsigned char min = k == 1 ? low : 0x80;
        const unsigned char max = k == 1 ? high : 0xBF;
        if (next < min || next > max) {
            return kReplacementCharacter;
        }
        cp = (cp << 6) | (next & 0x3F);
    }
    length = count + 1;
    return cp;
}

std::u32string decodeUtf8(std::string_view text) {
    std::u32string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t length = 1;
        out.push_back(decodeOne(text, i, length));
        i += length;
    }
    return out;
}

bool isValidUtf8(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t length = 1;
        if (decodeOne(text, i, length) == kReplacementCharacter && length == 1) {
            return false;
        }
        i += length;
    }
    return true;
}



// BERT's _is_whitespace / _is_control / _is_punctuation.
bool isBertWhitespace(char32_t cp) {
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' ||
           unicode::charClass(cp) == unicode::CharClass::SpaceSeparator;
}

bool isBertControl(char32_t cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r') {
        return false;
    }
    return unicode::charClass(cp) == unicode::CharClass::Control;
}

bool isBertPunctuation(char32_t cp) {
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
        return true;  // all ASCII non-letters/digits, e.g. "$" and "+" which Unicode files as symbols
    }
    return unicode::charClass(cp) == unicode::CharClass::Punctuation;
}

// str.lower() of a whole word, including the context-dependent Final_Sigma rule.
void appendLowerWord(std::u32string_view word, std::u32string& out) {
    for (std::size_t i = 0; i < word.size(); ++i) {
        if (word[i] != kCapitalSigma) {
            unicode::appendLower(word[i], out);
            continue;
        }
        std::size_t j = i;
        while (j > 0 && unicode::caseContext(word[j - 1]) == unicode::CaseContext::CaseIgnorable) {
            --j;
        }
        bool isFinal = j > 0 && unicode::caseContext(word[j - 1]) == unicode::CaseContext::Cased;
        if (isFinal) {
            std::size_t k = i + 1;
            while (k < word.size() && unicode::caseContext(word[k]) == unicode::CaseContext::CaseIgnorable) {
                ++k;
            }
            isFinal = k == word.size() || unicode::caseContext(word[k]) != unicode::CaseContext::Cased;
        }
        out.push_back(isFinal ? kFinalSigma : kSmallSigma);
    }
}

std::vector<std::string> splitVocabLines(const std::string& content) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    std::size_t i = 0;
    while (i < content.size()) {
        if (content[i] == '\n' || content[i] == '\r') {
            lines.emplace_back(content, start, i - start);
            i += (content[i] == '\r' && i + 1 < content.size() && content[i + 1] == '\n') ? 2 : 1;
            start = i;
        } else {
            ++i;
        }
    }
    if (start < content.size()) {
        lines.emplace_back(content, start, content.size() - start);  // last line without a newline
    }
    return lines;
}

}  // namespace

BertTokenizer BertTokenizer::fromVocabFile(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        throw Error(path + ": cannot open the vocabulary file");
    }
    std::ostringstream buffer;
    buffer << file.rdbuf();
    const std::string content = buffer.str();
    if (file.bad()) {
        throw Error(path + ": cannot read the vocabulary file");
    }
    std::vector<std::string> lines = splitVocabLines(content);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (!isValidUtf8(lines[i])) {
            throw Error(path + ": line " + std::to_string(i + 1) + " is not valid UTF-8");
        }
    }
    return fromVocab(std::move(lines), path);
}

BertTokenizer BertTokenizer::fromVocab(std::vector<std::string> vocab, std::string sourceName) {
    if (vocab.empty()) {
        throw Error(sourceName + ": the vocabulary is empty");
    }
    BertTokenizer tokenizer;
    tokenizer.m_sourceName = std::move(sourceName);
    tokenizer.m_vocab = std::move(vocab);
    tokenizer.m_ids.reserve(tokenizer.m_vocab.size());
    for (std::size_t i = 0; i < tokenizer.m_vocab.size(); ++i) {
        const std::string& token = tokenizer.m_vocab[i];
        tokenizer.m_ids[token] = static_cast<std::int64_t>(i);  // a repeated token keeps its last line
        tokenizer.m_maxTokenBytes = std::max(tokenizer.m_maxTokenBytes, token.size());
    }

    const auto require = [&](const char* token) {
        const std::int64_t* id = tokenizer.findId(token);
        if (id == nullptr) {
            std::string message = tokenizer.m_sourceName + ": the vocabulary has no " + token + " entry";
            if (tokenizer.m_vocab.front().rfind("\xEF\xBB\xBF", 0) == 0) {
                message += " (the file starts with a UTF-8 byte order mark, which is kept as part of line 1)";
            }
            throw Error(message);
        }
        return *id;
    };
    tokenizer.m_unkId = require(kUnkToken);
    tokenizer.m_clsId = require(kClsToken);
    tokenizer.m_sepId = require(kSepToken);
    tokenizer.m_padId = require(kPadToken);
    if (const std::int64_t* id = tokenizer.findId(kMaskToken)) {
        tokenizer.m_maskId = *id;
    }
    // The order of the reference's special-token list; none is a prefix of another, so the first
    // one that matches at a position is the only one.
    for (const char* token : {kUnkToken, kSepToken, kPadToken, kClsToken, kMaskToken}) {
        if (tokenizer.findId(token) != nullptr) {
            tokenizer.m_specialTokens.push_back(decodeUtf8(token));
        }
    }
    return tokenizer;
}

const std::int64_t* BertTokenizer::findId(const std::string& token) const {
    const auto it = m_ids.find(token);
    return it == m_ids.end() ? nullptr : &it->second;
}

std::int64_t BertTokenizer::idOf(std::string_view token) const {
    const std::int64_t* id = findId(std::string(token));
    return id == nullptr ? m_unkId : *id;
}

std::vector<std::int64_t> BertTokenizer::idsOf(const std::vector<std::string>& tokens) const {
    std::vector<std::int64_t> ids;
    ids.reserve(tokens.size());
    for (const std::string& token : tokens) {
        const std::int64_t* id = findId(token);
        ids.push_back(id == nullptr ? m_unkId : *id);
    }
    return ids;
}

std::optional<std::int64_t> BertTokenizer::maskId() const {
    if (m_maskId < 0) {
        return std::nullopt;
    }
    return m_maskId;
}

const std::string& BertTokenizer::tokenOf(std::int64_t id) const {
    if (id < 0 || static_cast<std::uint64_t>(id) >= m_vocab.size()) {
        throw Error(m_sourceName + ": token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                    std::to_string(m_vocab.size() - 1) + ")");
    }
    return m_vocab[static_cast<std::size_t>(id)];
}

void BertTokenizer::appendBasicTokens(std::u32string_view text, std::vector<std::u32string>& out) const {
    // _clean_text and _tokenize_chinese_chars in one pass.
    std::u32string cleaned;
    cleaned.reserve(text.size() + 8);
    for (char32_t cp : text) {
        if (cp == 0 || cp == kReplacementCharacter || isBertControl(cp)) {
            continue;
        }
        if (isBertWhitespace(cp)) {
            cleaned.push_back(' ');
        } else if (unicode::isCjkIdeograph(cp)) {
            cleaned.push_back(' ');
            cleaned.push_back(cp);
            cleaned.push_back(' ');
        } else {
            cleaned.push_back(cp);
        }
    }

    std::u32string lowered;
    std::u32string decomposed;
    std::size_t i = 0;
    while (i < cleaned.size()) {
        // whitespace_tokenize: str.split() with no argument.
        while (i < cleaned.size() && unicode::isPythonSpace(cleaned[i])) {
            ++i;
        }
        const std::size_t start = i;
        while (i < cleaned.size() && !unicode::isPythonSpace(cleaned[i])) {
            ++i;
        }
        if (start == i) {
            break;
        }
        lowered.clear();
        appendLowerWord(std::u32string_view(cleaned).substr(start, i - start), lowered);
        decomposed.clear();
        unicode::appendNfd(lowered, decomposed);

        // _run_strip_accents, then _run_split_on_punc; empty pieces vanish as in the reference's
        // final whitespace_tokenize.
        std::u32string current;
        for (char32_t cp : decomposed) {
            if (unicode::charClass(cp) == unicode::CharClass::NonspacingMark) {
                continue;
            }
            if (isBertPunctuation(cp)) {
                if (!current.empty()) {
                    out.push_back(std::move(current));
                    current.clear();
                }
                out.emplace_back(1, cp);
            } else {
                current.push_back(cp);
            }
        }
        if (!current.empty()) {
            out.push_back(std::move(current));
        }
    }
}

void BertTokenizer::appendWordPieces(const std::u32string& word, std::vector<std::string>& out) const {
    if (word.size() > kMaxInputCharsPerWord) {
        out.emplace_back(kUnkToken);
        return;
    }
    // Byte offset of every code point so that candidate pieces are plain substrings.
    std::string utf8;
    std::vector<std::size_t> offsets;
    offsets.reserve(word.size() + 1);
    for (char32_t cp : word) {
        offsets.push_back(utf8.size());
        appendUtf8(cp, utf8);
    }
    offsets.push_back(utf8.size());

    const std::size_t firstNew = out.size();
    std::string candidate;
    std::size_t start = 0;
    while (start < word.size()) {
        const std::size_t prefixBytes = start > 0 ? 2 : 0;
        std::size_t end = word.size();
        // No vocabulary entry is longer than m_maxTokenBytes: skip candidates that cannot match.
        while (end > start && prefixBytes + offsets[end] - offsets[start] > m_maxTokenBytes) {
            --end;
        }
        bool found = false;
        for (; end > start; --end) {
            candidate.assign(start > 0 ? "##" : "");
            candidate.append(utf8, offsets[start], offsets[end] - offsets[start]);
            if (findId(candidate) != nullptr) {
                found = true;
                break;
            }
        }
        if (!found) {
            out.resize(firstNew);
            out.emplace_back(kUnkToken);
            return;
        }
        out.push_back(candidate);
        start = end;
    }
}

void BertTokenizer::appendTokensOfPiece(std::u32string_view piece, std::vector<std::string>& out) const {
    std::vector<std::u32string> words;
    appendBasicTokens(piece, words);
    for (const std::u32string& word : words) {
        appendWordPieces(word, out);
    }
}

std::vector<std::string> BertTokenizer::basicTokenize(std::string_view utf8) const {
    std::vector<std::u32string> words;
    appendBasicTokens(decodeUtf8(utf8), words);
    std::vector<std::string> out;
    out.reserve(words.size());
    for (const std::u32string& word : words) {
        out.push_back(toUtf8(word));
    }
    return out;
}

std::vector<std::string> BertTokenizer::tokenize(std::string_view utf8) const {
    const std::u32string text = decodeUtf8(utf8);
    std::vector<std::string> out;
    // Steps 1 and 2: lowercase character by character into `piece` until a special token starts;
    // then tokenize the piece and emit the special token as it is.
    std::u32string piece;
    std::size_t i = 0;
    while (i < text.size()) {
        const std::u32string* special = nullptr;
        if (text[i] == '[') {
            for (const std::u32string& token : m_specialTokens) {
                if (text.compare(i, token.size(), token) == 0) {
                    special = &token;
                    break;
                }
            }
        }
        if (special == nullptr) {
            unicode::appendLower(text[i], piece);
            ++i;
            continue;
        }
        appendTokensOfPiece(piece, out);
        piece.clear();
        out.push_back(toUtf8(*special));
        i += special->size();
    }
    appendTokensOfPiece(piece, out);
    return out;
}

TextEncoding BertTokenizer::encode(std::string_view utf8, std::optional<std::size_t> maxLength,
                                   bool padToMaxLength) const {
    if (maxLength && *maxLength < 2) {
        throw Error(m_sourceName + ": maxLength " + std::to_string(*maxLength) +
                    " leaves no room for [CLS] and [SEP]");
    }
    std::vector<std::string> pieces = tokenize(utf8);
    if (maxLength && pieces.size() > *maxLength - 2) {
        pieces.resize(*maxLength - 2);
    }
    const std::size_t length = maxLength && padToMaxLength ? *maxLength : pieces.size() + 2;

    TextEncoding encoding;
    encoding.tokens.reserve(length);
    encoding.tokens.emplace_back(kClsToken);
    for (std::string& piece : pieces) {
        encoding.tokens.push_back(std::move(piece));
    }
    encoding.tokens.emplace_back(kSepToken);
    encoding.inputIds = idsOf(encoding.tokens);
    encoding.attentionMask.assign(encoding.tokens.size(), 1);
    while (encoding.tokens.size() < length) {
        encoding.tokens.emplace_back(kPadToken);
        encoding.inputIds.push_back(m_padId);
        encoding.attentionMask.push_back(0);
    }
    encoding.tokenTypeIds.assign(encoding.tokens.size(), 0);
    return encoding;
}

}  // namespace tokenscope
