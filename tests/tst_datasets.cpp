// The dataset and prediction readers: each layout on the synthetic files of tests/data/scoring/,
// then malformed files (a clear tokenscope::Error naming the file) and bad items (an ItemError
// naming the file and the item, the rest still read).

#include <QTemporaryDir>
#include <QTest>

#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "support/test_paths.h"
#include "tasks/datasets/jsonl_datasets.h"
#include "tasks/datasets/predictions.h"
#include "tasks/datasets/vqa_datasets.h"

#include "common/error.h"

using namespace tokenscope;
using namespace tokenscope::datasets;
using tokenscope::test::dataPath;

namespace {

std::string scoring(const std::string& relative) { return dataPath("scoring/" + relative); }

template <typename F>
std::string errorOf(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

#define VERIFY_CONTAINS(text, part) QVERIFY2(contains(text, part), ("'" + std::string(text) + "' lacks '" + (part) + "'").c_str())

// Writes files into a temporary folder.
class Files {
public:
    std::string write(const std::string& name, const std::string& content) {
        const std::string path = m_dir.filePath(QString::fromStdString(name)).toStdString();
        std::ofstream(path, std::ios::binary) << content;
        return path;
    }
    std::string path(const std::string& name) const { return m_dir.filePath(QString::fromStdString(name)).toStdString(); }

private:
    QTemporaryDir m_dir;
};

const char* kTwoAnswers =
    R"([{"answer": "a", "answer_confidence": "yes", "answer_id": 1}, {"answer": "b", "answer_confidence": "no", "answer_id": 2}])";

std::string annotation(const std::string& id, const std::string& answers = kTwoAnswers, const std::string& type = "other") {
    return R"({"question_id": )" + id + R"(, "image_id": 9, "question_type": "what is", "answer_type": ")" + type +
           R"(", "multiple_choice_answer": "a", "answers": )" + answers + "}";
}

std::string annotationsFile(const std::string& items) {
    return R"({"data_subtype": "val2014", "annotations": [)" + items + "]}";
}

}  // namespace

class TestDatasets : public QObject {
    Q_OBJECT
private slots:
    // ---- the layouts ----

    void vqav2BothFiles() {
        const auto dataset = readVqaV2(scoring("vqav2/v2_OpenEnded_mscoco_val2014_questions.json"),
                                       scoring("vqav2/v2_mscoco_val2014_annotations.json"));
        QVERIFY(dataset.hasAnnotations);
        QCOMPARE(dataset.dataSubtype, std::string("val2014"));
        QCOMPARE(dataset.questions.size(), std::size_t(443));
        const auto& first = dataset.questions.front();
        QCOMPARE(first.questionId, std::string("1000"));
        QCOMPARE(first.imageId, 100000LL);
        QCOMPARE(first.imageFile, std::string("COCO_val2014_000000100000.jpg"));
        QCOMPARE(first.question, std::string("Question 0 about the what color is the?"));
        QCOMPARE(first.questionType, std::string("what color is the"));
        QCOMPARE(first.answerType, std::string("yes/no"));
        QCOMPARE(first.answers.size(), std::size_t(10));
        QCOMPARE(first.answers[1].answer, std::string("yes"));
        QCOMPARE(*first.answers[1].confidence, std::string("maybe"));
        QCOMPARE(*first.answers[1].answerId, 2LL);
        // The fixture's "color" questions: kept, and reported once each.
        std::size_t colour = 0;
        for (const auto& question : dataset.questions) colour += question.answerType == "color";
        QVERIFY(colour > 0);
        QCOMPARE(dataset.errors.size(), colour);
        for (const auto& error : dataset.errors) {
            QVERIFY(!error.skipped);
            VERIFY_CONTAINS(error.text(), "v2_mscoco_val2014_annotations.json: annotations[");
            VERIFY_CONTAINS(error.message, "unknown answer_type 'color'");
        }
    }

