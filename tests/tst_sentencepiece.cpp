// Parity of SentencePieceTokenizer with the real libsentencepiece (Debian's 0.1.97, linked into this
// torch-free test only), which is the oracle: every expected id and string below is computed by
// libsentencepiece at test time. Models: the three of tests/data/sentencepiece (trained by
// tools/gen_sentencepiece_models.sh with libsentencepiece's trainer: LLaMA-style BPE with byte
// fallback, UNIGRAM with the nmt_nfkc character map, BPE with user-defined pieces) and the bundled
// tiny LLaVA-NeXT tokenizer. Texts: the training corpus, hand-picked edge cases (spaces, newlines,
// invalid UTF-8, emoji, CJK, look-alikes of special pieces) and seeded random strings; ids: the
// oracle's encodings and random id sequences (control, unknown and byte pieces included).
// Also: the loader's errors on broken files, cross-checked against libsentencepiece's own verdict.

#include "text/llava_prompt.h"
#include "text/sentencepiece_tokenizer.h"

#include "common/error.h"

#include <QtTest>

#include <sentencepiece_processor.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using tokenscope::Error;
using tokenscope::SentencePieceTokenizer;
using tokenscope::StreamingDecoder;

namespace {

const std::string kDataDir = std::string(TOKENSCOPE_TEST_DATA) + "/sentencepiece/";
const std::string kTinyModel = std::string(TOKENSCOPE_TEST_DATA) + "/../../resources/models/llava-next-tiny-random/tokenizer.model";

std::string modelPath(const std::string& name) {
    return name == "tiny" ? kTinyModel : kDataDir + name + ".model";
}
const char* const kModels[] = {"bpe_byte_fallback", "unigram_nfkc", "bpe_user_defined", "tiny"};

std::string readBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": missing test data");
    std::ostringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
}

std::unique_ptr<sentencepiece::SentencePieceProcessor> loadOracle(const std::string& path) {
    auto oracle = std::make_unique<sentencepiece::SentencePieceProcessor>();
    const auto status = oracle->Load(path);
    if (!status.ok()) throw Error(path + ": libsentencepiece cannot load it: " + status.ToString());
    return oracle;
}

std::vector<std::int64_t> widen(const std::vector<int>& ids) { return std::vector<std::int64_t>(ids.begin(), ids.end()); }
std::vector<int> narrow(const std::vector<std::int64_t>& ids) { return std::vector<int>(ids.begin(), ids.end()); }

QString show(const std::string& text) {
    QString out;
    for (const unsigned char c : text) {
        if (c >= 0x20 && c < 0x7F) out += QChar(c);
        else out += QString("\\x%1").arg(c, 2, 16, QChar('0'));
    }
    return out;
}

QString show(const std::vector<std::int64_t>& ids) {
    QStringList parts;
    for (const auto id : ids) parts << QString::number(id);
    return "[" + parts.join(",") + "]";
}

bool isValidUtf8(const std::string& s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (std::size_t k = 1; k < n; ++k) {
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        }
        i += n;
    }
    return true;
}

