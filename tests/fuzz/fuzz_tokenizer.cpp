// libFuzzer target: BertTokenizer on arbitrary bytes (invalid UTF-8, control characters, special
// token literals, very long words). Built with -fsanitize=fuzzer,address,undefined; the vocabulary
// is tests/data/vilt/vocab_realistic.txt, found through the TOKENSCOPE_TEST_DATA definition.
//
// Beyond "no crash", it checks the contract of encode(): equal lengths, ids inside the vocabulary,
// [CLS] first and [SEP] last, truncation and padding to exactly the requested length.

#include "text/bert_tokenizer.h"

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <string>
#include <string_view>

#ifndef TOKENSCOPE_TEST_DATA
#error "define TOKENSCOPE_TEST_DATA as the path of tests/data"
#endif

namespace {

const tokenscope::BertTokenizer& tokenizer() {
    static const tokenscope::BertTokenizer instance =
        tokenscope::BertTokenizer::fromVocabFile(std::string(TOKENSCOPE_TEST_DATA) + "/vilt/vocab_realistic.txt");
    return instance;
}

void check(bool condition) {
    if (!condition) {
        std::abort();
    }
}

void checkEncoding(const tokenscope::TextEncoding& encoding, const tokenscope::BertTokenizer& bert) {
    const std::size_t n = encoding.inputIds.size();
    check(n >= 2 && encoding.tokens.size() == n && encoding.tokenTypeIds.size() == n &&
          encoding.attentionMask.size() == n);
    check(encoding.inputIds.front() == bert.clsId());
    for (std::size_t i = 0; i < n; ++i) {
        check(encoding.inputIds[i] >= 0 && static_cast<std::size_t>(encoding.inputIds[i]) < bert.vocabSize());
        check(encoding.tokenTypeIds[i] == 0);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const tokenscope::BertTokenizer& bert = tokenizer();
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    const auto words = bert.basicTokenize(text);
    for (const std::string& word : words) {
        check(!word.empty());
    }
    const auto pieces = bert.tokenize(text);

    const tokenscope::TextEncoding full = bert.encode(text);
    checkEncoding(full, bert);
    check(full.inputIds.size() == pieces.size() + 2);
    check(full.inputIds.back() == bert.sepId());

    const std::size_t maxLength = 2 + size % 40;
    const tokenscope::TextEncoding padded = bert.encode(text, maxLength, true);
    checkEncoding(padded, bert);
    check(padded.inputIds.size() == maxLength);
    const std::size_t kept = std::min(pieces.size(), maxLength - 2);
    check(padded.inputIds[kept + 1] == bert.sepId());
    for (std::size_t i = 0; i < maxLength; ++i) {
        check(padded.attentionMask[i] == (i < kept + 2 ? 1 : 0));
        if (i > kept + 1) {
            check(padded.inputIds[i] == bert.padId());
        }
    }
    return 0;
}
