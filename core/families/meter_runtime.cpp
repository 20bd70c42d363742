// METER (Dou et al., CVPR 2022; zdou0830/METER meter/modules/meter_module.py, and PuMer's port
// csarron/PuMer src/pumer/model/meter/): the family's runtime. The model is core/models/meter.h;
// this file turns requests into its inputs (RoBERTa ids padded to max_text_len as METER's data
// module pads them, the CLIP transform), the plan into a MeterReduction, and its passes into the
// trace.

#include "families/meter_runtime.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/out_of_memory.h"
#include "config/id2label.h"
#include "engine/memory_probe.h"
#include "engine/trace_builder.h"
#include "io/json_file.h"
#include "models/meter_plan.h"

namespace tokenscope {

namespace fs = std::filesystem;

namespace {

// The folder's Lightning checkpoints.
std::vector<fs::path> checkpointFiles(const fs::path& root) {
    std::vector<fs::path> found;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root, ec))
        if (entry.is_regular_file(ec) && entry.path().extension() == ".ckpt") found.push_back(entry.path());
    return found;
}

// config.json's model_type, or empty when there is none or it does not parse.
std::string modelTypeOf(const fs::path& configPath) {
    std::error_code ec;
    if (!fs::exists(configPath, ec)) return {};
    try {
        const auto config = nlohmann::json::parse(readTextFile(configPath.string(), "the model config"));
        if (config.is_object() && config.contains("model_type") && config.at("model_type").is_string())
            return config.at("model_type").get<std::string>();
    } catch (const std::exception&) {
    }
    return {};
}

// Temporarily runs the model at another image size (smaller resolution), restoring the model's own.
class ImageSizeScope {
public:
    ImageSizeScope(MeterImpl& meter, int size) : m_meter(meter), m_size(meter.config().vision.imageSize) {
        if (size > 0 && size != m_size) {
            m_meter.setImageSize(size);
            m_changed = true;
        }
    }
    ~ImageSizeScope() {
        if (m_changed) m_meter.setImageSize(m_size);
    }
    ImageSizeScope(const ImageSizeScope&) = delete;
    ImageSizeScope& operator=(const ImageSizeScope&) = delete;

private:
    MeterImpl& m_meter;
    int m_size;
    bool m_changed = false;
};

// A word piece as the text strip shows it: its text (byte-level BPE marks spaces with "Ġ").
std::string displayPiece(const BpeTokenizer& tokenizer, int64_t id) {
    std::string text = tokenizer.decode({id}, BpeDecodeOptions{false, false});
    const auto first = text.find_first_not_of(' ');
    return first == std::string::npos ? std::string("\u2423") : text.substr(first);  // a piece of spaces: ␣
}

// A fusion layer that does not reduce gets, as its image score, how much the question attends to
// each image token there: the text side's cross-attention, averaged over heads and the text tokens
// that hold words (rows the forward computes anyway), spread to the originals each token holds.
// Layers where a reducer ran keep the reducer's own score.
void addCrossAttentionScores(Trace& trace, const MeterPass& pass) {
    std::size_t j = 0;
    for (TraceLayer& layer : trace.layers) {
        if (layer.stage != Stage::Fusion) continue;
        const std::size_t fusionLayer = j++;
        if (!layer.image.score.empty() || fusionLayer >= pass.fusion.size() || !pass.fusion[fusionLayer].textToImage.defined())
            continue;
        const auto attention = pass.fusion[fusionLayer].textToImage[0].to(torch::kFloat).mean(0).cpu();  // [T, I]
        std::vector<int64_t> rows;
        for (int holder : layer.text.owner)
            if (holder >= 0 && std::find(rows.begin(), rows.end(), holder) == rows.end()) rows.push_back(holder);
        if (rows.empty() || attention.size(1) != layer.image.tokensIn) continue;
        const auto score = attention.index_select(0, torch::tensor(rows, torch::kLong)).mean(0).contiguous();  // [I]
        const float* values = score.data_ptr<float>();
        layer.image.score.assign(layer.image.owner.size(), std::numeric_limits<float>::quiet_NaN());
        for (std::size_t o = 0; o < layer.image.owner.size(); ++o) {
            const int holder = layer.image.owner[o];
            if (holder >= 0 && holder < score.size(0)) layer.image.score[o] = values[holder];
        }
    }
}

}  // namespace

