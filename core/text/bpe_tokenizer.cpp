#include "text/bpe_tokenizer.h"

#include "text/unicode_tables.h"

#include "common/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <limits>
#include <mutex>
#include <sstream>
#include <utility>

namespace tokenscope {

namespace {

constexpr char32_t kReplacementCharacter = 0xFFFD;
constexpr std::uint32_t kNoRank = std::numeric_limits<std::uint32_t>::max();
// The reference caches every piece forever; a bound keeps memory flat on endless input. Pieces
// longer than this are rare (a very long word) and simply not cached.
constexpr std::size_t kMaxCachedWords = std::size_t{1} << 16;
constexpr std::size_t kMaxCachedPieceBytes = 256;

// RobertaTokenizer's defaults, in the order of BpeTokenizer::SpecialIndex.
constexpr std::size_t kSpecialTokenCount = 5;
const char* const kSpecialTexts[kSpecialTokenCount] = {"<s>", "</s>", "<pad>", "<unk>", "<mask>"};
// Only the mask token is an AddedToken(lstrip=True) ("behave like a normal word, i.e. include the
// space before it", tokenization_roberta.py).
constexpr bool kSpecialLStrip[kSpecialTokenCount] = {false, false, false, false, true};

// tokenization_utils_base.py clean_up_tokenization, applied in this order.
const std::pair<const char*, const char*> kCleanUps[] = {
    {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
    {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
};

BpeTokenizer::CharClass classOfNonAscii(char32_t cp);

// ---- UTF-8 ----------------------------------------------------------------------------------

// Decodes the sequence at text[i] as CPython's UTF-8 decoder does: a valid sequence gives its code
// point; otherwise U+FFFD for the maximal prefix of a valid sequence (at least one byte; Unicode
// 15.0 section 3.9, "U+FFFD Substitution of Maximal Subparts"), which is what errors="replace" emits.
char32_t decodeStep(std::string_view text, std::size_t i, std::size_t& length, bool& valid) {
    const unsigned char lead = static_cast<unsigned char>(text[i]);
    length = 1;
    valid = true;
    if (lead < 0x80) {
        return lead;
    }
    std::size_t need = 0;
    char32_t cp = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        need = 1;
        cp = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        need = 2;
        cp = lead & 0x0F;
        low = lead == 0xE0 ? 0xA0 : 0x80;   // overlong
        high = lead == 0xED ? 0x9F : 0xBF;  // surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        need = 3;
        cp = lead & 0x07;
        low = lead == 0xF0 ? 0x90 : 0x80;   // overlong
        high = lead == 0xF4 ? 0x8F : 0xBF;  // above U+10FFFF
    } else {
        valid = false;
        return kReplacementCharacter;
    }
    std::size_t k = 1;
    for (; k <= need && i + k < text.size(); ++k) {
        const unsigned char next = static_cast<unsigned char>(text[i + k]);
        if (next < (k == 1 ? low : 0x80) || next > (k == 1 ? high : 0xBF)) {
            break;
        }
        cp = (cp << 6) | (next & 0x3F);
    }
    if (k <= need) {
        length = k;
        valid = false;
        return kReplacementCharacter;
    }
    length = need + 1;
    return cp;
}

std::u32string decodeUtf8(std::string_view text) {
    std::u32string out;
    out.reserve(text.size());
    std::size_t length = 0;
    bool valid = true;
    for (std::size_t i = 0; i < text.size(); i += length) {
        out.push_back(decodeStep(text, i, length, valid));
    }
    return out;
}

// Byte offset of the first byte that is not part of valid UTF-8, or npos.
std::size_t firstInvalidUtf8(std::string_view text) {
    std::size_t length = 0;
    bool valid = true;
    for (std::size_t i = 0; i < text.size(); i += length) {
        decodeStep(text, i, length, valid);
        if (!valid) {
            return i;
        }
    }
    return std::string_view::npos;
}

void appendUtf8(char32_t cp, std::string& out) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::string toUtf8(std::u32string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char32_t cp : text) {
        appendUtf8(cp, out);
    }
    return out;
}

// A token or line for an error message: control bytes escaped, long text shortened.
std::string printable(std::string_view text) {
    constexpr std::size_t kMaxBytes = 60;
    std::size_t end = std::min(text.size(), kMaxBytes);
    while (end < text.size() && end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
        --end;  // do not cut a UTF-8 sequence
    }
    std::string out = "\"";
    for (std::size_t i = 0; i < end; ++i) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (c < 0x20 || c == 0x7F) {
            const char* const hex = "0123456789abcdef";
            out += "\\x";
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 0xF]);
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
    out += end < text.size() ? "...\"" : "\"";
    return out;
}

// ---- bytes_to_unicode -----------------------------------------------------------------------

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

const ByteStandIns& byteStandIns() {
    static const ByteStandIns instance;
    return instance;
}

// ---- pre-tokenisation -----------------------------------------------------------------------

using CharClass = BpeTokenizer::CharClass;

// End of the match of GPT-2's pattern that starts at text[i] (i < text.size()), following the
// alternation order of 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+.
// Some alternative always matches, so every call consumes at least one character.
std::size_t pieceEnd(std::u32string_view text, std::size_t i) {
    const std::size_t n = text.size();
    if (text[i] == '\'' && i + 1 < n) {
        const char32_t c1 = text[i + 1];
        if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
            return i + 2;
        }
        if (i + 2 < n) {
            const char32_t c2 = text[i + 2];
            if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
                return i + 3;
            }
        }
    }
    // " ?X+" for X = \p{L}, \p{N}, [^\s\p{L}\p{N}]: with the optional space when it is followed by
    // such a run; without it the space itself (white space) could start none of them.
    const std::size_t start = (text[i] == ' ' && i + 1 < n) ? i + 1 : i;
    const CharClass runClass = BpeTokenizer::charClass(text[start]);
    if (runClass != CharClass::Whitespace) {
        std::size_t end = start + 1;
        while (end < n && BpeTokenizer::charClass(text[end]) == runClass) {
            ++end;
        }
        return end;
    }
    // text[i] is white space. \s+(?!\S): the whole run if it reaches the end of the text, else the
    // run minus its last character (which then leads the next piece); \s+ when that would be empty.
    std::size_t end = i + 1;
    while (end < n && BpeTokenizer::charClass(text[end]) == CharClass::Whitespace) {
        ++end;
    }
    if (end == n || end - 1 == i) {
        return end;
    }
    return end - 1;
}

// ---- files ----------------------------------------------------------------------------------

std::string readFile(const std::string& path, const char* what) {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        throw Error(path + ": cannot open the " + what);
    }
    std::ostringstream buffer;
    buffer << file.rdbuf();
    if (file.bad()) {
        throw Error(path + ": cannot read the " + what);
    }
    return buffer.str();
}

// json.load of vocab.json through nlohmann's SAX interface: the order of first appearance and
// "last value wins" for a repeated key (Python's dict), without building a DOM.
class VocabReader final : public nlohmann::json_sax<nlohmann::json> {
public:
    std::vector<std::pair<std::string, std::int64_t>> entries;
    std::string error;

