// Evaluation on a dataset in its official layout (tasks/eval/dataset_eval.h, tokenscope-cli eval
// --dataset / eval-merge), on a VQAv2-format set the test draws from the Shapes task (JPEGs named
// COCO_val2014_<id>.jpg, the questions and annotations files) and the bundled trained Shapes model:
//   * every layout (TextVQA, GQA, POPE, NLVR2, plain) becomes items scored by its own rule;
//   * shards partition the questions, the same way whatever order the file lists them in;
//   * a shard run stopped part-way, with an unfinished line at the end of its file, resumes and the
//     merged shards equal an unbroken run, record for record;
//   * files of another evaluation are refused, by resume and by merge;
//   * end to end: a CLI run killed mid-way (SIGKILL) and restarted, merged with the other shard,
//     scores the same as the unbroken run, and the bundled model's VQA accuracy is what a trained
//     model gets (an image or question mix-up would fall to chance);
//   * a missing image is a per-item error record and the run goes on;
//   * a generating model (LLaVA-NeXT) answers with the short-answer instruction; METER answers
//     questions from its labels and NLVR2 pairs with its NLVR2 head;
//   * VQAv2 test-dev (no annotations) merges into the evaluation server's submission file;
//   * two evaluations (unreduced, a strong PuMer) pair into the questions whose answer changed.

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "engine/engine.h"
#include "support/cli_process.h"
#include "support/test_paths.h"
#include "tasks/eval/answer_changes.h"
#include "tasks/eval/dataset_eval.h"
#include "tasks/eval/sweep_table.h"
#include "tasks/shapes/shapes_eval.h"
#include "viz/image_io.h"

using namespace tokenscope;
using namespace tokenscope::evaluation;
using Json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string bundledShapesModel() { return tokenscope::test::dataPath("../../resources/models/shapes-vilt"); }

struct SyntheticVqa {
    std::string questions, annotations, images;
    int count = 0;
};

// VQAv2's layout: questions and annotations files (val2014) and COCO-named JPEGs of Shapes scenes.
// Every annotator gave the scene's answer, except that items 3, 10, 17, ... have three of ten
// answers "maybe" (so the soft VQA score shows).
SyntheticVqa writeVqaV2(const std::string& dir, int count, bool reversed = false) {
    SyntheticVqa out;
    out.count = count;
    out.images = dir + "/val2014";
    fs::create_directories(out.images);
    const auto set = shapes::makeEvalSet(5, count, shapes::ShapesOptions{});
    Json questions = Json::array(), annotations = Json::array();
    for (int i = 0; i < count; ++i) {
        const long long imageId = 100 + i;
        const long long questionId = imageId * 1000 + 7;
        char name[64];
        std::snprintf(name, sizeof name, "COCO_val2014_%012lld.jpg", imageId);
        saveImageFile(out.images + "/" + name, set.images[static_cast<std::size_t>(i)]);
        questions.push_back({{"question_id", questionId}, {"image_id", imageId}, {"question", set.questions[static_cast<std::size_t>(i)]}});
        const std::string& answer = set.answers[static_cast<std::size_t>(i)];
        Json answers = Json::array();
        for (int a = 1; a <= 10; ++a)
            answers.push_back({{"answer", i % 7 == 3 && a <= 3 ? std::string("maybe") : answer}, {"answer_confidence", "yes"}, {"answer_id", a}});
        const std::string type = answer == "yes" || answer == "no" ? "yes/no" : std::isdigit(static_cast<unsigned char>(answer[0])) ? "number" : "other";
        annotations.push_back({{"question_id", questionId}, {"image_id", imageId}, {"question_type", "what"}, {"answer_type", type},
                               {"multiple_choice_answer", answer}, {"answers", answers}});
    }
    if (reversed) {
        std::reverse(questions.begin(), questions.end());
        std::reverse(annotations.begin(), annotations.end());
    }
    out.questions = dir + (reversed ? "/reversed_questions.json" : "/v2_OpenEnded_mscoco_val2014_questions.json");
    out.annotations = dir + (reversed ? "/reversed_annotations.json" : "/v2_mscoco_val2014_annotations.json");
    std::ofstream(out.questions) << Json{{"data_subtype", "val2014"}, {"questions", questions}}.dump();
    std::ofstream(out.annotations) << Json{{"data_subtype", "val2014"}, {"annotations", annotations}}.dump();
    return out;
}

