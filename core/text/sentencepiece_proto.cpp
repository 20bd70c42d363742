#include "text/sentencepiece_proto.h"

#include "common/error.h"

#include <cstring>

namespace tokenscope {
namespace {

enum WireType : std::uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// Reads one message's fields from [pos, end). Every read checks the bounds first.
class WireReader {
public:
    WireReader(std::string_view bytes, const std::string& sourceName, const char* message)
        : m_bytes(bytes), m_sourceName(sourceName), m_message(message) {}

    bool atEnd() const { return m_pos >= m_bytes.size(); }

    // The next field's (number, wire type).
    std::pair<std::uint32_t, std::uint32_t> tag() {
        const std::size_t at = m_pos;
        const std::uint64_t key = varint();
        const std::uint64_t field = key >> 3;
        if (field == 0 || field > 0x1FFFFFFF) {
            fail("field number " + std::to_string(field) + " at byte " + std::to_string(at));
        }
        const auto wire = static_cast<std::uint32_t>(key & 7);
        if (wire != kVarint && wire != kFixed64 && wire != kLengthDelimited && wire != kFixed32) {
            fail("unsupported wire type " + std::to_string(wire) + " at byte " + std::to_string(at));
        }
        return {static_cast<std::uint32_t>(field), wire};
    }

    std::uint64_t varint() {
        std::uint64_t value = 0;
        for (int i = 0; i < 10; ++i) {
            if (m_pos >= m_bytes.size()) fail("truncated varint");
            const auto byte = static_cast<std::uint8_t>(m_bytes[m_pos++]);
            if (i == 9 && byte > 1) fail("varint longer than 64 bits");
            value |= static_cast<std::uint64_t>(byte & 0x7F) << (7 * i);
            if ((byte & 0x80) == 0) return value;
        }
        fail("varint longer than 10 bytes");
    }

    std::string_view lengthDelimited() {
        const std::uint64_t length = varint();
        if (length > m_bytes.size() - m_pos) {
            fail("field of " + std::to_string(length) + " bytes runs past the end (" +
                 std::to_string(m_bytes.size() - m_pos) + " left)");
        }
        const std::string_view out = m_bytes.substr(m_pos, static_cast<std::size_t>(length));
        m_pos += static_cast<std::size_t>(length);
        return out;
    }

    float fixed32Float() {
        if (m_bytes.size() - m_pos < 4) fail("truncated fixed32");
        std::uint32_t bits = 0;
        for (int i = 0; i < 4; ++i) bits |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(m_bytes[m_pos + i])) << (8 * i);
        m_pos += 4;
        float value = 0.0f;
        std::memcpy(&value, &bits, sizeof value);
        return value;
    }

    void skip(std::uint32_t wire) {
        switch (wire) {
        case kVarint: varint(); break;
        case kLengthDelimited: lengthDelimited(); break;
        case kFixed64:
            if (m_bytes.size() - m_pos < 8) fail("truncated fixed64");
            m_pos += 8;
            break;
        case kFixed32:
            if (m_bytes.size() - m_pos < 4) fail("truncated fixed32");
            m_pos += 4;
            break;
        default: fail("unsupported wire type " + std::to_string(wire));
        }
    }

    void expect(std::uint32_t field, std::uint32_t wire, std::uint32_t expected) const {
        if (wire != expected) {
            fail("field " + std::to_string(field) + " has wire type " + std::to_string(wire) + ", expected " +
                 std::to_string(expected));
        }
    }