    bool null() override { return notAnId("null"); }
    bool boolean(bool) override { return notAnId("a boolean"); }
    bool number_integer(number_integer_t value) override {
        if (m_depth != 1) {
            return notAnObject();
        }
        if (value < 0) {
            return fail("the id of " + printable(m_key) + " is negative (" + std::to_string(value) + ")");
        }
        return add(value);
    }
    bool number_unsigned(number_unsigned_t value) override {
        if (m_depth != 1) {
            return notAnObject();
        }
        if (value > static_cast<number_unsigned_t>(std::numeric_limits<std::int64_t>::max())) {
            return fail("the id of " + printable(m_key) + " is too large (" + std::to_string(value) + ")");
        }
        return add(static_cast<std::int64_t>(value));
    }
    bool number_float(number_float_t, const string_t& text) override { return notAnId("the number " + text); }
    bool string(string_t&) override { return notAnId("a string"); }
    bool binary(binary_t&) override { return notAnId("binary data"); }
    bool start_object(std::size_t) override {
        if (m_depth == 0) {
            m_depth = 1;
            return true;
        }
        return notAnId("an object");
    }
    bool key(string_t& key) override {
        m_key = key;
        return true;
    }
    bool end_object() override {
        m_depth = 0;
        return true;
    }
    bool start_array(std::size_t) override { return notAnId("an array"); }
    bool end_array() override { return true; }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
        return fail(std::string("not valid JSON (") + e.what() + ")");
    }

private:
    bool fail(std::string message) {
        if (error.empty()) {
            error = std::move(message);
        }
        return false;
    }
    bool notAnObject() { return fail("not a JSON object of token -> id"); }
    bool notAnId(const std::string& what) {
        if (m_depth != 1) {
            return notAnObject();
        }
        return fail("the id of " + printable(m_key) + " is not an integer but " + what);
    }
    bool add(std::int64_t id) {
        const auto [it, inserted] = m_positions.emplace(m_key, entries.size());
        if (inserted) {
            entries.emplace_back(m_key, id);
        } else {
            entries[it->second].second = id;
        }
        return true;
    }

    int m_depth = 0;
    std::string m_key;
    std::unordered_map<std::string, std::size_t> m_positions;
};

// merges.txt as `open(path, encoding="utf-8").read().split("\n")[1:-1]` sees it.
std::vector<std::string_view> mergeLines(std::string_view text, std::string& normalized) {
    normalized.clear();
    normalized.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\r') {
            normalized.push_back('\n');  // universal newlines: "\r\n" and "\r" both end a line
            if (i + 1 < text.size() && text[i + 1] == '\n') {
                ++i;
            }
        } else {
            normalized.push_back(text[i]);
        }
    }
    std::vector<std::string_view> lines;
    std::size_t start = 0;
    const std::string_view all(normalized);
    for (std::size_t i = 0; i <= all.size(); ++i) {
        if (i == all.size() || all[i] == '\n') {
            lines.push_back(all.substr(start, i - start));
            start = i + 1;
        }
    }
    if (lines.size() < 2) {
        return {};
    }
    return std::vector<std::string_view>(lines.begin() + 1, lines.end() - 1);
}

// str.split() without arguments: runs of str.isspace() characters separate the parts.
std::vector<std::string> splitPythonWhitespace(std::string_view line) {
    std::vector<std::string> parts;
    std::string current;
    std::size_t length = 0;
    bool valid = true;
    for (std::size_t i = 0; i < line.size(); i += length) {
        const char32_t cp = decodeStep(line, i, length, valid);
        if (unicode::isPythonSpace(cp)) {
            if (!current.empty()) {
                parts.push_back(std::move(current));
                current.clear();
            }
        } else {
            current.append(line.substr(i, length));
        }
    }
    if (!current.empty()) {
        parts.push_back(std::move(current));
    }
    return parts;
}

void replaceAll(std::string& text, std::string_view from, std::string_view to) {
    std::string out;
    std::size_t start = 0;
    for (std::size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, start)) {
        out.append(text, start, pos - start);
        out.append(to);
        start = pos + from.size();
    }
    if (start == 0) {
        return;
    }
    out.append(text, start, std::string::npos);
    text = std::move(out);
}

}  // namespace

struct BpeTokenizer::WordCache {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<std::uint32_t>> words;
};

BpeTokenizer BpeTokenizer::fromDirectory(const std::string& directory) {
    const std::string prefix = directory.empty() || directory.back() == '/' ? directory : directory + "/";
    return fromFiles(prefix + "vocab.json", prefix + "merges.txt");
}

BpeTokenizer BpeTokenizer::fromFiles(const std::string& vocabPath, const std::string& mergesPath) {
    const std::string vocab = readFile(vocabPath, "vocabulary file");
    const std::string merges = readFile(mergesPath, "merges file");
    return fromContent(vocab, merges, vocabPath, mergesPath);
}

BpeTokenizer BpeTokenizer::fromContent(std::string_view vocabJson, std::string_view mergesText,
                                       const std::string& vocabName, const std::string& mergesName) {
    static_assert(kSpecialCount == kSpecialTokenCount, "one entry of kSpecialTexts per SpecialIndex");
    BpeTokenizer tokenizer;
    tokenizer.m_vocabName = vocabName;
    tokenizer.m_mergesName = mergesName;
    tokenizer.m_cache = std::make_shared<WordCache>();

    // vocab.json
    if (vocabJson.substr(0, 3) == "\xEF\xBB\xBF") {
        throw Error(vocabName + ": starts with a UTF-8 byte order mark, which Python's json.load rejects");
    }
    VocabReader reader;
    const bool parsed = nlohmann::json::sax_parse(vocabJson.data(), vocabJson.data() + vocabJson.size(), &reader);
    if (!parsed || !reader.error.empty()) {
        throw Error(vocabName + ": " + (reader.error.empty() ? std::string("not valid JSON") : reader.error));
    }
    tokenizer.m_encoder.reserve(reader.entries.size());
    tokenizer.m_decoder.reserve(reader.entries.size());
    for (auto& [token, id] : reader.entries) {
        tokenizer.m_decoder[id] = token;  // {v: k for k, v in encoder.items()}: the last token of an id wins
        tokenizer.m_encoder.emplace(std::move(token), id);
    }
    for (std::size_t k = 0; k < kSpecialTokenCount; ++k) {
        const auto it = tokenizer.m_encoder.find(kSpecialTexts[k]);
        if (it == tokenizer.m_encoder.end()) {
            throw Error(vocabName + ": no \"" + kSpecialTexts[k] +
                        "\" entry (RoBERTa needs <s>, </s>, <pad>, <unk> and <mask> in the vocabulary)");
        }
        tokenizer.m_specialIds[k] = it->second;
    }

    // Symbols: the byte stand-ins, the special tokens, then the merge rules.
    std::unordered_map<std::string, std::uint32_t> symbolIndex;
    const ByteStandIns& standIns = byteStandIns();
    for (std::size_t b = 0; b < 256; ++b) {
        std::string symbol;
        appendUtf8(standIns.charOfByte[b], symbol);
        tokenizer.m_byteSymbols[b] = tokenizer.internSymbol(symbol, symbolIndex);
    }
    for (std::size_t k = 0; k < kSpecialTokenCount; ++k) {
        tokenizer.m_specialSymbols[k] = tokenizer.internSymbol(kSpecialTexts[k], symbolIndex);
    }

    // merges.txt
    if (const std::size_t bad = firstInvalidUtf8(mergesText); bad != std::string_view::npos) {
        throw Error(mergesName + ": not valid UTF-8 (byte " + std::to_string(bad) + ")");
    }
    std::string normalized;
    const std::vector<std::string_view> lines = mergeLines(mergesText, normalized);
    if (lines.size() >= kNoRank) {
        throw Error(mergesName + ": too many lines");
    }
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::vector<std::string> parts = splitPythonWhitespace(lines[i]);
        if (parts.empty()) {
            continue;  // a blank line: an empty tuple in the reference, which no pair equals
        }
        if (parts.size() != 2) {
            throw Error(mergesName + ": line " + std::to_string(i + 2) + " " + printable(lines[i]) +
                        " is not a merge rule (two symbols separated by a space; found " +
                        std::to_string(parts.size()) + ")");
        }
        const std::uint32_t left = tokenizer.internSymbol(parts[0], symbolIndex);
        const std::uint32_t right = tokenizer.internSymbol(parts[1], symbolIndex);
        const std::uint32_t result = tokenizer.internSymbol(parts[0] + parts[1], symbolIndex);
        // dict(zip(merges, range(...))): a rule listed twice keeps its later rank.
        tokenizer.m_merges[(std::uint64_t{left} << 32) | right] = Merge{static_cast<std::uint32_t>(i), result};
    }

    tokenizer.m_symbolIds.reserve(tokenizer.m_symbols.size());
    for (const std::string& symbol : tokenizer.m_symbols) {
        const auto it = tokenizer.m_encoder.find(symbol);
        tokenizer.m_symbolIds.push_back(it == tokenizer.m_encoder.end() ? tokenizer.unkId() : it->second);
    }
    return tokenizer;
}

