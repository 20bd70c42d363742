// Parity of BpeTokenizer with transformers 4.44's slow RobertaTokenizer:
//   tests/data/meter/tokenizer_cases.json      23 hand-picked texts, two vocabularies, one padded batch
//                                               (shared/fixtures/meter/README.md "Tokenizer")
//   tests/data/meter/tokenizer_generated.json  486 seeded texts, 60 invalid UTF-8 inputs, decode cases,
//                                               batches, variants of the files, the regex classes
//                                               (tools/reference/gen_roberta_tokenizer_cases.py)
// plus the error contract. Every expected value comes from the reference code.

#include "text/bpe_tokenizer.h"

#include "common/error.h"

#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using tokenscope::BpeDecodeOptions;
using tokenscope::BpeTokenizer;
using tokenscope::Error;
using tokenscope::TextEncoding;

namespace {

const std::string kDataDir = std::string(TOKENSCOPE_TEST_DATA) + "/meter/";
const char* const kVocabNames[] = {"tiny", "realistic"};
const char* const kMinimalVocab = R"({"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4})";

nlohmann::json readJson(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        throw Error(path + ": missing fixture");
    }
    return nlohmann::json::parse(file);
}

QStringList toQt(const std::vector<std::string>& tokens) {
    QStringList out;
    for (const std::string& token : tokens) {
        out << QString::fromStdString(token);
    }
    return out;
}

QList<qint64> toQt(const std::vector<std::int64_t>& ids) {
    QList<qint64> out;
    for (std::int64_t id : ids) {
        out << id;
    }
    return out;
}

QList<qint64> idsFromJson(const nlohmann::json& array) {
    QList<qint64> out;
    for (const auto& id : array) {
        out << id.get<qint64>();
    }
    return out;
}

QStringList tokensFromJson(const nlohmann::json& array) {
    QStringList out;
    for (const auto& token : array) {
        out << QString::fromStdString(token.get<std::string>());
    }
    return out;
}

std::string fromHex(const std::string& hex) {
    return QByteArray::fromHex(QByteArray::fromStdString(hex)).toStdString();
}

std::string writeFile(const QTemporaryDir& dir, const char* name, const std::string& bytes) {
    const std::string path = dir.filePath(QString::fromLatin1(name)).toStdString();
    std::ofstream file(path, std::ios::binary);
    file << bytes;
    return path;
}