bool isMeterFolder(const std::string& folder) {
    const fs::path root(folder);
    const std::string type = modelTypeOf(root / "config.json");
    if (type == "meter") return true;
    std::error_code ec;
    // A released METER folder: the checkpoint, the tokenizer files and at most the tokenizer's own
    // config.json (model_type roberta).
    return (type.empty() || type == "roberta") && !checkpointFiles(root).empty() &&
           !fs::exists(root / "model.safetensors", ec);
}

ModelConfig meterModelConfig(const std::string& folder, const Checkpoint& checkpoint) {
    const fs::path root(folder);
    ModelConfig config;
    config.family = ModelFamily::Meter;
    config.sourceName = folder;
    nlohmann::json hyperParameters = checkpoint.hyperParameterConfig();
    std::string where = checkpoint.files().empty() ? folder : fs::path(checkpoint.files().front()).filename().string();
    if (modelTypeOf(root / "config.json") == "meter") {
        // A converted (or trained) folder: config.json holds METER's keys.
        hyperParameters = nlohmann::json::parse(readTextFile((root / "config.json").string(), "the model config"));
        where = (root / "config.json").string();
    }
    config.meter = meterConfigFromCheckpoint(hyperParameters, checkpointShapes(checkpoint), where);
    const MeterHeads& heads = config.meter.heads;
    config.architecture = heads.vqa ? "MeterForQuestionAnswering"
                          : heads.nlvr2 ? "MeterForVisualReasoning"
                          : heads.snli ? "MeterForVisualEntailment"
                                        : "MeterForImageTextRetrieval";
    return config;
}

MeterRuntime::MeterRuntime(const MeterConfig& config, RuntimeContext& context) : FamilyRuntime(context), m_meter(config) {
    // PuMer's code (sequential order) squashes the image to a square; METER's keeps the aspect ratio
    // and crops the centre.
    setOption("fusion-order", meterStreamOrderName(config.streamOrder));
    // Released METER checkpoints carry no answer list: a VQA head of VQAv2's size answers in its
    // words (a folder's config.json id2label replaces them).
    if (config.heads.vqa && config.heads.vqaLabels == static_cast<int>(kVqav2AnswerCount)) m_labels = vqav2Answers();
}

namespace {
constexpr MeterTask kTasks[] = {MeterTask::Vqa, MeterTask::Nlvr2, MeterTask::Snli, MeterTask::Itm, MeterTask::Retrieval};
}  // namespace

std::vector<ModelOption> MeterRuntime::options() const {
    ModelOption order;
    order.key = "fusion-order";
    order.label = "Fusion order";
    order.choices = {"sequential", "parallel"};
    order.value = meterStreamOrderName(m_order);
    order.help = "sequential: the image layer reads the text layer's output (csarron/PuMer's code, which also squashes "
                 "the image to a square); parallel: both read the previous layer (zdou0830/METER, centre crop)";
    ModelOption head;
    head.key = "head";
    head.label = "Head";
    for (const MeterTask task : kTasks)
        if (m_meter->hasHead(task)) head.choices.emplace_back(meterTaskName(task));
    head.value = meterTaskName(m_task ? *m_task : m_meter->defaultTask());
    head.help = "which of the checkpoint's heads answers (nlvr2 needs two images)";
    return {order, head};
}

void MeterRuntime::setOption(const std::string& key, const std::string& value) {
    checkOption(options(), key, value, summary().config.architecture);
    if (key == "fusion-order") {
        m_order = value == "sequential" ? MeterStreamOrder::Sequential : MeterStreamOrder::Parallel;
        // PuMer's code (sequential order) squashes the image to a square; METER's keeps the aspect
        // ratio and crops the centre.
        m_resize = m_order == MeterStreamOrder::Sequential ? MeterResizeStyle::Squash : MeterResizeStyle::ShorterSideThenCrop;
        return;
    }
    for (const MeterTask task : kTasks)
        if (value == meterTaskName(task)) m_task = task;
}

MeterTask MeterRuntime::singleImageTask() const {
    if (m_task) {
        if (*m_task == MeterTask::Nlvr2) throw Error("the nlvr2 head needs two images (give --image twice, or choose another head)");
        return *m_task;
    }
    const MeterHeads& heads = m_meter->config().heads;
    return heads.vqa ? MeterTask::Vqa : heads.snli ? MeterTask::Snli : heads.itm ? MeterTask::Itm : m_meter->defaultTask();
}

