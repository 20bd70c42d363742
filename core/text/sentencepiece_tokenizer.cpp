#include "text/sentencepiece_tokenizer.h"

#include "text/sentencepiece_model.h"
#include "text/sentencepiece_proto.h"

#include "common/error.h"
#include "io/json_file.h"
#include "io/mapped_file.h"

#include <algorithm>
#include <filesystem>
#include <functional>

namespace tokenscope {

namespace {

using spm::isTrailByte;
using spm::isValidUtf8Prefix;
using spm::kReplacementChar;
using spm::kSpaceSymbol;
using spm::oneCharLen;
using spm::pieceToByte;
using spm::startsWith;

bool isStripSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Loading.

SentencePieceTokenizer SentencePieceTokenizer::fromFile(const std::string& modelPath) {
    const std::string text = readTextFile(modelPath, "SentencePiece model");
    return fromBytes(text, fileNameOf(modelPath));
}

SentencePieceTokenizer SentencePieceTokenizer::fromBytes(std::string_view modelBytes, const std::string& sourceName) {
    SentencePieceTokenizer tokenizer;
    tokenizer.m_sourceName = sourceName;
    tokenizer.m_model = SentencePieceModel::create(parseSentencePieceModelProto(modelBytes, sourceName), sourceName);
    tokenizer.m_unkId = tokenizer.specialPieceId(tokenizer.m_model->unkPiece, PieceType::Unknown);
    tokenizer.m_bosId = tokenizer.specialPieceId(tokenizer.m_model->bosPiece, PieceType::Control);
    tokenizer.m_eosId = tokenizer.specialPieceId(tokenizer.m_model->eosPiece, PieceType::Control);
    tokenizer.m_padId = tokenizer.specialPieceId(tokenizer.m_model->padPiece, PieceType::Control);
    return tokenizer;
}

std::int64_t SentencePieceTokenizer::specialPieceId(const std::string& piece, PieceType type) const {
    const int id = m_model->pieceToId(piece);
    return m_model->typeOf(id) == type ? id : -1;
}

// ---------------------------------------------------------------------------------------------
// Added tokens.

void SentencePieceTokenizer::addAddedToken(const AddedToken& token) { mergeAddedToken(token, true, m_sourceName); }

void SentencePieceTokenizer::mergeAddedToken(const AddedToken& token, bool overrideFlags, const std::string& fileName) {
    if (token.content.empty()) throw Error(fileName + ": added token " + std::to_string(token.id) + " has no content");
    if (token.id < 0) throw Error(fileName + ": added token '" + token.content + "' has the negative id " + std::to_string(token.id));
    for (std::size_t length = 0, at = 0; at < token.content.size(); at += length) {
        if (!isValidUtf8Prefix(std::string_view(token.content).substr(at), length)) {
            throw Error(fileName + ": added token " + std::to_string(token.id) + " is not valid UTF-8");
        }
    }
    if (token.id < pieceCount() && m_model->pieces[static_cast<std::size_t>(token.id)].text != token.content) {
        throw Error(fileName + ": added token '" + token.content + "' has id " + std::to_string(token.id) +
                    ", which is the piece '" + m_model->pieces[static_cast<std::size_t>(token.id)].text + "' of " + m_sourceName);
    }
    const auto byContent = m_addedByContent.find(token.content);
    const auto byId = m_addedById.find(token.id);
    if (byContent != m_addedByContent.end() && m_addedTokens[byContent->second].id != token.id) {
        throw Error(fileName + ": added token '" + token.content + "' has id " + std::to_string(token.id) + " but also id " +
                    std::to_string(m_addedTokens[byContent->second].id));
    }
    if (byId != m_addedById.end() && m_addedTokens[byId->second].content != token.content) {
        throw Error(fileName + ": added token id " + std::to_string(token.id) + " is '" + token.content + "' but also '" +
                    m_addedTokens[byId->second].content + "'");
    }
    if (byContent != m_addedByContent.end()) {
        if (overrideFlags) m_addedTokens[byContent->second] = token;
        return;
    }
    m_addedByContent.emplace(token.content, m_addedTokens.size());
    m_addedById.emplace(token.id, m_addedTokens.size());
    m_addedTokens.push_back(token);
    m_maxAddedId = std::max(m_maxAddedId, token.id);
    m_addedFirstBytes[static_cast<std::uint8_t>(token.content.front())] = true;
}

const SentencePieceTokenizer::AddedToken* SentencePieceTokenizer::addedTokenOf(std::int64_t id) const {
    const auto it = m_addedById.find(id);
    return it == m_addedById.end() ? nullptr : &m_addedTokens[it->second];
}

namespace {

SentencePieceTokenizer::AddedToken addedTokenFromJson(const nlohmann::json& entry, std::int64_t id, const std::string& fileName) {
    if (!entry.is_object() || !entry.contains("content") || !entry["content"].is_string()) {
        throw Error(fileName + ": added token " + std::to_string(id) + " has no \"content\" string");
    }
    SentencePieceTokenizer::AddedToken token;
    token.id = id;
    token.content = entry["content"].get<std::string>();
    const auto flag = [&](const char* key, bool fallback) {
        if (!entry.contains(key)) return fallback;
        if (!entry[key].is_boolean()) throw Error(fileName + ": added token '" + token.content + "': \"" + key + "\" is not true/false");
        return entry[key].get<bool>();
    };
    token.isSpecial = flag("special", false);
    token.lstrip = flag("lstrip", false);
    token.rstrip = flag("rstrip", false);
    return token;
}

std::int64_t parseId(const std::string& text, const std::string& fileName) {
    std::size_t used = 0;
    long long id = -1;
    try {
        id = std::stoll(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || id < 0) throw Error(fileName + ": \"" + text + "\" is not a token id");
    return id;
}

// The dummy-prefix scheme a tokenizer.json implies: 1 legacy (a Prepend("▁") normaliser, or a
// Metaspace that prepends always), 0 non-legacy (Metaspace prepend_scheme "first" / "never"),
// -1 when it says nothing about it.
int legacyOfTokenizerJson(const nlohmann::json& json) {
    int result = -1;
    const std::function<void(const nlohmann::json&)> visit = [&](const nlohmann::json& node) {
        if (!node.is_object()) return;
        const std::string type = node.contains("type") && node["type"].is_string() ? node["type"].get<std::string>() : "";
        if (type == "Prepend" && node.contains("prepend") && node["prepend"] == std::string(kSpaceSymbol)) result = 1;
        if (type == "Metaspace") {
            if (node.contains("prepend_scheme") && node["prepend_scheme"].is_string()) {
                result = node["prepend_scheme"] == "always" ? 1 : 0;
            } else if (node.contains("add_prefix_space") && node["add_prefix_space"].is_boolean()) {
                result = node["add_prefix_space"].get<bool>() ? 1 : 0;
            }
        }
        for (const char* key : {"normalizers", "pretokenizers"}) {
            if (node.contains(key) && node[key].is_array()) {
                for (const auto& child : node[key]) visit(child);
            }
        }
    };
    if (json.contains("normalizer")) visit(json["normalizer"]);
    if (json.contains("pre_tokenizer")) visit(json["pre_tokenizer"]);
    return result;
}

}  // namespace

SentencePieceTokenizer SentencePieceTokenizer::fromFolder(const std::string& folder) {
    namespace fs = std::filesystem;
    const fs::path dir(folder);
    SentencePieceTokenizer tokenizer = fromFile((dir / "tokenizer.model").string());
    int legacy = -1;

    // tokenizer.json and added_tokens.json first, tokenizer_config.json last: its flags win, as in
    // transformers, where added_tokens_decoder is the source of truth.
    const fs::path tokenizerJson = dir / "tokenizer.json";
    if (fs::exists(tokenizerJson)) {
        const nlohmann::json json = readJsonObjectFile(tokenizerJson.string(), "tokenizer.json");
        if (json.contains("added_tokens")) {
            if (!json["added_tokens"].is_array()) throw Error("tokenizer.json: \"added_tokens\" is not a list");
            for (const auto& entry : json["added_tokens"]) {
                if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_number_integer()) {
                    throw Error("tokenizer.json: an added token has no integer \"id\"");
                }
                tokenizer.mergeAddedToken(addedTokenFromJson(entry, entry["id"].get<std::int64_t>(), "tokenizer.json"), true,
                                          "tokenizer.json");
            }
        }
        legacy = legacyOfTokenizerJson(json);
    }
    const fs::path addedJson = dir / "added_tokens.json";
    if (fs::exists(addedJson)) {
        const nlohmann::json json = readJsonObjectFile(addedJson.string(), "added_tokens.json");
        for (const auto& [content, id] : json.items()) {
            if (!id.is_number_integer()) throw Error("added_tokens.json: the id of '" + content + "' is not an integer");
            AddedToken token;
            token.content = content;
            token.id = id.get<std::int64_t>();
            token.isSpecial = false;  // transformers' AddedToken default; tokenizer_config.json may say more
            tokenizer.mergeAddedToken(token, false, "added_tokens.json");
        }
    }
    const fs::path configJson = dir / "tokenizer_config.json";
    if (fs::exists(configJson)) {
        const nlohmann::json json = readJsonObjectFile(configJson.string(), "tokenizer_config.json");
        if (json.contains("added_tokens_decoder")) {
            if (!json["added_tokens_decoder"].is_object()) {
                throw Error("tokenizer_config.json: \"added_tokens_decoder\" is not an object");
            }
            for (const auto& [idText, entry] : json["added_tokens_decoder"].items()) {
                const std::int64_t id = parseId(idText, "tokenizer_config.json");
                tokenizer.mergeAddedToken(addedTokenFromJson(entry, id, "tokenizer_config.json"), true, "tokenizer_config.json");
            }
        }
        if (legacy < 0 && json.contains("legacy") && json["legacy"].is_boolean()) legacy = json["legacy"].get<bool>() ? 1 : 0;
        if (tokenizer.m_padId < 0 && json.contains("pad_token")) {
            const auto& pad = json["pad_token"];
            std::string content;
            if (pad.is_string()) content = pad.get<std::string>();
            else if (pad.is_object() && pad.contains("content") && pad["content"].is_string()) content = pad["content"].get<std::string>();
            if (!content.empty()) tokenizer.m_padId = tokenizer.pieceToId(content);
        }
    }
    tokenizer.m_legacy = legacy != 0;
    return tokenizer;
}

// ---------------------------------------------------------------------------------------------
// Encoding.

std::vector<SentencePieceTokenizer::Segment> SentencePieceTokenizer::splitOnAddedTokens(std::string_view text) const {
    std::vector<Segment> segments;
    std::size_t chunkStart = 0;
    for (std::size_t pos = 0; pos < text.size();) {
        const AddedToken* best = nullptr;
        if (m_addedFirstBytes[static_cast<std::uint8_t>(text[pos])]) {
            for (const AddedToken& token : m_addedTokens) {
                if ((best == nullptr || token.content.size() > best->content.size()) && startsWith(text.substr(pos), token.content)) {
                    best = &token;
                }
            }
        }
        if (best == nullptr) {
            ++pos;
            continue;
        }
        segments.push_back(Segment{text.substr(chunkStart, pos - chunkStart), -1, chunkStart});
        segments.push_back(Segment{text.substr(pos, best->content.size()), best->id, pos});
        pos += best->content.size();
        chunkStart = pos;
    }
    segments.push_back(Segment{text.substr(chunkStart), -1, chunkStart});

    // lstrip / rstrip eat the whitespace next to the token.
    for (std::size_t i = 0; i < segments.size(); ++i) {
        if (segments[i].addedId < 0) continue;
        const AddedToken* token = addedTokenOf(segments[i].addedId);
        if (token->lstrip && i > 0) {
            std::string_view& before = segments[i - 1].text;
            while (!before.empty() && isStripSpace(before.back())) before.remove_suffix(1);
        }
        if (token->rstrip && i + 1 < segments.size()) {
            Segment& after = segments[i + 1];
            while (!after.text.empty() && isStripSpace(after.text.front())) {
                after.text.remove_prefix(1);
                ++after.offset;
            }
        }
    }
    return segments;
}

void SentencePieceTokenizer::appendSentencePieceIds(std::string_view text, bool addDummyPrefix,
                                                    std::vector<std::int64_t>& out) const {
    m_model->appendIds(m_model->normalize(text, addDummyPrefix), out);
}

std::vector<std::int64_t> SentencePieceTokenizer::encodeSentencePiece(std::string_view text) const {
    std::vector<std::int64_t> out;
    appendSentencePieceIds(text, m_model->addDummyPrefix, out);
    return out;
}

std::vector<std::int64_t> SentencePieceTokenizer::encode(const std::string& text, bool addBos) const {
    return encode(text, addBos, true);
}

std::vector<std::int64_t> SentencePieceTokenizer::encode(const std::string& text, bool addBos, bool atTextStart) const {
    std::vector<std::int64_t> out;
    if (addBos && m_bosId >= 0) out.push_back(m_bosId);
    for (const Segment& segment : splitOnAddedTokens(text)) {
        if (segment.addedId >= 0) {
            out.push_back(segment.addedId);
        } else if (!segment.text.empty()) {
            const bool dummyPrefix = m_model->addDummyPrefix && (m_legacy || (atTextStart && segment.offset == 0));
            appendSentencePieceIds(segment.text, dummyPrefix, out);
        }
    }
    return out;
}

std::vector<std::string> SentencePieceTokenizer::encodeAsPieces(const std::string& text, bool addBos) const {
    std::vector<std::string> pieces;
    for (const std::int64_t id : encode(text, addBos)) pieces.push_back(idToPiece(id));
    return pieces;
}

// ---------------------------------------------------------------------------------------------
// Lookups.

std::int64_t SentencePieceTokenizer::vocabSize() const { return std::max(pieceCount(), m_maxAddedId + 1); }
std::int64_t SentencePieceTokenizer::pieceCount() const { return static_cast<std::int64_t>(m_model->pieces.size()); }
SentencePieceTokenizer::ModelType SentencePieceTokenizer::modelType() const { return m_model->modelType; }
bool SentencePieceTokenizer::hasByteFallback() const { return m_model->byteFallback; }
bool SentencePieceTokenizer::addsDummyPrefix() const { return m_model->addDummyPrefix; }

std::string SentencePieceTokenizer::idToPiece(std::int64_t id) const {
    if (id >= 0 && id < pieceCount()) return m_model->pieces[static_cast<std::size_t>(id)].text;
    if (const AddedToken* token = addedTokenOf(id)) return token->content;
    throw Error(m_sourceName + ": token id " + std::to_string(id) + " is outside the vocabulary (" +
                std::to_string(vocabSize()) + " ids)");
}

std::int64_t SentencePieceTokenizer::pieceToId(const std::string& piece) const {
    if (const auto it = m_addedByContent.find(piece); it != m_addedByContent.end()) return m_addedTokens[it->second].id;
    if (const auto it = m_model->reserved.find(piece); it != m_model->reserved.end()) return it->second;
    if (const auto it = m_model->normal.find(piece); it != m_model->normal.end()) return it->second;
    return -1;
}

SentencePieceTokenizer::PieceType SentencePieceTokenizer::pieceType(std::int64_t id) const {
    if (id < 0 || id >= pieceCount()) {
        throw Error(m_sourceName + ": piece id " + std::to_string(id) + " is outside the model (" +
                    std::to_string(pieceCount()) + " pieces)");
    }
    return m_model->typeOf(static_cast<int>(id));
}

float SentencePieceTokenizer::pieceScore(std::int64_t id) const {
    pieceType(id);  // range check
    return m_model->pieces[static_cast<std::size_t>(id)].score;
}

bool SentencePieceTokenizer::isSpecial(std::int64_t id) const {
    if (id >= 0 && id < pieceCount()) {
        const PieceType type = m_model->typeOf(static_cast<int>(id));
        return type == PieceType::Control || type == PieceType::Unknown;
    }
    const AddedToken* token = addedTokenOf(id);
    return token != nullptr && token->isSpecial;
}

int SentencePieceTokenizer::byteOf(std::int64_t id) const {
    if (id < 0 || id >= pieceCount() || m_model->typeOf(static_cast<int>(id)) != PieceType::Byte) return -1;
    return pieceToByte(m_model->pieces[static_cast<std::size_t>(id)].text);
}

// ---------------------------------------------------------------------------------------------
// Decoding: libsentencepiece's Decode, one id at a time.

std::string SentencePieceTokenizer::decode(const std::vector<std::int64_t>& ids, bool skipSpecial) const {
    StreamingDecoder decoder(*this, skipSpecial);
    std::string text;
    for (const std::int64_t id : ids) text += decoder.push(id);
    text += decoder.finish();
    return text;
}

StreamingDecoder::StreamingDecoder(const SentencePieceTokenizer& tokenizer, bool skipSpecial)
    : m_tokenizer(&tokenizer), m_skipSpecial(skipSpecial) {}

void StreamingDecoder::drainBytes(std::string& out, bool flushAll) {
    std::size_t offset = 0;
    while (offset < m_pendingBytes.size()) {
        const std::string_view rest = std::string_view(m_pendingBytes).substr(offset);
        std::size_t length = 0;
        if (isValidUtf8Prefix(rest, length)) {
            out.append(rest.substr(0, length));
            offset += length;
            continue;
        }
        // Undecided: a lead byte whose character is cut short by the end of the run so far, with
        // only continuation bytes after it; more byte pieces may still complete it.
        const std::size_t expected = oneCharLen(rest.front());
        const bool isLead = (static_cast<std::uint8_t>(rest.front()) & 0xC0) == 0xC0 &&
                            static_cast<std::uint8_t>(rest.front()) < 0xF8;
        if (!flushAll && isLead && rest.size() < expected &&
            std::all_of(rest.begin() + 1, rest.end(), [](char c) { return isTrailByte(c); })) {
            break;
        }
        out.append(kReplacementChar);
        offset += 1;
    }
    m_pendingBytes.erase(0, offset);
}

std::string StreamingDecoder::push(std::int64_t id) {
    const SentencePieceTokenizer& tok = *m_tokenizer;
    const auto& model = *tok.m_model;
    std::string out;
    if (id < 0 || id >= tok.pieceCount()) {
        const SentencePieceTokenizer::AddedToken* token = tok.addedTokenOf(id);
        if (token == nullptr) tok.idToPiece(id);  // throws the out-of-range error
        if (token->isSpecial && m_skipSpecial) return out;
        drainBytes(out, true);
        out += token->content;
        m_text += out;
        return out;
    }
    const auto& piece = model.pieces[static_cast<std::size_t>(id)];
    if (piece.type == SentencePieceTokenizer::PieceType::Byte) {
        m_pendingBytes += static_cast<char>(pieceToByte(piece.text));
        drainBytes(out, false);
        m_text += out;
        return out;
    }
    drainBytes(out, true);
    // The reference drops the "▁" that starts the text (the dummy prefix): only while nothing has
    // been written and no such "▁" has been dropped yet.
    if (m_leadingSpaceSeen || !m_text.empty() || !out.empty()) m_expectLeadingSpace = false;
    m_leadingSpaceSeen = false;
    switch (piece.type) {
    case SentencePieceTokenizer::PieceType::Control:
        if (!m_skipSpecial) out += piece.text;
        break;
    case SentencePieceTokenizer::PieceType::Unknown: out += model.unkSurface; break;
    default: {
        std::string_view text = piece.text;
        if (m_expectLeadingSpace && (model.addDummyPrefix || model.removeExtraWhitespaces)) {
            if (startsWith(text, kSpaceSymbol)) {
                text.remove_prefix(kSpaceSymbol.size());
                // With remove_extra_whitespaces every leading "▁" goes, not only the first.
                m_leadingSpaceSeen = !model.removeExtraWhitespaces;
            }
        }
        for (std::size_t pos = 0; pos < text.size();) {
            if (startsWith(text.substr(pos), kSpaceSymbol)) {
                out += ' ';
                pos += kSpaceSymbol.size();
            } else {
                out += text[pos++];
            }
        }
    }
    }
    m_text += out;
    return out;
}

std::string StreamingDecoder::finish() {
    std::string out;
    drainBytes(out, true);
    m_text += out;
    return out;
}

}  // namespace tokenscope