std::string readBytes(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

// Loads a vocabulary and merges given as contents through real files; returns the error message, or
// an empty string when loading succeeded.
std::string loadError(const std::string& vocab, const std::string& merges, std::string* vocabPath = nullptr,
                      std::string* mergesPath = nullptr) {
    QTemporaryDir dir;
    if (!dir.isValid()) {
        return "cannot create a temporary folder";
    }
    const std::string vocabFile = writeFile(dir, "vocab.json", vocab);
    const std::string mergesFile = writeFile(dir, "merges.txt", merges);
    if (vocabPath != nullptr) {
        *vocabPath = vocabFile;
    }
    if (mergesPath != nullptr) {
        *mergesPath = mergesFile;
    }
    try {
        BpeTokenizer::fromFiles(vocabFile, mergesFile);
    } catch (const Error& e) {
        return e.what();
    }
    return {};
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

class TestBpeTokenizer : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();

    void fixtureCases_data();
    void fixtureCases();
    void fixtureBatch();
    void generatedCases_data();
    void generatedCases();
    void invalidUtf8Input_data();
    void invalidUtf8Input();
    void decodeCases_data();
    void decodeCases();
    void generatedBatches_data();
    void generatedBatches();
    void fileVariants_data();
    void fileVariants();
    void characterClasses();

    void specialIds();
    void maskSwallowsPythonWhitespace();
    void encodeWithoutSpecialTokens();
    void encodePaddedLimits();
    void decodeErrors();
    void mergesWithoutTrailingNewline();
    void mergesNamingUnknownSymbols();
    void concurrentTokenize();

    void missingFiles();
    void malformedVocab_data();
    void malformedVocab();
    void missingSpecialToken_data();
    void missingSpecialToken();
    void badMergesLine_data();
    void badMergesLine();
    void mergesNotUtf8();

private:
    const BpeTokenizer& tokenizer(const QString& vocabName) const;

    nlohmann::json m_fixture;
    nlohmann::json m_generated;
    std::optional<BpeTokenizer> m_tiny;
    std::optional<BpeTokenizer> m_realistic;
};

void TestBpeTokenizer::initTestCase() {
    // Any missing or broken fixture fails here, which fails the whole test (never a skip).
    try {
        m_fixture = readJson(kDataDir + "tokenizer_cases.json");
        m_generated = readJson(kDataDir + "tokenizer_generated.json");
        m_tiny = BpeTokenizer::fromDirectory(kDataDir + "roberta_tiny");
        m_realistic = BpeTokenizer::fromFiles(kDataDir + "tokenizer_realistic/vocab.json",
                                              kDataDir + "tokenizer_realistic/merges.txt");
    } catch (const std::exception& e) {
        QFAIL(e.what());
    }
    QVERIFY2(m_fixture["cases"].size() >= 23, "tokenizer_cases.json lost cases");
    QVERIFY2(m_generated["cases"].size() >= 480, "tokenizer_generated.json lost cases");
    QVERIFY(m_generated["invalid_utf8"].size() >= 60);
    QVERIFY(m_generated["decode_cases"].size() >= 120);
    QVERIFY(m_generated["batches"].size() >= 10);
    QVERIFY(m_generated["file_variants"].size() >= 17);
    QCOMPARE(m_tiny->vocabSize(), m_fixture["tiny_vocab_size"].get<std::size_t>());
    QCOMPARE(m_realistic->vocabSize(), m_fixture["realistic_vocab_size"].get<std::size_t>());
    QCOMPARE(m_tiny->mergeCount(), m_fixture["tiny_merges"].get<std::size_t>());
    QCOMPARE(m_realistic->mergeCount(), m_fixture["realistic_merges"].get<std::size_t>());
}

const BpeTokenizer& TestBpeTokenizer::tokenizer(const QString& vocabName) const {
    return vocabName == QLatin1String("tiny") ? *m_tiny : *m_realistic;
}

void TestBpeTokenizer::fixtureCases_data() {
    QTest::addColumn<int>("caseIndex");
    QTest::addColumn<QString>("vocabName");
    for (std::size_t i = 0; i < m_fixture["cases"].size(); ++i) {
        for (const char* vocab : kVocabNames) {
            QTest::addRow("case%02zu/%s", i, vocab) << static_cast<int>(i) << QString::fromLatin1(vocab);
        }
    }
}

void TestBpeTokenizer::fixtureCases() {
    QFETCH(int, caseIndex);
    QFETCH(QString, vocabName);
    const nlohmann::json& testCase = m_fixture["cases"][static_cast<std::size_t>(caseIndex)];
    const nlohmann::json& expected = testCase[vocabName.toStdString()];
    const std::string text = testCase["text"].get<std::string>();
    const BpeTokenizer& bpe = tokenizer(vocabName);

    QCOMPARE(toQt(bpe.preTokenize(text)), tokensFromJson(testCase["regex_pieces"]));
    QCOMPARE(toQt(bpe.tokenize(text)), tokensFromJson(expected["tokens"]));
    QCOMPARE(toQt(bpe.encode(text)), idsFromJson(expected["input_ids"]));
}

void TestBpeTokenizer::fixtureBatch() {
    // tokenizer(texts, padding="max_length", truncation=True, max_length=12), realistic vocab.
    const nlohmann::json& batch = m_fixture["batch_max_length"];
    std::vector<std::string> texts;
    for (const auto& text : batch["texts"]) {
        texts.push_back(text.get<std::string>());
    }
    QCOMPARE(texts.size(), std::size_t{3});
    const std::vector<TextEncoding> encodings = m_realistic->encodeBatch(texts, 12);
    QCOMPARE(encodings.size(), texts.size());
    for (std::size_t row = 0; row < texts.size(); ++row) {
        QCOMPARE(toQt(encodings[row].inputIds), idsFromJson(batch["input_ids"][row]));
        QCOMPARE(toQt(encodings[row].attentionMask), idsFromJson(batch["attention_mask"][row]));
        QCOMPARE(toQt(encodings[row].tokenTypeIds), QList<qint64>(12, 0));
        QCOMPARE(encodings[row].tokens.size(), std::size_t{12});
    }
    QCOMPARE(encodings[0].tokens[1], std::string("W"));
    QCOMPARE(encodings[0].tokens.back(), std::string("<pad>"));
}

void TestBpeTokenizer::generatedCases_data() {
    QTest::addColumn<int>("caseIndex");
    QTest::addColumn<QString>("vocabName");
    for (std::size_t i = 0; i < m_generated["cases"].size(); ++i) {
        for (const char* vocab : kVocabNames) {
            QTest::addRow("case%03zu/%s", i, vocab) << static_cast<int>(i) << QString::fromLatin1(vocab);
        }
    }
}

void TestBpeTokenizer::generatedCases() {
    QFETCH(int, caseIndex);
    QFETCH(QString, vocabName);
    const nlohmann::json& testCase = m_generated["cases"][static_cast<std::size_t>(caseIndex)];
    const nlohmann::json& expected = testCase[vocabName.toStdString()];
    const std::string text = testCase["text"].get<std::string>();
    const BpeTokenizer& bpe = tokenizer(vocabName);

    QCOMPARE(toQt(bpe.preTokenize(text)), tokensFromJson(testCase["regex_pieces"]));
    QCOMPARE(toQt(bpe.tokenize(text)), tokensFromJson(expected["tokens"]));
    const std::vector<std::int64_t> ids = bpe.encode(text);
    QCOMPARE(toQt(ids), idsFromJson(expected["input_ids"]));
    QCOMPARE(QString::fromStdString(bpe.decode(ids)), QString::fromStdString(expected["decoded"].get<std::string>()));
}

void TestBpeTokenizer::invalidUtf8Input_data() {
    QTest::addColumn<int>("caseIndex");
    for (std::size_t i = 0; i < m_generated["invalid_utf8"].size(); ++i) {
        QTest::addRow("bytes%02zu", i) << static_cast<int>(i);
    }
}

void TestBpeTokenizer::invalidUtf8Input() {
    // The reference ran on bytes.decode("utf-8", errors="replace"); the C++ side gets the raw bytes.
    QFETCH(int, caseIndex);
    const nlohmann::json& testCase = m_generated["invalid_utf8"][static_cast<std::size_t>(caseIndex)];
    const std::string bytes = fromHex(testCase["bytes_hex"].get<std::string>());
    QVERIFY(!bytes.empty());
    QCOMPARE(toQt(m_tiny->preTokenize(bytes)), tokensFromJson(testCase["regex_pieces"]));
    for (const char* vocab : kVocabNames) {
        const BpeTokenizer& bpe = tokenizer(QString::fromLatin1(vocab));
        QCOMPARE(toQt(bpe.tokenize(bytes)), tokensFromJson(testCase[vocab]["tokens"]));
        QCOMPARE(toQt(bpe.encode(bytes)), idsFromJson(testCase[vocab]["input_ids"]));
    }
}

void TestBpeTokenizer::decodeCases_data() {
    QTest::addColumn<int>("caseIndex");
    for (std::size_t i = 0; i < m_generated["decode_cases"].size(); ++i) {
        QTest::addRow("decode%03zu", i) << static_cast<int>(i);
    }
}

void TestBpeTokenizer::decodeCases() {
    QFETCH(int, caseIndex);
    const nlohmann::json& testCase = m_generated["decode_cases"][static_cast<std::size_t>(caseIndex)];
    const BpeTokenizer& bpe = tokenizer(QString::fromStdString(testCase["vocab"].get<std::string>()));
    const auto ids = testCase["ids"].get<std::vector<std::int64_t>>();
    BpeDecodeOptions skip;
    skip.skipSpecialTokens = true;
    BpeDecodeOptions raw;
    raw.cleanUpTokenizationSpaces = false;
    QCOMPARE(QString::fromStdString(bpe.decode(ids)), QString::fromStdString(testCase["decoded"].get<std::string>()));
    QCOMPARE(QString::fromStdString(bpe.decode(ids, skip)),
             QString::fromStdString(testCase["decoded_skip_special"].get<std::string>()));
    QCOMPARE(QString::fromStdString(bpe.decode(ids, raw)),
             QString::fromStdString(testCase["decoded_no_cleanup"].get<std::string>()));
}

void TestBpeTokenizer::generatedBatches_data() {
    QTest::addColumn<int>("batchIndex");
    for (std::size_t i = 0; i < m_generated["batches"].size(); ++i) {
        const nlohmann::json& batch = m_generated["batches"][i];
        QTest::addRow("%s/max%d", batch["vocab"].get<std::string>().c_str(), batch["max_length"].get<int>())
            << static_cast<int>(i);
    }
}

void TestBpeTokenizer::generatedBatches() {
    QFETCH(int, batchIndex);
    const nlohmann::json& batch = m_generated["batches"][static_cast<std::size_t>(batchIndex)];
    const BpeTokenizer& bpe = tokenizer(QString::fromStdString(batch["vocab"].get<std::string>()));
    const auto texts = batch["texts"].get<std::vector<std::string>>();
    const auto maxLength = batch["max_length"].get<std::size_t>();
    const std::vector<TextEncoding> encodings = bpe.encodeBatch(texts, maxLength);
    QCOMPARE(encodings.size(), texts.size());
    for (std::size_t row = 0; row < texts.size(); ++row) {
        const TextEncoding& encoding = encodings[row];
        QCOMPARE(toQt(encoding.inputIds), idsFromJson(batch["input_ids"][row]));
        QCOMPARE(toQt(encoding.attentionMask), idsFromJson(batch["attention_mask"][row]));
        QCOMPARE(encoding.tokens.size(), maxLength);
        for (std::size_t i = 0; i < maxLength; ++i) {
            QCOMPARE(encoding.tokens[i], bpe.tokenOf(encoding.inputIds[i]));
        }
    }
}

void TestBpeTokenizer::fileVariants_data() {
    QTest::addColumn<int>("variantIndex");
    for (std::size_t i = 0; i < m_generated["file_variants"].size(); ++i) {
        QTest::addRow("%s", m_generated["file_variants"][i]["name"].get<std::string>().c_str()) << static_cast<int>(i);
    }
}

void TestBpeTokenizer::fileVariants() {
    // The tiny vocabulary's files rewritten (line endings, no final newline, blank lines, repeated or
    // unknown rules, repeated keys...), loaded through real files as the reference loaded them.
    QFETCH(int, variantIndex);
    const nlohmann::json& variant = m_generated["file_variants"][static_cast<std::size_t>(variantIndex)];
    const std::string vocab = variant["vocab"].is_null() ? readBytes(kDataDir + "roberta_tiny/vocab.json")
                                                         : variant["vocab"].get<std::string>();
    const std::string merges = variant["merges"].is_null() ? readBytes(kDataDir + "roberta_tiny/merges.txt")
                                                           : variant["merges"].get<std::string>();
    QVERIFY(!vocab.empty());
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const BpeTokenizer bpe =
        BpeTokenizer::fromFiles(writeFile(dir, "vocab.json", vocab), writeFile(dir, "merges.txt", merges));
    QCOMPARE(bpe.mergeCount(), variant["rule_count"].get<std::size_t>());
    QCOMPARE(bpe.vocabSize(), variant["vocab_size"].get<std::size_t>());
    for (const nlohmann::json& testCase : variant["cases"]) {
        const std::string text = testCase["text"].get<std::string>();
        QCOMPARE(toQt(bpe.tokenize(text)), tokensFromJson(testCase["tokens"]));
        const std::vector<std::int64_t> ids = bpe.encode(text);
        QCOMPARE(toQt(ids), idsFromJson(testCase["input_ids"]));
        QCOMPARE(QString::fromStdString(bpe.decode(ids)), QString::fromStdString(testCase["decoded"].get<std::string>()));
    }
}

void TestBpeTokenizer::characterClasses() {
    // Every code point against \p{L}, \p{N} and \s as the reference's `regex` module has them.
    const nlohmann::json& classes = m_generated["unicode_classes"];
    std::vector<BpeTokenizer::CharClass> expected(0x110000, BpeTokenizer::CharClass::Other);
    const std::pair<const char*, BpeTokenizer::CharClass> names[] = {
        {"L", BpeTokenizer::CharClass::Letter},
        {"N", BpeTokenizer::CharClass::Number},
        {"S", BpeTokenizer::CharClass::Whitespace},
    };
    std::size_t marked = 0;
    for (const auto& [name, charClass] : names) {
        QVERIFY(classes[name].size() > 5);
        for (const nlohmann::json& range : classes[name]) {
            for (auto cp = range[0].get<std::uint32_t>(); cp <= range[1].get<std::uint32_t>(); ++cp) {
                QCOMPARE(expected[cp], BpeTokenizer::CharClass::Other);  // the classes are disjoint
                expected[cp] = charClass;
                ++marked;
            }
        }
    }
    QVERIFY(marked > 130000);
    for (char32_t cp = 0; cp < 0x110000; ++cp) {
        if (BpeTokenizer::charClass(cp) != expected[cp]) {
            QFAIL(qPrintable(QString("U+%1: class %2, the reference's regex says %3")
                                 .arg(static_cast<uint>(cp), 4, 16, QChar('0'))
                                 .arg(static_cast<int>(BpeTokenizer::charClass(cp)))
                                 .arg(static_cast<int>(expected[cp]))));
        }
    }
    QCOMPARE(BpeTokenizer::charClass(0x110000), BpeTokenizer::CharClass::Other);
    // Where Python's str.isspace() and the regex's \s disagree.
    QCOMPARE(BpeTokenizer::charClass(0x1C), BpeTokenizer::CharClass::Other);
    QCOMPARE(BpeTokenizer::charClass(0x85), BpeTokenizer::CharClass::Whitespace);
}

void TestBpeTokenizer::specialIds() {
    for (const BpeTokenizer* bpe : {&*m_tiny, &*m_realistic}) {
        QCOMPARE(bpe->bosId(), 0);
        QCOMPARE(bpe->padId(), 1);
        QCOMPARE(bpe->eosId(), 2);
        QCOMPARE(bpe->unkId(), 3);
        QCOMPARE(bpe->tokenOf(0), std::string("<s>"));
        QCOMPARE(bpe->tokenOf(bpe->maskId()), std::string("<mask>"));
        QCOMPARE(bpe->idOf("<mask>"), bpe->maskId());
        QCOMPARE(bpe->idOf("no such entry"), bpe->unkId());
    }
    QCOMPARE(m_tiny->maskId(), 380);
    QCOMPARE(m_realistic->maskId(), 3260);
    QCOMPARE(m_tiny->idOf("Ġcolor"), 316);
}

void TestBpeTokenizer::maskSwallowsPythonWhitespace() {
    // <mask> strips what str.rstrip() strips before it (U+3000, U+001C...), nothing after it; the
    // other special tokens strip nothing.
    const std::vector<std::string> bare = m_realistic->tokenize("the<mask>");
    QCOMPARE(toQt(bare), QStringList({"the", "<mask>"}));
    for (const char* spaced : {"the <mask>", "the \t\n<mask>", "the\xE3\x80\x80<mask>", "the\x1c<mask>"}) {
        QCOMPARE(toQt(m_realistic->tokenize(spaced)), toQt(bare));
    }
    QCOMPARE(toQt(m_realistic->tokenize("the\xE2\x80\x8B<mask>")).size(), 5);  // U+200B is not white space
    QCOMPARE(toQt(m_realistic->tokenize("<mask> here")), QStringList({"<mask>", "Ġhere"}));
    QCOMPARE(toQt(m_realistic->tokenize("the <s>")), QStringList({"the", "Ġ", "<s>"}));
}

void TestBpeTokenizer::encodeWithoutSpecialTokens() {
    const std::string text = "What color is the cat?";
    const std::vector<std::int64_t> withSpecials = m_tiny->encode(text);
    const std::vector<std::int64_t> without = m_tiny->encode(text, false);
    QCOMPARE(without.size() + 2, withSpecials.size());
    QCOMPARE(toQt(without), toQt(std::vector<std::int64_t>(withSpecials.begin() + 1, withSpecials.end() - 1)));
    QVERIFY(m_tiny->encode("", false).empty());
    QCOMPARE(toQt(m_tiny->encode("")), QList<qint64>({0, 2}));
}

void TestBpeTokenizer::encodePaddedLimits() {
    for (std::size_t maxLength : {0, 1, 2}) {
        try {
            m_tiny->encodePadded("a b", maxLength);
            QFAIL("expected tokenscope::Error");
        } catch (const Error& e) {
            QVERIFY2(contains(e.what(), m_tiny->vocabName()), e.what());
        }
    }
    const TextEncoding smallest = m_tiny->encodePadded("What color", BpeTokenizer::kMinMaxLength);
    QCOMPARE(toQt(smallest.tokens), QStringList({"<s>", "What", "</s>"}));
    const TextEncoding padded = m_tiny->encodePadded("", 4);
    QCOMPARE(toQt(padded.inputIds), QList<qint64>({0, 2, 1, 1}));
    QCOMPARE(toQt(padded.attentionMask), QList<qint64>({1, 1, 0, 0}));
}

void TestBpeTokenizer::decodeErrors() {
    for (std::int64_t id : {std::int64_t{-1}, std::int64_t{381}, std::int64_t{1} << 40}) {
        try {
            m_tiny->decode({0, id});
            QFAIL("expected tokenscope::Error");
        } catch (const Error& e) {
            QVERIFY2(contains(e.what(), m_tiny->vocabName()), e.what());
            QVERIFY2(contains(e.what(), std::to_string(id)), e.what());
        }
        QVERIFY_THROWS_EXCEPTION(Error, m_tiny->tokenOf(id));
    }
    // A vocabulary entry that is not made of byte symbols cannot be decoded (the reference raises
    // KeyError); encoding never produces it.
    const BpeTokenizer odd = BpeTokenizer::fromContent(
        R"({"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4, "中": 5})", "#version: 0.2\n", "odd.json", "m.txt");
    QCOMPARE(odd.decode({0, 2}), std::string("<s></s>"));
    try {
        odd.decode({5});
        QFAIL("expected tokenscope::Error");
    } catch (const Error& e) {
        QVERIFY2(contains(e.what(), "odd.json") && contains(e.what(), "id 5"), e.what());
    }
    QCOMPARE(toQt(odd.encode("中")), QList<qint64>({0, 3, 3, 3, 2}));  // its three bytes, none in the vocab
}