std::vector<std::string> corpusLines() {
    std::vector<std::string> lines;
    std::istringstream in(readBytes(kDataDir + "corpus.txt"));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::vector<std::string> edgeCases() {
    return {
        "", " ", "  ", "   ", "a", " a", "a ", "  a  b  ", "\n", "a\nb", "\n\n", "\t", " \t ", "\r\n",
        "hello world", "Hello World!", "Hello  World", "hello\n\nworld", "trailing   ", "   leading",
        "\xe2\x96\x81", "\xe2\x96\x81\xe2\x96\x81" "a", "a\xe2\x96\x81" "b",  // literal "▁"
        "<s>", "</s>", "<unk>", "<pad>", "<0x41>", "<image>", "<image><image>", " <image> ", "x<image>y",
        "[INST] <image>\nWhat is this? [/INST]", "[INST][/INST]", "<sep>", "<cls>", "@@", "@@@", "<ctrl>",
        "USER: <image>\nWhat is the man doing? ASSISTANT:",
        "\xf0\x9f\x99\x82", "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd", "\xf0\x9f\x87\xab\xf0\x9f\x87\xb7",  // emoji, skin tone, flag
        "\xe2\x9d\xa4\xef\xb8\x8f", "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7",  // ZWJ family
        "e\xcc\x81", "caf\xc3\xa9 cafe\xcc\x81",  // precomposed and combining
        "\xe6\x9d\xb1\xe4\xba\xac", "\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c", "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4",
        "\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3 \xef\xbc\x91\xef\xbc\x92", "\xef\xac\x81 \xe2\x84\xa2 \xc2\xbd",  // NFKC changes these
        "\xe3\x80\x80", "\xc2\xa0nbsp\xc2\xa0", "\xe2\x80\x8b", "\xef\xbb\xbf" "bom",
        "\xff", "\xc3", "a\x80" "b", "\xe2\x82", "\xe2\x82" "a", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
        "\xf8\x88\x80\x80\x80", "\xef\xbf\xbd", std::string("a\0b", 3), std::string(1, '\0'),
        "12345", "3.14159", "1,000,000", "0x1F", "2024-11-22T14:04:00Z",
        std::string(200, 'a'), std::string(50, ' ') + "x", "word " + std::string(100, '!'),
        "The quick brown fox jumps over the lazy dog.", "THE QUICK BROWN FOX", "tHe QuIcK bRoWn",
    };
}

// Seeded random strings from a mixed pool: ASCII, runs of spaces, newlines and tabs, Latin-1,
// Cyrillic, Greek, CJK, Hangul, emoji, combining marks, and now and then a raw byte.
std::vector<std::string> randomStrings(int count, std::uint32_t seed) {
    const std::vector<std::string> pool = {
        "a", "b", "e", "t", "s", "th", "he", "in", "er", "the", "ing", "A", "T", "Q", "Z", "0", "1", "7", "9",
        ".", ",", "!", "?", "'", "\"", "(", ")", "-", "_", "/", ":", "<", ">", "[", "]", "@",
        " ", " ", " ", "  ", "   ", "\n", "\t",
        "\xc3\xa9", "\xc3\xbc", "\xc3\x9f", "\xc3\xb1", "\xd0\x9f", "\xd0\xb8", "\xce\xb1", "\xce\xa9",
        "\xe6\x97\xa5", "\xe6\x9c\xac", "\xe7\x8c\xab", "\xea\xb0\x80", "\xe3\x81\x82", "\xe2\x80\x94",
        "\xf0\x9f\x98\x80", "\xf0\x9f\x9a\x80", "\xcc\x81", "\xef\xbc\xa1", "\xe2\x96\x81",
        "<s>", "</s>", "<image>", "[INST]", "<sep>", "\xef\xbf\xbd",
    };
    std::mt19937 rng(seed);
    std::vector<std::string> out;
    for (int i = 0; i < count; ++i) {
        const std::uint32_t length = rng() % 24;
        std::string s;
        for (std::uint32_t k = 0; k < length; ++k) {
            if (rng() % 40 == 0) s += static_cast<char>(0x80 + rng() % 0x80);  // a stray byte
            else s += pool[rng() % pool.size()];
        }
        out.push_back(s);
    }
    return out;
}

std::vector<std::string> textSet(const QByteArray& name) {
    if (name == "corpus") return corpusLines();
    if (name == "edge") return edgeCases();
    return randomStrings(400, 20241122);
}

// A protobuf writer for the broken-file cases.
std::string varint(std::uint64_t v) {
    std::string out;
    do {
        out += static_cast<char>((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
        v >>= 7;
    } while (v != 0);
    return out;
}
std::string field(int number, int wire) { return varint(static_cast<std::uint64_t>(number) << 3 | static_cast<std::uint64_t>(wire)); }
std::string bytesField(int number, const std::string& payload) { return field(number, 2) + varint(payload.size()) + payload; }
std::string piece(const std::string& text, int type = 1) {
    return bytesField(1, bytesField(1, text) + field(2, 5) + std::string(4, '\0') + field(3, 0) + varint(static_cast<std::uint64_t>(type)));
}
std::string bpeSpec() { return bytesField(2, field(3, 0) + varint(2)); }

}  // namespace

class TestSentencePiece : public QObject {
    Q_OBJECT

private slots:
    void metadata_data();
    void metadata();
    void encodeParity_data();
    void encodeParity();
    void randomIdsDecodeParity_data();
    void randomIdsDecodeParity();
    void llavaPromptParity_data();
    void llavaPromptParity();
    void brokenFiles_data();
    void brokenFiles();
    void truncatedFilesAgreeWithOracle();
    void missingFile();
};

void TestSentencePiece::metadata_data() {
    QTest::addColumn<QString>("model");
    for (const char* m : kModels) QTest::newRow(m) << QString(m);
}

// Piece count, every piece's text, score and type, the special ids.
void TestSentencePiece::metadata() {
    QFETCH(QString, model);
    const std::string path = modelPath(model.toStdString());
    const auto oracle = loadOracle(path);
    const auto tok = SentencePieceTokenizer::fromFile(path);
    QCOMPARE(tok.pieceCount(), static_cast<std::int64_t>(oracle->GetPieceSize()));
    QCOMPARE(tok.vocabSize(), tok.pieceCount());
    QCOMPARE(tok.unkId(), static_cast<std::int64_t>(oracle->unk_id()));
    QCOMPARE(tok.bosId(), static_cast<std::int64_t>(oracle->bos_id()));
    QCOMPARE(tok.eosId(), static_cast<std::int64_t>(oracle->eos_id()));
    QCOMPARE(tok.padId(), static_cast<std::int64_t>(oracle->pad_id()));
    for (int id = 0; id < oracle->GetPieceSize(); ++id) {
        QCOMPARE(tok.idToPiece(id), oracle->IdToPiece(id));
        QCOMPARE(tok.pieceToId(oracle->IdToPiece(id)), static_cast<std::int64_t>(oracle->PieceToId(oracle->IdToPiece(id))));
        QCOMPARE(tok.pieceScore(id), oracle->GetScore(id));
        QCOMPARE(tok.pieceType(id) == SentencePieceTokenizer::PieceType::Control, oracle->IsControl(id));
        QCOMPARE(tok.pieceType(id) == SentencePieceTokenizer::PieceType::Unknown, oracle->IsUnknown(id));
        QCOMPARE(tok.pieceType(id) == SentencePieceTokenizer::PieceType::Byte, oracle->IsByte(id));
        QCOMPARE(tok.pieceType(id) == SentencePieceTokenizer::PieceType::Unused, oracle->IsUnused(id));
    }
    QCOMPARE(tok.pieceToId("definitely not a piece \xe2\x96\x81\xe2\x96\x81"), std::int64_t{-1});
    QVERIFY_THROWS_EXCEPTION(Error, tok.idToPiece(tok.pieceCount()));
    QVERIFY_THROWS_EXCEPTION(Error, tok.idToPiece(-1));
}

void TestSentencePiece::encodeParity_data() {
    QTest::addColumn<QString>("model");
    QTest::addColumn<QByteArray>("texts");
    for (const char* m : kModels) {
        for (const char* set : {"corpus", "edge", "random"}) {
            QTest::newRow(QString("%1/%2").arg(m, set).toUtf8().constData()) << QString(m) << QByteArray(set);
        }
    }
}

// For every text: the ids of EncodeAsIds, the text of DecodeIds on those ids, and the streaming
// decoder's deltas (valid UTF-8 each, concatenating to the same text).
void TestSentencePiece::encodeParity() {
    QFETCH(QString, model);
    QFETCH(QByteArray, texts);
    const std::string path = modelPath(model.toStdString());
    const auto oracle = loadOracle(path);
    const auto tok = SentencePieceTokenizer::fromFile(path);
    const std::vector<std::string> set = textSet(texts);
    QVERIFY(set.size() >= 50);
    int nonTrivial = 0;
    for (const std::string& text : set) {
        const std::vector<std::int64_t> expected = widen(oracle->EncodeAsIds(text));
        const std::vector<std::int64_t> actual = tok.encodeSentencePiece(text);
        if (actual != expected) {
            QFAIL(qPrintable(QString("encode '%1': %2, libsentencepiece %3").arg(show(text), show(actual), show(expected))));
        }
        nonTrivial += expected.size() > 1;
        const std::string expectedText = oracle->DecodeIds(narrow(expected));
        const std::string decoded = tok.decode(expected);
        if (decoded != expectedText) {
            QFAIL(qPrintable(QString("decode of '%1': '%2', libsentencepiece '%3'").arg(show(text), show(decoded), show(expectedText))));
        }
        StreamingDecoder stream(tok);
        std::string streamed;
        for (const auto id : expected) {
            const std::string delta = stream.push(id);
            QVERIFY2(isValidUtf8(delta), qPrintable("delta '" + show(delta) + "' of '" + show(text) + "'"));
            streamed += delta;
        }
        streamed += stream.finish();
        QCOMPARE(streamed, expectedText);
        QCOMPARE(stream.text(), expectedText);
    }
    QVERIFY(nonTrivial > static_cast<int>(set.size()) / 2);
}

void TestSentencePiece::randomIdsDecodeParity_data() {
    QTest::addColumn<QString>("model");
    for (const char* m : kModels) QTest::newRow(m) << QString(m);
}

// Random id sequences decode like DecodeIds: control pieces vanish, unk reads " ⁇ ", runs of byte
// pieces (mostly invalid UTF-8 here) become characters or U+FFFD, the first "▁" is dropped.
void TestSentencePiece::randomIdsDecodeParity() {
    QFETCH(QString, model);
    const std::string path = modelPath(model.toStdString());
    const auto oracle = loadOracle(path);
    const auto tok = SentencePieceTokenizer::fromFile(path);
    std::mt19937 rng(7);
    std::vector<int> bytePieces;
    for (int id = 0; id < oracle->GetPieceSize(); ++id) {
        if (oracle->IsByte(id)) bytePieces.push_back(id);
    }
    for (int round = 0; round < 500; ++round) {
        std::vector<int> ids(1 + rng() % 30);
        for (int& id : ids) {
            // Half of the ids from the byte pieces when there are any, to build and break characters.
            if (!bytePieces.empty() && rng() % 2 == 0) {
                id = bytePieces[rng() % bytePieces.size()];
                if (rng() % 3 == 0) id = bytePieces[0xE2 + rng() % 3];  // lead bytes of 3-byte characters
                if (rng() % 3 == 0) id = bytePieces[0x80 + rng() % 64];  // continuation bytes
            } else {
                id = static_cast<int>(rng() % static_cast<std::uint32_t>(oracle->GetPieceSize()));
            }
        }
        const std::string expected = oracle->DecodeIds(ids);
        QCOMPARE(tok.decode(widen(ids)), expected);
        StreamingDecoder stream(tok);
        std::string streamed;
        for (const int id : ids) {
            const std::string delta = stream.push(id);
            QVERIFY(isValidUtf8(delta));
            streamed += delta;
        }
        streamed += stream.finish();
        QCOMPARE(streamed, expected);
    }
}

// encodeLlavaPrompt against the tokenization of transformers' legacy LlamaTokenizer and the original LLaVA:
// BOS, libsentencepiece's encoding of each side of "<image>" (dummy prefix on both), the image ids in between.
// With the LLaMA-style model (image id 32000 as in llava-hf) and the bundled tiny folder (95, tokenizer_config).
void TestSentencePiece::llavaPromptParity_data() {
    QTest::addColumn<QString>("model");
    QTest::addColumn<qint64>("imageId");
    QTest::newRow("bpe_byte_fallback") << "bpe_byte_fallback" << qint64(32000);
    QTest::newRow("tiny folder") << "tiny" << qint64(95);
}

void TestSentencePiece::llavaPromptParity() {
    QFETCH(QString, model);
    QFETCH(qint64, imageId);
    const std::string path = modelPath(model.toStdString());
    const auto oracle = loadOracle(path);
    const auto tok = model == "tiny" ? SentencePieceTokenizer::fromFolder(path.substr(0, path.rfind('/')))
                                     : SentencePieceTokenizer::fromFile(path);
    QVERIFY(tok.isLegacy());
    const std::vector<std::string> questions = {"What is in the image?", "  two leading spaces", "", "line\nbreak",
                                                "\xe7\x8c\xab? \xf0\x9f\x90\x88", "ends with space ", "Where is the cat?"};
    for (const auto t : {tokenscope::LlavaPromptTemplate::Vicuna, tokenscope::LlavaPromptTemplate::Mistral,
                         tokenscope::LlavaPromptTemplate::Raw}) {
        for (const std::string& q : questions) {
            const std::string prompt = tokenscope::formatLlavaPrompt(t, q);
            const std::size_t at = prompt.find("<image>");
            QVERIFY(at != std::string::npos);
            for (const std::int64_t count : {std::int64_t{-1}, std::int64_t{1}, std::int64_t{7}}) {
                std::vector<std::int64_t> expected = {oracle->bos_id()};
                const auto before = widen(oracle->EncodeAsIds(prompt.substr(0, at)));
                const auto after = widen(oracle->EncodeAsIds(prompt.substr(at + 7)));
                expected.insert(expected.end(), before.begin(), before.end());
                expected.insert(expected.end(), static_cast<std::size_t>(count < 0 ? 1 : count), imageId);
                expected.insert(expected.end(), after.begin(), after.end());
                QCOMPARE(tokenscope::encodeLlavaPrompt(tok, prompt, imageId, count), expected);
            }
        }
    }
}

void TestSentencePiece::brokenFiles_data() {
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("problem");
    QTest::addColumn<bool>("oracleRefuses");  // false where libsentencepiece is more lenient
    const std::string good = piece("<unk>", 2) + piece("<s>", 3) + piece("a") + bpeSpec();
    QTest::newRow("empty") << QByteArray() << "empty" << true;
    QTest::newRow("truncated varint") << QByteArray("\x0a\xff\xff", 3) << "truncated varint" << true;
    QTest::newRow("11-byte varint") << QByteArray(("\x0a" + std::string(10, '\xff') + "\x01").c_str(), 12) << "varint" << true;
    QTest::newRow("length past end") << QByteArray("\x0a\x10\x0a\x01" "a", 5) << "past the end" << true;
    QTest::newRow("field 0") << QByteArray("\x00\x01", 2) << "field number 0" << true;
    QTest::newRow("group") << QByteArray("\x0b", 1) << "wire type 3" << true;
    QTest::newRow("pieces as varint") << QByteArray("\x08\x01", 2) << "wire type" << true;
    const std::string badType = bytesField(1, bytesField(1, "x") + field(3, 0) + varint(9));
    QTest::newRow("piece type 9") << QByteArray::fromStdString(badType + good) << "unknown type 9" << false;
    QTest::newRow("no unk") << QByteArray::fromStdString(piece("a") + bpeSpec()) << "no unknown piece" << true;
    QTest::newRow("two unk") << QByteArray::fromStdString(piece("<unk>", 2) + piece("<u2>", 2) + bpeSpec()) << "two unknown" << true;
    QTest::newRow("empty piece") << QByteArray::fromStdString(good + piece("")) << "is empty" << true;
    QTest::newRow("invalid UTF-8 piece") << QByteArray::fromStdString(good + piece("\xe2\x96")) << "not valid UTF-8" << false;
    QTest::newRow("duplicate") << QByteArray::fromStdString(good + piece("a")) << "defined twice" << true;
    QTest::newRow("byte without fallback") << QByteArray::fromStdString(good + piece("<0x41>", 6)) << "byte_fallback is false" << true;
    const std::string fallbackSpec = bytesField(2, field(3, 0) + varint(2) + field(35, 0) + varint(1));
    QTest::newRow("fallback without bytes") << QByteArray::fromStdString(piece("<unk>", 2) + piece("<0x41>", 6) + fallbackSpec)
                                           << "only 1 of the 256" << true;
    QTest::newRow("word model") << QByteArray::fromStdString(piece("<unk>", 2) + bytesField(2, field(3, 0) + varint(3))) << "WORD" << false;
    QTest::newRow("bad charsmap") << QByteArray::fromStdString(good + bytesField(3, bytesField(2, std::string("\xff\xff\x00\x00" "ab", 6))))
                                 << "precompiled_charsmap" << true;
}

// Each broken file throws tokenscope::Error naming the file and the problem; libsentencepiece
// refuses it too, except an unknown piece type (protobuf keeps it as an unknown field and the piece
// stays NORMAL), a piece that is not UTF-8 (libsentencepiece would copy its bytes into decoded text)
// and a WORD model, which this tokenizer does not implement.
void TestSentencePiece::brokenFiles() {
    QFETCH(QByteArray, bytes);
    QFETCH(QString, problem);
    QFETCH(bool, oracleRefuses);
    const std::string data = bytes.toStdString();
    try {
        SentencePieceTokenizer::fromBytes(data, "broken.model");
        QFAIL("no error");
    } catch (const Error& e) {
        const QString message = e.what();
        QVERIFY2(message.startsWith("broken.model: "), qPrintable(message));
        QVERIFY2(message.contains(problem), qPrintable(message));
        QVERIFY2(!message.contains('\n'), qPrintable(message));
    }
    sentencepiece::SentencePieceProcessor oracle;
    QCOMPARE(!oracle.LoadFromSerializedProto(data).ok(), oracleRefuses);
}

// Cut a real model at every length: the loader either loads it or throws Error, and it loads
// exactly when libsentencepiece does.
void TestSentencePiece::truncatedFilesAgreeWithOracle() {
    const std::string bytes = readBytes(modelPath("bpe_user_defined"));
    int loaded = 0;
    for (std::size_t length = 0; length < bytes.size(); length += 7) {
        const std::string cut = bytes.substr(0, length);
        sentencepiece::SentencePieceProcessor oracle;
        const bool oracleLoads = oracle.LoadFromSerializedProto(cut).ok();
        bool loads = true;
        try {
            const auto tok = SentencePieceTokenizer::fromBytes(cut, "cut.model");
            if (oracleLoads) QCOMPARE(tok.encodeSentencePiece("a test of the cut model"), widen(oracle.EncodeAsIds("a test of the cut model")));
        } catch (const Error&) {
            loads = false;
        }
        QVERIFY2(loads == oracleLoads, qPrintable(QString("length %1: ours %2, libsentencepiece %3").arg(length).arg(loads).arg(oracleLoads)));
        loaded += loads;
    }
    QVERIFY(loaded > 0);
}

void TestSentencePiece::missingFile() {
    try {
        SentencePieceTokenizer::fromFile(kDataDir + "no_such.model");
        QFAIL("no error");
    } catch (const Error& e) {
        QVERIFY2(QString(e.what()).contains("no_such.model"), e.what());
    }
}

QTEST_APPLESS_MAIN(TestSentencePiece)
#include "tst_sentencepiece.moc"
