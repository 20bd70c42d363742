#include "tasks/shapes/shapes_eval.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "config/id2label.h"

namespace tokenscope::shapes {

namespace {

std::string formatKnob(const char* format, double value) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, format, value);
    return buffer;
}

}  // namespace

EvalSet makeEvalSet(uint64_t seed, int count, const ShapesOptions& options) {
    if (count < 1) throw Error("the evaluation needs at least one example, not " + std::to_string(count));
    EvalSet set;
    set.seed = seed;
    for (int i = 0; i < count; ++i) {
        auto sample = makeSample(seed, static_cast<uint64_t>(i), options);
        set.images.push_back(std::move(sample.image));
        set.questions.push_back(std::move(sample.question));
        set.answers.push_back(std::move(sample.answer));
        set.types.push_back(sample.type);
    }
    return set;
}

bool isShapesModel(const ModelConfig& config) {
    if (config.family == ModelFamily::Meter) {
        // METER's answers are its folder's config.json id2label (released checkpoints carry none).
        if (!config.meter.heads.vqa || config.meter.heads.vqaLabels != static_cast<int>(answerVocabulary().size())) return false;
        const std::filesystem::path source(config.sourceName);
        std::error_code ec;
        std::ifstream in(std::filesystem::is_directory(source, ec) ? source / "config.json" : source);
        const auto json = nlohmann::json::parse(in, nullptr, false);
        if (json.is_discarded() || !json.is_object()) return false;
        try {
            return parseId2Label(json, config.sourceName) == answerVocabulary();
        } catch (const std::exception&) {
            return false;
        }
    }
    return config.family == ModelFamily::Vilt && config.vilt.head == ViltHead::QuestionAnswering &&
           config.vilt.id2label == answerVocabulary();
}

ShapesOptions sceneOptionsFor(const ModelConfig& config) {
    ShapesOptions options;
    const int size = config.family == ModelFamily::Meter ? config.meter.vision.imageSize
                     : config.family == ModelFamily::Vilt ? config.vilt.imageSize
                                                          : 0;
    if (size >= 32 && size <= 1024) options.imageSize = size;
    return options;
}

std::vector<std::string> questionTypeNames() {
    std::vector<std::string> names;
    for (int t = 0; t < kQuestionTypes; ++t) names.emplace_back(questionTypeName(static_cast<QuestionType>(t)));
    return names;
}

namespace {

// One timed pass of the set through predictBatch in batches, after an untimed warm-up batch when
// asked (first-call allocations and caches stay out of the timing). Fills the timings, and the
// answers when `keepAnswers`. progress gets (examples done, examples of the pass).
void timedPass(Engine& engine, const EvalSet& set, const MethodSettings& method, int batch, const std::atomic<bool>* cancel,
               bool warmUp, bool keepAnswers, const EvalProgress& progress, MethodEval& out) {
    const int total = set.size();
    const auto predict = [&](int begin) {
        if (cancel && cancel->load()) throw Cancelled();
        const int end = std::min(total, begin + batch);
        const std::vector<ImageU8> images(set.images.begin() + begin, set.images.begin() + end);
        const std::vector<std::string> questions(set.questions.begin() + begin, set.questions.begin() + end);
        return engine.predictBatch(images, questions, method, cancel);
    };
    if (warmUp) predict(0);
    if (keepAnswers) out.predicted.reserve(set.questions.size());
    out.preprocessMs = out.forwardMs = 0;
    for (int begin = 0; begin < total; begin += batch) {
        const auto prediction = predict(begin);
        out.preprocessMs += prediction.preprocessMs;
        out.forwardMs += prediction.forwardMs;
        if (keepAnswers) out.predicted.insert(out.predicted.end(), prediction.labels.begin(), prediction.labels.end());
        if (progress) progress(std::min(total, begin + batch), total);
    }
    const double seconds = (out.preprocessMs + out.forwardMs) / 1000.0;
    out.examplesPerSecond = seconds > 0 ? total / seconds : 0.0;
}

}  // namespace

MethodEval evaluateMethod(Engine& engine, const EvalSet& set, const MethodSettings& method, const EvalRunOptions& options) {
    return evaluateInTurns(engine, set, {method}, options).front();
}