FamilyCapabilities MeterRuntime::capabilities() const {
    FamilyCapabilities c;
    c.family = FamilyKind::Meter;
    c.stages = {Stage::Text, Stage::Vision, Stage::Fusion};
    const MeterHeads& heads = m_meter->config().heads;
    c.answersFromLabels = heads.vqa || heads.snli || heads.itm || heads.retrieval;
    c.imagePairs = heads.nlvr2;
    c.rawForward = true;
    return c;
}

StateDictReport MeterRuntime::loadWeights(const Checkpoint& checkpoint, const StateDictOptions& options) {
    return m_meter->loadWeights(checkpoint, options);
}

void MeterRuntime::readFolder(const std::string& folder) {
    const fs::path root(folder);
    std::error_code ec;
    const bool hasVocab = fs::exists(root / "vocab.json", ec), hasMerges = fs::exists(root / "merges.txt", ec);
    if (hasVocab != hasMerges)
        throw Error(folder + ": the RoBERTa tokenizer needs both vocab.json and merges.txt (" +
                    (hasVocab ? "merges.txt" : "vocab.json") + " is missing)");
    if (hasVocab) m_tokenizer = BpeTokenizer::fromDirectory(folder);
    if (modelTypeOf(root / "config.json") == "meter") {
        const auto path = (root / "config.json").string();
        auto labels = parseId2Label(nlohmann::json::parse(readTextFile(path, "the model config")), path);
        if (!labels.empty()) m_labels = std::move(labels);
    }
    const MeterHeads& heads = m_meter->config().heads;
    if (heads.vqa && !m_labels.empty() && static_cast<int>(m_labels.size()) != heads.vqaLabels)
        throw Error((root / "config.json").string() + ": id2label has " + std::to_string(m_labels.size()) +
                    " answers but the VQA head has " + std::to_string(heads.vqaLabels));
}

std::vector<int64_t> MeterRuntime::tokenize(const std::string& text, std::vector<std::string>* pieces) const {
    if (!m_tokenizer) throw Error(summary().source + ": no vocab.json / merges.txt in the model folder");
    const auto ids = m_tokenizer->encode(text);
    if (pieces) {
        pieces->clear();
        for (const auto id : ids) pieces->push_back(displayPiece(*m_tokenizer, id));
    }
    return ids;
}

MeterRuntime::Text MeterRuntime::encodeText(const std::string& question) const {
    if (!m_tokenizer) throw Error(summary().source + ": no vocab.json / merges.txt, so the model cannot read a question");
    if (question.find_first_not_of(" \t\r\n") == std::string::npos) throw Error("the question is empty");
    const auto length = static_cast<std::size_t>(std::max<int>(static_cast<int>(BpeTokenizer::kMinMaxLength),
                                                               m_meter->config().maxTextLen));
    const auto encoding = m_tokenizer->encodePadded(question, length);
    Text text;
    text.ids = torch::tensor(encoding.inputIds, torch::kLong).unsqueeze(0).to(device());
    text.mask = torch::tensor(encoding.attentionMask, torch::kLong).unsqueeze(0).to(device());
    for (std::size_t i = 0; i < encoding.inputIds.size(); ++i)
        if (encoding.attentionMask[i] != 0) text.pieces.push_back(displayPiece(*m_tokenizer, encoding.inputIds[i]));
    return text;
}

ReductionPlan MeterRuntime::planFor(const MethodSettings& settings) const {
    return makePlan(settings, meterPlanContext(m_meter->config()));
}

int MeterRuntime::imageSizeFor(const ReductionPlan& plan) const {
    const MeterConfig& config = m_meter->config();
    if (plan.shortestEdge <= 0) return config.vision.imageSize;
    const int patch = config.vision.patchSize;
    return std::max(patch, plan.shortestEdge / patch * patch);
}

MeterPreprocessConfig MeterRuntime::preprocessFor(int imageSize) const {
    MeterPreprocessConfig config;
    config.size = imageSize;
    config.style = m_resize;
    return config;
}

MeterForwardOptions MeterRuntime::optionsFor(const ReductionPlan& plan, const std::atomic<bool>* cancel) const {
    MeterForwardOptions options;
    options.cancel = cancel;
    options.streamOrder = m_order;
    options.reduction = meterReductionFor(plan, m_meter->config());
    return options;
}

