// libFuzzer target: BpeTokenizer (RoBERTa byte-level BPE) on arbitrary bytes. The first byte picks
// what the rest is:
//   0, 3  text for the realistic vocabulary (tests/data/meter/tokenizer_realistic)
//   1     the content of a vocab.json (with the tiny vocabulary's merges.txt)
//   2     the content of a merges.txt, then a NUL byte and a text (with the tiny vocab.json)
// Built with -fsanitize=fuzzer,address,undefined; the files are found through TOKENSCOPE_TEST_DATA.
//
// Beyond "no crash": loading fails only with tokenscope::Error; on text, tokenize() and encode()
// agree, ids stay inside the vocabulary, decode(encode(x)) is a fixed point after one round (and
// the identity on ASCII text without '<'), pre-tokenisation covers the text, and encodePadded()
// gives exactly maxLength entries with <s>, </s> and <pad> where they belong.

#include "text/bpe_tokenizer.h"

#include "common/error.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#ifndef TOKENSCOPE_TEST_DATA
#error "define TOKENSCOPE_TEST_DATA as the path of tests/data"
#endif

namespace {

using tokenscope::BpeDecodeOptions;
using tokenscope::BpeTokenizer;

const std::string kMeter = std::string(TOKENSCOPE_TEST_DATA) + "/meter/";

std::string readFile(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    std::ostringstream buffer;
    buffer << file.rdbuf();
    return buffer.str();
}

const BpeTokenizer& realistic() {
    static const BpeTokenizer instance = BpeTokenizer::fromDirectory(kMeter + "tokenizer_realistic");
    return instance;
}

const std::string& tinyVocab() {
    static const std::string content = readFile(kMeter + "roberta_tiny/vocab.json");
    return content;
}

const std::string& tinyMerges() {
    static const std::string content = readFile(kMeter + "roberta_tiny/merges.txt");
    return content;
}

void check(bool condition) {
    if (!condition) {
        std::abort();
    }
}

BpeDecodeOptions rawDecoding() {
    BpeDecodeOptions options;
    options.cleanUpTokenizationSpaces = false;
    return options;
}

// Properties that hold for any vocabulary whose ids are 0..vocabSize()-1 and whose entries are all
// byte-level strings (both fixture vocabularies).
void checkText(const BpeTokenizer& bpe, std::string_view text, bool idsAreContiguous) {
    const std::vector<std::string> tokens = bpe.tokenize(text);
    const std::vector<std::int64_t> ids = bpe.encode(text, false);
    const std::vector<std::int64_t> full = bpe.encode(text);
    check(tokens.size() == ids.size() && full.size() == ids.size() + 2);
    check(full.front() == bpe.bosId() && full.back() == bpe.eosId());
    for (std::size_t i = 0; i < ids.size(); ++i) {
        check(!tokens[i].empty() && ids[i] == bpe.idOf(tokens[i]) && full[i + 1] == ids[i]);
        if (idsAreContiguous) {
            check(ids[i] >= 0 && static_cast<std::size_t>(ids[i]) < bpe.vocabSize());
        }
    }

    std::string joined;
    for (const std::string& piece : bpe.preTokenize(text)) {
        check(!piece.empty());
        joined += piece;
    }
    std::string joinedAgain;
    for (const std::string& piece : bpe.preTokenize(joined)) {
        joinedAgain += piece;
    }
    check(joinedAgain == joined);  // pieces cover the (replacement-decoded) text exactly

    if (!idsAreContiguous) {
        return;
    }
    const std::string once = bpe.decode(ids, rawDecoding());
    const std::string twice = bpe.decode(bpe.encode(once, false), rawDecoding());
    check(twice == once);
    const bool plainAscii = std::all_of(text.begin(), text.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x80 && c != '<';
    });
    if (plainAscii) {
        check(once == text);  // byte-level BPE loses nothing
        check(once == joined);
    }
    bpe.decode(full);  // with the clean-up and the special tokens: must not throw

    const std::size_t maxLength = BpeTokenizer::kMinMaxLength + text.size() % 40;
    const tokenscope::TextEncoding padded = bpe.encodePadded(text, maxLength);
    check(padded.inputIds.size() == maxLength && padded.attentionMask.size() == maxLength &&
          padded.tokens.size() == maxLength && padded.tokenTypeIds.size() == maxLength);
    const std::size_t kept = std::min(ids.size(), maxLength - 2);
    check(padded.inputIds.front() == bpe.bosId() && padded.inputIds[kept + 1] == bpe.eosId());
    for (std::size_t i = 0; i < maxLength; ++i) {
        check(padded.attentionMask[i] == (i < kept + 2 ? 1 : 0));
        check(i <= kept + 1 || padded.inputIds[i] == bpe.padId());
        check(i == 0 || i > kept || padded.inputIds[i] == ids[i - 1]);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 4) {
    case 1: {
        try {
            const BpeTokenizer bpe = BpeTokenizer::fromContent(rest, tinyMerges(), "fuzz/vocab.json", "merges.txt");
            bpe.tokenize("What color is the <mask>?");
            for (std::int64_t id : bpe.encode(" the cat")) {
                bpe.tokenOf(id);
            }
        } catch (const tokenscope::Error&) {
            // a clear error is the expected outcome for most inputs
        }
        break;
    }
    case 2: {
        const std::size_t split = rest.find('\0');
        const std::string_view merges = rest.substr(0, split);
        const std::string_view text = split == std::string_view::npos ? "What color is the cat?" : rest.substr(split + 1);
        try {
            const BpeTokenizer bpe = BpeTokenizer::fromContent(tinyVocab(), merges, "vocab.json", "fuzz/merges.txt");
            check(bpe.mergeCount() <= merges.size());
            // Merge results may be missing from the vocabulary (<unk>), so only the shape is checked.
            checkText(bpe, text, false);
        } catch (const tokenscope::Error&) {
        }
        break;
    }
    default:
        checkText(realistic(), rest, true);
        break;
    }
    return 0;
}