void TestBpeTokenizer::mergesWithoutTrailingNewline() {
    // RobertaTokenizer reads merges.split("\n")[1:-1]: without a final newline the last rule is lost.
    const std::string vocab = R"({"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4, "a": 5, "b": 6, "c": 7,
                                  "ab": 8, "abc": 9})";
    const BpeTokenizer complete = BpeTokenizer::fromContent(vocab, "#version: 0.2\na b\nab c\n", "v", "m");
    const BpeTokenizer cut = BpeTokenizer::fromContent(vocab, "#version: 0.2\na b\nab c", "v", "m");
    const BpeTokenizer crlf = BpeTokenizer::fromContent(vocab, "#version: 0.2\r\na b\r\nab c\r\n", "v", "m");
    QCOMPARE(complete.mergeCount(), std::size_t{2});
    QCOMPARE(cut.mergeCount(), std::size_t{1});
    QCOMPARE(crlf.mergeCount(), std::size_t{2});
    QCOMPARE(toQt(complete.tokenize("abc")), QStringList({"abc"}));
    QCOMPARE(toQt(cut.tokenize("abc")), QStringList({"ab", "c"}));
    QCOMPARE(toQt(crlf.encode("abc")), QList<qint64>({0, 9, 2}));
    // The first line is the header, whatever it holds.
    QCOMPARE(BpeTokenizer::fromContent(vocab, "a b\nab c\n", "v", "m").mergeCount(), std::size_t{1});
    QCOMPARE(BpeTokenizer::fromContent(vocab, "", "v", "m").mergeCount(), std::size_t{0});
}