    void vqav2OneFile() {
        const auto questions = readVqaV2(scoring("vqav2/v2_OpenEnded_mscoco_val2014_questions.json"), "");
        QVERIFY(!questions.hasAnnotations);
        QCOMPARE(questions.questions.size(), std::size_t(443));
        QVERIFY(questions.questions[5].answers.empty());
        QCOMPARE(questions.questions[0].imageFile, std::string("COCO_val2014_000000100000.jpg"));
        const auto annotations = readVqaV2("", scoring("vqav2/v2_mscoco_val2014_annotations.json"));
        QCOMPARE(annotations.questions.size(), std::size_t(443));
        QVERIFY(annotations.questions[5].question.empty());
        QCOMPARE(annotations.questions[5].imageFile, questions.questions[5].imageFile);
        QCOMPARE(cocoImageFile("test-dev2015", 1), std::string("COCO_test2015_000000000001.jpg"));
        QCOMPARE(cocoImageFile("test2015", 581929), std::string("COCO_test2015_000000581929.jpg"));
        QVERIFY(errorOf([] { readVqaV2("", ""); }) != "(no error)");
    }

    void textVqa() {
        const auto dataset = readTextVqa(scoring("textvqa/TextVQA_0.5.1_val.json"));
        QCOMPARE(dataset.version, std::string("0.5.1"));
        QCOMPARE(dataset.questions.size(), std::size_t(171));
        QVERIFY(dataset.errors.empty());
        const auto& first = dataset.questions.front();
        QCOMPARE(first.questionId, std::string("34602"));
        QCOMPARE(first.imageFile, first.imageId + ".jpg");
        QCOMPARE(first.imageId.size(), std::size_t(16));
        QCOMPARE(first.answers.size(), std::size_t(10));
    }

    void gqa() {
        const auto dataset = readGqa(scoring("gqa/testdev_balanced_questions.json"));
        QCOMPARE(dataset.questions.size(), std::size_t(120));
        QVERIFY(dataset.errors.empty());
        // File order, not sorted: ids grow by 13 from 20968379.
        QCOMPARE(dataset.questions[0].questionId, std::string("20968379"));
        QCOMPARE(dataset.questions[1].questionId, std::string("20968392"));
        std::size_t balanced = 0;
        for (const auto& q : dataset.questions) balanced += q.isBalanced;
        QCOMPARE(balanced, std::size_t(113));
        const auto& first = dataset.questions[0];
        QCOMPARE(first.imageId, std::string("n161313"));
        QCOMPARE(first.imageFile, std::string("n161313.jpg"));
        QCOMPARE(*first.answer, std::string("yes"));
        QCOMPARE(first.fullAnswer, std::string("The answer is yes."));
        QCOMPARE(first.structuralType, std::string("verify"));
        QCOMPARE(first.semanticType, std::string("attr"));
        QCOMPARE(first.detailedType, std::string("attrVerify"));
    }

    void pope() {
        const auto labels = readPope(scoring("pope/coco/coco_pope_random.json"));
        QCOMPARE(labels.questions.size(), std::size_t(30));
        QCOMPARE(labels.questions[0].questionId, std::string("1"));
        QCOMPARE(labels.questions[0].image, std::string("COCO_val2014_000000310196.jpg"));
        QCOMPARE(labels.questions[0].text, std::string("Is there a dog in the image?"));
        QVERIFY(labels.questions[0].label.has_value());
        QCOMPARE(*labels.questions[4].label, std::string("No"));  // kept as written
        const auto questions = readPope(scoring("pope/llava_pope_test.jsonl"));
        QCOMPARE(questions.questions.size(), std::size_t(90));
        QVERIFY(!questions.questions[0].label.has_value());
        QCOMPARE(questions.questions[0].category, std::string("adversarial"));
        QCOMPARE(questions.questions[89].category, std::string("random"));
    }

    void nlvr2() {
        const auto dataset = readNlvr2(scoring("nlvr2/dev.json"));
        QVERIFY(dataset.examples.size() > 20);
        QVERIFY(dataset.errors.empty());
        const auto& first = dataset.examples[0];
        QCOMPARE(first.identifier, std::string("dev-850-0-0"));
        QCOMPARE(first.split, std::string("dev"));
        QCOMPARE(first.leftImage, std::string("dev-850-0-img0.png"));
        QCOMPARE(first.rightImage, std::string("dev-850-0-img1.png"));
        QVERIFY(first.label == "True" || first.label == "False");
        QCOMPARE(nlvr2ImageFiles("test1-0-1-1"), std::make_pair(std::string("test1-0-1-img0.png"), std::string("test1-0-1-img1.png")));
    }