std::uint32_t BpeTokenizer::internSymbol(const std::string& symbol,
                                         std::unordered_map<std::string, std::uint32_t>& index) {
    const auto [it, inserted] = index.emplace(symbol, static_cast<std::uint32_t>(m_symbols.size()));
    if (inserted) {
        m_symbols.push_back(symbol);
    }
    return it->second;
}

std::uint32_t BpeTokenizer::rankOf(std::uint32_t left, std::uint32_t right) const {
    const auto it = m_merges.find((std::uint64_t{left} << 32) | right);
    return it == m_merges.end() ? kNoRank : it->second.rank;
}

void BpeTokenizer::bytePairMerge(std::vector<std::uint32_t>& word) const {
    // ranks[k]: rank of the pair (word[k], word[k + 1]). After a round only the pairs next to a merged
    // symbol change; the others keep their rank (`source` says where each symbol came from).
    constexpr std::size_t kMerged = std::numeric_limits<std::size_t>::max();
    std::vector<std::uint32_t> ranks(word.size() - 1);
    for (std::size_t k = 0; k + 1 < word.size(); ++k) {
        ranks[k] = rankOf(word[k], word[k + 1]);
    }
    std::vector<std::uint32_t> next;
    std::vector<std::uint32_t> nextRanks;
    std::vector<std::size_t> source;
    while (word.size() > 1) {
        const auto best = std::min_element(ranks.begin(), ranks.end());
        if (*best == kNoRank) {
            break;
        }
        const std::size_t at = static_cast<std::size_t>(best - ranks.begin());
        const std::uint32_t first = word[at];
        const std::uint32_t second = word[at + 1];
        const std::uint32_t merged = m_merges.at((std::uint64_t{first} << 32) | second).result;
        next.clear();
        source.clear();
        // The reference's scan: every non-overlapping (first, second), left to right. Nothing
        // before `at` can be one (it would have the same, minimal rank and come first).
        next.insert(next.end(), word.begin(), word.begin() + static_cast<std::ptrdiff_t>(at));
        for (std::size_t k = 0; k < at; ++k) {
            source.push_back(k);
        }
        for (std::size_t k = at; k < word.size();) {
            if (k + 1 < word.size() && word[k] == first && word[k + 1] == second) {
                next.push_back(merged);
                source.push_back(kMerged);
                k += 2;
            } else {
                next.push_back(word[k]);
                source.push_back(k);
                ++k;
            }
        }
        nextRanks.resize(next.size() - 1);
        for (std::size_t k = 0; k + 1 < next.size(); ++k) {
            nextRanks[k] = source[k] != kMerged && source[k + 1] != kMerged ? ranks[source[k]]
                                                                             : rankOf(next[k], next[k + 1]);
        }
        word.swap(next);
        ranks.swap(nextRanks);
    }
}