void TestBpeTokenizer::mergesNamingUnknownSymbols() {
    // The reference accepts rules whose symbols or results are not in the vocabulary; such results
    // encode as <unk>.
    const BpeTokenizer bpe = BpeTokenizer::fromContent(kMinimalVocab, "#version: 0.2\nq q\nx y\n\xe4\xb8\xad \xe6\x96\x87\n",
                                                       "v.json", "m.txt");
    QCOMPARE(bpe.mergeCount(), std::size_t{3});
    QCOMPARE(toQt(bpe.tokenize("xy qqq")), QStringList({"xy", "Ġ", "qq", "q"}));
    QCOMPARE(toQt(bpe.encode("xy")), QList<qint64>({0, 3, 2}));
}

void TestBpeTokenizer::concurrentTokenize() {
    // A fresh tokenizer (cold cache) used from four threads gives the reference's tokens everywhere.
    const BpeTokenizer bpe = BpeTokenizer::fromDirectory(kDataDir + "tokenizer_realistic/");
    const nlohmann::json& cases = m_generated["cases"];
    std::vector<int> mismatches(4, 0);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < mismatches.size(); ++t) {
        threads.emplace_back([&, t] {
            for (std::size_t k = 0; k < cases.size(); ++k) {
                const nlohmann::json& testCase = cases[(k + t * 97) % cases.size()];
                if (bpe.encode(testCase["text"].get<std::string>()) !=
                    testCase["realistic"]["input_ids"].get<std::vector<std::int64_t>>()) {
                    ++mismatches[t];
                }
            }
        });
    }
    for (std::thread& thread : threads) {
        thread.join();
    }
    QCOMPARE(QList<int>(mismatches.begin(), mismatches.end()), QList<int>({0, 0, 0, 0}));
}