    [[noreturn]] void fail(const std::string& problem) const {
        throw Error(m_sourceName + ": not a valid SentencePiece model (" + m_message + ": " + problem + ")");
    }

private:
    std::string_view m_bytes;
    std::size_t m_pos = 0;
    const std::string& m_sourceName;
    const char* m_message;
};

std::string readString(WireReader& in, std::uint32_t field, std::uint32_t wire) {
    in.expect(field, wire, kLengthDelimited);
    return std::string(in.lengthDelimited());
}

bool readBool(WireReader& in, std::uint32_t field, std::uint32_t wire) {
    in.expect(field, wire, kVarint);
    return in.varint() != 0;
}

// proto2 int32 / enum: the low 32 bits of the varint, sign included.
int readInt32(WireReader& in, std::uint32_t field, std::uint32_t wire) {
    in.expect(field, wire, kVarint);
    return static_cast<int>(static_cast<std::int32_t>(static_cast<std::uint32_t>(in.varint())));
}

void parsePiece(std::string_view bytes, const std::string& sourceName, SentencePieceModelProto::Piece& piece,
                std::size_t index) {
    WireReader in(bytes, sourceName, "piece");
    while (!in.atEnd()) {
        const auto [field, wire] = in.tag();
        switch (field) {
        case 1: piece.text = readString(in, field, wire); break;
        case 2:
            in.expect(field, wire, kFixed32);
            piece.score = in.fixed32Float();
            break;
        case 3: {
            const int type = readInt32(in, field, wire);
            if (type < 1 || type > 6) {
                in.fail("piece " + std::to_string(index) + " has unknown type " + std::to_string(type));
            }
            piece.type = type;
            break;
        }
        default: in.skip(wire);
        }
    }
}

void parseTrainerSpec(std::string_view bytes, const std::string& sourceName, SentencePieceModelProto& model) {
    WireReader in(bytes, sourceName, "trainer_spec");
    while (!in.atEnd()) {
        const auto [field, wire] = in.tag();
        switch (field) {
        case 3: model.modelType = readInt32(in, field, wire); break;
        case 24: model.treatWhitespaceAsSuffix = readBool(in, field, wire); break;
        case 35: model.byteFallback = readBool(in, field, wire); break;
        case 44:
            model.unkSurface = readString(in, field, wire);
            model.hasUnkSurface = true;
            break;
        case 45: model.unkPiece = readString(in, field, wire); break;
        case 46: model.bosPiece = readString(in, field, wire); break;
        case 47: model.eosPiece = readString(in, field, wire); break;
        case 48: model.padPiece = readString(in, field, wire); break;
        default: in.skip(wire);
        }
    }
}

void parseNormalizerSpec(std::string_view bytes, const std::string& sourceName, SentencePieceModelProto& model) {
    WireReader in(bytes, sourceName, "normalizer_spec");
    while (!in.atEnd()) {
        const auto [field, wire] = in.tag();
        switch (field) {
        case 1: model.normalizerName = readString(in, field, wire); break;
        case 2: model.precompiledCharsmap = readString(in, field, wire); break;
        case 3: model.addDummyPrefix = readBool(in, field, wire); break;
        case 4: model.removeExtraWhitespaces = readBool(in, field, wire); break;
        case 5: model.escapeWhitespaces = readBool(in, field, wire); break;
        default: in.skip(wire);
        }
    }
}

void parseDenormalizerSpec(std::string_view bytes, const std::string& sourceName, SentencePieceModelProto& model) {
    WireReader in(bytes, sourceName, "denormalizer_spec");
    while (!in.atEnd()) {
        const auto [field, wire] = in.tag();
        if (field == 2) {
            model.denormalizerCharsmap = readString(in, field, wire);
        } else {
            in.skip(wire);
        }
    }
}

}  // namespace