std::vector<MethodEval> evaluateInTurns(Engine& engine, const EvalSet& set, const std::vector<MethodSettings>& methods,
                                        const EvalRunOptions& options, const TurnCallbacks& callbacks) {
    const int rounds = options.passes;
    const int total = set.size();
    if (total < 1) throw Error("the evaluation set is empty");
    if (options.batch < 1) throw Error("the batch size must be at least 1, not " + std::to_string(options.batch));
    if (rounds < 1) throw Error("the evaluation needs at least one timed pass");
    const int configurations = static_cast<int>(methods.size());
    std::vector<MethodEval> best(methods.size());
    for (int round = 0; round < rounds; ++round) {
        for (int i = 0; i < configurations; ++i) {
            const auto index = static_cast<std::size_t>(i);
            // Without progressFor, options.progress counts every pass of every configuration.
            EvalProgress progress;
            if (callbacks.progressFor) {
                progress = callbacks.progressFor(index, round);
            } else if (options.progress) {
                const int before = (round * configurations + i) * total;
                progress = [&options, before, all = rounds * configurations * total](int done, int) { options.progress(before + done, all); };
            }
            // A configuration timed right after itself needs no second warm-up.
            const bool warmUp = round == 0 || configurations > 1;
            auto& kept = best[index];
            if (round == 0) {
                kept.method = methods[index];
                kept.batch = options.batch;
                timedPass(engine, set, methods[index], options.batch, options.cancel, warmUp, true, progress, kept);
            } else {
                MethodEval pass;
                timedPass(engine, set, methods[index], options.batch, options.cancel, warmUp, false, progress, pass);
                if (pass.preprocessMs + pass.forwardMs < kept.preprocessMs + kept.forwardMs) {
                    kept.preprocessMs = pass.preprocessMs;
                    kept.forwardMs = pass.forwardMs;
                    kept.examplesPerSecond = pass.examplesPerSecond;
                }
            }
            if (round + 1 < rounds) continue;
            kept.imageTokens = probeTokens(engine, set, methods[index], options.cancel).meanImageTokens;
            if (callbacks.onDone) callbacks.onDone(index, best);
        }
    }
    return best;
}

TokenProbe probeTokens(Engine& engine, const EvalSet& set, const MethodSettings& method, const std::atomic<bool>* cancel) {
    if (set.size() < 1) throw Error("the evaluation set is empty");
    if (cancel && cancel->load()) throw Cancelled();
    const auto traced = engine.run({set.images[0], set.questions[0], method, 1, true}, cancel);
    TokenProbe probe;
    probe.firstLayerImageTokens = static_cast<int>(traced.imageTokens);
    probe.resizedHeight = traced.trace.image.resizedHeight;
    probe.resizedWidth = traced.trace.image.resizedWidth;
    double sum = 0;
    for (const auto& layer : traced.trace.layers) sum += layer.image.tokensIn;
    probe.meanImageTokens = traced.trace.layers.empty() ? static_cast<double>(traced.imageTokens)
                                                         : sum / static_cast<double>(traced.trace.layers.size());
    if (!traced.trace.layers.empty()) probe.firstLayerImageTokens = traced.trace.layers.front().image.tokensIn;
    return probe;
}

EvalSummary summarize(const EvalSet& set, const MethodEval& method, const MethodEval* unreduced) {
    if (method.predicted.size() != set.answers.size())
        throw Error("the evaluation has " + std::to_string(method.predicted.size()) + " answers for " +
                    std::to_string(set.answers.size()) + " examples");
    if (unreduced && unreduced->predicted.size() != set.answers.size())
        throw Error("the unreduced evaluation has " + std::to_string(unreduced->predicted.size()) + " answers for " +
                    std::to_string(set.answers.size()) + " examples");
    std::vector<EvalRecord> records;
    records.reserve(set.answers.size());
    for (std::size_t i = 0; i < set.answers.size(); ++i) {
        EvalRecord record;
        record.type = static_cast<int>(set.types[i]);
        record.answer = set.answers[i];
        record.predicted = method.predicted[i];
        if (unreduced) record.unreduced = unreduced->predicted[i];
        records.push_back(std::move(record));
    }
    return summarizeEval(records, questionTypeNames());
}