std::vector<ScoredAnswer> MeterRuntime::rank(const torch::Tensor& logits, int topK, MeterTask task) const {
    // SNLI-VE's label ids as zdou0830/METER's write_snli.py assigns them; ITM's row 1 is "match".
    static const std::vector<std::string> snli{"contradiction", "neutral", "entailment"}, itm{"no match", "match"},
        nlvr2{"False", "True"};
    const std::vector<std::string>& names = task == MeterTask::Snli    ? snli
                                            : task == MeterTask::Itm   ? itm
                                            : task == MeterTask::Nlvr2 ? nlvr2
                                                                       : m_labels;
    if (task == MeterTask::Retrieval)
        return rankLogits(logits, 1, false, [](int64_t) { return std::string("match score"); });
    return rankLogits(logits, topK, task != MeterTask::Vqa, [&](int64_t id) {
        return id < static_cast<int64_t>(names.size()) ? names[static_cast<std::size_t>(id)] : "answer " + std::to_string(id);
    });
}

Trace MeterRuntime::traceOf(const MeterOutputs& outputs, const Text& text, int imageSize) const {
    const MeterConfig& config = m_meter->config();
    const MeterPass& pass = outputs.passes.front();
    RecordedLayers input;
    Trace& trace = input.skeleton;
    const int grid = imageSize / config.vision.patchSize;
    trace.image.patchSize = config.vision.patchSize;
    trace.image.resizedHeight = trace.image.resizedWidth = imageSize;
    trace.image.gridHeight = trace.image.gridWidth = grid;
    trace.image.patchCell.push_back({-1, -1});
    input.imagePositions.push_back(0);
    for (int r = 0; r < grid; ++r)
        for (int c = 0; c < grid; ++c) {
            trace.image.patchCell.push_back({r, c});
            input.imagePositions.push_back(static_cast<int64_t>(trace.image.patchCell.size()) - 1);
        }
    trace.text.labels = text.pieces;
    input.imageCount = 1 + grid * grid;
    input.textCount = static_cast<int>(text.ids.size(1));
    input.stage = Stage::Fusion;
    input.numLayers = config.numTopLayer;
    for (const auto& reduction : pass.reductions) input.records[reduction.fusionLayer] = &reduction.record;
    input.layerMs = pass.fusionLayerMs;
    Trace fusion = traceFromRecords(input, 0);
    addCrossAttentionScores(fusion, pass);

    // The encoders' layers come first: every token of both streams, as they enter the fusion.
    std::vector<TraceLayer> layers;
    const auto plain = [&](Stage stage, int index) {
        TraceLayer layer;
        layer.stage = stage;
        layer.index = index;
        for (StreamStep* step : {&layer.image, &layer.text}) {
            const int count = step == &layer.image ? input.imageCount : input.textCount;
            step->tokensIn = step->tokens = count;
            step->size.assign(static_cast<std::size_t>(count), 1.0f);
        }
        for (std::size_t o = 0; o < input.imagePositions.size(); ++o) layer.image.owner.push_back(static_cast<int>(o));
        for (std::size_t o = 0; o < trace.text.labels.size(); ++o) layer.text.owner.push_back(static_cast<int>(o));
        layers.push_back(std::move(layer));
    };
    for (int i = 0; i < config.text.numHiddenLayers; ++i) plain(Stage::Text, i);
    for (int i = 0; i < config.vision.blocks; ++i) plain(Stage::Vision, i);
    // A drop at the fusion input shows in fusion layer 0 (its tokensIn already the kept ones).
    layers.insert(layers.end(), fusion.layers.begin(), fusion.layers.end());
    fusion.layers = std::move(layers);
    finishDroppedAt(fusion);
    return fusion;
}