SentencePieceModelProto parseSentencePieceModelProto(std::string_view bytes, const std::string& sourceName) {
    if (bytes.empty()) throw Error(sourceName + ": empty file, not a SentencePiece model");
    SentencePieceModelProto model;
    WireReader in(bytes, sourceName, "ModelProto");
    while (!in.atEnd()) {
        const auto [field, wire] = in.tag();
        switch (field) {
        case 1: {
            in.expect(field, wire, kLengthDelimited);
            model.pieces.emplace_back();
            parsePiece(in.lengthDelimited(), sourceName, model.pieces.back(), model.pieces.size() - 1);
            break;
        }
        case 2:
            in.expect(field, wire, kLengthDelimited);
            parseTrainerSpec(in.lengthDelimited(), sourceName, model);
            break;
        case 3:
            in.expect(field, wire, kLengthDelimited);
            parseNormalizerSpec(in.lengthDelimited(), sourceName, model);
            break;
        case 5:
            in.expect(field, wire, kLengthDelimited);
            parseDenormalizerSpec(in.lengthDelimited(), sourceName, model);
            break;
        default: in.skip(wire);
        }
    }
    return model;
}

namespace {
// One double-array unit (darts-clone's layout, as libsentencepiece stores it).
bool unitHasLeaf(std::uint32_t unit) { return ((unit >> 8) & 1) == 1; }
std::uint32_t unitValue(std::uint32_t unit) { return unit & ((1U << 31) - 1); }
std::uint32_t unitLabel(std::uint32_t unit) { return unit & ((1U << 31) | 0xFF); }
std::uint32_t unitOffset(std::uint32_t unit) { return (unit >> 10) << ((unit & (1U << 9)) >> 6); }
constexpr std::size_t kMaxCharsMapMatches = 32;
}  // namespace

PrecompiledCharsMap::PrecompiledCharsMap(std::string_view blob, const std::string& sourceName)
    : m_sourceName(sourceName) {
    if (blob.size() <= 4) throw Error(sourceName + ": precompiled_charsmap of " + std::to_string(blob.size()) + " bytes is broken");
    std::uint32_t trieBytes = 0;
    for (int i = 0; i < 4; ++i) trieBytes |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(blob[i])) << (8 * i);
    if (trieBytes > blob.size() - 4) {
        throw Error(sourceName + ": precompiled_charsmap trie of " + std::to_string(trieBytes) +
                    " bytes exceeds the blob (" + std::to_string(blob.size()) + " bytes)");
    }
    if (trieBytes < 4) throw Error(sourceName + ": precompiled_charsmap trie is empty");
    m_units.resize(trieBytes / 4);
    for (std::size_t u = 0; u < m_units.size(); ++u) {
        std::uint32_t unit = 0;
        for (int i = 0; i < 4; ++i) unit |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(blob[4 + 4 * u + i])) << (8 * i);
        m_units[u] = unit;
    }
    m_strings.assign(blob.substr(4 + trieBytes));
}

std::size_t PrecompiledCharsMap::longestMatch(std::string_view input, std::string_view& replacement) const {
    auto unitAt = [this](std::size_t pos) {
        if (pos >= m_units.size()) throw Error(m_sourceName + ": precompiled_charsmap trie points outside itself");
        return m_units[pos];
    };
    std::size_t longest = 0;
    std::uint32_t longestValue = 0;
    std::size_t matches = 0;
    std::size_t nodePos = unitOffset(unitAt(0));
    for (std::size_t i = 0; i < input.size(); ++i) {
        const auto byte = static_cast<std::uint8_t>(input[i]);
        nodePos ^= byte;
        const std::uint32_t unit = unitAt(nodePos);
        if (unitLabel(unit) != byte) break;
        nodePos ^= unitOffset(unit);
        if (unitHasLeaf(unit)) {
            if (matches < kMaxCharsMapMatches) {
                longest = i + 1;  // matches come shortest first
                longestValue = unitValue(unitAt(nodePos));
            }
            ++matches;
        }
    }
    if (longest == 0) return 0;
    if (longestValue >= m_strings.size()) {
        throw Error(m_sourceName + ": precompiled_charsmap rule points past its strings");
    }
    const std::size_t end = m_strings.find('\0', longestValue);
    if (end == std::string::npos) throw Error(m_sourceName + ": precompiled_charsmap string without terminator");
    replacement = std::string_view(m_strings).substr(longestValue, end - longestValue);
    return longest;
}

}  // namespace tokenscope
