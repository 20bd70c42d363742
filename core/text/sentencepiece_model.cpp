#include "text/sentencepiece_model.h"

#include "common/error.h"

#include <algorithm>
#include <functional>
#include <queue>

namespace tokenscope {

namespace {

constexpr char32_t kUnicodeError = 0xFFFD;
// libsentencepiece's unigram penalty for an unknown character, below the lowest piece score.
constexpr float kUnkPenalty = 10.0f;

using spm::kReplacementChar;
using spm::kSpaceSymbol;
using spm::isTrailByte;
using spm::oneCharLen;
using spm::startsWith;

bool isValidCodepoint(char32_t c) { return c < 0xD800 || (c >= 0xE000 && c <= 0x10FFFF); }

// libsentencepiece's UTF-8 decoder: one character, or U+FFFD with length 1 for anything malformed
// (truncated, overlong, surrogate, above U+10FFFF, a stray continuation byte). s is non-empty.
char32_t decodeUtf8(std::string_view s, std::size_t& length) {
    const auto b = [&s](std::size_t i) { return static_cast<std::uint8_t>(s[i]); };
    if (b(0) < 0x80) {
        length = 1;
        return b(0);
    }
    if (s.size() >= 2 && (b(0) & 0xE0) == 0xC0) {
        const char32_t cp = ((b(0) & 0x1Fu) << 6) | (b(1) & 0x3Fu);
        if (isTrailByte(s[1]) && cp >= 0x80 && isValidCodepoint(cp)) {
            length = 2;
            return cp;
        }
    } else if (s.size() >= 3 && (b(0) & 0xF0) == 0xE0) {
        const char32_t cp = ((b(0) & 0x0Fu) << 12) | ((b(1) & 0x3Fu) << 6) | (b(2) & 0x3Fu);
        if (isTrailByte(s[1]) && isTrailByte(s[2]) && cp >= 0x800 && isValidCodepoint(cp)) {
            length = 3;
            return cp;
        }
    } else if (s.size() >= 4 && (b(0) & 0xF8) == 0xF0) {
        const char32_t cp = ((b(0) & 0x07u) << 18) | ((b(1) & 0x3Fu) << 12) | ((b(2) & 0x3Fu) << 6) | (b(3) & 0x3Fu);
        if (isTrailByte(s[1]) && isTrailByte(s[2]) && isTrailByte(s[3]) && cp >= 0x10000 && isValidCodepoint(cp)) {
            length = 4;
            return cp;
        }
    }
    length = 1;
    return kUnicodeError;
}

bool endsWith(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool isValidUtf8(std::string_view text) {
    for (std::size_t length = 0; !text.empty(); text.remove_prefix(length)) {
        if (!spm::isValidUtf8Prefix(text, length)) return false;
    }
    return true;
}

[[noreturn]] void failModel(const std::string& sourceName, const std::string& problem) {
    throw Error(sourceName + ": " + problem);
}

}  // namespace

namespace spm {

bool isValidUtf8Prefix(std::string_view s, std::size_t& length) {
    return decodeUtf8(s, length) != kUnicodeError || length == 3;
}

int pieceToByte(std::string_view piece) {
    if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
    int value = 0;
    for (std::size_t i = 3; i < 5; ++i) {
        const char c = piece[i];
        value <<= 4;
        if (c >= '0' && c <= '9') value |= c - '0';
        else if (c >= 'A' && c <= 'F') value |= c - 'A' + 10;
        else return -1;
    }
    return value;
}

}  // namespace spm

std::shared_ptr<const SentencePieceModel> SentencePieceModel::create(SentencePieceModelProto proto, const std::string& sourceName) {
    auto model = std::make_shared<SentencePieceModel>();
    model->sourceName = sourceName;
    const auto fail = [&sourceName](const std::string& problem) { failModel(sourceName, problem); };

    switch (proto.modelType) {
    case 1: model->modelType = ModelType::Unigram; break;
    case 2: model->modelType = ModelType::Bpe; break;
    case 3: failModel(sourceName, "WORD SentencePiece models are not supported (only BPE and UNIGRAM)");
    case 4: failModel(sourceName, "CHAR SentencePiece models are not supported (only BPE and UNIGRAM)");
    default: failModel(sourceName, "unknown SentencePiece model_type " + std::to_string(proto.modelType));
    }
    if (proto.pieces.empty()) fail("the SentencePiece model has no pieces");
    if (proto.pieces.size() > 0x7FFFFFFF) fail("too many pieces");
    if (!proto.denormalizerCharsmap.empty()) fail("denormalizer_spec with a character map is not supported");

    model->byteFallback = proto.byteFallback;
    model->addDummyPrefix = proto.addDummyPrefix;
    model->removeExtraWhitespaces = proto.removeExtraWhitespaces;
    model->escapeWhitespaces = proto.escapeWhitespaces;
    model->treatWhitespaceAsSuffix = proto.treatWhitespaceAsSuffix;
    if (proto.hasUnkSurface) model->unkSurface = proto.unkSurface;
    if (!isValidUtf8(model->unkSurface)) fail("unk_surface is not valid UTF-8");
    if (!proto.unkPiece.empty()) model->unkPiece = proto.unkPiece;
    if (!proto.bosPiece.empty()) model->bosPiece = proto.bosPiece;
    if (!proto.eosPiece.empty()) model->eosPiece = proto.eosPiece;
    if (!proto.padPiece.empty()) model->padPiece = proto.padPiece;
    if (!proto.precompiledCharsmap.empty()) model->charsMap = PrecompiledCharsMap(proto.precompiledCharsmap, sourceName);

    model->pieces.reserve(proto.pieces.size());
    for (auto& p : proto.pieces) {
        model->pieces.push_back(Piece{std::move(p.text), p.score, static_cast<PieceType>(p.type)});
    }
    std::fill(std::begin(model->byteIds), std::end(model->byteIds), -1);
    int byteCount = 0;
    for (std::size_t i = 0; i < model->pieces.size(); ++i) {
        const auto& piece = model->pieces[i];
        const int id = static_cast<int>(i);
        if (piece.text.empty()) fail("piece " + std::to_string(i) + " is empty");
        // Stricter than libsentencepiece, which copies such bytes into decoded text.
        if (!isValidUtf8(piece.text)) fail("piece " + std::to_string(i) + " is not valid UTF-8");
        const bool isNormal = piece.type == PieceType::Normal || piece.type == PieceType::UserDefined ||
                              piece.type == PieceType::Unused;
        auto& map = isNormal ? model->normal : model->reserved;
        if (const auto [it, inserted] = map.emplace(piece.text, id); !inserted) {
            fail("piece '" + piece.text + "' is defined twice (ids " + std::to_string(it->second) + " and " +
                 std::to_string(id) + ")");
        }
        if (piece.type == PieceType::UserDefined) model->userDefined.push_back(piece.text);
        if (piece.type == PieceType::Unknown) {
            if (model->unkId >= 0) fail("two unknown pieces (ids " + std::to_string(model->unkId) + " and " + std::to_string(id) + ")");
            model->unkId = id;
        }
        if (piece.type == PieceType::Byte) {
            if (!model->byteFallback) fail("byte piece " + piece.text + " although byte_fallback is false");
            const int byte = spm::pieceToByte(piece.text);
            if (byte < 0) fail("byte piece '" + piece.text + "' is not of the form <0xNN>");
            if (model->byteIds[byte] < 0) ++byteCount;
            model->byteIds[byte] = id;
        }
        if (piece.type == PieceType::Normal) {
            model->minScore = std::min(model->minScore, piece.score);
            model->maxScore = std::max(model->maxScore, piece.score);
        }
    }
    if (model->unkId < 0) fail("the SentencePiece model has no unknown piece");
    if (model->byteFallback && byteCount != 256) {
        fail("byte_fallback is on but only " + std::to_string(byteCount) + " of the 256 byte pieces exist");
    }
    if (model->modelType == ModelType::Unigram && model->normal.empty()) fail("the UNIGRAM model has no normal pieces");
    if (model->modelType == ModelType::Unigram) {
        for (const auto& [text, id] : model->normal) {
            for (std::size_t length = 1; length < text.size(); ++length) model->prefixes.emplace(text.substr(0, length), -1);
            model->prefixes[text] = id;
        }
    }
    std::stable_sort(model->userDefined.begin(), model->userDefined.end(),
                     [](std::string_view a, std::string_view b) { return a.size() > b.size(); });

    return model;
}

int SentencePieceModel::pieceToId(std::string_view piece) const {
    if (const auto it = reserved.find(piece); it != reserved.end()) return it->second;
    if (const auto it = normal.find(piece); it != normal.end()) return it->second;
    return unkId;
}

std::size_t SentencePieceModel::matchUserDefined(std::string_view text) const {
    for (const std::string_view piece : userDefined) {
        if (startsWith(text, piece)) return piece.size();
    }
    return 0;
}

std::pair<std::string_view, std::size_t> SentencePieceModel::normalizePrefix(std::string_view input) const {
    if (const std::size_t n = matchUserDefined(input); n > 0) return {input.substr(0, n), n};
    if (!charsMap.empty()) {
        std::string_view replacement;
        if (const std::size_t n = charsMap.longestMatch(input, replacement); n > 0) return {replacement, n};
    }
    std::size_t length = 0;
    if (!spm::isValidUtf8Prefix(input, length)) return {kReplacementChar, 1};
    return {input.substr(0, length), length};
}

// Spaces count only as U+0020 (a tab or newline is an ordinary character unless the character
// map turns it into a space, as nmt_nfkc does).
std::string SentencePieceModel::normalize(std::string_view input, bool dummyPrefix) const {
    std::string out;
    if (removeExtraWhitespaces) {
        while (!input.empty()) {
            const auto unit = normalizePrefix(input);
            if (unit.first != " ") break;
            input.remove_prefix(unit.second);
        }
    }
    if (input.empty()) return out;
    out.reserve(input.size() * 3);
    const std::string_view space = escapeWhitespaces ? kSpaceSymbol : std::string_view(" ");
    if (!treatWhitespaceAsSuffix && dummyPrefix) out += space;
    bool isPrevSpace = removeExtraWhitespaces;
    while (!input.empty()) {
        const auto unit = normalizePrefix(input);
        std::string_view sp = unit.first;
        while (isPrevSpace && !sp.empty() && sp.front() == ' ') sp.remove_prefix(1);
        if (!sp.empty()) {
            for (const char c : sp) {
                if (escapeWhitespaces && c == ' ') out += kSpaceSymbol;
                else out += c;
            }
            isPrevSpace = sp.back() == ' ';
        }
        input.remove_prefix(unit.second);
        if (!removeExtraWhitespaces) isPrevSpace = false;
    }
    if (removeExtraWhitespaces) {
        while (endsWith(out, space)) out.resize(out.size() - space.size());
    }
    if (treatWhitespaceAsSuffix && dummyPrefix) out += space;
    return out;
}

void SentencePieceModel::appendIds(std::string_view normalized, std::vector<std::int64_t>& out) const {
    if (normalized.empty()) return;
    const Cut cut = modelType == ModelType::Bpe ? encodeBpe(normalized) : encodeUnigram(normalized);
    bool isPrevUnknown = false;
    for (const auto& [piece, id] : cut) {
        const bool isUnknown = typeOf(id) == PieceType::Unknown;
        if (typeOf(id) == PieceType::Control) {
            out.push_back(id);
        } else if (isUnknown && byteFallback) {
            for (const char c : piece) out.push_back(byteIds[static_cast<std::uint8_t>(c)]);
        } else if (!(isUnknown && isPrevUnknown)) {
            out.push_back(id);
        }
        isPrevUnknown = isUnknown;
    }
}

// BPE as libsentencepiece 0.1.97 runs it: start from characters (user-defined pieces whole and
// frozen), repeatedly merge the adjacent pair whose concatenation is a piece with the highest score
// (the leftmost on ties), then split pieces of type UNUSED back into the pair they were made from.
SentencePieceModel::Cut SentencePieceModel::encodeBpe(std::string_view normalized) const {
    struct Symbol {
        int prev;
        int next;
        bool isFrozen;
        std::string_view piece;
    };
    struct Pair {
        int left;
        int right;
        float score;
        std::size_t size;
    };
    // Highest score on top; among equal scores the smallest left index.
    const auto lowerPriority = [](const Pair& a, const Pair& b) {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    };
    std::priority_queue<Pair, std::vector<Pair>, decltype(lowerPriority)> agenda(lowerPriority);
    std::vector<Symbol> symbols;
    symbols.reserve(normalized.size());
    std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>> reverseMerge;

    const auto addPair = [&](int left, int right) {
        if (left == -1 || right == -1 || symbols[left].isFrozen || symbols[right].isFrozen) return;
        const std::string_view piece(symbols[left].piece.data(), symbols[left].piece.size() + symbols[right].piece.size());
        const auto it = normal.find(piece);
        if (it == normal.end()) return;
        agenda.push(Pair{left, right, pieces[it->second].score, piece.size()});
        if (typeOf(it->second) == PieceType::Unused) reverseMerge[piece] = {symbols[left].piece, symbols[right].piece};
    };

    for (std::string_view rest = normalized; !rest.empty();) {
        std::size_t length = matchUserDefined(rest);
        const bool isFrozen = length > 0;
        if (!isFrozen) length = std::min(rest.size(), oneCharLen(rest.front()));
        const int index = static_cast<int>(symbols.size());
        symbols.push_back(Symbol{index - 1, rest.size() == length ? -1 : index + 1, isFrozen, rest.substr(0, length)});
        rest.remove_prefix(length);
    }
    for (std::size_t i = 1; i < symbols.size(); ++i) addPair(static_cast<int>(i) - 1, static_cast<int>(i));

    while (!agenda.empty()) {
        const Pair top = agenda.top();
        agenda.pop();
        Symbol& left = symbols[top.left];
        Symbol& right = symbols[top.right];
        // Stale: one side was merged away or grew since the pair was queued.
        if (left.piece.empty() || right.piece.empty() || left.piece.size() + right.piece.size() != top.size) continue;
        left.piece = std::string_view(left.piece.data(), left.piece.size() + right.piece.size());
        left.next = right.next;
        if (right.next >= 0) symbols[right.next].prev = top.left;
        right.piece = std::string_view();
        addPair(left.prev, top.left);
        addPair(top.left, left.next);
    }

    Cut cut;
    std::function<void(std::string_view)> resegment = [&](std::string_view piece) {
        const int id = pieceToId(piece);
        if (typeOf(id) != PieceType::Unused) {
            cut.emplace_back(piece, id);
            return;
        }
        const auto it = reverseMerge.find(piece);
        if (it == reverseMerge.end()) {
            cut.emplace_back(piece, id);
            return;
        }
        const auto parts = it->second;
        resegment(parts.first);
        resegment(parts.second);
    };
    for (int index = 0; index != -1; index = symbols[index].next) resegment(symbols[index].piece);
    return cut;
}

// The Viterbi path of libsentencepiece 0.1.97's optimised unigram encoder (its default): positions
// are bytes, pieces ending at a position are tried shortest first and replace the best only when
// strictly better, a character no piece covers becomes unk at (lowest score - 10), and a
// user-defined piece scores (its length in bytes x the highest score - 0.1), so it always wins.
SentencePieceModel::Cut SentencePieceModel::encodeUnigram(std::string_view normalized) const {
    struct BestPath {
        int id = -1;
        float score = 0.0f;
        int startsAt = -1;
    };
    const int size = static_cast<int>(normalized.size());
    const float unkScore = minScore - kUnkPenalty;
    std::vector<BestPath> bestEndingAt(normalized.size() + 1);
    for (int startsAt = 0; startsAt < size;) {
        const float scoreSoFar = bestEndingAt[startsAt].score;
        bool hasSingleCharacter = false;
        const int charLength = std::min<int>(static_cast<int>(oneCharLen(normalized[startsAt])), size - startsAt);
        for (std::size_t length = 1; length <= static_cast<std::size_t>(size - startsAt); ++length) {
            const auto it = prefixes.find(normalized.substr(static_cast<std::size_t>(startsAt), length));
            if (it == prefixes.end()) break;
            const int id = it->second;
            if (id < 0 || typeOf(id) == PieceType::Unused) continue;
            BestPath& target = bestEndingAt[static_cast<std::size_t>(startsAt) + length];
            // The reference mixes float and double here; so does this, to pick the same paths.
            const double score = typeOf(id) == PieceType::UserDefined ? (static_cast<float>(length) * maxScore - 0.1)
                                                                        : static_cast<double>(pieces[id].score);
            const double candidate = score + scoreSoFar;
            if (target.startsAt == -1 || candidate > target.score) {
                target.score = static_cast<float>(candidate);
                target.startsAt = startsAt;
                target.id = id;
            }
            if (!hasSingleCharacter && length == static_cast<std::size_t>(charLength)) hasSingleCharacter = true;
        }
        if (!hasSingleCharacter) {
            BestPath& target = bestEndingAt[static_cast<std::size_t>(startsAt + charLength)];
            const float candidate = unkScore + scoreSoFar;
            if (target.startsAt == -1 || candidate > target.score) {
                target.score = candidate;
                target.startsAt = startsAt;
                target.id = unkId;
            }
        }
        startsAt += charLength;
    }
    Cut cut;
    for (int endsAt = size; endsAt > 0;) {
        const BestPath& node = bestEndingAt[static_cast<std::size_t>(endsAt)];
        cut.emplace_back(normalized.substr(static_cast<std::size_t>(node.startsAt), static_cast<std::size_t>(endsAt - node.startsAt)), node.id);
        endsAt = node.startsAt;
    }
    std::reverse(cut.begin(), cut.end());
    return cut;
}

}  // namespace tokenscope
