// LLaVA prompt templates, <image> expansion, added tokens from Hugging Face folders, and the bundled
// resources/models/llava-next-tiny-random folder. The id-level parity with libsentencepiece is in
// tst_sentencepiece; here the expectations are the templates of the llava-hf model cards and
// properties that follow from how transformers tokenizes (BOS first, <image> matched whole, a dummy
// "▁" after it with legacy tokenizers only, the text on each side decoding back to itself).

#include "text/llava_prompt.h"
#include "text/sentencepiece_tokenizer.h"

#include "common/error.h"

#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using tokenscope::Error;
using tokenscope::LlavaPromptTemplate;
using tokenscope::SentencePieceTokenizer;
using tokenscope::StreamingDecoder;

namespace {

const std::string kTinyFolder = std::string(TOKENSCOPE_TEST_DATA) + "/../../resources/models/llava-next-tiny-random";
const std::string kSpace = "\xe2\x96\x81";  // "▁"
const std::string kVicunaSystem =
    "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, "
    "detailed, and polite answers to the human's questions.";

void writeFile(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

const std::string kByteFallbackModel = std::string(TOKENSCOPE_TEST_DATA) + "/sentencepiece/bpe_byte_fallback.model";

// A folder with a tokenizer.model (the tiny one unless given) and the given JSON files.
std::string makeFolder(const QTemporaryDir& dir, const std::vector<std::pair<std::string, std::string>>& files,
                       const std::string& model = kTinyFolder + "/tokenizer.model") {
    const std::string folder = dir.path().toStdString();
    std::filesystem::copy_file(model, folder + "/tokenizer.model",
                               std::filesystem::copy_options::overwrite_existing);
    for (const auto& [name, text] : files) writeFile(folder + "/" + name, text);
    return folder;
}

template <typename F>
QString errorOf(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

}  // namespace

class TestLlavaPrompt : public QObject {
    Q_OBJECT

private slots:
    void templates();
    void templateNames();
    void templateForFolder_data();
    void templateForFolder();
    void bundledTinyFolder();
    void legacyAndNonLegacy();
    void addedTokensMatchedWhole();
    void addedTokenStrip();
    void folderErrors();
    void promptErrors();
};

void TestLlavaPrompt::templates() {
    QCOMPARE(tokenscope::formatLlavaPrompt(LlavaPromptTemplate::Vicuna, "What is this?"),
             kVicunaSystem + " USER: <image>\nWhat is this? ASSISTANT:");
    QCOMPARE(tokenscope::formatLlavaPrompt(LlavaPromptTemplate::Mistral, "What is this?"),
             std::string("[INST] <image>\nWhat is this? [/INST]"));
    QCOMPARE(tokenscope::formatLlavaPrompt(LlavaPromptTemplate::Raw, "What is this?"), std::string("<image>\nWhat is this?"));
    QCOMPARE(tokenscope::formatLlavaPrompt(LlavaPromptTemplate::Raw, "Look: <image> now"), std::string("Look: <image> now"));
}

void TestLlavaPrompt::templateNames() {
    QVERIFY(tokenscope::llavaTemplateFromName("Vicuna") == LlavaPromptTemplate::Vicuna);
    QVERIFY(tokenscope::llavaTemplateFromName("mistral") == LlavaPromptTemplate::Mistral);
    QVERIFY(tokenscope::llavaTemplateFromName("RAW") == LlavaPromptTemplate::Raw);
    QCOMPARE(std::string(tokenscope::llavaTemplateName(LlavaPromptTemplate::Mistral)), std::string("mistral"));
    QVERIFY(errorOf([] { tokenscope::llavaTemplateFromName("chatml"); }).contains("chatml"));
}

void TestLlavaPrompt::templateForFolder_data() {
    QTest::addColumn<QString>("folderName");
    QTest::addColumn<QString>("config");  // empty: no config.json
    QTest::addColumn<int>("expected");
    const QString llava = R"({"model_type": "llava_next", "text_config": {"model_type": "%1"}})";
    QTest::newRow("llama") << "model" << llava.arg("llama") << int(LlavaPromptTemplate::Vicuna);
    QTest::newRow("mistral") << "model" << llava.arg("mistral") << int(LlavaPromptTemplate::Mistral);
    QTest::newRow("mistral architecture") << "model"
                                          << R"({"text_config": {"architectures": ["MistralForCausalLM"]}})"
                                          << int(LlavaPromptTemplate::Mistral);
    QTest::newRow("name: mistral") << "llava-v1.6-mistral-7b-hf" << "" << int(LlavaPromptTemplate::Mistral);
    QTest::newRow("name: vicuna") << "llava-v1.6-vicuna-7b-hf" << R"({"model_type": "llava_next"})" << int(LlavaPromptTemplate::Vicuna);
    QTest::newRow("name: other") << "some-model" << "" << int(LlavaPromptTemplate::Raw);
}

void TestLlavaPrompt::templateForFolder() {
    QFETCH(QString, folderName);
    QFETCH(QString, config);
    QFETCH(int, expected);
    QTemporaryDir dir;
    const std::string folder = dir.path().toStdString() + "/" + folderName.toStdString();
    std::filesystem::create_directory(folder);
    if (!config.isEmpty()) writeFile(folder + "/config.json", config.toStdString());
    QCOMPARE(int(tokenscope::llavaTemplateForFolder(folder)), expected);
}

// The bundled folder: its tokenizer, the vicuna template, <image> = 95 expanded in place.
void TestLlavaPrompt::bundledTinyFolder() {
    QVERIFY(tokenscope::llavaTemplateForFolder(kTinyFolder) == LlavaPromptTemplate::Vicuna);
    const auto tok = SentencePieceTokenizer::fromFolder(kTinyFolder);
    QCOMPARE(tok.pieceCount(), std::int64_t{95});
    QCOMPARE(tok.vocabSize(), std::int64_t{96});  // config.json text_config.vocab_size
    QCOMPARE(tok.pieceToId("<image>"), std::int64_t{95});
    QCOMPARE(tok.idToPiece(95), std::string("<image>"));
    QCOMPARE(tok.unkId(), std::int64_t{0});
    QCOMPARE(tok.bosId(), std::int64_t{1});  // generation_config.json
    QCOMPARE(tok.eosId(), std::int64_t{2});
    QCOMPARE(tok.padId(), std::int64_t{0});
    QVERIFY(tok.isLegacy());
    QVERIFY(tok.isSpecial(95));

    const std::string question = "What is the man doing?";
    const std::string prompt = tokenscope::formatLlavaPrompt(LlavaPromptTemplate::Vicuna, question);
    for (const std::int64_t count : {std::int64_t{-1}, std::int64_t{0}, std::int64_t{1}, std::int64_t{70}}) {
        const std::vector<std::int64_t> ids = tokenscope::encodeLlavaPrompt(tok, prompt, 95, count);
        const std::int64_t expectedImages = count < 0 ? 1 : count;
        QCOMPARE(ids.front(), std::int64_t{1});
        QCOMPARE(std::count(ids.begin(), ids.end(), std::int64_t{95}), static_cast<std::ptrdiff_t>(expectedImages));
        QVERIFY(std::count(ids.begin(), ids.end(), std::int64_t{0}) == 0);  // every character is known
        const auto first = std::find(ids.begin(), ids.end(), std::int64_t{95});
        const std::vector<std::int64_t> before(ids.begin() + 1, count == 0 ? ids.end() : first);
        if (count == 0) continue;
        QVERIFY(std::all_of(first, first + expectedImages, [](std::int64_t id) { return id == 95; }));
        const std::vector<std::int64_t> after(first + expectedImages, ids.end());
        QCOMPARE(tok.decode(before), kVicunaSystem + " USER: ");
        // Legacy: the text after <image> got its own dummy prefix, dropped again when decoded alone.
        QVERIFY(tok.idToPiece(after.front()).rfind(kSpace, 0) == 0);
        QCOMPARE(tok.decode(after), "\n" + question + " ASSISTANT:");
        // Decoding the whole prompt: BOS vanishes, <image> only without skipSpecial.
        QCOMPARE(tok.decode(ids), kVicunaSystem + " USER:  \n" + question + " ASSISTANT:");
        std::string shown = tok.decode(ids, false);
        QVERIFY(shown.rfind("<s>", 0) == 0);
        QVERIFY(shown.find("<image>\n") == std::string::npos);  // the dummy "▁" stays a space
        QVERIFY(shown.find("<image> \n" + question) != std::string::npos);
        StreamingDecoder stream(tok);
        std::string streamed;
        for (const auto id : ids) streamed += stream.push(id);
        streamed += stream.finish();
        QCOMPARE(streamed, tok.decode(ids));
    }
    // The same ids as encoding the prompt with the expanded "<image>" strings, as the processor does.
    std::string expandedPrompt = prompt;
    expandedPrompt.replace(expandedPrompt.find("<image>"), 7, "<image><image><image>");
    QCOMPARE(tok.encode(expandedPrompt, true), tokenscope::encodeLlavaPrompt(tok, prompt, 95, 3));
}

void TestLlavaPrompt::legacyAndNonLegacy() {
    QTemporaryDir dir;
    const std::string added = R"({"added_tokens_decoder": {"95": {"content": "<image>", "special": true}}, "legacy": false})";
    const auto nonLegacy = SentencePieceTokenizer::fromFolder(makeFolder(dir, {{"tokenizer_config.json", added}}));
    QVERIFY(!nonLegacy.isLegacy());
    const auto legacy = SentencePieceTokenizer::fromFolder(kTinyFolder);
    const std::string prompt = tokenscope::formatLlavaPrompt(LlavaPromptTemplate::Mistral, "Where is the cat?");
    const auto a = tokenscope::encodeLlavaPrompt(legacy, prompt, 95, 2);
    const auto b = tokenscope::encodeLlavaPrompt(nonLegacy, prompt, 95, 2);
    const auto afterA = std::find(a.begin(), a.end(), std::int64_t{95}) + 2;
    const auto afterB = std::find(b.begin(), b.end(), std::int64_t{95}) + 2;
    QVERIFY(std::equal(a.begin(), afterA, b.begin(), afterB));  // identical up to the image
    QVERIFY(legacy.idToPiece(*afterA).rfind(kSpace, 0) == 0);
    QVERIFY(nonLegacy.idToPiece(*afterB).rfind(kSpace, 0) != 0);
    QCOMPARE(legacy.decode(std::vector<std::int64_t>(afterA, a.end())), std::string("\nWhere is the cat? [/INST]"));
    QCOMPARE(nonLegacy.decode(std::vector<std::int64_t>(afterB, b.end())), std::string("\nWhere is the cat? [/INST]"));

    // tokenizer.json decides over tokenizer_config.json: a Metaspace pre-tokenizer prepending "first".
    QTemporaryDir dir2;
    const std::string tokenizerJson = R"({"added_tokens": [{"id": 95, "content": "<image>", "special": true}],
        "normalizer": null, "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}})";
    const auto fromJson = SentencePieceTokenizer::fromFolder(
        makeFolder(dir2, {{"tokenizer.json", tokenizerJson}, {"tokenizer_config.json", R"({"legacy": true})"}}));
    QVERIFY(!fromJson.isLegacy());
    QCOMPARE(fromJson.pieceToId("<image>"), std::int64_t{95});
    QTemporaryDir dir3;
    const std::string prependJson = R"({"normalizer": {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}})";
    QVERIFY(SentencePieceTokenizer::fromFolder(makeFolder(dir3, {{"tokenizer.json", prependJson}})).isLegacy());
}

// With the 700-piece byte-fallback model, so that "<" survives a round trip.
void TestLlavaPrompt::addedTokensMatchedWhole() {
    QTemporaryDir dir;
    const auto tok = SentencePieceTokenizer::fromFolder(
        makeFolder(dir,
                   {{"added_tokens.json", R"({"<image>": 700, "<img>": 701, "<pad>": 702})"},
                    {"tokenizer_config.json", R"({"added_tokens_decoder": {"700": {"content": "<image>", "special": true}}})"}},
                   kByteFallbackModel));
    QCOMPARE(tok.pieceCount(), std::int64_t{700});
    QCOMPARE(tok.vocabSize(), std::int64_t{703});
    QCOMPARE(tok.encode("<image>", false), std::vector<std::int64_t>({700}));
    QCOMPARE(tok.encode("<image><img>", true), std::vector<std::int64_t>({1, 700, 701}));
    QCOMPARE(tok.pieceToId("<pad>"), std::int64_t{702});
    QCOMPARE(tok.padId(), std::int64_t{-1});  // no pad_token named
    // Longest match at each position: "<image>" is not "<img>"-anything; "<imag" is plain text.
    const auto ids = tok.encode("a<imag<image>", false);
    QCOMPARE(ids.back(), std::int64_t{700});
    QVERIFY(std::count(ids.begin(), ids.end(), std::int64_t{700}) == 1);
    QCOMPARE(tok.decode(std::vector<std::int64_t>(ids.begin(), ids.end() - 1)), std::string("a<imag"));
    // added_tokens.json alone does not make a token special: it stays in the decoded text.
    QCOMPARE(tok.decode({700, 701}), std::string("<img>"));
    QCOMPARE(tok.decode({700, 701}, false), std::string("<image><img>"));
    StreamingDecoder stream(tok);
    QCOMPARE(stream.push(700), std::string());
    QCOMPARE(stream.push(701), std::string("<img>"));
    QVERIFY_THROWS_EXCEPTION(Error, tok.decode({703}));
    QVERIFY_THROWS_EXCEPTION(Error, tok.idToPiece(703));
}

void TestLlavaPrompt::addedTokenStrip() {
    QTemporaryDir dir;
    const auto tok = SentencePieceTokenizer::fromFolder(makeFolder(
        dir, {{"tokenizer_config.json",
               R"({"added_tokens_decoder": {"95": {"content": "<image>", "lstrip": true, "rstrip": true, "special": true}}})"}}));
    const auto stripped = tokenscope::encodeLlavaPrompt(tok, "a   <image>  \n b", 95, 1);
    const auto tight = tokenscope::encodeLlavaPrompt(tok, "a<image>b", 95, 1);
    QCOMPARE(stripped, tight);
    QCOMPARE(tok.encode("a   <image>  \n b", true), tight);
}

void TestLlavaPrompt::folderErrors() {
    QTemporaryDir a;
    QVERIFY(errorOf([&] {
                SentencePieceTokenizer::fromFolder(makeFolder(a, {{"added_tokens.json", R"({"<image>": 95, "<x>": 95})"}}));
            }).startsWith("added_tokens.json: "));
    QTemporaryDir b;
    QVERIFY(errorOf([&] {
                SentencePieceTokenizer::fromFolder(makeFolder(
                    b, {{"tokenizer_config.json", R"({"added_tokens_decoder": {"3": {"content": "<image>"}}})"}}));
            }).contains("is the piece"));
    QTemporaryDir c;
    QVERIFY(errorOf([&] { SentencePieceTokenizer::fromFolder(makeFolder(c, {{"tokenizer_config.json", "{not json"}})); })
                .contains("tokenizer_config.json"));
    QTemporaryDir d;
    QVERIFY(errorOf([&] {
                SentencePieceTokenizer::fromFolder(makeFolder(
                    d, {{"tokenizer_config.json", R"({"added_tokens_decoder": {"x9": {"content": "<image>"}}})"}}));
            }).contains("not a token id"));
    QTemporaryDir e;
    QVERIFY(errorOf([&] { SentencePieceTokenizer::fromFolder(e.path().toStdString()); }).contains("tokenizer.model"));
}

void TestLlavaPrompt::promptErrors() {
    const auto tok = SentencePieceTokenizer::fromFolder(kTinyFolder);
    QVERIFY(errorOf([&] { tokenscope::encodeLlavaPrompt(tok, "no image here", 95, 4); }).contains("no \"<image>\""));
    QVERIFY(errorOf([&] { tokenscope::encodeLlavaPrompt(tok, "<image> and <image>", 95, 4); }).contains("more than one"));
    QVERIFY(errorOf([&] { tokenscope::encodeLlavaPrompt(tok, "<image>", -3, 4); }).contains("negative"));
}

QTEST_APPLESS_MAIN(TestLlavaPrompt)
#include "tst_llava_prompt.moc"