void TestBpeTokenizer::missingFiles() {
    const std::string vocab = kDataDir + "no_such_folder/vocab.json";
    const std::string merges = kDataDir + "roberta_tiny/no_such_merges.txt";
    try {
        BpeTokenizer::fromFiles(vocab, kDataDir + "roberta_tiny/merges.txt");
        QFAIL("expected tokenscope::Error");
    } catch (const Error& e) {
        QVERIFY2(contains(e.what(), vocab), e.what());
    }
    try {
        BpeTokenizer::fromFiles(kDataDir + "roberta_tiny/vocab.json", merges);
        QFAIL("expected tokenscope::Error");
    } catch (const Error& e) {
        QVERIFY2(contains(e.what(), merges), e.what());
    }
    try {
        BpeTokenizer::fromDirectory(kDataDir + "no_such_folder");
        QFAIL("expected tokenscope::Error");
    } catch (const Error& e) {
        QVERIFY2(contains(e.what(), vocab), e.what());
    }
}

void TestBpeTokenizer::malformedVocab_data() {
    QTest::addColumn<QByteArray>("content");
    QTest::addColumn<QString>("problem");
    QTest::newRow("empty") << QByteArray("") << "not valid JSON";
    QTest::newRow("truncated") << QByteArray(R"({"<s>": 0, "<pad>": 1)") << "not valid JSON";
    QTest::newRow("trailing garbage") << QByteArray(R"({"<s>": 0} x)") << "not valid JSON";
    QTest::newRow("invalid utf-8 key") << QByteArray("{\"caf\xe9\": 5}") << "not valid JSON";
    QTest::newRow("array") << QByteArray(R"(["<s>", "<pad>"])") << "not a JSON object";
    QTest::newRow("number") << QByteArray("42") << "not a JSON object";
    QTest::newRow("string id") << QByteArray(R"({"<s>": "0"})") << "is not an integer";
    QTest::newRow("float id") << QByteArray(R"({"<s>": 0, "a": 1.5})") << "is not an integer";
    QTest::newRow("null id") << QByteArray(R"({"<s>": null})") << "is not an integer";
    QTest::newRow("nested object") << QByteArray(R"({"<s>": {"id": 0}})") << "is not an integer";
    QTest::newRow("negative id") << QByteArray(R"({"<s>": -1})") << "negative";
    QTest::newRow("huge id") << QByteArray(R"({"<s>": 18446744073709551615})") << "too large";
    QTest::newRow("byte order mark") << QByteArray("\xef\xbb\xbf{}") << "byte order mark";
}