void BpeTokenizer::appendPieceSymbols(std::string_view pieceBytes, std::vector<std::uint32_t>& out) const {
    if (pieceBytes.size() == 1) {
        out.push_back(m_byteSymbols[static_cast<unsigned char>(pieceBytes[0])]);
        return;
    }
    const bool cacheable = pieceBytes.size() <= kMaxCachedPieceBytes;
    std::string key;
    if (cacheable) {
        key.assign(pieceBytes);
        const std::lock_guard<std::mutex> lock(m_cache->mutex);
        const auto it = m_cache->words.find(key);
        if (it != m_cache->words.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    std::vector<std::uint32_t> word;
    word.reserve(pieceBytes.size());
    for (char byte : pieceBytes) {
        word.push_back(m_byteSymbols[static_cast<unsigned char>(byte)]);
    }
    bytePairMerge(word);
    out.insert(out.end(), word.begin(), word.end());
    if (cacheable) {
        const std::lock_guard<std::mutex> lock(m_cache->mutex);
        if (m_cache->words.size() >= kMaxCachedWords) {
            m_cache->words.clear();
        }
        m_cache->words.emplace(std::move(key), std::move(word));
    }
}

std::vector<std::uint32_t> BpeTokenizer::tokenSymbols(std::string_view utf8) const {
    const std::u32string text = decodeUtf8(utf8);
    static const std::array<std::u32string, kSpecialTokenCount> specials = [] {
        std::array<std::u32string, kSpecialTokenCount> out;
        for (std::size_t k = 0; k < kSpecialTokenCount; ++k) {
            out[k] = decodeUtf8(kSpecialTexts[k]);
        }
        return out;
    }();

    // Step 1 (Trie.split + the AddedToken strip rules of PreTrainedTokenizer.tokenize). None of the
    // special tokens is a prefix of another, so the first that matches at a position is the longest.
    struct Segment {
        std::size_t begin;
        std::size_t end;
        int special;  // index into kSpecialTexts, or -1 for text
    };
    std::vector<Segment> segments;
    std::size_t textStart = 0;
    for (std::size_t i = 0; i < text.size();) {
        int found = -1;
        if (text[i] == '<') {
            for (std::size_t k = 0; k < kSpecialTokenCount; ++k) {
                if (text.compare(i, specials[k].size(), specials[k]) == 0) {
                    found = static_cast<int>(k);
                    break;
                }
            }
        }
        if (found < 0) {
            ++i;
            continue;
        }
        if (i > textStart) {
            segments.push_back({textStart, i, -1});
        }
        if (kSpecialLStrip[found] && !segments.empty() && segments.back().special < 0) {
            Segment& left = segments.back();
            while (left.end > left.begin && unicode::isPythonSpace(text[left.end - 1])) {
                --left.end;
            }
        }
        const std::size_t end = i + specials[static_cast<std::size_t>(found)].size();
        segments.push_back({i, end, found});
        i = end;
        textStart = end;
    }
    if (textStart < text.size()) {
        segments.push_back({textStart, text.size(), -1});
    }

    // Steps 2 and 3.
    std::vector<std::uint32_t> symbols;
    std::string pieceBytes;
    const std::u32string_view all(text);
    for (const Segment& segment : segments) {
        if (segment.special >= 0) {
            symbols.push_back(m_specialSymbols[static_cast<std::size_t>(segment.special)]);
            continue;
        }
        const std::u32string_view part = all.substr(segment.begin, segment.end - segment.begin);
        for (std::size_t i = 0; i < part.size();) {
            const std::size_t end = pieceEnd(part, i);
            pieceBytes.clear();
            for (std::size_t k = i; k < end; ++k) {
                appendUtf8(part[k], pieceBytes);
            }
            appendPieceSymbols(pieceBytes, symbols);
            i = end;
        }
    }
    return symbols;
}

std::vector<std::string> BpeTokenizer::preTokenize(std::string_view utf8) const {
    const std::u32string text = decodeUtf8(utf8);
    std::vector<std::string> pieces;
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t end = pieceEnd(text, i);
        pieces.push_back(toUtf8(std::u32string_view(text).substr(i, end - i)));
        i = end;
    }
    return pieces;
}

std::vector<std::string> BpeTokenizer::tokenize(std::string_view utf8) const {
    const std::vector<std::uint32_t> symbols = tokenSymbols(utf8);
    std::vector<std::string> tokens;
    tokens.reserve(symbols.size());
    for (std::uint32_t symbol : symbols) {
        tokens.push_back(m_symbols[symbol]);
    }
    return tokens;
}

std::vector<std::int64_t> BpeTokenizer::encode(std::string_view utf8, bool addSpecialTokens) const {
    const std::vector<std::uint32_t> symbols = tokenSymbols(utf8);
    std::vector<std::int64_t> ids;
    ids.reserve(symbols.size() + 2);
    if (addSpecialTokens) {
        ids.push_back(bosId());
    }
    for (std::uint32_t symbol : symbols) {
        ids.push_back(m_symbolIds[symbol]);
    }
    if (addSpecialTokens) {
        ids.push_back(eosId());
    }
    return ids;
}

TextEncoding BpeTokenizer::encodePadded(std::string_view utf8, std::size_t maxLength) const {
    if (maxLength < kMinMaxLength) {
        throw Error(m_vocabName + ": maxLength " + std::to_string(maxLength) +
                    " leaves no room for a token between <s> and </s> (at least " +
                    std::to_string(kMinMaxLength) + ")");
    }
    std::vector<std::int64_t> ids = encode(utf8, false);
    if (ids.size() > maxLength - 2) {
        ids.resize(maxLength - 2);  // truncation="longest_first" on one sequence, from the right
    }
    TextEncoding encoding;
    encoding.inputIds.reserve(maxLength);
    encoding.inputIds.push_back(bosId());
    encoding.inputIds.insert(encoding.inputIds.end(), ids.begin(), ids.end());
    encoding.inputIds.push_back(eosId());
    encoding.attentionMask.assign(encoding.inputIds.size(), 1);
    encoding.inputIds.resize(maxLength, padId());
    encoding.attentionMask.resize(maxLength, 0);
    encoding.tokenTypeIds.assign(maxLength, 0);
    encoding.tokens.reserve(maxLength);
    for (std::int64_t id : encoding.inputIds) {
        encoding.tokens.push_back(tokenOf(id));
    }
    return encoding;
}

std::vector<TextEncoding> BpeTokenizer::encodeBatch(const std::vector<std::string>& texts,
                                                    std::size_t maxLength) const {
    std::vector<TextEncoding> encodings;
    encodings.reserve(texts.size());
    for (const std::string& text : texts) {
        encodings.push_back(encodePadded(text, maxLength));
    }
    return encodings;
}

const std::string* BpeTokenizer::findEntry(std::int64_t id) const {
    static const std::array<std::string, kSpecialTokenCount> specialTexts = {
        kSpecialTexts[0], kSpecialTexts[1], kSpecialTexts[2], kSpecialTexts[3], kSpecialTexts[4]};
    // convert_ids_to_tokens looks at the added (special) tokens before the vocabulary.
    for (std::size_t k = 0; k < kSpecialTokenCount; ++k) {
        if (m_specialIds[k] == id) {
            return &specialTexts[k];
        }
    }
    const auto it = m_decoder.find(id);
    return it == m_decoder.end() ? nullptr : &it->second;
}

std::int64_t BpeTokenizer::idOf(std::string_view token) const {
    const auto it = m_encoder.find(std::string(token));
    return it == m_encoder.end() ? unkId() : it->second;
}

const std::string& BpeTokenizer::tokenOf(std::int64_t id) const {
    const std::string* entry = findEntry(id);
    if (entry == nullptr) {
        throw Error(m_vocabName + ": no vocabulary entry has the id " + std::to_string(id));
    }
    return *entry;
}

std::string BpeTokenizer::decode(const std::vector<std::int64_t>& ids, const BpeDecodeOptions& options) const {
    const ByteStandIns& standIns = byteStandIns();
    std::string bytes;
    for (std::int64_t id : ids) {
        if (options.skipSpecialTokens &&
            std::find(m_specialIds.begin(), m_specialIds.end(), id) != m_specialIds.end()) {
            continue;
        }
        const std::string& token = tokenOf(id);
        std::size_t length = 0;
        bool valid = true;
        for (std::size_t i = 0; i < token.size(); i += length) {
            const char32_t cp = decodeStep(token, i, length, valid);
            const int byte = cp < standIns.byteOfChar.size() ? standIns.byteOfChar[cp] : -1;
            if (byte < 0) {
                std::string character;
                appendUtf8(cp, character);
                throw Error(m_vocabName + ": cannot decode the token " + printable(token) + " (id " +
                            std::to_string(id) + "): " + printable(character) +
                            " is not one of the 256 byte symbols");
            }
            bytes.push_back(static_cast<char>(byte));
        }
    }
    // bytearray(...).decode("utf-8", errors="replace")
    std::string text;
    text.reserve(bytes.size());
    std::size_t length = 0;
    bool valid = true;
    for (std::size_t i = 0; i < bytes.size(); i += length) {
        appendUtf8(decodeStep(bytes, i, length, valid), text);
    }
    if (options.cleanUpTokenizationSpaces) {
        for (const auto& [from, to] : kCleanUps) {
            replaceAll(text, from, to);
        }
    }
    return text;
}

// ---- character classes ----------------------------------------------------------------------

BpeTokenizer::CharClass BpeTokenizer::charClass(char32_t cp) {
    if (cp < 0x80) {
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) {
            return CharClass::Letter;
        }
        if (cp >= '0' && cp <= '9') {
            return CharClass::Number;
        }
        if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) {
            return CharClass::Whitespace;
        }
        return CharClass::Other;
    }
    return classOfNonAscii(cp);
}