    void plainJsonl() {
        Files files;
        const auto path = files.write("questions.jsonl",
                                      "{\"image\": \"a.png\", \"question\": \"what?\", \"answers\": [\"x\", \"y\"], \"id\": 7}\n"
                                      "\n"
                                      "{\"image\": \"b.png\", \"question\": \"who?\", \"answers\": \"z\"}\n"
                                      "{\"image\": \"c.png\", \"question\": \"why?\"}\n");
        const auto dataset = readPlainJsonl(path);
        QVERIFY(dataset.errors.empty());
        QCOMPARE(dataset.questions.size(), std::size_t(3));
        QCOMPARE(dataset.questions[0].id, std::string("7"));
        QCOMPARE(dataset.questions[0].answers, (std::vector<std::string>{"x", "y"}));
        QCOMPARE(dataset.questions[1].id, std::string("3"));  // its line number
        QCOMPARE(dataset.questions[1].answers, std::vector<std::string>{"z"});
        QCOMPARE(dataset.questions[2].image, std::string("c.png"));
        QVERIFY(dataset.questions[2].answers.empty());
    }

    void predictionFormats() {
        const auto vqa = readPredictions(scoring("vqav2/results.json"));
        QCOMPARE(vqa.format, PredictionFormat::VqaSubmission);
        QCOMPARE(vqa.predictions[0].questionId, std::string("1000"));
        QCOMPARE(vqa.predictions[0].where, std::string("item 0"));
        const auto gqa = readPredictions(scoring("gqa/testdev_balanced_predictions.json"));
        QCOMPARE(gqa.format, PredictionFormat::GqaSubmission);
        QCOMPARE(gqa.predictions[0].questionId, std::string("20968379"));
        const auto llava = readPredictions(scoring("textvqa/answers_llava.jsonl"));
        QCOMPARE(llava.format, PredictionFormat::LlavaAnswers);
        QVERIFY(llava.predictions[0].prompt.has_value());
        QCOMPARE(llava.predictions[0].where, std::string("line 1"));
        const auto csv = readPredictions(scoring("nlvr2/predictions.csv"));
        QCOMPARE(csv.format, PredictionFormat::Nlvr2Csv);
        QVERIFY(csv.errors.empty());
        QCOMPARE(csv.predictions[0].questionId, std::string("dev-850-0-0"));
        QCOMPARE(std::string(predictionFormatName(PredictionFormat::Nlvr2Csv)), std::string("NLVR2 CSV"));
    }

    void csvDetails() {
        Files files;
        const auto path = files.write("p.csv", "identifier,prediction\n dev-1-0-0,True,0.9 \n\ndev-1-1-0, False\r\nno comma here\n");
        const auto file = readPredictions(path);
        QCOMPARE(file.predictions.size(), std::size_t(2));
        QCOMPARE(file.predictions[0].questionId, std::string("dev-1-0-0"));
        QCOMPARE(file.predictions[0].answer, std::string("True"));
        QCOMPARE(file.predictions[0].where, std::string("line 2"));
        QCOMPARE(file.predictions[1].answer, std::string(" False"));  // only the line's ends are stripped
        QCOMPARE(file.errors.size(), std::size_t(1));
        QCOMPARE(file.errors[0].text(), path + ": line 5: has no comma (expected identifier,prediction)");
    }

    // ---- malformed files ----

