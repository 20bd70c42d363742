// Parity of BertTokenizer with transformers v4.45.2's slow BertTokenizer on the reference cases in
// tests/data/vilt/tokenizer_cases.json (35 texts, tiny and realistic vocabularies, one padded and
// truncated batch; see shared/fixtures/vilt/README.md "Tokenizer"), plus the error contract.

#include "text/bert_tokenizer.h"

#include "common/error.h"

#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

using tokenscope::BertTokenizer;
using tokenscope::Error;
using tokenscope::TextEncoding;

namespace {

const std::string kVocabDir = std::string(TOKENSCOPE_TEST_DATA) + "/vilt/";
const char* const kVocabNames[] = {"tiny", "realistic"};

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

// Writes `bytes` to a file in `dir` and returns its path.
std::string writeFile(const QTemporaryDir& dir, const char* name, const std::string& bytes) {
    const std::string path = dir.filePath(QString::fromLatin1(name)).toStdString();
    std::ofstream file(path, std::ios::binary);
    file << bytes;
    return path;
}

// A minimal valid vocabulary with the given extra lines.
std::vector<std::string> smallVocab(std::vector<std::string> extra) {
    std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    vocab.insert(vocab.end(), extra.begin(), extra.end());
    return vocab;
}

}  // namespace

class TestBertTokenizer : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();

    void basicTokens_data();
    void basicTokens();
    void wordPieces_data();
    void wordPieces();
    void batchMaxLength40_data();
    void batchMaxLength40();

    void specialIds();
    void encodeWithoutPadding();
    void specialTokensAreExactLiterals();
    void invalidUtf8Input_data();
    void invalidUtf8Input();

    void missingVocabFile();
    void vocabWithoutRequiredToken_data();
    void vocabWithoutRequiredToken();
    void emptyVocab();
    void vocabNotUtf8();
    void vocabLineEndings();
    void duplicateEntryKeepsLastId();
    void tokenOfOutOfRange();
    void maxLengthTooSmall();

private:
    const BertTokenizer& tokenizer(const QString& vocabName) const;

    nlohmann::json m_fixture;
    std::optional<BertTokenizer> m_tiny;
    std::optional<BertTokenizer> m_realistic;
};

void TestBertTokenizer::initTestCase() {
    // Any missing or broken fixture fails here, which fails the whole test (never a skip).
    try {
        m_fixture = readJson(kVocabDir + "tokenizer_cases.json");
        m_tiny = BertTokenizer::fromVocabFile(kVocabDir + "vocab.txt");
        m_realistic = BertTokenizer::fromVocabFile(kVocabDir + "vocab_realistic.txt");
    } catch (const std::exception& e) {
        QFAIL(e.what());
    }
    QVERIFY(m_fixture.contains("cases"));
    QVERIFY2(m_fixture["cases"].size() >= 35, "tokenizer_cases.json lost cases");
    QCOMPARE(m_tiny->vocabSize(), m_fixture["tiny_vocab_size"].get<std::size_t>());
    QCOMPARE(m_realistic->vocabSize(), m_fixture["realistic_vocab_size"].get<std::size_t>());
}

const BertTokenizer& TestBertTokenizer::tokenizer(const QString& vocabName) const {
    return vocabName == QLatin1String("tiny") ? *m_tiny : *m_realistic;
}

void TestBertTokenizer::basicTokens_data() {
    QTest::addColumn<int>("caseIndex");
    for (std::size_t i = 0; i < m_fixture["cases"].size(); ++i) {
        QTest::addRow("case%02zu", i) << static_cast<int>(i);
    }
}

void TestBertTokenizer::basicTokens() {
    QFETCH(int, caseIndex);
    const nlohmann::json& testCase = m_fixture["cases"][static_cast<std::size_t>(caseIndex)];
    const std::string text = testCase["text"].get<std::string>();
    // The BasicTokenizer does not depend on the vocabulary.
    QCOMPARE(toQt(m_tiny->basicTokenize(text)), tokensFromJson(testCase["basic_tokens"]));
    QCOMPARE(toQt(m_realistic->basicTokenize(text)), tokensFromJson(testCase["basic_tokens"]));
}