RunResult MeterRuntime::run(const RunRequest& request, const std::atomic<bool>* cancel) {
    const MeterHeads& heads = m_meter->config().heads;
    if (!heads.vqa && !heads.snli && !heads.itm && !heads.retrieval)
        throw Error("this is an NLVR2 model: it needs two images (answerPair)");
    const MeterTask task = singleImageTask();
    c10::InferenceMode guard;
    RunResult result;
    result.method = request.method;
    auto start = std::chrono::steady_clock::now();
    const Text text = encodeText(request.question);
    const auto plan = planFor(request.method);
    const int imageSize = imageSizeFor(plan);
    MeterInputs inputs;
    inputs.inputIds = text.ids;
    inputs.attentionMask = text.mask;
    inputs.pixelValues = preprocessMeter({request.image}, preprocessFor(imageSize), device());
    result.textTokens = text.pieces;
    result.preprocessMs = msSince(start);

    MeterForwardOptions options = optionsFor(plan, cancel);
    options.timeLayers = request.trace;
    options.keepAttentions = request.trace;  // the text->image heatmap of the layers that do not reduce
    options.task = task;
    ImageSizeScope size(*m_meter, imageSize);
    resetRssPeak();
    Timeline timeline(timelineOptions(device(), request.trace));
    start = std::chrono::steady_clock::now();
    MeterOutputs outputs;
    {
        const TimelineScope scope(&timeline);
        outputs = m_meter->forward(inputs, options);
    }
    result.memory = memoryReport(timeline, device(), MemoryProtocol::Inference, weightsBytes(), Stage::Fusion,
                                 m_meter->config().numTopLayer);
    result.timeline = timeline.spans();
    auto logits = outputs.logits.to(torch::kFloat).cpu();
    result.forwardMs = msSince(start);
    result.answers = rank(logits, request.topK, task);
    result.imageTokens = outputs.passes.front().imageFusionInput.defined()
                             ? outputs.passes.front().imageFusionInput.size(1)
                             : 1 + (imageSize / m_meter->config().vision.patchSize) * (imageSize / m_meter->config().vision.patchSize);
    if (request.trace) result.trace = traceOf(outputs, text, imageSize);
    return result;
}

BatchPrediction MeterRuntime::predictBatch(const std::vector<ImageU8>& images, const std::vector<std::string>& questions,
                                           const MethodSettings& method, const std::atomic<bool>* cancel) {
    if (images.size() != questions.size() || images.empty())
        throw Error("predictBatch: " + std::to_string(images.size()) + " images but " + std::to_string(questions.size()) +
                    " questions");
    const MeterTask task = singleImageTask();
    c10::InferenceMode guard;
    BatchPrediction result;
    auto start = std::chrono::steady_clock::now();
    std::vector<torch::Tensor> ids, masks;
    for (const auto& question : questions) {
        const Text text = encodeText(question);
        ids.push_back(text.ids);
        masks.push_back(text.mask);
    }
    const auto plan = planFor(method);
    const int imageSize = imageSizeFor(plan);
    MeterInputs inputs;
    inputs.inputIds = torch::cat(ids);
    inputs.attentionMask = torch::cat(masks);
    inputs.pixelValues = preprocessMeter(images, preprocessFor(imageSize), device());
    result.preprocessMs = msSince(start);
    MeterForwardOptions options = optionsFor(plan, cancel);
    options.task = task;
    options.recordProvenance = false;  // answers only: no trace is built
    ImageSizeScope size(*m_meter, imageSize);
    start = std::chrono::steady_clock::now();
    const auto logits = m_meter->forward(inputs, options).logits.to(torch::kFloat).cpu().contiguous();
    result.forwardMs = msSince(start);
    result.labelCount = logits.size(1);
    result.logits.assign(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());
    for (int64_t b = 0; b < logits.size(0); ++b) {
        const auto best = rank(logits[b].unsqueeze(0), 1, task).front();
        result.ids.push_back(best.id);
        result.labels.push_back(best.label);
        result.scores.push_back(best.score);
    }
    return result;
}

AnswerResult MeterRuntime::answerPair(const ImageU8& left, const ImageU8& right, const std::string& statement, int topK) {
    if (!m_meter->config().heads.nlvr2) throw Error("two images need a METER NLVR2 model (nlvr2_classifier)");
    c10::InferenceMode guard;
    AnswerResult result;
    auto start = std::chrono::steady_clock::now();
    const Text text = encodeText(statement);
    const auto preprocess = preprocessFor(m_meter->config().vision.imageSize);
    MeterInputs inputs;
    inputs.inputIds = text.ids;
    inputs.attentionMask = text.mask;
    inputs.pixelValues = preprocessMeter({left}, preprocess, device());
    inputs.pixelValues2 = preprocessMeter({right}, preprocess, device());
    result.textTokens = text.pieces;
    result.preprocessMs = msSince(start);
    start = std::chrono::steady_clock::now();
    MeterForwardOptions options;
    options.task = MeterTask::Nlvr2;
    options.streamOrder = m_order;
    const auto outputs = m_meter->forward(inputs, options);
    result.forwardMs = msSince(start);
    result.imageTokens = m_meter->config().imageTokens();
    result.answers = rank(outputs.logits.to(torch::kFloat).cpu(), std::min(topK, 2), MeterTask::Nlvr2);
    return result;
}