void TestBpeTokenizer::malformedVocab() {
    QFETCH(QByteArray, content);
    QFETCH(QString, problem);
    std::string vocabPath;
    const std::string message = loadError(content.toStdString(), "#version: 0.2\n", &vocabPath);
    QVERIFY2(!message.empty(), "expected tokenscope::Error");
    QVERIFY2(contains(message, vocabPath), message.c_str());
    QVERIFY2(contains(message, problem.toStdString()), message.c_str());
}

void TestBpeTokenizer::missingSpecialToken_data() {
    QTest::addColumn<QString>("missing");
    for (const char* token : {"<s>", "</s>", "<pad>", "<unk>", "<mask>"}) {
        QTest::newRow(token) << QString::fromLatin1(token);
    }
}

void TestBpeTokenizer::missingSpecialToken() {
    QFETCH(QString, missing);
    nlohmann::json vocab = nlohmann::json::parse(kMinimalVocab);
    vocab.erase(missing.toStdString());
    QCOMPARE(vocab.size(), std::size_t{4});
    std::string vocabPath;
    const std::string message = loadError(vocab.dump(), "#version: 0.2\n", &vocabPath);
    QVERIFY2(contains(message, vocabPath), message.c_str());
    QVERIFY2(contains(message, "\"" + missing.toStdString() + "\""), message.c_str());
}