std::vector<SweepPoint> sweepGrid(int layerCount, int imageTokens, bool hasDynamicVit) {
    if (layerCount < 1) throw Error("the sweep needs a model with layers");
    std::vector<SweepPoint> grid;
    grid.push_back({MethodSettings{}, ""});

    // PuMer: the paper's layers 2, 5, 8 of 12, at the same depth fractions of another depth.
    MethodSettings pumer = presetSettings("pumer", "vqav2");
    pumer.set("layers", presetLayersAtDepth(pumer.intList("layers"), layerCount));
    // (prune, image merge, text merge), lightest first; the second is the VQAv2 preset.
    const double ratios[][3] = {{0.05, 0.15, 0.1}, {0.1, 0.3, 0.2}, {0.2, 0.3, 0.2},
                                {0.3, 0.4, 0.3},   {0.4, 0.5, 0.3}, {0.5, 0.6, 0.4}};
    for (const auto& r : ratios) {
        MethodSettings m = pumer;
        m.set("prune", r[0]).set("merge", r[1]).set("merge-text", r[2]);
        char knob[64];
        std::snprintf(knob, sizeof knob, "p%g r%g t%g", r[0], r[1], r[2]);
        grid.push_back({m, knob});
    }

    // ToMe: constant r per layer up to the r that leaves about 10% of the image tokens at the end.
    const int maxR = std::max(1, static_cast<int>(std::floor(0.9 * std::max(0, imageTokens - 1) / layerCount)));
    std::vector<int> rs;
    for (int k = 1; k <= 6; ++k) {
        const int r = std::max(1, static_cast<int>(std::lround(maxR * k / 6.0)));
        if (std::find(rs.begin(), rs.end(), r) == rs.end()) rs.push_back(r);
    }
    for (int r : rs) {
        MethodSettings m("tome");
        m.set("r", int64_t{r});
        grid.push_back({m, "r " + std::to_string(r)});
    }

    // DynamicViT: the predictors' keep ratio per stage (trained at one; others are extrapolations).
    if (hasDynamicVit) {
        for (int keep = 9; keep >= 5; --keep) {
            MethodSettings m("dynamicvit");
            m.set("keep-ratio", keep / 10.0);
            grid.push_back({m, formatKnob("rho %.1f", keep / 10.0)});
        }
    }

    // Token budgets before the first layer.
    for (const char* method : {"random", "uniform", "smres"}) {
        for (int keep = 9; keep >= 2; --keep) {
            MethodSettings m(method);
            m.set("keep", keep / 10.0);
            grid.push_back({m, formatKnob("keep %.1f", keep / 10.0)});
        }
    }
    return grid;
}

SweepRow sweepRow(const SweepPoint& point, const EvalSet& set, const MethodEval& method, const MethodEval& none) {
    const auto summary = summarize(set, method, &none);
    SweepRow row;
    row.method = point.method.method();
    row.settings = describe(point.method);
    row.knob = point.knob;
    row.accuracy = summary.accuracy;
    row.examplesPerSecond = method.examplesPerSecond;
    row.speedup = none.examplesPerSecond > 0 ? method.examplesPerSecond / none.examplesPerSecond : 0.0;
    row.agreement = summary.agreement.value_or(1.0);
    row.imageTokens = method.imageTokens;
    row.examples = summary.examples;
    row.batch = method.batch;
    row.seed = set.seed;
    return row;
}

}  // namespace tokenscope::shapes

namespace tokenscope::shapes {

std::vector<SweepRow> runSweep(Engine& engine, const EvalSet& set, const EvalRunOptions& options,
                               const std::vector<std::string>& methods, const SweepCallbacks& callbacks) {
    const auto* cancel = options.cancel;
    if (options.passes < 1) throw Error("the evaluation needs at least one timed pass");

    // The configurations: the grid (the unreduced model first), less the methods not asked for and
    // the smaller resolutions that land on a size already in.
    const auto unreducedProbe = probeTokens(engine, set, MethodSettings{}, cancel);
    const auto& config = engine.summary().config.vilt;
    std::vector<SweepPoint> points;
    std::vector<int> edgesSeen{std::min(unreducedProbe.resizedHeight, unreducedProbe.resizedWidth)};
    for (SweepPoint point : sweepGrid(config.numHiddenLayers, unreducedProbe.firstLayerImageTokens, config.dynamicVit.has_value())) {
        const auto& method = point.method.method();
        if (method != "none" && !methods.empty() && std::find(methods.begin(), methods.end(), method) == methods.end())
            continue;
        if (method == "smres") {
            const auto probe = probeTokens(engine, set, point.method, cancel);
            const int edge = std::min(probe.resizedHeight, probe.resizedWidth);
            if (std::find(edgesSeen.begin(), edgesSeen.end(), edge) != edgesSeen.end()) continue;
            edgesSeen.push_back(edge);
            point.method.set("resolution", int64_t{edge});
            point.knob = std::to_string(edge) + " px";
        }
        points.push_back(point);
    }

    std::vector<MethodSettings> methodsInOrder;
    for (const auto& point : points) methodsInOrder.push_back(point.method);
    const int total = static_cast<int>(points.size());
    std::vector<SweepRow> rows;
    TurnCallbacks turns;
    if (callbacks.progressFor)
        turns.progressFor = [&](std::size_t i, int round) {
            const auto& method = points[i].method;
            std::string label = method.is("none") ? "unreduced" : describe(method);
            if (options.passes > 1) label += " (pass " + std::to_string(round + 1) + "/" + std::to_string(options.passes) + ")";
            return callbacks.progressFor(label);
        };
    turns.onDone = [&](std::size_t i, const std::vector<MethodEval>& done) {
        rows.push_back(sweepRow(points[i], set, done[i], done.front()));
        if (callbacks.onRow) callbacks.onRow(rows.back(), static_cast<int>(i), total);
    };
    evaluateInTurns(engine, set, methodsInOrder, options, turns);
    return rows;
}

}  // namespace tokenscope::shapes