    void wholeFileErrors_data() {
        QTest::addColumn<QString>("reader");
        QTest::addColumn<QString>("content");
        QTest::addColumn<QString>("message");  // after "<path>: "
        QTest::newRow("annotations not JSON") << "vqav2" << "{\"annotations\": [" << "not valid JSON (";
        QTest::newRow("annotations not an object") << "vqav2" << "[1, 2]" << "not a JSON object (expected {\"annotations\": [...]})";
        QTest::newRow("no annotations list") << "vqav2" << "{\"questions\": []}" << "no 'annotations' list";
        QTest::newRow("annotations not a list") << "vqav2" << "{\"annotations\": {}}" << "'annotations' is not a list";
        QTest::newRow("no annotation readable") << "vqav2" << "{\"annotations\": [1]}" << "no annotation could be read (annotations[0]: is not a JSON object)";
        QTest::newRow("textvqa no data") << "textvqa" << "{\"dataset_version\": \"0.5.1\"}" << "no 'data' list";
        QTest::newRow("gqa a list") << "gqa" << "[]" << "not a JSON object (expected GQA's dictionary question id -> question)";
        QTest::newRow("pope empty") << "pope" << "" << "empty POPE file (no JSON Lines)";
        QTest::newRow("pope blank lines") << "pope" << "\n  \n" << "empty POPE file (no JSON Lines)";
        QTest::newRow("pope all lines bad") << "pope" << "nope\n[1]\n" << "no line of this POPE file is a JSON object (line 1: not valid JSON (";
        QTest::newRow("nlvr2 every item bad") << "nlvr2" << "{\"identifier\": \"x\"}\n" << "no item could be read (line 1: 'sentence' is missing)";
        QTest::newRow("predictions empty") << "predictions" << "  \n" << "empty predictions file";
        QTest::newRow("predictions empty list") << "predictions" << "[]" << "the list of predictions is empty";
        QTest::newRow("predictions unknown keys") << "predictions" << "[{\"id\": 1, \"text\": \"a\"}]"
                                                  << "no item has \"question_id\" and \"answer\" (VQAv2 submission) or \"questionId\" and \"prediction\" (GQA submission)";
        QTest::newRow("predictions broken list") << "predictions" << "[{\"question_id\": 1, " << "not valid JSON (";
        QTest::newRow("predictions csv without commas") << "predictions" << "hello\nworld\n" << "not a predictions file (line 1: has no comma (expected identifier,prediction))";
    }
    void wholeFileErrors() {
        QFETCH(QString, reader);
        QFETCH(QString, content);
        QFETCH(QString, message);
        Files files;
        const auto path = files.write("file.json", content.toStdString());
        const std::map<QString, std::function<void()>> readers{
            {"vqav2", [&] { readVqaV2("", path); }},
            {"textvqa", [&] { readTextVqa(path); }},
            {"gqa", [&] { readGqa(path); }},
            {"pope", [&] { readPope(path); }},
            {"nlvr2", [&] { readNlvr2(path); }},
            {"predictions", [&] { readPredictions(path); }},
        };
        const auto error = errorOf(readers.at(reader));
        VERIFY_CONTAINS(error, path + ": " + message.toStdString());
    }

    void missingFiles() {
        VERIFY_CONTAINS(errorOf([] { readVqaV2("/nonexistent/q.json", ""); }), "/nonexistent/q.json: cannot open VQAv2 questions file");
        VERIFY_CONTAINS(errorOf([] { readVqaV2("", "/nonexistent/a.json"); }), "/nonexistent/a.json: cannot open VQAv2 annotations file");
        VERIFY_CONTAINS(errorOf([] { readTextVqa("/nonexistent/t.json"); }), "/nonexistent/t.json: cannot open TextVQA file");
        VERIFY_CONTAINS(errorOf([] { readGqa("/nonexistent/g.json"); }), "/nonexistent/g.json: cannot open GQA questions file");
        VERIFY_CONTAINS(errorOf([] { readPope("/nonexistent/p.json"); }), "/nonexistent/p.json: cannot open POPE file");
        VERIFY_CONTAINS(errorOf([] { readNlvr2("/nonexistent/n.json"); }), "/nonexistent/n.json: cannot open NLVR2 file");
        VERIFY_CONTAINS(errorOf([] { readPredictions("/nonexistent/r.json"); }), "/nonexistent/r.json: cannot open predictions file");
    }

    // ---- bad items: reported with the file and the item, the rest read ----

    void vqav2BadItems() {
        Files files;
        const auto path = files.write("ann.json", annotationsFile(
            annotation("1") + "," +
            R"({"question_id": 2, "image_id": 9, "question_type": "what", "answer_type": "other"},)" +
            annotation("3", R"([{"answer": "a"}, {"answer": "b"}, 7])") + "," +
            annotation("4.5") + "," +
            annotation("5", "[]") + "," +
            annotation("1") + "," +
            annotation("6", R"([{"answer": 3}])") + "," +
            annotation("7", R"([{"answer": "x", "answer_id": "one"}])") + "," +
            annotation("8", kTwoAnswers, "yes-no") + "," +
            annotation("\"9\"")));
        const auto dataset = readVqaV2("", path);
        QCOMPARE(dataset.questions.size(), std::size_t(3));  // 1, 8 (noted) and "9"
        QCOMPARE(dataset.questions[0].questionId, std::string("1"));
        QCOMPARE(dataset.questions[1].questionId, std::string("8"));
        QCOMPARE(dataset.questions[2].questionId, std::string("9"));
        const std::vector<std::string> expected{
            path + ": annotations[1] (question_id 2): 'answers' is missing",
            path + ": annotations[2] (question_id 3): answers[2] is not a JSON object",
            path + ": annotations[3]: 'question_id' is a float, not an integer or a string",
            path + ": annotations[4] (question_id 5): 'answers' is empty (vqaEval.py divides by the number of answers)",
            path + ": annotations[5] (question_id 1): question_id 1 is already annotated by an earlier item",
            path + ": annotations[6] (question_id 6): answers[0] 'answer' is an integer, not a string",
            path + ": annotations[7] (question_id 7): answers[0] 'answer_id' is a string, not an integer",
            path + ": annotations[8] (question_id 8): unknown answer_type 'yes-no' (VQAv2 has yes/no, number, other); scored under its own name",
        };
        QCOMPARE(dataset.errors.size(), expected.size());
        for (std::size_t i = 0; i < expected.size(); ++i) QCOMPARE(dataset.errors[i].text(), expected[i]);
        QVERIFY(!dataset.errors.back().skipped);
    }