void TestBertTokenizer::wordPieces_data() {
    QTest::addColumn<int>("caseIndex");
    QTest::addColumn<QString>("vocabName");
    for (std::size_t i = 0; i < m_fixture["cases"].size(); ++i) {
        for (const char* vocab : kVocabNames) {
            QTest::addRow("case%02zu/%s", i, vocab) << static_cast<int>(i) << QString::fromLatin1(vocab);
        }
    }
}

void TestBertTokenizer::wordPieces() {
    QFETCH(int, caseIndex);
    QFETCH(QString, vocabName);
    const nlohmann::json& testCase = m_fixture["cases"][static_cast<std::size_t>(caseIndex)];
    const nlohmann::json& expected = testCase[vocabName.toStdString()];
    const std::string text = testCase["text"].get<std::string>();
    const BertTokenizer& bert = tokenizer(vocabName);

    QCOMPARE(toQt(bert.tokenize(text)), tokensFromJson(expected["tokens"]));
    const TextEncoding encoding = bert.encode(text);
    QCOMPARE(toQt(encoding.inputIds), idsFromJson(expected["input_ids"]));
    QCOMPARE(encoding.tokens.size(), encoding.inputIds.size());
    QCOMPARE(encoding.tokens.front(), std::string("[CLS]"));
    QCOMPARE(encoding.tokens.back(), std::string("[SEP]"));
    QCOMPARE(toQt(encoding.tokenTypeIds), QList<qint64>(encoding.inputIds.size(), 0));
    QCOMPARE(toQt(encoding.attentionMask), QList<qint64>(encoding.inputIds.size(), 1));
}

void TestBertTokenizer::batchMaxLength40_data() {
    QTest::addColumn<int>("row");
    const nlohmann::json& batch = m_fixture["batch_max_length_40"];
    QVERIFY(batch["texts"].size() == batch["input_ids"].size());
    for (std::size_t i = 0; i < batch["texts"].size(); ++i) {
        QTest::addRow("text%zu", i) << static_cast<int>(i);
    }
}

void TestBertTokenizer::batchMaxLength40() {
    // tokenizer(texts, padding="max_length", truncation=True, max_length=40), realistic vocab.
    QFETCH(int, row);
    const nlohmann::json& batch = m_fixture["batch_max_length_40"];
    const auto index = static_cast<std::size_t>(row);
    const TextEncoding encoding = m_realistic->encode(batch["texts"][index].get<std::string>(), 40, true);
    QCOMPARE(toQt(encoding.inputIds), idsFromJson(batch["input_ids"][index]));
    QCOMPARE(toQt(encoding.tokenTypeIds), idsFromJson(batch["token_type_ids"][index]));
    QCOMPARE(toQt(encoding.attentionMask), idsFromJson(batch["attention_mask"][index]));
    QCOMPARE(encoding.tokens.size(), std::size_t{40});
    QCOMPARE(toQt(m_realistic->idsOf(encoding.tokens)), toQt(encoding.inputIds));
}

void TestBertTokenizer::specialIds() {
    QCOMPARE(m_tiny->padId(), 0);
    QCOMPARE(m_tiny->unkId(), 1);
    QCOMPARE(m_tiny->clsId(), 2);
    QCOMPARE(m_tiny->sepId(), 3);
    QCOMPARE(m_tiny->maskId().value_or(-1), 4);
    QCOMPARE(m_realistic->padId(), 0);
    QCOMPARE(m_realistic->unkId(), 11);
    QCOMPARE(m_realistic->clsId(), 12);
    QCOMPARE(m_realistic->sepId(), 13);
    QCOMPARE(m_realistic->tokenOf(12), std::string("[CLS]"));
    QCOMPARE(m_realistic->idOf("no-such-entry"), m_realistic->unkId());
}

