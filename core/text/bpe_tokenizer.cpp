// RoBERTa's byte-level BPE: reading vocab.json and merges.txt, the byte stand-ins
// (bytes_to_unicode), and the merges applied to each pre-tokenised piece (with the per-piece cache).
#include "text/bpe_tokenizer.h"

#include "text/bpe_tokenizer_internal.h"
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

using bpe::ByteStandIns;
using bpe::byteStandIns;
using bpe::decodeStep;
using bpe::firstInvalidUtf8;
using bpe::kSpecialTexts;
using bpe::kSpecialTokenCount;
using bpe::printable;

constexpr std::uint32_t kNoRank = std::numeric_limits<std::uint32_t>::max();
// The reference caches every piece forever; a bound keeps memory flat on endless input. Pieces
// longer than this are rare (a very long word) and simply not cached.
constexpr std::size_t kMaxCachedWords = std::size_t{1} << 16;
constexpr std::size_t kMaxCachedPieceBytes = 256;

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

}  // namespace

namespace bpe {

// ---- bytes_to_unicode -----------------------------------------------------------------------

const ByteStandIns& byteStandIns() {
    static const ByteStandIns instance;
    return instance;
}

}  // namespace bpe

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

}  // namespace tokenscope
