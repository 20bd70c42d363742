// Step 1 and the public API of BpeTokenizer around the BPE: splitting out the special tokens,
// tokenize / encode / encodePadded, the id <-> token look-ups and decode() with its clean-up.
#include "text/bpe_tokenizer.h"

#include "text/bpe_tokenizer_internal.h"
#include "text/unicode_tables.h"

#include "common/error.h"

#include <algorithm>
#include <array>
#include <utility>

namespace tokenscope {

namespace {

using bpe::ByteStandIns;
using bpe::byteStandIns;
using bpe::decodeStep;
using bpe::decodeUtf8;
using bpe::kSpecialTexts;
using bpe::kSpecialTokenCount;
using bpe::pieceEnd;
using bpe::printable;

// Only the mask token is an AddedToken(lstrip=True) ("behave like a normal word, i.e. include the
// space before it", tokenization_roberta.py).
constexpr bool kSpecialLStrip[kSpecialTokenCount] = {false, false, false, false, true};

// tokenization_utils_base.py clean_up_tokenization, applied in this order.
const std::pair<const char*, const char*> kCleanUps[] = {
    {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
    {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
};

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

}  // namespace tokenscope
