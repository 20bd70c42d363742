// libFuzzer target: SentencePieceTokenizer on arbitrary bytes, read two ways.
//   1. As a tokenizer.model: loading either succeeds or throws tokenscope::Error (never anything
//      else, never a crash); a model that loads must encode and decode without crashing.
//   2. As text for the LLaMA-style and the UNIGRAM/nmt_nfkc models of tests/data/sentencepiece:
//      every id inside the vocabulary, the streaming decoder equal to decode(), and for the
//      LLaMA-style model (identity normaliser, byte fallback) decode(encode(text)) == text whenever
//      the text is valid UTF-8 without a literal U+2581.

#include "text/sentencepiece_tokenizer.h"

#include "common/error.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#ifndef TOKENSCOPE_TEST_DATA
#error "define TOKENSCOPE_TEST_DATA as the path of tests/data"
#endif

namespace {

using tokenscope::SentencePieceTokenizer;

const SentencePieceTokenizer& model(const char* name) {
    static const SentencePieceTokenizer bpe =
        SentencePieceTokenizer::fromFile(std::string(TOKENSCOPE_TEST_DATA) + "/sentencepiece/bpe_byte_fallback.model");
    static const SentencePieceTokenizer unigram =
        SentencePieceTokenizer::fromFile(std::string(TOKENSCOPE_TEST_DATA) + "/sentencepiece/unigram_nfkc.model");
    return std::string(name) == "bpe" ? bpe : unigram;
}

void check(bool condition) {
    if (!condition) std::abort();
}

bool isValidUtf8(const std::string& s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        std::uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
        for (std::size_t k = 1; k < n; ++k) {
            const auto t = static_cast<unsigned char>(s[i + k]);
            if ((t & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (t & 0x3F);
        }
        const std::uint32_t minimum[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < minimum[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return false;
        i += n;
    }
    return true;
}

void checkText(const SentencePieceTokenizer& tok, const std::string& text, bool expectRoundTrip) {
    const std::vector<std::int64_t> ids = tok.encode(text, true);
    for (const std::int64_t id : ids) check(id >= 0 && id < tok.vocabSize());
    const std::string decoded = tok.decode(ids);
    check(isValidUtf8(decoded));
    tokenscope::StreamingDecoder stream(tok);
    std::string streamed;
    for (const std::int64_t id : ids) {
        const std::string delta = stream.push(id);
        check(isValidUtf8(delta));
        streamed += delta;
    }
    streamed += stream.finish();
    check(streamed == decoded);
    if (expectRoundTrip) check(decoded == text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    try {
        const auto tok = SentencePieceTokenizer::fromBytes(bytes, "fuzz.model");
        checkText(tok, "Hello world, 123 \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x99\x82", false);
        std::vector<std::int64_t> ids;
        for (std::int64_t id = 0; id < tok.vocabSize() && id < 64; ++id) ids.push_back(id);
        check(isValidUtf8(tok.decode(ids)));
    } catch (const tokenscope::Error&) {
    }
    const bool roundTrips = isValidUtf8(bytes) && bytes.find("\xe2\x96\x81") == std::string::npos;
    checkText(model("bpe"), bytes, roundTrips);
    checkText(model("unigram"), bytes, false);
    return 0;
}