BenchRow MeterRuntime::benchmark(const BenchRequest& request) {
    const MeterConfig& config = m_meter->config();
    const BenchGradMode gradMode(request.protocol);
    BenchRow row;
    row.method = request.method;
    row.batch = request.batch;
    torch::manual_seed(request.seed);
    const auto plan = planFor(request.method);
    // The model's own resolution (a bench image size that differs is the model run at that size).
    const int side = plan.shortestEdge > 0 ? imageSizeFor(plan)
                                           : std::max(config.vision.patchSize,
                                                      request.imageSize / config.vision.patchSize * config.vision.patchSize);
    const int textLength = std::clamp(request.textLength, 3, config.text.maxPositionEmbeddings - 2);
    const auto make = [&](int batch) {
        MeterInputs x;
        const int vocab = config.text.vocabSize;
        x.inputIds = torch::randint(std::min(vocab, 1000) / 2, vocab, {batch, textLength}, torch::kLong).to(device());
        x.attentionMask = torch::ones({batch, textLength}, torch::kLong).to(device());
        x.pixelValues = (torch::rand({batch, 3, side, side}) * 2 - 1).to(device());
        if (config.heads.nlvr2 && !config.heads.vqa && !config.heads.snli)
            x.pixelValues2 = (torch::rand({batch, 3, side, side}) * 2 - 1).to(device());
        return x;
    };
    MeterForwardOptions options = optionsFor(plan, nullptr);
    options.recordProvenance = request.trace;
    ImageSizeScope size(*m_meter, side);
    markingOutOfMemory(row, [&] {
        const auto inputs = make(request.batch);
        const auto forward = [&] {
            m_meter->forward(inputs, options);
            synchronizeDevice(device());
        };
        if (request.firstOfSeries) {
            // Tokens per fusion layer from one traced single-sample run (not timed).
            {
                MeterForwardOptions traced = options;
                traced.recordProvenance = true;
                const auto one = m_meter->forward(make(1), traced);
                Text text;
                text.ids = torch::zeros({1, textLength}, torch::kLong);
                text.pieces.assign(static_cast<std::size_t>(textLength), "?");
                countTokens(row, traceOf(one, text, side), Stage::Fusion);
            }
            measureOnce(row, forward, device(), request.protocol, weightsBytes(), Stage::Fusion, config.numTopLayer);
        }
        options.timeLayers = request.trace;
        timeCalls(row, request.seconds, forward);
    });
    return row;
}

void MeterRuntime::forwardFile(const std::string& inputsPath, const std::string& outputsPath, const MethodSettings& method) {
    RawTensors raw(inputsPath, device());
    c10::InferenceMode guard;
    MeterInputs x;
    x.inputIds = raw.take("input_ids", true).to(torch::kLong);
    x.attentionMask = raw.take("attention_mask", false);
    if (!x.attentionMask.defined()) x.attentionMask = torch::ones_like(x.inputIds);
    auto pixels = raw.take("pixel_values", true);
    if (pixels.dim() == 5) {  // [B, 2, 3, H, W]: NLVR2's image pairs
        x.pixelValues = pixels.select(1, 0).contiguous();
        x.pixelValues2 = pixels.select(1, 1).contiguous();
    } else {
        x.pixelValues = pixels;
    }
    const auto plan = planFor(method);
    if (plan.shortestEdge > 0)
        throw Error("forward works on given pixel_values; smaller resolution is a preprocessing method (use trace or bench)");
    MeterForwardOptions options = optionsFor(plan, nullptr);
    if (x.pixelValues2.defined()) {
        if (m_task && *m_task != MeterTask::Nlvr2)
            throw Error(inputsPath + ": pixel_values hold image pairs [B, 2, 3, H, W], which only the nlvr2 head reads");
        options.task = MeterTask::Nlvr2;
    } else {
        options.task = m_task ? *m_task : m_meter->defaultTask();
        if (options.task == MeterTask::Nlvr2)
            throw Error(inputsPath + ": the nlvr2 head needs pixel_values of image pairs [B, 2, 3, H, W]");
    }
    ImageSizeScope size(*m_meter, static_cast<int>(x.pixelValues.size(-1)));
    const auto outputs = m_meter->forward(x, options);
    std::map<std::string, torch::Tensor> out;
    out["logits"] = outputs.logits;
    out["cls_feats"] = outputs.clsFeats;
    writeOutputs(outputsPath, std::move(out));
}

}  // namespace tokenscope