namespace {

struct CodePointRange {
    char32_t first;
    char32_t last;
};

// The classes of the `regex` module that the reference's pattern uses (Debian 12: python3-regex
// 2022.10.31, regex.__version__ 2.5.123, Unicode 15.0.0): \p{L}, \p{N} and \s as ranges of code
// points. Printed by `tools/reference/gen_roberta_tokenizer_cases.py --cpp-tables`;
// tests/tst_bpe_tokenizer.cpp checks every code point against the ranges the same script records in
// tests/data/meter/tokenizer_generated.json.
// 659 ranges
constexpr CodePointRange kLetterRanges[] = {
    {0x0041, 0x005A}, {0x0061, 0x007A}, {0x00AA, 0x00AA}, {0x00B5, 0x00B5}, {0x00BA, 0x00BA},
    {0x00C0, 0x00D6}, {0x00D8, 0x00F6}, {0x00F8, 0x02C1}, {0x02C6, 0x02D1}, {0x02E0, 0x02E4},
    {0x02EC, 0x02EC}, {0x02EE, 0x02EE}, {0x0370, 0x0374}, {0x0376, 0x0377}, {0x037A, 0x037D},
    {0x037F, 0x037F}, {0x0386, 0x0386}, {0x0388, 0x038A}, {0x038C, 0x038C}, {0x038E, 0x03A1},
    {0x03A3, 0x03F5}, {0x03F7, 0x0481}, {0x048A, 0x052F}, {0x0531, 0x0556}, {0x0559, 0x0559},
    {0x0560, 0x0588}, {0x05D0, 0x05EA}, {0x05EF, 0x05F2}, {0x0620, 0x064A}, {0x066E, 0x066F},
    {0x0671, 0x06D3}, {0x06D5, 0x06D5}, {0x06E5, 0x06E6}, {0x06EE, 0x06EF}, {0x06FA, 0x06FC},
    {0x06FF, 0x06FF}, {0x0710, 0x0710}, {0x0712, 0x072F}, {0x074D, 0x07A5}, {0x07B1, 0x07B1},
    {0x07CA, 0x07EA}, {0x07F4, 0x07F5}, {0x07FA, 0x07FA}, {0x0800, 0x0815}, {0x081A, 0x081A},
    {0x0824, 0x0824}, {0x0828, 0x0828}, {0x0840, 0x0858}, {0x0860, 0x086A}, {0x0870, 0x0887},
    {0x0889, 0x088E}, {0x08A0, 0x08C9}, {0x0904, 0x0939}, {0x093D, 0x093D}, {0x0950, 0x0950},
    {0x0958, 0x0961}, {0x0971, 0x0980}, {0x0985, 0x098C}, {0x098F, 0x0990}, {0x0993, 0x09A8},
    {0x09AA, 0x09B0}, {0x09B2, 0x09B2}, {0x09B6, 0x09B9}, {0x09BD, 0x09BD}, {0x09CE, 0x09CE},
    {0x09DC, 0x09DD}, {0x09DF, 0x09E1}, {0x09F0, 0x09F1}, {0x09FC, 0x09FC}, {0x0A05, 0x0A0A},
    {0x0A0F, 0x0A10}, {0x0A13, 0x0A28}, {0x0A2A, 0x0A30}, {0x0A32, 0x0A33}, {0x0A35, 0x0A36},
    {0x0A38, 0x0A39}, {0x0A59, 0x0A5C}, {0x0A5E, 0x0A5E}, {0x0A72, 0x0A74}, {0x0A85, 0x0A8D},
    {0x0A8F, 0x0A91}, {0x0A93, 0x0AA8}, {0x0AAA, 0x0AB0}, {0x0AB2, 0x0AB3}, {0x0AB5, 0x0AB9},
    {0x0ABD, 0x0ABD}, {0x0AD0, 0x0AD0}, {0x0AE0, 0x0AE1}, {0x0AF9, 0x0AF9}, {0x0B05, 0x0B0C},
    {0x0B0F, 0x0B10}, {0x0B13, 0x0B28}, {0x0B2A, 0x0B30}, {0x0B32, 0x0B33}, {0x0B35, 0x0B39},
    {0x0B3D, 0x0B3D}, {0x0B5C, 0x0B5D}, {0x0B5F, 0x0B61}, {0x0B71, 0x0B71}, {0x0B83, 0x0B83},
    {0x0B85, 0x0B8A}, {0x0B8E, 0x0B90}, {0x0B92, 0x0B95}, {0x0B99, 0x0B9A}, {0x0B9C, 0x0B9C},
    {0x0B9E, 0x0B9F}, {0x0BA3, 0x0BA4}, {0x0BA8, 0x0BAA}, {0x0BAE, 0x0BB9}, {0x0BD0, 0x0BD0},
    {0x0C05, 0x0C0C}, {0x0C0E, 0x0C10}, {0x0C12, 0x0C28}, {0x0C2A, 0x0C39}, {0x0C3D, 0x0C3D},
    {0x0C58, 0x0C5A}, {0x0C5D, 0x0C5D}, {0x0C60, 0x0C61}, {0x0C80, 0x0C80}, {0x0C85, 0x0C8C},
    {0x0C8E, 0x0C90}, {0x0C92, 0x0CA8}, {0x0CAA, 0x0CB3}, {0x0CB5, 0x0CB9}, {0x0CBD, 0x0CBD},
    {0x0CDD, 0x0CDE}, {0x0CE0, 0x0CE1}, {0x0CF1, 0x0CF2}, {0x0D04, 0x0D0C}, {0x0D0E, 0x0D10},
    {0x0D12, 0x0D3A}, {0x0D3D, 0x0D3D}, {0x0D4E, 0x0D4E}, {0x0D54, 0x0D56}, {0x0D5F, 0x0D61},
    {0x0D7A, 0x0D7F}, {0x0D85, 0x0D96}, {0x0D9A, 0x0DB1}, {0x0DB3, 0x0DBB}, {0x0DBD, 0x0DBD},
    {0x0DC0, 0x0DC6}, {0x0E01, 0x0E30}, {0x0E32, 0x0E33}, {0x0E40, 0x0E46}, {0x0E81, 0x0E82},
    {0x0E84, 0x0E84}, {0x0E86, 0x0E8A}, {0x0E8C, 0x0EA3}, {0x0EA5, 0x0EA5}, {0x0EA7, 0x0EB0},
    {0x0EB2, 0x0EB3}, {0x0EBD, 0x0EBD}, {0x0EC0, 0x0EC4}, {0x0EC6, 0x0EC6}, {0x0EDC, 0x0EDF},
    {0x0F00, 0x0F00}, {0x0F40, 0x0F47}, {0x0F49, 0x0F6C}, {0x0F88, 0x0F8C}, {0x1000, 0x102A},
    {0x103F, 0x103F}, {0x1050, 0x1055}, {0x105A, 0x105D}, {0x1061, 0x1061}, {0x1065, 0x1066},
    {0x106E, 0x1070}, {0x1075, 0x1081}, {0x108E, 0x108E}, {0x10A0, 0x10C5}, {0x10C7, 0x10C7},
    {0x10CD, 0x10CD}, {0x10D0, 0x10FA}, {0x10FC, 0x1248}, {0x124A, 0x124D}, {0x1250, 0x1256},
    {0x1258, 0x1258}, {0x125A, 0x125D}, {0x1260, 0x1288}, {0x128A, 0x128D}, {0x1290, 0x12B0},
    {0x12B2, 0x12B5}, {0x12B8, 0x12BE}, {0x12C0, 0x12C0}, {0x12C2, 0x12C5}, {0x12C8, 0x12D6},
    {0x12D8, 0x1310}, {0x1312, 0x1315}, {0x1318, 0x135A}, {0x1380, 0x138F}, {0x13A0, 0x13F5},
    {0x13F8, 0x13FD}, {0x1401, 0x166C}, {0x166F, 0x167F}, {0x1681, 0x169A}, {0x16A0, 0x16EA},
    {0x16F1, 0x16F8}, {0x1700, 0x1711}, {0x171F, 0x1731}, {0x1740, 0x1751}, {0x1760, 0x176C},
    {0x176E, 0x1770}, {0x1780, 0x17B3}, {0x17D7, 0x17D7}, {0x17DC, 0x17DC}, {0x1820, 0x1878},
    {0x1880, 0x1884}, {0x1887, 0x18A8}, {0x18AA, 0x18AA}, {0x18B0, 0x18F5}, {0x1900, 0x191E},
    {0x1950, 0x196D}, {0x1970, 0x1974}, {0x1980, 0x19AB}, {0x19B0, 0x19C9}, {0x1A00, 0x1A16},
    {0x1A20, 0x1A54}, {0x1AA7, 0x1AA7}, {0x1B05, 0x1B33}, {0x1B45, 0x1B4C}, {0x1B83, 0x1BA0},
    {0x1BAE, 0x1BAF}, {0x1BBA, 0x1BE5}, {0x1C00, 0x1C23}, {0x1C4D, 0x1C4F}, {0x1C5A, 0x1C7D},
    {0x1C80, 0x1C88}, {0x1C90, 0x1CBA}, {0x1CBD, 0x1CBF}, {0x1CE9, 0x1CEC}, {0x1CEE, 0x1CF3},
    {0x1CF5, 0x1CF6}, {0x1CFA, 0x1CFA}, {0x1D00, 0x1DBF}, {0x1E00, 0x1F15}, {0x1F18, 0x1F1D},
    {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE},
    {0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC},
    {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC}, {0x2071, 0x2071}, {0x207F, 0x207F}, {0x2090, 0x209C},
    {0x2102, 0x2102}, {0x2107, 0x2107}, {0x210A, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211D},
    {0x2124, 0x2124}, {0x2126, 0x2126}, {0x2128, 0x2128}, {0x212A, 0x212D}, {0x212F, 0x2139},
    {0x213C, 0x213F}, {0x2145, 0x2149}, {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2CE4},
    {0x2CEB, 0x2CEE}, {0x2CF2, 0x2CF3}, {0x2D00, 0x2D25}, {0x2D27, 0x2D27}, {0x2D2D, 0x2D2D},
    {0x2D30, 0x2D67}, {0x2D6F, 0x2D6F}, {0x2D80, 0x2D96}, {0x2DA0, 0x2DA6}, {0x2DA8, 0x2DAE},
    {0x2DB0, 0x2DB6}, {0x2DB8, 0x2DBE}, {0x2DC0, 0x2DC6}, {0x2DC8, 0x2DCE}, {0x2DD0, 0x2DD6},
    {0x2DD8, 0x2DDE}, {0x2E2F, 0x2E2F}, {0x3005, 0x3006}, {0x3031, 0x3035}, {0x303B, 0x303C},
    {0x3041, 0x3096}, {0x309D, 0x309F}, {0x30A1, 0x30FA}, {0x30FC, 0x30FF}, {0x3105, 0x312F},
    {0x3131, 0x318E}, {0x31A0, 0x31BF}, {0x31F0, 0x31FF}, {0x3400, 0x4DBF}, {0x4E00, 0xA48C},
    {0xA4D0, 0xA4FD}, {0xA500, 0xA60C}, {0xA610, 0xA61F}, {0xA62A, 0xA62B}, {0xA640, 0xA66E},
    {0xA67F, 0xA69D}, {0xA6A0, 0xA6E5}, {0xA717, 0xA71F}, {0xA722, 0xA788}, {0xA78B, 0xA7CA},
    {0xA7D0, 0xA7D1}, {0xA7D3, 0xA7D3}, {0xA7D5, 0xA7D9}, {0xA7F2, 0xA801}, {0xA803, 0xA805},
    {0xA807, 0xA80A}, {0xA80C, 0xA822}, {0xA840, 0xA873}, {0xA882, 0xA8B3}, {0xA8F2, 0xA8F7},
    {0xA8FB, 0xA8FB}, {0xA8FD, 0xA8FE}, {0xA90A, 0xA925}, {0xA930, 0xA946}, {0xA960, 0xA97C},
    {0xA984, 0xA9B2}, {0xA9CF, 0xA9CF}, {0xA9E0, 0xA9E4}, {0xA9E6, 0xA9EF}, {0xA9FA, 0xA9FE},
    {0xAA00, 0xAA28}, {0xAA40, 0xAA42}, {0xAA44, 0xAA4B}, {0xAA60, 0xAA76}, {0xAA7A, 0xAA7A},
    {0xAA7E, 0xAAAF}, {0xAAB1, 0xAAB1}, {0xAAB5, 0xAAB6}, {0xAAB9, 0xAABD}, {0xAAC0, 0xAAC0},
    {0xAAC2, 0xAAC2}, {0xAADB, 0xAADD}, {0xAAE0, 0xAAEA}, {0xAAF2, 0xAAF4}, {0xAB01, 0xAB06},
    {0xAB09, 0xAB0E}, {0xAB11, 0xAB16}, {0xAB20, 0xAB26}, {0xAB28, 0xAB2E}, {0xAB30, 0xAB5A},
    {0xAB5C, 0xAB69}, {0xAB70, 0xABE2}, {0xAC00, 0xD7A3}, {0xD7B0, 0xD7C6}, {0xD7CB, 0xD7FB},
    {0xF900, 0xFA6D}, {0xFA70, 0xFAD9}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFB1D, 0xFB1D},
    {0xFB1F, 0xFB28}, {0xFB2A, 0xFB36}, {0xFB38, 0xFB3C}, {0xFB3E, 0xFB3E}, {0xFB40, 0xFB41},
    {0xFB43, 0xFB44}, {0xFB46, 0xFBB1}, {0xFBD3, 0xFD3D}, {0xFD50, 0xFD8F}, {0xFD92, 0xFDC7},
    {0xFDF0, 0xFDFB}, {0xFE70, 0xFE74}, {0xFE76, 0xFEFC}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A},
    {0xFF66, 0xFFBE}, {0xFFC2, 0xFFC7}, {0xFFCA, 0xFFCF}, {0xFFD2, 0xFFD7}, {0xFFDA, 0xFFDC},
    {0x10000, 0x1000B}, {0x1000D, 0x10026}, {0x10028, 0x1003A}, {0x1003C, 0x1003D}, {0x1003F, 0x1004D},
    {0x10050, 0x1005D}, {0x10080, 0x100FA}, {0x10280, 0x1029C}, {0x102A0, 0x102D0}, {0x10300, 0x1031F},
    {0x1032D, 0x10340}, {0x10342, 0x10349}, {0x10350, 0x10375}, {0x10380, 0x1039D}, {0x103A0, 0x103C3},
    {0x103C8, 0x103CF}, {0x10400, 0x1049D}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB}, {0x10500, 0x10527},
    {0x10530, 0x10563}, {0x10570, 0x1057A}, {0x1057C, 0x1058A}, {0x1058C, 0x10592}, {0x10594, 0x10595},
    {0x10597, 0x105A1}, {0x105A3, 0x105B1}, {0x105B3, 0x105B9}, {0x105BB, 0x105BC}, {0x10600, 0x10736},
    {0x10740, 0x10755}, {0x10760, 0x10767}, {0x10780, 0x10785}, {0x10787, 0x107B0}, {0x107B2, 0x107BA},
    {0x10800, 0x10805}, {0x10808, 0x10808}, {0x1080A, 0x10835}, {0x10837, 0x10838}, {0x1083C, 0x1083C},
    {0x1083F, 0x10855}, {0x10860, 0x10876}, {0x10880, 0x1089E}, {0x108E0, 0x108F2}, {0x108F4, 0x108F5},
    {0x10900, 0x10915}, {0x10920, 0x10939}, {0x10980, 0x109B7}, {0x109BE, 0x109BF}, {0x10A00, 0x10A00},
    {0x10A10, 0x10A13}, {0x10A15, 0x10A17}, {0x10A19, 0x10A35}, {0x10A60, 0x10A7C}, {0x10A80, 0x10A9C},
    {0x10AC0, 0x10AC7}, {0x10AC9, 0x10AE4}, {0x10B00, 0x10B35}, {0x10B40, 0x10B55}, {0x10B60, 0x10B72},
    {0x10B80, 0x10B91}, {0x10C00, 0x10C48}, {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x10D00, 0x10D23},
    {0x10E80, 0x10EA9}, {0x10EB0, 0x10EB1}, {0x10F00, 0x10F1C}, {0x10F27, 0x10F27}, {0x10F30, 0x10F45},
    {0x10F70, 0x10F81}, {0x10FB0, 0x10FC4}, {0x10FE0, 0x10FF6}, {0x11003, 0x11037}, {0x11071, 0x11072},
    {0x11075, 0x11075}, {0x11083, 0x110AF}, {0x110D0, 0x110E8}, {0x11103, 0x11126}, {0x11144, 0x11144},
    {0x11147, 0x11147}, {0x11150, 0x11172}, {0x11176, 0x11176}, {0x11183, 0x111B2}, {0x111C1, 0x111C4},
    {0x111DA, 0x111DA}, {0x111DC, 0x111DC}, {0x11200, 0x11211}, {0x11213, 0x1122B}, {0x1123F, 0x11240},
    {0x11280, 0x11286}, {0x11288, 0x11288}, {0x1128A, 0x1128D}, {0x1128F, 0x1129D}, {0x1129F, 0x112A8},
    {0x112B0, 0x112DE}, {0x11305, 0x1130C}, {0x1130F, 0x11310}, {0x11313, 0x11328}, {0x1132A, 0x11330},
    {0x11332, 0x11333}, {0x11335, 0x11339}, {0x1133D, 0x1133D}, {0x11350, 0x11350}, {0x1135D, 0x11361},
    {0x11400, 0x11434}, {0x11447, 0x1144A}, {0x1145F, 0x11461}, {0x11480, 0x114AF}, {0x114C4, 0x114C5},
    {0x114C7, 0x114C7}, {0x11580, 0x115AE}, {0x115D8, 0x115DB}, {0x11600, 0x1162F}, {0x11644, 0x11644},
    {0x11680, 0x116AA}, {0x116B8, 0x116B8}, {0x11700, 0x1171A}, {0x11740, 0x11746}, {0x11800, 0x1182B},
    {0x118A0, 0x118DF}, {0x118FF, 0x11906}, {0x11909, 0x11909}, {0x1190C, 0x11913}, {0x11915, 0x11916},
    {0x11918, 0x1192F}, {0x1193F, 0x1193F}, {0x11941, 0x11941}, {0x119A0, 0x119A7}, {0x119AA, 0x119D0},
    {0x119E1, 0x119E1}, {0x119E3, 0x119E3}, {0x11A00, 0x11A00}, {0x11A0B, 0x11A32}, {0x11A3A, 0x11A3A},
    {0x11A50, 0x11A50}, {0x11A5C, 0x11A89}, {0x11A9D, 0x11A9D}, {0x11AB0, 0x11AF8}, {0x11C00, 0x11C08},
    {0x11C0A, 0x11C2E}, {0x11C40, 0x11C40}, {0x11C72, 0x11C8F}, {0x11D00, 0x11D06}, {0x11D08, 0x11D09},
    {0x11D0B, 0x11D30}, {0x11D46, 0x11D46}, {0x11D60, 0x11D65}, {0x11D67, 0x11D68}, {0x11D6A, 0x11D89},
    {0x11D98, 0x11D98}, {0x11EE0, 0x11EF2}, {0x11F02, 0x11F02}, {0x11F04, 0x11F10}, {0x11F12, 0x11F33},
    {0x11FB0, 0x11FB0}, {0x12000, 0x12399}, {0x12480, 0x12543}, {0x12F90, 0x12FF0}, {0x13000, 0x1342F},
    {0x13441, 0x13446}, {0x14400, 0x14646}, {0x16800, 0x16A38}, {0x16A40, 0x16A5E}, {0x16A70, 0x16ABE},
    {0x16AD0, 0x16AED}, {0x16B00, 0x16B2F}, {0x16B40, 0x16B43}, {0x16B63, 0x16B77}, {0x16B7D, 0x16B8F},
    {0x16E40, 0x16E7F}, {0x16F00, 0x16F4A}, {0x16F50, 0x16F50}, {0x16F93, 0x16F9F}, {0x16FE0, 0x16FE1},
    {0x16FE3, 0x16FE3}, {0x17000, 0x187F7}, {0x18800, 0x18CD5}, {0x18D00, 0x18D08}, {0x1AFF0, 0x1AFF3},
    {0x1AFF5, 0x1AFFB}, {0x1AFFD, 0x1AFFE}, {0x1B000, 0x1B122}, {0x1B132, 0x1B132}, {0x1B150, 0x1B152},
    {0x1B155, 0x1B155}, {0x1B164, 0x1B167}, {0x1B170, 0x1B2FB}, {0x1BC00, 0x1BC6A}, {0x1BC70, 0x1BC7C},
    {0x1BC80, 0x1BC88}, {0x1BC90, 0x1BC99}, {0x1D400, 0x1D454}, {0x1D456, 0x1D49C}, {0x1D49E, 0x1D49F},
    {0x1D4A2, 0x1D4A2}, {0x1D4A5, 0x1D4A6}, {0x1D4A9, 0x1D4AC}, {0x1D4AE, 0x1D4B9}, {0x1D4BB, 0x1D4BB},
    {0x1D4BD, 0x1D4C3}, {0x1D4C5, 0x1D505}, {0x1D507, 0x1D50A}, {0x1D50D, 0x1D514}, {0x1D516, 0x1D51C},
    {0x1D51E, 0x1D539}, {0x1D53B, 0x1D53E}, {0x1D540, 0x1D544}, {0x1D546, 0x1D546}, {0x1D54A, 0x1D550},
    {0x1D552, 0x1D6A5}, {0x1D6A8, 0x1D6C0}, {0x1D6C2, 0x1D6DA}, {0x1D6DC, 0x1D6FA}, {0x1D6FC, 0x1D714},
    {0x1D716, 0x1D734}, {0x1D736, 0x1D74E}, {0x1D750, 0x1D76E}, {0x1D770, 0x1D788}, {0x1D78A, 0x1D7A8},
    {0x1D7AA, 0x1D7C2}, {0x1D7C4, 0x1D7CB}, {0x1DF00, 0x1DF1E}, {0x1DF25, 0x1DF2A}, {0x1E030, 0x1E06D},
    {0x1E100, 0x1E12C}, {0x1E137, 0x1E13D}, {0x1E14E, 0x1E14E}, {0x1E290, 0x1E2AD}, {0x1E2C0, 0x1E2EB},
    {0x1E4D0, 0x1E4EB}, {0x1E7E0, 0x1E7E6}, {0x1E7E8, 0x1E7EB}, {0x1E7ED, 0x1E7EE}, {0x1E7F0, 0x1E7FE},
    {0x1E800, 0x1E8C4}, {0x1E900, 0x1E943}, {0x1E94B, 0x1E94B}, {0x1EE00, 0x1EE03}, {0x1EE05, 0x1EE1F},
    {0x1EE21, 0x1EE22}, {0x1EE24, 0x1EE24}, {0x1EE27, 0x1EE27}, {0x1EE29, 0x1EE32}, {0x1EE34, 0x1EE37},
    {0x1EE39, 0x1EE39}, {0x1EE3B, 0x1EE3B}, {0x1EE42, 0x1EE42}, {0x1EE47, 0x1EE47}, {0x1EE49, 0x1EE49},
    {0x1EE4B, 0x1EE4B}, {0x1EE4D, 0x1EE4F}, {0x1EE51, 0x1EE52}, {0x1EE54, 0x1EE54}, {0x1EE57, 0x1EE57},
    {0x1EE59, 0x1EE59}, {0x1EE5B, 0x1EE5B}, {0x1EE5D, 0x1EE5D}, {0x1EE5F, 0x1EE5F}, {0x1EE61, 0x1EE62},
    {0x1EE64, 0x1EE64}, {0x1EE67, 0x1EE6A}, {0x1EE6C, 0x1EE72}, {0x1EE74, 0x1EE77}, {0x1EE79, 0x1EE7C},
    {0x1EE7E, 0x1EE7E}, {0x1EE80, 0x1EE89}, {0x1EE8B, 0x1EE9B}, {0x1EEA1, 0x1EEA3}, {0x1EEA5, 0x1EEA9},
    {0x1EEAB, 0x1EEBB}, {0x20000, 0x2A6DF}, {0x2A700, 0x2B739}, {0x2B740, 0x2B81D}, {0x2B820, 0x2CEA1},
    {0x2CEB0, 0x2EBE0}, {0x2F800, 0x2FA1D}, {0x30000, 0x3134A}, {0x31350, 0x323AF},
};
// 137 ranges
constexpr CodePointRange kNumberRanges[] = {
    {0x0030, 0x0039}, {0x00B2, 0x00B3}, {0x00B9, 0x00B9}, {0x00BC, 0x00BE}, {0x0660, 0x0669},
    {0x06F0, 0x06F9}, {0x07C0, 0x07C9}, {0x0966, 0x096F}, {0x09E6, 0x09EF}, {0x09F4, 0x09F9},
    {0x0A66, 0x0A6F}, {0x0AE6, 0x0AEF}, {0x0B66, 0x0B6F}, {0x0B72, 0x0B77}, {0x0BE6, 0x0BF2},
    {0x0C66, 0x0C6F}, {0x0C78, 0x0C7E}, {0x0CE6, 0x0CEF}, {0x0D58, 0x0D5E}, {0x0D66, 0x0D78},
    {0x0DE6, 0x0DEF}, {0x0E50, 0x0E59}, {0x0ED0, 0x0ED9}, {0x0F20, 0x0F33}, {0x1040, 0x1049},
    {0x1090, 0x1099}, {0x1369, 0x137C}, {0x16EE, 0x16F0}, {0x17E0, 0x17E9}, {0x17F0, 0x17F9},
    {0x1810, 0x1819}, {0x1946, 0x194F}, {0x19D0, 0x19DA}, {0x1A80, 0x1A89}, {0x1A90, 0x1A99},
    {0x1B50, 0x1B59}, {0x1BB0, 0x1BB9}, {0x1C40, 0x1C49}, {0x1C50, 0x1C59}, {0x2070, 0x2070},
    {0x2074, 0x2079}, {0x2080, 0x2089}, {0x2150, 0x2182}, {0x2185, 0x2189}, {0x2460, 0x249B},
    {0x24EA, 0x24FF}, {0x2776, 0x2793}, {0x2CFD, 0x2CFD}, {0x3007, 0x3007}, {0x3021, 0x3029},
    {0x3038, 0x303A}, {0x3192, 0x3195}, {0x3220, 0x3229}, {0x3248, 0x324F}, {0x3251, 0x325F},
    {0x3280, 0x3289}, {0x32B1, 0x32BF}, {0xA620, 0xA629}, {0xA6E6, 0xA6EF}, {0xA830, 0xA835},
    {0xA8D0, 0xA8D9}, {0xA900, 0xA909}, {0xA9D0, 0xA9D9}, {0xA9F0, 0xA9F9}, {0xAA50, 0xAA59},
    {0xABF0, 0xABF9}, {0xFF10, 0xFF19}, {0x10107, 0x10133}, {0x10140, 0x10178}, {0x1018A, 0x1018B},
    {0x102E1, 0x102FB}, {0x10320, 0x10323}, {0x10341, 0x10341}, {0x1034A, 0x1034A}, {0x103D1, 0x103D5},
    {0x104A0, 0x104A9}, {0x10858, 0x1085F}, {0x10879, 0x1087F}, {0x108A7, 0x108AF}, {0x108FB, 0x108FF},
    {0x10916, 0x1091B}, {0x109BC, 0x109BD}, {0x109C0, 0x109CF}, {0x109D2, 0x109FF}, {0x10A40, 0x10A48},
    {0x10A7D, 0x10A7E}, {0x10A9D, 0x10A9F}, {0x10AEB, 0x10AEF}, {0x10B58, 0x10B5F}, {0x10B78, 0x10B7F},
    {0x10BA9, 0x10BAF}, {0x10CFA, 0x10CFF}, {0x10D30, 0x10D39}, {0x10E60, 0x10E7E}, {0x10F1D, 0x10F26},
    {0x10F51, 0x10F54}, {0x10FC5, 0x10FCB}, {0x11052, 0x1106F}, {0x110F0, 0x110F9}, {0x11136, 0x1113F},
    {0x111D0, 0x111D9}, {0x111E1, 0x111F4}, {0x112F0, 0x112F9}, {0x11450, 0x11459}, {0x114D0, 0x114D9},
    {0x11650, 0x11659}, {0x116C0, 0x116C9}, {0x11730, 0x1173B}, {0x118E0, 0x118F2}, {0x11950, 0x11959},
    {0x11C50, 0x11C6C}, {0x11D50, 0x11D59}, {0x11DA0, 0x11DA9}, {0x11F50, 0x11F59}, {0x11FC0, 0x11FD4},
    {0x12400, 0x1246E}, {0x16A60, 0x16A69}, {0x16AC0, 0x16AC9}, {0x16B50, 0x16B59}, {0x16B5B, 0x16B61},
    {0x16E80, 0x16E96}, {0x1D2C0, 0x1D2D3}, {0x1D2E0, 0x1D2F3}, {0x1D360, 0x1D378}, {0x1D7CE, 0x1D7FF},
    {0x1E140, 0x1E149}, {0x1E2F0, 0x1E2F9}, {0x1E4F0, 0x1E4F9}, {0x1E8C7, 0x1E8CF}, {0x1E950, 0x1E959},
    {0x1EC71, 0x1ECAB}, {0x1ECAD, 0x1ECAF}, {0x1ECB1, 0x1ECB4}, {0x1ED01, 0x1ED2D}, {0x1ED2F, 0x1ED3D},
    {0x1F100, 0x1F10C}, {0x1FBF0, 0x1FBF9},
};
// 10 ranges
constexpr CodePointRange kWhitespaceRanges[] = {
    {0x0009, 0x000D}, {0x0020, 0x0020}, {0x0085, 0x0085}, {0x00A0, 0x00A0}, {0x1680, 0x1680},
    {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000},
};

bool inRanges(const CodePointRange* begin, const CodePointRange* end, char32_t cp) {
    const CodePointRange* it =
        std::upper_bound(begin, end, cp, [](char32_t value, const CodePointRange& range) { return value < range.first; });
    return it != begin && cp <= (it - 1)->last;
}

BpeTokenizer::CharClass classOfNonAscii(char32_t cp) {
    if (inRanges(std::begin(kWhitespaceRanges), std::end(kWhitespaceRanges), cp)) {
        return CharClass::Whitespace;
    }
    if (inRanges(std::begin(kLetterRanges), std::end(kLetterRanges), cp)) {
        return CharClass::Letter;
    }
    if (inRanges(std::begin(kNumberRanges), std::end(kNumberRanges), cp)) {
        return CharClass::Number;
    }
    return CharClass::Other;
}

}  // namespace

}  // namespace tokenscope