void TestBertTokenizer::encodeWithoutPadding() {
    const std::string text = "how many dogs are playing on the left table?";
    const TextEncoding full = m_tiny->encode(text);
    QCOMPARE(full.inputIds.size(), std::size_t{14});

    const TextEncoding truncated = m_tiny->encode(text, 6);
    QCOMPARE(truncated.inputIds.size(), std::size_t{6});
    QCOMPARE(toQt(truncated.tokens), QStringList({"[CLS]", "how", "many", "dog", "##s", "[SEP]"}));

    const TextEncoding shortText = m_tiny->encode("what", 40);  // no padding requested
    QCOMPARE(toQt(shortText.tokens), QStringList({"[CLS]", "what", "[SEP]"}));

    const TextEncoding minimal = m_tiny->encode(text, 2, true);
    QCOMPARE(toQt(minimal.tokens), QStringList({"[CLS]", "[SEP]"}));
    QCOMPARE(toQt(m_tiny->encode("", 4, true).attentionMask), QList<qint64>({1, 1, 0, 0}));
}

void TestBertTokenizer::specialTokensAreExactLiterals() {
    // Special tokens are cut out before the BasicTokenizer runs, anywhere in the text.
    QCOMPARE(toQt(m_tiny->tokenize("what[SEP]cat")), QStringList({"what", "[SEP]", "cat"}));
    QCOMPARE(toQt(m_tiny->tokenize("[CLS][MASK]")), QStringList({"[CLS]", "[MASK]"}));
    QCOMPARE(toQt(m_tiny->tokenize("[[PAD]]")), QStringList({"[UNK]", "[PAD]", "[UNK]"}));
    // A deleted control character inside a literal breaks it: it is lowercased like other text.
    QCOMPARE(m_realistic->tokenize(std::string("[CL\0S]", 6)), m_realistic->tokenize("[cls]"));
}

void TestBertTokenizer::invalidUtf8Input_data() {
    // Every byte at which decoding fails reads as U+FFFD, which the cleaning step deletes: the
    // result equals that of the text without those bytes.
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<QByteArray>("equivalent");
    QTest::newRow("stray byte") << QByteArray("ab\xff" "cd") << QByteArray("abcd");
    QTest::newRow("truncated at end") << QByteArray("caf\xc3") << QByteArray("caf");
    QTest::newRow("overlong slash") << QByteArray("\xc0\xaf" "the") << QByteArray("the");
    QTest::newRow("surrogate") << QByteArray("ta\xed\xa0\x80" "ble") << QByteArray("table");
    QTest::newRow("above U+10FFFF") << QByteArray("\xf4\x90\x80\x80" "cat") << QByteArray("cat");
    QTest::newRow("lone continuations") << QByteArray("\x80\xbf") << QByteArray("");
    QTest::newRow("truncated then valid") << QByteArray("\xe4\xb8\xe4\xb8\xad") << QByteArray("\xe4\xb8\xad");
    QTest::newRow("fe ff") << QByteArray("\xfe\xff" " dog") << QByteArray("dog");
    QTest::newRow("inside special") << QByteArray("[SE\x80P]") << QByteArray("[sep]");
}

void TestBertTokenizer::invalidUtf8Input() {
    QFETCH(QByteArray, input);
    QFETCH(QByteArray, equivalent);
    const std::string bytes(input.constData(), static_cast<std::size_t>(input.size()));
    const std::string clean(equivalent.constData(), static_cast<std::size_t>(equivalent.size()));
    for (const char* vocab : kVocabNames) {
        const BertTokenizer& bert = tokenizer(QString::fromLatin1(vocab));
        QCOMPARE(toQt(bert.tokenize(bytes)), toQt(bert.tokenize(clean)));
        QCOMPARE(toQt(bert.basicTokenize(bytes)), toQt(bert.basicTokenize(clean)));
        QCOMPARE(toQt(bert.encode(bytes, 8, true).inputIds), toQt(bert.encode(clean, 8, true).inputIds));
    }
}

void TestBertTokenizer::missingVocabFile() {
    const std::string path = kVocabDir + "no_such_vocab.txt";
    try {
        BertTokenizer::fromVocabFile(path);
        QFAIL("expected tokenscope::Error");
    } catch (const Error& e) {
        QVERIFY2(std::string(e.what()).find(path) != std::string::npos, e.what());
    }
}