DatasetSource sourceOf(const SyntheticVqa& data) {
    DatasetSource source;
    source.kind = DatasetKind::VqaV2;
    source.questions = data.questions;
    source.annotations = data.annotations;
    source.images = data.images;
    return source;
}

ImageU8 decode(const std::string& path) { return loadImageFile(path).image; }

DatasetEvalOptions optionsFor(const MethodSettings& method, const Shard& shard) {
    DatasetEvalOptions options;
    options.method = method;
    options.shard = shard;
    options.batch = 4;
    options.decode = decode;
    return options;
}

std::vector<std::string> lines(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<std::string> out;
    std::string line;
    while (std::getline(in, line)) out.push_back(line);
    return out;
}

// The records' answers by id, for comparing runs.
std::map<std::string, std::string> answersOf(const std::vector<Json>& records) {
    std::map<std::string, std::string> out;
    for (const auto& r : records) out[r.at("question_id").get<std::string>()] = r.value("text", "<error>");
    return out;
}

MethodSettings pumer() {
    MethodSettings method("pumer");
    method.set("layers", std::vector<int>{1, 3}).set("prune", 0.3).set("merge", 0.2);
    return method;
}

}  // namespace

class TestDatasetEval : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void shardsPartitionTheQuestionsWhateverTheirOrder() {
        QTemporaryDir dir;
        const auto data = writeVqaV2(dir.path().toStdString(), 40);
        const auto reversed = writeVqaV2(dir.path().toStdString(), 40, true);
        const auto a = loadEvalDataset(sourceOf(data)), b = loadEvalDataset(sourceOf(reversed));
        QCOMPARE(a.items.size(), std::size_t(40));
        QVERIFY(a.hash != b.hash);  // other files, other hash
        const Shard shards[] = {{0, 3}, {1, 3}, {2, 3}};
        std::set<std::string> all;
        for (const auto& shard : shards) {
            std::set<std::string> fromA, fromB;
            for (const auto& item : a.items)
                if (inShard(item.id, shard)) fromA.insert(item.id);
            for (const auto& item : b.items)
                if (inShard(item.id, shard)) fromB.insert(item.id);
            QCOMPARE(fromA, fromB);
            QVERIFY(!fromA.empty());
            for (const auto& id : fromA) QVERIFY2(all.insert(id).second, "an item in two shards");
        }
        QCOMPARE(all.size(), std::size_t(40));
        QVERIFY_THROWS_EXCEPTION(Error, parseShard("3/3"));
        QVERIFY_THROWS_EXCEPTION(Error, parseShard("1of3"));
    }

    // Every layout becomes items with the right ids, image paths, questions, groups and answers,
    // and each item's score follows its dataset's rule for one question.
    void everyLayoutBecomesItems() {
        QTemporaryDir dir;
        const std::string root = dir.path().toStdString();
        const auto write = [&](const std::string& name, const std::string& text) {
            std::ofstream(root + "/" + name) << text;
            return root + "/" + name;
        };
        const auto load = [&](DatasetKind kind, const std::string& file) {
            DatasetSource source;
            source.kind = kind;
            source.questions = file;
            source.images = root + "/img";
            return loadEvalDataset(source);
        };
        Json ten = Json::array();
        for (int i = 0; i < 10; ++i) ten.push_back(i < 4 ? "coca cola" : "pepsi");
        const auto textvqa = load(DatasetKind::TextVqa, write("textvqa.json", Json{{"dataset_version", "0.5.1"}, {"data", {{
            {"question_id", 34602}, {"image_id", "003a8ae2ef43b901"}, {"question", "what brand is it?"}, {"answers", ten}}}}}.dump()));
        QCOMPARE(textvqa.items.at(0).id, std::string("34602"));
        QCOMPARE(textvqa.items.at(0).images.at(0), root + "/img/003a8ae2ef43b901.jpg");
        QCOMPARE(scoreItem(textvqa, textvqa.items[0], "pepsi").value(), 1.0);
        QVERIFY(std::abs(scoreItem(textvqa, textvqa.items[0], "Coca Cola").value() - 1.0) < 1e-12);  // EvalAI lower-cases
        QCOMPARE(scoreItem(textvqa, textvqa.items[0], "sprite").value(), 0.0);

        const auto gqa = load(DatasetKind::Gqa, write("gqa.json", Json{{"20968379", {{"imageId", "n288870"}, {"question", "Is the sky blue?"},
            {"answer", "yes"}, {"types", {{"structural", "verify"}}}}}}.dump()));
        QCOMPARE(gqa.items.at(0).group, std::string("verify"));
        QCOMPARE(gqa.items.at(0).images.at(0), root + "/img/n288870.jpg");
        QCOMPARE(scoreItem(gqa, gqa.items[0], "yes").value(), 1.0);
        QCOMPARE(scoreItem(gqa, gqa.items[0], "no").value(), 0.0);

        const auto pope = load(DatasetKind::Pope, write("coco_pope_random.json",
            R"({"question_id": 1, "image": "COCO_val2014_000000310196.jpg", "text": "Is there a snowboard in the image?", "label": "no"})" "\n"
            R"({"question_id": 2, "image": "COCO_val2014_000000310196.jpg", "text": "Is there a person in the image?", "label": "yes"})" "\n"));
        QCOMPARE(pope.items.size(), std::size_t(2));
        QCOMPARE(scoreItem(pope, pope.items[0], "No, there is not.").value(), 1.0);  // eval_pope.py reads "No" as no
        QCOMPARE(scoreItem(pope, pope.items[1], "Yes").value(), 1.0);
        QCOMPARE(scoreItem(pope, pope.items[1], "not really").value(), 0.0);

        const auto nlvr2 = load(DatasetKind::Nlvr2, write("dev.json",
            R"({"identifier": "dev-850-0-0", "sentence": "There are two dogs.", "label": "True"})" "\n"));
        QCOMPARE(nlvr2.items.at(0).images, (std::vector<std::string>{root + "/img/dev-850-0-img0.png", root + "/img/dev-850-0-img1.png"}));
        QCOMPARE(scoreItem(nlvr2, nlvr2.items[0], "True").value(), 1.0);
        QCOMPARE(scoreItem(nlvr2, nlvr2.items[0], "False").value(), 0.0);

        const auto plain = load(DatasetKind::Plain, write("plain.jsonl",
            R"({"image": "a.png", "question": "how many?", "answers": ["two", "2"]})" "\n" R"({"image": "/abs/b.png", "question": "what?"})" "\n"));
        QCOMPARE(plain.items.at(0).id, std::string("1"));  // the line number
        QCOMPARE(plain.items.at(1).images.at(0), std::string("/abs/b.png"));
        QCOMPARE(scoreItem(plain, plain.items[0], "Two.").value(), 1.0);  // VQA's answer processing
        QVERIFY(!scoreItem(plain, plain.items[1], "anything"));             // nothing to score against
        QVERIFY(textvqa.hash != gqa.hash && gqa.hash != pope.hash);
    }

    void stoppedShardResumesToTheUnbrokenResult() {
        QTemporaryDir dir;
        const std::string root = dir.path().toStdString();
        const auto data = writeVqaV2(root, 24);
        const auto dataset = loadEvalDataset(sourceOf(data));
        const auto engine = Engine::open(bundledShapesModel());

        // Unbroken: one shard of everything.
        {
            ShardFile out(root + "/whole.jsonl", identityOf(*engine, dataset, pumer(), {0, 1}));
            const auto stats = runDatasetEval(*engine, dataset, out, optionsFor(pumer(), {0, 1}));
            QCOMPARE(stats.answered, std::size_t(24));
            QCOMPARE(stats.errors, std::size_t(0));
        }
        const auto whole = mergeShards({root + "/whole.jsonl"});
        QCOMPARE(whole.records.size(), std::size_t(24));

        // Two shards; shard 0 stops after 3 records and its file ends in half a line, as a kill
        // while writing leaves it.
        const std::string s0 = root + "/s0.jsonl", s1 = root + "/s1.jsonl";
        {
            ShardFile out(s0, identityOf(*engine, dataset, pumer(), {0, 2}));
            auto options = optionsFor(pumer(), {0, 2});
            options.batch = 1;
            options.stopAfter = 3;
            runDatasetEval(*engine, dataset, out, options);
        }
        QCOMPARE(lines(s0).size(), std::size_t(4));  // header + 3
        std::ofstream(s0, std::ios::app) << "{\"question_id\": \"1170";
        {
            ShardFile out(s0, identityOf(*engine, dataset, pumer(), {0, 2}));
            QVERIFY(out.wasResumed());
            QVERIFY(out.truncatedTail());
            QCOMPARE(out.doneCount(), std::size_t(3));
            const auto stats = runDatasetEval(*engine, dataset, out, optionsFor(pumer(), {0, 2}));
            QCOMPARE(stats.skipped, std::size_t(3));
            QVERIFY(stats.answered > 0);
        }
        for (const auto& line : lines(s0)) QVERIFY2(!Json::parse(line).is_discarded(), line.c_str());
        {
            ShardFile out(s1, identityOf(*engine, dataset, pumer(), {1, 2}));
            runDatasetEval(*engine, dataset, out, optionsFor(pumer(), {1, 2}));
        }
        const auto merged = mergeShards({s0, s1});
        QCOMPARE(merged.shardCount, 2);
        QCOMPARE(answersOf(merged.records), answersOf(whole.records));
        // Dataset order is kept (POPE's scorer pairs answers with labels by position).
        for (std::size_t i = 0; i < merged.records.size(); ++i)
            QCOMPARE(merged.records[i].at("index").get<std::size_t>(), i);
        // Each record carries the question's own VQA score and its top answers, the first the answer.
        for (const auto& r : merged.records) {
            QVERIFY(r.at("score").is_number());
            QVERIFY(r.at("top_k").size() == 5 && r.at("top_k").at(0).at("answer") == r.at("text"));
        }

        // Per layer on request: the tokens after each layer, as a traced run of the same question
        // under the same method reports them, and the activation peak.
        {
            ShardFile out(root + "/layers.jsonl", identityOf(*engine, dataset, pumer(), {0, 1}));
            auto options = optionsFor(pumer(), {0, 1});
            options.limit = 3;
            options.perLayer = true;
            runDatasetEval(*engine, dataset, out, options);
        }
        const auto layers = mergeShards({root + "/layers.jsonl"});
        QCOMPARE(layers.records.size(), std::size_t(3));
        for (const auto& r : layers.records) {
            const auto& item = dataset.items.at(r.at("index").get<std::size_t>());
            RunRequest request{decode(item.images.front()), item.question, pumer(), 1, true};
            const auto traced = engine->run(request);
            std::vector<int> image, text;
            for (const auto& layer : traced.trace.layers) {
                image.push_back(layer.image.tokens);
                text.push_back(layer.text.tokens);
            }
            QCOMPARE(r.at("image_tokens_per_layer").get<std::vector<int>>(), image);
            QCOMPARE(r.at("text_tokens_per_layer").get<std::vector<int>>(), text);
            QVERIFY(image.back() < image.front());  // PuMer reduced
            QVERIFY(r.at("activation_peak_mib").get<double>() > 0);
        }

        // Another method's file is refused by resume and by merge.
        QVERIFY_THROWS_EXCEPTION(Error, ShardFile(s1, identityOf(*engine, dataset, MethodSettings{}, {1, 2})));
        {
            ShardFile other(root + "/other.jsonl", identityOf(*engine, dataset, MethodSettings{}, {1, 2}));
        }
        try {
            mergeShards({s0, root + "/other.jsonl"});
            QFAIL("merged shards of two methods");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("method"), e.what());
        }
    }

    void missingImageIsAnItemError() {
        QTemporaryDir dir;
        const std::string root = dir.path().toStdString();
        const auto data = writeVqaV2(root, 6);
        fs::remove(data.images + "/COCO_val2014_000000000102.jpg");
        const auto dataset = loadEvalDataset(sourceOf(data));
        const auto engine = Engine::open(bundledShapesModel());
        ShardFile out(root + "/r.jsonl", identityOf(*engine, dataset, MethodSettings{}, {0, 1}));
        const auto stats = runDatasetEval(*engine, dataset, out, optionsFor(MethodSettings{}, {0, 1}));
        QCOMPARE(stats.errors, std::size_t(1));
        QCOMPARE(stats.answered, std::size_t(5));
        const auto merged = mergeShards({root + "/r.jsonl"});
        const auto& bad = merged.records.at(2);
        QCOMPARE(bad.at("question_id").get<std::string>(), std::string("102007"));
        QVERIFY2(bad.at("error").get<std::string>().find("COCO_val2014_000000000102.jpg") != std::string::npos,
                 bad.dump().c_str());
    }

    // A generating model (the bundled tiny LLaVA-NeXT, random weights) answers a plain JSON Lines
    // set one question at a time with the short-answer instruction; its records say so.
    void generatingModelAnswersAPlainSet() {
        QTemporaryDir dir;
        const std::string root = dir.path().toStdString();
        const auto set = shapes::makeEvalSet(9, 3, shapes::ShapesOptions{});
        std::ofstream lines(root + "/questions.jsonl");
        for (int i = 0; i < 3; ++i) {
            const std::string image = "scene" + std::to_string(i) + ".png";
            saveImageFile(root + "/" + image, set.images[std::size_t(i)]);
            lines << Json{{"id", "q" + std::to_string(i)}, {"image", image}, {"question", set.questions[std::size_t(i)]},
                          {"answers", {set.answers[std::size_t(i)]}}}.dump() << "\n";
        }
        lines.close();
        DatasetSource source;
        source.kind = DatasetKind::Plain;
        source.questions = root + "/questions.jsonl";
        const auto dataset = loadEvalDataset(source);
        const auto engine = Engine::open(tokenscope::test::dataPath("../../resources/models/llava-next-tiny-random"));
        QVERIFY(engine->capabilities().generates);
        ShardFile out(root + "/r.jsonl", identityOf(*engine, dataset, MethodSettings{}, {0, 1}));
        auto options = optionsFor(MethodSettings{}, {0, 1});
        options.maxNewTokens = 3;
        const auto stats = runDatasetEval(*engine, dataset, out, options);
        QCOMPARE(stats.answered, std::size_t(3));
        QCOMPARE(stats.errors, std::size_t(0));
        const auto merged = mergeShards({root + "/r.jsonl"});
        QCOMPARE(merged.records.size(), std::size_t(3));
        for (const auto& r : merged.records) {
            QCOMPARE(r.at("answered_by").get<std::string>(), std::string("generation"));
            QVERIFY(r.at("text").is_string());
            QVERIFY(r.at("score").is_number());  // plain: exact match against the answers
            QVERIFY(r.at("image_tokens").get<int>() > 0);
        }
    }

    // METER answers from its labels one question at a time (top-k in the records), and NLVR2 pairs
    // reach its NLVR2 head through answerPair; the bundled tiny METER has both heads.
    void meterAnswersQuestionsAndImagePairs() {
        QTemporaryDir dir;
        const std::string root = dir.path().toStdString();
        const auto set = shapes::makeEvalSet(11, 4, shapes::ShapesOptions{});
        std::ofstream plain(root + "/questions.jsonl"), nlvr2(root + "/dev.json");
        for (int i = 0; i < 4; ++i) {
            const std::string image = "dev-" + std::to_string(i) + "-0-img0.png", other = "dev-" + std::to_string(i) + "-0-img1.png";
            saveImageFile(root + "/" + image, set.images[std::size_t(i)]);
            saveImageFile(root + "/" + other, set.images[std::size_t((i + 1) % 4)]);
            plain << Json{{"image", image}, {"question", set.questions[std::size_t(i)]}}.dump() << "\n";
            nlvr2 << Json{{"identifier", "dev-" + std::to_string(i) + "-0-0"}, {"sentence", "the left image has more shapes"},
                          {"label", i % 2 ? "True" : "False"}}.dump() << "\n";
        }
        plain.close();
        nlvr2.close();
        const auto engine = Engine::open(tokenscope::test::dataPath("../../resources/models/meter-tiny-random"));
        for (const auto kind : {DatasetKind::Plain, DatasetKind::Nlvr2}) {
            DatasetSource source;
            source.kind = kind;
            source.questions = root + (kind == DatasetKind::Plain ? "/questions.jsonl" : "/dev.json");
            const auto dataset = loadEvalDataset(source);
            const std::string path = root + "/" + datasetKindName(kind) + ".jsonl";
            ShardFile out(path, identityOf(*engine, dataset, MethodSettings{}, {0, 1}));
            const auto stats = runDatasetEval(*engine, dataset, out, optionsFor(MethodSettings{}, {0, 1}));
            QCOMPARE(stats.answered, std::size_t(4));
            const auto merged = mergeShards({path});
            // The header names METER's own settings.
            QCOMPARE(merged.identity.modelSettings.at("fusion-order").get<std::string>(), std::string("sequential"));
            for (const auto& r : merged.records) {
                if (kind == DatasetKind::Plain) {
                    QVERIFY(r.at("top_k").size() >= 1);
                    QVERIFY(r.at("text") == r.at("top_k").at(0).at("answer"));
                } else {
                    const std::string answer = r.at("text").get<std::string>();
                    QVERIFY2(answer == "True" || answer == "False", answer.c_str());
                    QVERIFY(r.at("score").is_number());
                }
            }
        }
    }

    // VQAv2 test-dev has no annotations: nothing is scored, and eval-merge writes the submission
    // file the evaluation server takes ([{"question_id": int, "answer"}]).
    void testDevWritesTheSubmission() {
        QTemporaryDir dir;
        const QString root = dir.path();
        const auto data = writeVqaV2(root.toStdString(), 6);
        const auto run = tokenscope::test::runCli({"eval", "--model", QString::fromStdString(bundledShapesModel()), "--dataset", "vqav2",
                                                   "--questions", QString::fromStdString(data.questions), "--images",
                                                   QString::fromStdString(data.images), "--results", root + "/td.jsonl"});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        const auto merge = tokenscope::test::runCli({"eval-merge", "--in", root + "/td.jsonl", "--out", root + "/td"});
        QVERIFY2(merge.exitCode == 0, qPrintable(merge.err));
        QVERIFY2(merge.out.contains(QStringLiteral("submit")), qPrintable(merge.out));
        std::ifstream in((root + "/td.predictions.json").toStdString());
        const Json submission = Json::parse(in);
        QCOMPARE(submission.size(), std::size_t(6));
        for (const auto& entry : submission) {
            QVERIFY(entry.at("question_id").is_number_integer());
            QVERIFY(entry.at("answer").is_string());
        }
    }

    // The questions a reduction changed: the unreduced model's and a strong PuMer's evaluations of
    // one set, paired by question; every class agrees with the two scores, the list runs from the
    // largest score drop down, and the means are the records' means.
    void answerChangesPairTwoEvaluations() {
        QTemporaryDir dir;
        const std::string root = dir.path().toStdString();
        const auto data = writeVqaV2(root, 48);
        const auto dataset = loadEvalDataset(sourceOf(data));
        const auto engine = Engine::open(bundledShapesModel());
        MethodSettings strong("pumer");
        strong.set("layers", std::vector<int>{0, 1, 2}).set("prune", 0.5).set("merge", 0.3);
        for (const auto& [name, method] : {std::pair<std::string, MethodSettings>{"none", MethodSettings{}}, {"strong", strong}}) {
            ShardFile out(root + "/" + name + ".jsonl", identityOf(*engine, dataset, method, {0, 1}));
            runDatasetEval(*engine, dataset, out, optionsFor(method, {0, 1}));
        }
        const auto c = compareAnswers({root + "/strong.jsonl"}, {root + "/none.jsonl"});
        QCOMPARE(c.items.size(), std::size_t(48));
        QCOMPARE(c.worse + c.better + c.changed + c.same, std::size_t(48));
        QVERIFY2(c.worse + c.better + c.changed > 0, "a strong reduction changed no answer");
        double methodSum = 0, baselineSum = 0;
        for (std::size_t i = 0; i < c.items.size(); ++i) {
            const auto& item = c.items[i];
            QVERIFY(item.methodScore && item.baselineScore);
            methodSum += *item.methodScore;
            baselineSum += *item.baselineScore;
            if (i > 0) QVERIFY(c.items[i - 1].drop() >= item.drop());
            switch (item.kind) {
                case ChangeKind::Worse: QVERIFY(*item.baselineScore > *item.methodScore); break;
                case ChangeKind::Better: QVERIFY(*item.baselineScore < *item.methodScore); break;
                case ChangeKind::Changed: QVERIFY(item.methodAnswer != item.baselineAnswer && item.drop() == 0); break;
                case ChangeKind::Same: QCOMPARE(item.methodAnswer, item.baselineAnswer); break;
            }
            QCOMPARE(item.images.size(), std::size_t(1));
            QVERIFY(fs::exists(item.images.front()));
            QVERIFY(!item.question.empty());
        }
        QVERIFY(std::abs(c.methodMean - methodSum / 48) < 1e-12);
        QVERIFY(std::abs(c.baselineMean - baselineSum / 48) < 1e-12);
        QCOMPARE(c.methodHeader.at("method").at("method").get<std::string>(), std::string("pumer"));

        // Another dataset is refused.
        const auto other = writeVqaV2(root + "/other", 8);
        const auto otherSet = loadEvalDataset(sourceOf(other));
        {
            ShardFile out(root + "/other.jsonl", identityOf(*engine, otherSet, MethodSettings{}, {0, 1}));
            runDatasetEval(*engine, otherSet, out, optionsFor(MethodSettings{}, {0, 1}));
        }
        QVERIFY_THROWS_EXCEPTION(Error, compareAnswers({root + "/strong.jsonl"}, {root + "/other.jsonl"}));
    }

    // The command line, with a real kill: shard 0 of 2 is killed once it has written a few
    // records, restarted, and merged with shard 1; the metrics equal the unbroken run's.
    void killedCliRunResumes() {
        QTemporaryDir dir;
        const QString root = dir.path();
        // Enough items that the shard (tens of ms an item at batch 1) is still running when it is killed.
        const auto data = writeVqaV2(root.toStdString(), 200);
        const QStringList common{"eval", "--model", QString::fromStdString(bundledShapesModel()), "--dataset", "vqav2",
                                 "--questions", QString::fromStdString(data.questions), "--annotations",
                                 QString::fromStdString(data.annotations), "--images", QString::fromStdString(data.images),
                                 "--method", "pumer", "--preset", "vqav2"};
        const auto whole = tokenscope::test::runCli(common + QStringList{"--results", root + "/whole.jsonl"});
        QVERIFY2(whole.exitCode == 0, qPrintable(whole.err));

        const QString s0 = root + "/s0.jsonl";
        QProcess killed;
        killed.start(QStringLiteral(TOKENSCOPE_CLI_PATH), common + QStringList{"--results", s0, "--shard", "0/2", "--batch", "1"});
        QVERIFY(killed.waitForStarted());
        QTRY_VERIFY_WITH_TIMEOUT(lines(s0.toStdString()).size() >= 4, 120000);
        killed.kill();
        QVERIFY(killed.waitForFinished());
        const std::size_t written = lines(s0.toStdString()).size();
        QVERIFY2(written < 1 + 100, qPrintable(QStringLiteral("the shard finished before the kill (%1 lines)").arg(written)));

        const auto resumed = tokenscope::test::runCli(common + QStringList{"--results", s0, "--shard", "0/2"});
        QVERIFY2(resumed.exitCode == 0, qPrintable(resumed.err));
        QVERIFY2(resumed.err.contains("resuming"), qPrintable(resumed.err));
        const auto other = tokenscope::test::runCli(common + QStringList{"--results", root + "/s1.jsonl", "--shard", "1/2"});
        QVERIFY2(other.exitCode == 0, qPrintable(other.err));

        const auto mergeWhole = tokenscope::test::runCli({"eval-merge", "--in", root + "/whole.jsonl", "--out", root + "/w", "--format", "json"});
        QVERIFY2(mergeWhole.exitCode == 0, qPrintable(mergeWhole.err));
        const auto mergeShards = tokenscope::test::runCli({"eval-merge", "--in", root + "/s*.jsonl", "--out", root + "/m", "--format", "json"});
        QVERIFY2(mergeShards.exitCode == 0, qPrintable(mergeShards.err));
        const auto a = QJsonDocument::fromJson(mergeWhole.out.toUtf8()).object();
        const auto b = QJsonDocument::fromJson(mergeShards.out.toUtf8()).object();
        QCOMPARE(b.value("records").toInt(), 200);
        QCOMPARE(b.value("shards").toInt(), 2);
        const auto accuracy = [](const QJsonObject& o) { return o.value("metrics").toObject().value("overall").toDouble(-1); };
        QCOMPARE(accuracy(b), accuracy(a));
        QCOMPARE(b.value("metrics").toObject().value("per_answer_type"), a.value("metrics").toObject().value("per_answer_type"));
        // The bundled model is trained (>= 90% on unseen scenes); a mix-up of images or questions
        // would score near chance. Items 3, 10, ... have 7 of 10 annotators agreeing: still 100%.
        QVERIFY2(accuracy(a) > 80.0, qPrintable(QString::number(accuracy(a))));
        // Text: what GT-Vision-Lab/VQA's vqaEval.py prints, with the same overall accuracy.
        const auto text = tokenscope::test::runCli({"eval-merge", "--in", root + "/s*.jsonl", "--out", root + "/t"});
        QVERIFY2(text.exitCode == 0, qPrintable(text.err));
        QVERIFY2(text.out.contains(QStringLiteral("Overall Accuracy is: %1").arg(accuracy(a), 0, 'f', 2)), qPrintable(text.out));
        QVERIFY(QFile::exists(root + "/m.metrics.csv"));

        // The Trade-off chart's row of one answer type: the mean of that type's question scores.
        const auto sweep = tokenscope::test::runCli({"eval-merge", "--in", root + "/whole.jsonl", "--out", root + "/w",
                                                     "--sweep", root + "/sweep.csv", "--group", "number"});
        QVERIFY2(sweep.exitCode == 0, qPrintable(sweep.err));
        double sum = 0;
        int count = 0;
        for (const auto& line : lines((root + "/w.jsonl").toStdString())) {
            const Json record = Json::parse(line);
            if (record.value("group", "") == "number") {
                sum += record.at("score").get<double>();
                ++count;
            }
        }
        const auto rows = readSweepCsv((root + "/sweep.csv").toStdString());
        QCOMPARE(rows.size(), std::size_t(1));
        QCOMPARE(rows[0].method, std::string("pumer"));
        QVERIFY(rows[0].settings.find("[number]") != std::string::npos);
        QCOMPARE(rows[0].examples, int64_t(count));
        QVERIFY(std::abs(rows[0].accuracy - sum / count) < 1e-5);
        QVERIFY(rows[0].examplesPerSecond > 0);
        QVERIFY(QFile::exists(root + "/m.predictions.json"));
    }
};

QTEST_GUILESS_MAIN(TestDatasetEval)
#include "tst_dataset_eval.moc"