void TestBpeTokenizer::badMergesLine_data() {
    QTest::addColumn<QByteArray>("content");
    QTest::addColumn<int>("line");
    QTest::newRow("one symbol") << QByteArray("#version: 0.2\nĠ t\nhe\n") << 3;
    QTest::newRow("three symbols") << QByteArray("#version: 0.2\nĠ t he\n") << 2;
    QTest::newRow("after blank lines, crlf") << QByteArray("#version: 0.2\r\n\r\nh e\r\n\r\nx\r\n") << 5;
}

void TestBpeTokenizer::badMergesLine() {
    QFETCH(QByteArray, content);
    QFETCH(int, line);
    std::string mergesPath;
    const std::string message = loadError(kMinimalVocab, content.toStdString(), nullptr, &mergesPath);
    QVERIFY2(contains(message, mergesPath), message.c_str());
    QVERIFY2(contains(message, "line " + std::to_string(line) + " "), message.c_str());
    QVERIFY2(contains(message, "not a merge rule"), message.c_str());
    // The same line as the last one of a file without a final newline is never read.
    if (content.endsWith("x\r\n")) {
        QVERIFY(loadError(kMinimalVocab, content.chopped(2).toStdString()).empty());
    }
}

void TestBpeTokenizer::mergesNotUtf8() {
    std::string mergesPath;
    const std::string message = loadError(kMinimalVocab, "#version: 0.2\ncaf \xe9\n", nullptr, &mergesPath);
    QVERIFY2(contains(message, mergesPath), message.c_str());
    QVERIFY2(contains(message, "UTF-8"), message.c_str());
}

QTEST_APPLESS_MAIN(TestBpeTokenizer)
#include "tst_bpe_tokenizer.moc"
