// ViLT (dandelin/ViLT; transformers models/vilt/modeling_vilt.py): one joint encoder over word
// pieces and image patches, answering from labels (VQA), two images (NLVR2) or a match score
// (retrieval). Its encoder layers are fusion layers of the trace; reduction methods act through
// the plan (core/methods) between attention and MLP, or on the patches before the first layer.

#include "families/vilt_runtime.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>

#include "checkpoint/tensor_file.h"
#include "common/error.h"
#include "common/out_of_memory.h"
#include "engine/memory_probe.h"
#include "engine/trace_builder.h"
#include "reduce/tome.h"

namespace tokenscope {

ViltRuntime::ViltRuntime(const ViltConfig& config, RuntimeContext& context) : FamilyRuntime(context), m_vilt(config) {}

FamilyCapabilities ViltRuntime::capabilities() const {
    FamilyCapabilities c;
    c.family = FamilyKind::Vilt;
    c.stages = {Stage::Fusion};
    c.answersFromLabels = true;
    c.imagePairs = summary().config.vilt.head == ViltHead::ImagesAndTextClassification;
    c.rawForward = true;
    return c;
}

void ViltRuntime::readFolder(const std::string& folder) {
    namespace fs = std::filesystem;
    const fs::path root(folder);
    std::error_code ec;
    if (fs::exists(root / "vocab.txt", ec)) m_tokenizer = BertTokenizer::fromVocabFile((root / "vocab.txt").string());
    if (fs::exists(root / "preprocessor_config.json", ec))
        m_preprocess = loadViltPreprocessConfig((root / "preprocessor_config.json").string());
}

void ViltRuntime::useVocab(const std::string& path) { m_tokenizer = BertTokenizer::fromVocabFile(path); }

std::vector<int64_t> ViltRuntime::tokenize(const std::string& text, std::vector<std::string>* pieces) const {
    if (!m_tokenizer) throw Error(summary().source + ": no vocab.txt in the model folder");
    const auto encoding = m_tokenizer->encode(text);
    if (pieces) *pieces = encoding.tokens;
    return encoding.inputIds;
}

MemoryReport ViltRuntime::layerMemory(Timeline& timeline, MemoryProtocol protocol) const {
    return memoryReport(timeline, device(), protocol, weightsBytes(), Stage::Fusion, summary().config.vilt.numHiddenLayers);
}

torch::Tensor ViltRuntime::encodeText(const std::string& question, std::vector<std::string>* pieces,
                                      torch::Tensor* attentionMask) const {
    if (!m_tokenizer) throw Error(summary().source + ": no vocab.txt, so the model cannot read a question");
    if (question.find_first_not_of(" \t\r\n") == std::string::npos) throw Error("the question is empty");
    const auto encoding =
        m_tokenizer->encode(question, static_cast<std::size_t>(summary().config.vilt.maxPositionEmbeddings), false);
    if (pieces) *pieces = encoding.tokens;
    auto ids = torch::tensor(encoding.inputIds, torch::kLong).unsqueeze(0).to(device());
    *attentionMask = torch::tensor(encoding.attentionMask, torch::kLong).unsqueeze(0).to(device());
    return ids;
}

ReductionPlan ViltRuntime::planFor(const MethodSettings& settings) const {
    return makePlan(settings, viltPlanContext(summary().config.vilt, m_preprocess.shortestEdge, m_preprocess.sizeDivisor));
}

PixelBatch ViltRuntime::pixelsFor(const ImageU8& image, const ViltPreprocessConfig& config) {
    const auto sameConfig = [](const ViltPreprocessConfig& a, const ViltPreprocessConfig& b) {
        return a.doResize == b.doResize && a.shortestEdge == b.shortestEdge && a.sizeDivisor == b.sizeDivisor &&
               a.rescaleFactor == b.rescaleFactor && a.mean == b.mean && a.std == b.std;
    };
    if (!m_cachedPixels.pixelValues.defined() || !sameConfig(config, m_cachedConfig) ||
        image.width != m_cachedImage.width || image.height != m_cachedImage.height ||
        image.channels != m_cachedImage.channels || image.pixels != m_cachedImage.pixels) {
        m_cachedPixels = preprocessVilt({image}, config, device());
        m_cachedImage = image;
        m_cachedConfig = config;
    }
    return m_cachedPixels;
}

ViltPreprocessConfig ViltRuntime::preprocessFor(const ReductionPlan& plan) const {
    ViltPreprocessConfig config = m_preprocess;
    if (plan.shortestEdge > 0) config.shortestEdge = plan.shortestEdge;
    return config;
}

std::vector<ScoredAnswer> ViltRuntime::rank(const torch::Tensor& logits, int topK, bool softmax) const {
    const auto& labels = summary().config.vilt.id2label;
    return rankLogits(logits, topK, softmax, [&](int64_t id) {
        return id < static_cast<int64_t>(labels.size()) ? labels[static_cast<std::size_t>(id)] : std::to_string(id);
    });
}

AnswerResult ViltRuntime::answerPair(const ImageU8& left, const ImageU8& right, const std::string& statement, int topK) {
    if (summary().config.vilt.head != ViltHead::ImagesAndTextClassification)
        throw Error("two images need an NLVR2 model (ViltForImagesAndTextClassification)");
    c10::InferenceMode guard;
    AnswerResult result;
    auto start = std::chrono::steady_clock::now();
    ViltInputs inputs;
    inputs.inputIds = encodeText(statement, &result.textTokens, &inputs.attentionMask);
    // Each image at its own size with its own pixel mask (without one, transformers' ViLT would take the
    // padding for image content), stacked after padding.
    auto pixels = preprocessVilt({left, right}, m_preprocess, device());
    inputs.pixelValues = pixels.pixelValues.unsqueeze(0);  // [1, 2, 3, H, W]
    inputs.pixelMask = pixels.pixelMask.unsqueeze(0);      // [1, 2, H, W]
    result.preprocessMs = msSince(start);
    start = std::chrono::steady_clock::now();
    auto outputs = m_vilt->forward(inputs);
    result.forwardMs = msSince(start);
    result.imageTokens = outputs.images.front().imageTokenMask.size(1);
    result.answers = rank(outputs.logits, topK, true);
    return result;
}

RunResult ViltRuntime::run(const RunRequest& request, const std::atomic<bool>* cancel) {
    if (summary().config.vilt.head == ViltHead::ImagesAndTextClassification)
        throw Error("this is an NLVR2 model: it needs two images (answerPair)");
    c10::InferenceMode guard;
    RunResult result;
    result.method = request.method;
    auto start = std::chrono::steady_clock::now();
    ViltInputs inputs;
    inputs.inputIds = encodeText(request.question, &result.textTokens, &inputs.attentionMask);
    const auto plan = planFor(request.method);
    const auto preprocess = preprocessFor(plan);
    const auto pixels = pixelsFor(request.image, preprocess);
    inputs.pixelValues = pixels.pixelValues;
    inputs.pixelMask = pixels.pixelMask;
    result.preprocessMs = msSince(start);

    ViltForwardOptions options;
    options.cancel = cancel;
    options.timeLayers = request.trace;
    options.plan = &plan;
    resetRssPeak();
    Timeline timeline(timelineOptions(device(), request.trace));
    start = std::chrono::steady_clock::now();
    ViltOutputs outputs;
    {
        const TimelineScope scope(&timeline);
        outputs = m_vilt->forward(inputs, options);
    }
    result.memory = layerMemory(timeline, MemoryProtocol::Inference);
    result.timeline = timeline.spans();
    auto logits = outputs.logits.to(torch::kFloat).cpu();
    result.forwardMs = msSince(start);
    result.answers = rank(logits, request.topK, false);
    result.imageTokens = outputs.images.front().imageTokenMask.size(1);
    if (request.trace) {
        const TraceGeometry geometry{summary().config.vilt.patchSize, pixels.resizedHw[0][0], pixels.resizedHw[0][1],
                                     summary().config.vilt.numHiddenLayers};
        result.trace = buildTrace(outputs.images.front(), 0, result.textTokens, geometry);
    }
    return result;
}

BatchPrediction ViltRuntime::predictBatch(const std::vector<ImageU8>& images, const std::vector<std::string>& questions,
                                     const MethodSettings& method, const std::atomic<bool>* cancel) {
    if (summary().config.vilt.head != ViltHead::QuestionAnswering)
        throw Error("batched answers need a VQA model; this is " + summary().config.architecture);
    if (images.size() != questions.size() || images.empty())
        throw Error("predictBatch: " + std::to_string(images.size()) + " images but " + std::to_string(questions.size()) +
                    " questions");
    if (!m_tokenizer) throw Error(summary().source + ": no vocab.txt, so the model cannot read a question");
    c10::InferenceMode guard;
    BatchPrediction result;
    auto start = std::chrono::steady_clock::now();
    // Questions padded to the longest, as the processor pads a batch.
    std::vector<TextEncoding> encodings;
    std::size_t longest = 0;
    for (const auto& q : questions) {
        if (q.find_first_not_of(" \t\r\n") == std::string::npos) throw Error("a question is empty");
        encodings.push_back(m_tokenizer->encode(q, static_cast<std::size_t>(summary().config.vilt.maxPositionEmbeddings), false));
        longest = std::max(longest, encodings.back().inputIds.size());
    }
    const auto batch = static_cast<int64_t>(questions.size());
    auto ids = torch::zeros({batch, static_cast<int64_t>(longest)}, torch::kLong);
    auto mask = torch::zeros({batch, static_cast<int64_t>(longest)}, torch::kLong);
    for (int64_t b = 0; b < batch; ++b) {
        const auto& e = encodings[b];
        const auto n = static_cast<int64_t>(e.inputIds.size());
        ids[b].narrow(0, 0, n).copy_(torch::tensor(e.inputIds, torch::kLong));
        mask[b].narrow(0, 0, n).copy_(torch::tensor(e.attentionMask, torch::kLong));
    }
    ViltInputs inputs;
    inputs.inputIds = ids.to(device());
    inputs.attentionMask = mask.to(device());
    const auto plan = planFor(method);
    const auto pixels = preprocessVilt(images, preprocessFor(plan), device());
    inputs.pixelValues = pixels.pixelValues.to(dtype());
    inputs.pixelMask = pixels.pixelMask;
    result.preprocessMs = msSince(start);
    ViltForwardOptions options;
    options.cancel = cancel;
    options.plan = &plan;
    options.recordProvenance = false;  // answers only: no trace is built
    start = std::chrono::steady_clock::now();
    auto logits = m_vilt->forward(inputs, options).logits.to(torch::kFloat).cpu().contiguous();
    result.forwardMs = msSince(start);
    auto [best, index] = logits.max(1);
    const auto& labels = summary().config.vilt.id2label;
    result.labelCount = logits.size(1);
    result.logits.assign(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());
    for (int64_t b = 0; b < batch; ++b) {
        const auto id = index[b].item<int64_t>();
        result.ids.push_back(id);
        result.labels.push_back(id < static_cast<int64_t>(labels.size()) ? labels[id] : std::to_string(id));
        result.scores.push_back(torch::sigmoid(best[b]).item<float>());
    }
    return result;
}

BenchRow ViltRuntime::benchmark(const BenchRequest& request) {
    if (request.batch < 1) throw Error("batch must be at least 1");
    const auto& config = summary().config.vilt;
    const BenchGradMode gradMode(request.protocol);
    BenchRow row;
    row.method = request.method;
    row.batch = request.batch;

    // Synthetic inputs: random pixels in [-1, 1] at the method's resolution, question ids from the vocab.
    torch::manual_seed(request.seed);
    const auto plan = planFor(request.method);
    int side = request.imageSize;
    if (plan.shortestEdge > 0) side = smallerResolutionEdge(request.method, request.imageSize, m_preprocess.sizeDivisor);
    const int textLength = std::clamp(request.textLength, 2, config.maxPositionEmbeddings);
    const auto make = [&](int batch) {
        ViltInputs x;
        x.inputIds = torch::randint(std::min(config.vocabSize, 1000) / 2, config.vocabSize, {batch, textLength}, torch::kLong);
        x.attentionMask = torch::ones({batch, textLength}, torch::kLong);
        x.pixelValues = (torch::rand({batch, config.numChannels, side, side}) * 2 - 1).to(device());
        x.pixelMask = torch::ones({batch, side, side}, torch::kLong).to(device());
        x.inputIds = x.inputIds.to(device());
        x.attentionMask = x.attentionMask.to(device());
        return x;
    };
    ViltForwardOptions options;
    options.plan = &plan;
    options.recordProvenance = request.trace;  // the bookkeeping only a trace reads
    const TraceGeometry geometry{config.patchSize, side, side, config.numHiddenLayers};
    const std::vector<std::string> pieces(static_cast<std::size_t>(textLength), "?");
    markingOutOfMemory(row, [&] {
        const auto inputs = make(request.batch);
        const auto sync = [&] { synchronizeDevice(device()); };
        if (request.firstOfSeries) {
            // Tokens per layer from one traced single-sample run (not timed).
            {
                ViltForwardOptions traced = options;
                traced.recordProvenance = true;
                auto one = m_vilt->forward(make(1), traced);
                countTokens(row, buildTrace(one.images.front(), 0, pieces, geometry), Stage::Fusion);
            }
            const auto forward = [&] {
                m_vilt->forward(inputs, options);
                sync();
            };
            measureOnce(row, forward, device(), request.protocol, weightsBytes(), Stage::Fusion, config.numHiddenLayers);
        }
        options.timeLayers = request.trace;
        const auto call = [&] {
            auto outputs = m_vilt->forward(inputs, options);
            if (request.trace) {
                for (int64_t b = 0; b < request.batch; ++b) buildTrace(outputs.images.front(), b, pieces, geometry);
            }
            sync();
        };
        timeCalls(row, request.seconds, call);
    });
    return row;
}

void ViltRuntime::forwardFile(const std::string& inputsPath, const std::string& outputsPath, const MethodSettings& method) {
    RawTensors raw(inputsPath, device());
    c10::InferenceMode guard;
    ViltInputs x;
    x.inputIds = raw.take("input_ids", true).to(torch::kLong);
    x.attentionMask = raw.take("attention_mask", false);
    x.tokenTypeIds = raw.take("token_type_ids", false);
    if (x.tokenTypeIds.defined()) x.tokenTypeIds = x.tokenTypeIds.to(torch::kLong);
    x.pixelValues = raw.take("pixel_values", true);
    x.pixelMask = raw.take("pixel_mask", false);
    ViltForwardOptions options;
    options.keepHiddenStates = options.keepAttentions = true;
    const auto plan = planFor(method);
    options.plan = &plan;
    if (plan.shortestEdge > 0)
        throw Error("forward works on given pixel_values; smaller resolution is a preprocessing method (use trace or bench)");
    auto outputs = m_vilt->forward(x, options);
    std::map<std::string, torch::Tensor> out;
    if (outputs.logits.defined()) out["logits"] = outputs.logits;
    for (std::size_t i = 0; i < outputs.images.size(); ++i) {
        const auto& e = outputs.images[i];
        // NLVR2 has one encoding per image: suffix ".image<i>".
        const std::string suffix = outputs.images.size() > 1 ? ".image" + std::to_string(i) : "";
        out["pooler_output" + suffix] = e.poolerOutput;
        out["last_hidden_state" + suffix] = e.lastHiddenState;
        addLayerOutputs(out, "hidden_states" + suffix, e.hiddenStates);
        addLayerOutputs(out, "attentions" + suffix, e.attentions);
        out["full_attention_mask" + suffix] = e.fullAttentionMask;
        out["image_token_mask" + suffix] = e.imageTokenMask;
        out["image_patch_index" + suffix] = e.imagePatchIndex;
        out["patch_grid_hw" + suffix] = torch::tensor({e.gridHeight, e.gridWidth}, torch::kLong);
    }
    writeOutputs(outputsPath, std::move(out));
}

void ViltRuntime::preprocessToFile(const std::vector<ImageU8>& images, const std::string& outputsPath) {
    const auto pixels = preprocessVilt(images, m_preprocess);
    writeTensorFile(outputsPath, {{"pixel_values", pixels.pixelValues}, {"pixel_mask", pixels.pixelMask.to(torch::kUInt8)}});
}

}  // namespace tokenscope