    void vqav2QuestionsAndAnnotationsDisagree() {
        Files files;
        const auto questions = files.write("q.json", R"({"data_subtype": "test-dev2015", "questions": [
            {"question_id": 1, "image_id": 9, "question": "one?"},
            {"question_id": 2, "image_id": 9, "question": "two?"},
            {"question_id": 2, "image_id": 9, "question": "again?"},
            {"question_id": 4, "image_id": 9}]})");
        const auto annotations = files.write("a.json", annotationsFile(annotation("1") + "," + annotation("3")));
        const auto dataset = readVqaV2(questions, annotations);
        QCOMPARE(dataset.dataSubtype, std::string("test-dev2015"));
        QCOMPARE(dataset.questions.size(), std::size_t(2));
        QCOMPARE(dataset.questions[0].question, std::string("one?"));
        QCOMPARE(dataset.questions[0].imageFile, std::string("COCO_test2015_000000000009.jpg"));
        QVERIFY(dataset.questions[1].question.empty());
        const std::vector<std::string> expected{
            questions + ": questions[2] (question_id 2): question_id 2 is already used by an earlier question",
            questions + ": questions[3] (question_id 4): 'question' is missing",
            annotations + ": annotations[1] (question_id 3): no question with this id in " + questions,
            questions + ": question_id 2: no annotation in " + annotations + "; not scored",
        };
        QCOMPARE(dataset.errors.size(), expected.size());
        for (std::size_t i = 0; i < expected.size(); ++i) QCOMPARE(dataset.errors[i].text(), expected[i]);
    }

    void textVqaBadItems() {
        Files files;
        const auto path = files.write("t.json", R"({"data": [
            {"question_id": 1, "image_id": "a", "question": "q?", "answers": ["x", "y"]},
            {"question_id": 2, "image_id": "b", "question": "q?", "answers": ["x", 3]},
            {"question_id": 3, "image_id": "c"},
            {"question_id": 4, "image_id": "d", "question": "q?"}]})");
        const auto dataset = readTextVqa(path);
        QCOMPARE(dataset.questions.size(), std::size_t(2));
        QVERIFY(dataset.questions[1].answers.empty());  // a test item
        QCOMPARE(dataset.errors.size(), std::size_t(2));
        QCOMPARE(dataset.errors[0].text(), path + ": data[1] (question_id 2): answers[1] is not a string");
        QCOMPARE(dataset.errors[1].text(), path + ": data[2] (question_id 3): 'question' is missing");
    }

    void gqaBadItems() {
        Files files;
        const auto path = files.write("g.json", R"({"201": {"imageId": "n1", "question": "q?", "answer": "yes"},
            "202": {"imageId": "n1", "question": "q?", "isBalanced": "yes"},
            "203": [],
            "204": {"imageId": "n1", "question": "q?", "types": {"structural": 3}},
            "205": {"imageId": "n2", "question": "q?"}})");
        const auto dataset = readGqa(path);
        QCOMPARE(dataset.questions.size(), std::size_t(2));
        QVERIFY(!dataset.questions[1].answer.has_value());
        const std::vector<std::string> expected{
            path + ": question 202: 'isBalanced' is not true or false",
            path + ": question 203: is not a JSON object",
            path + ": question 204: 'structural' is an integer, not a string",
        };
        QCOMPARE(dataset.errors.size(), expected.size());
        for (std::size_t i = 0; i < expected.size(); ++i) QCOMPARE(dataset.errors[i].text(), expected[i]);
    }

    void jsonlBadLines() {
        Files files;
        const auto path = files.write("pope.jsonl",
                                      "{\"question_id\": 1, \"image\": \"a.jpg\", \"text\": \"q?\", \"label\": \"yes\"}\n"
                                      "{\"question_id\": 2, \"image\": \"a.jpg\", \"text\": \"q?\", \"label\": \"no\"\n"
                                      "[1, 2]\n"
                                      "{\"question_id\": 1, \"image\": \"a.jpg\", \"text\": \"q?\", \"label\": \"no\"}\n"
                                      "{\"question_id\": 3, \"image\": 5, \"text\": \"q?\"}\n"
                                      "{\"question_id\": 4, \"image\": \"b.jpg\", \"text\": \"q?\", \"label\": \"no\"}\n");
        const auto dataset = readPope(path);
        QCOMPARE(dataset.questions.size(), std::size_t(2));
        QCOMPARE(dataset.questions[1].questionId, std::string("4"));
        QCOMPARE(dataset.errors.size(), std::size_t(4));
        VERIFY_CONTAINS(dataset.errors[0].text(), path + ": line 2: not valid JSON (");
        QCOMPARE(dataset.errors[1].text(), path + ": line 3: is a list, not a JSON object");
        QCOMPARE(dataset.errors[2].text(), path + ": line 4: 'question_id' 1 is already used by an earlier line");
        QCOMPARE(dataset.errors[3].text(), path + ": line 5: 'image' is an integer, not a string");
    }

    void nlvr2BadLines() {
        Files files;
        const auto path = files.write("dev.json",
                                      "{\"identifier\": \"dev-1-0-0\", \"sentence\": \"s\", \"label\": \"True\"}\n"
                                      "{\"identifier\": \"dev-1-0\", \"sentence\": \"s\", \"label\": \"True\"}\n"
                                      "{\"identifier\": \"dev-1-1-0\", \"sentence\": \"s\", \"label\": 1}\n"
                                      "{\"identifier\": \"dev-1-2-0\", \"sentence\": \"s\", \"label\": false}\n"
                                      "{\"identifier\": \"dev--2-0\", \"sentence\": \"s\", \"label\": \"False\"}\n");
        const auto dataset = readNlvr2(path);
        QCOMPARE(dataset.examples.size(), std::size_t(2));
        QCOMPARE(dataset.examples[1].label, std::string("False"));
        QCOMPARE(dataset.errors.size(), std::size_t(3));
        QCOMPARE(dataset.errors[0].text(), path + ": line 2: identifier 'dev-1-0' is not split-set_id-pair_id-sentence_id");
        QCOMPARE(dataset.errors[1].text(), path + ": line 3: 'label' is neither \"True\"/\"False\" nor a boolean");
        QCOMPARE(dataset.errors[2].text(), path + ": line 5: identifier 'dev--2-0' has an empty part");
    }

    void predictionBadItems() {
        Files files;
        const auto list = files.write("r.json", R"([{"question_id": 1, "answer": "a"}, {"question_id": 2}, 3, {"question_id": [1], "answer": "b"}, {"question_id": 4, "answer": "d"}])");
        const auto vqa = readPredictions(list);
        QCOMPARE(vqa.predictions.size(), std::size_t(2));
        QCOMPARE(vqa.predictions[1].where, std::string("item 4"));
        QCOMPARE(vqa.errors.size(), std::size_t(3));
        QCOMPARE(vqa.errors[0].text(), list + ": item 1: 'answer' is missing");
        QCOMPARE(vqa.errors[1].text(), list + ": item 2: is not a JSON object");
        QCOMPARE(vqa.errors[2].text(), list + ": item 3: 'question_id' is a list, not an integer or a string");
        const auto lines = files.write("a.jsonl", "{\"question_id\": 1, \"text\": \"a\"}\n{\"question_id\": 2, \"answer\": \"b\"}\nnot json\n");
        const auto llava = readPredictions(lines);
        QCOMPARE(llava.predictions.size(), std::size_t(1));
        QCOMPARE(llava.errors.size(), std::size_t(2));
        VERIFY_CONTAINS(llava.errors[0].text(), lines + ": line 3: not valid JSON (");
        QCOMPARE(llava.errors[1].text(), lines + ": line 2: 'text' is missing");
    }
};

QTEST_APPLESS_MAIN(TestDatasets)
#include "tst_datasets.moc"