void TestBertTokenizer::vocabWithoutRequiredToken_data() {
    QTest::addColumn<QString>("missing");
    for (const char* token : {"[UNK]", "[CLS]", "[SEP]", "[PAD]"}) {
        QTest::newRow(token) << QString::fromLatin1(token);
    }
}

void TestBertTokenizer::vocabWithoutRequiredToken() {
    QFETCH(QString, missing);
    std::string content;
    for (const std::string& token : smallVocab({"cat"})) {
        if (token != missing.toStdString()) {
            content += token + "\n";
        }
    }
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string path = writeFile(dir, "vocab.txt", content);
    try {
        BertTokenizer::fromVocabFile(path);
        QFAIL("expected tokenscope::Error");
    } catch (const Error& e) {
        const std::string message = e.what();
        QVERIFY2(message.find(path) != std::string::npos, e.what());
        QVERIFY2(message.find(missing.toStdString()) != std::string::npos, e.what());
    }
    // [MASK] is optional.
    QVERIFY(!BertTokenizer::fromVocab({"[PAD]", "[UNK]", "[CLS]", "[SEP]"}, "no-mask").maskId().has_value());
}

void TestBertTokenizer::emptyVocab() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QVERIFY_THROWS_EXCEPTION(Error, BertTokenizer::fromVocabFile(writeFile(dir, "empty.txt", "")));
    QVERIFY_THROWS_EXCEPTION(Error, BertTokenizer::fromVocab({}, "empty"));
}

void TestBertTokenizer::vocabNotUtf8() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string path = writeFile(dir, "latin1.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\ncaf\xe9\n");
    try {
        BertTokenizer::fromVocabFile(path);
        QFAIL("expected tokenscope::Error");
    } catch (const Error& e) {
        QVERIFY2(std::string(e.what()).find("line 5") != std::string::npos, e.what());
    }
}

void TestBertTokenizer::vocabLineEndings() {
    // Python's universal newlines: "\n", "\r\n" and "\r" all end a line; a last line needs none.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const BertTokenizer bert =
        BertTokenizer::fromVocabFile(writeFile(dir, "mixed.txt", "[PAD]\r\n[UNK]\r[CLS]\n[SEP]\r\n\ncat\r\nhat"));
    QCOMPARE(bert.vocabSize(), std::size_t{7});
    QCOMPARE(bert.tokenOf(4), std::string());
    QCOMPARE(bert.idOf("cat"), 5);
    QCOMPARE(toQt(bert.encode("Cat hat").inputIds), QList<qint64>({2, 5, 6, 3}));
}

void TestBertTokenizer::duplicateEntryKeepsLastId() {
    const BertTokenizer bert = BertTokenizer::fromVocab(smallVocab({"cat", "dog", "cat"}), "dups");
    QCOMPARE(bert.vocabSize(), std::size_t{8});
    QCOMPARE(bert.idOf("cat"), 7);
    QCOMPARE(bert.tokenOf(5), std::string("cat"));
    QCOMPARE(toQt(bert.encode("cat dog").inputIds), QList<qint64>({2, 7, 6, 3}));
}

void TestBertTokenizer::tokenOfOutOfRange() {
    QVERIFY_THROWS_EXCEPTION(Error, m_tiny->tokenOf(-1));
    QVERIFY_THROWS_EXCEPTION(Error, m_tiny->tokenOf(static_cast<std::int64_t>(m_tiny->vocabSize())));
    QCOMPARE(m_tiny->tokenOf(static_cast<std::int64_t>(m_tiny->vocabSize()) - 1), std::string("##4"));
}

void TestBertTokenizer::maxLengthTooSmall() {
    QVERIFY_THROWS_EXCEPTION(Error, m_tiny->encode("cat", 1));
    QVERIFY_THROWS_EXCEPTION(Error, m_tiny->encode("cat", 0, true));
}

QTEST_APPLESS_MAIN(TestBertTokenizer)
#include "tst_bert_tokenizer.moc"
