#include "engine/engine.h"

#include <torch/version.h>  // TORCH_VERSION_MAJOR / MINOR for the LibTorch 2.x paths

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <torch/torch.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/tensor_file.h"
#include "common/error.h"
#include "engine/llava_runtime.h"
#include "engine/memory_probe.h"
#include "engine/trace_builder.h"
#include "image/vilt_preprocess.h"
#include "models/clip_vision.h"
#include "models/vilt.h"
#include "methods/reduction_plan.h"
#include "reduce/tome.h"
#include "text/bert_tokenizer.h"

namespace tokenscope {

namespace fs = std::filesystem;

namespace {

double msSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

torch::Dtype torchPrecision(Precision precision) {
    switch (precision) {
        case Precision::Fp32: return torch::kFloat;
        case Precision::Bf16: return torch::kBFloat16;
        case Precision::Fp16: return torch::kHalf;
    }
    return torch::kFloat;
}

void configureCpu() {
    static const bool once = [] {
        // All cores unless the user chose otherwise (OMP_NUM_THREADS, as LibTorch itself honours it).
        unsigned cores = std::max(1u, std::thread::hardware_concurrency());
        if (const char* env = std::getenv("OMP_NUM_THREADS"); env && std::atoi(env) > 0) cores = static_cast<unsigned>(std::atoi(env));
        at::set_num_threads(static_cast<int>(cores));
        // Subnormal floats are 10-100x slower on x86 CPUs; masked softmaxes (exp of large negative
        // scores) produce them. Flushing them to zero changes values below 1e-38 only. Measured:
        // PuMer reference, ViLT-B/32 batch 8, layers 0-2 took 1.6 s each instead of 0.25 s.
        at::globalContext().setFlushDenormal(true);
        // Every CPU tensor from now on is counted (MemoryReport's allocator figures).
        installCountingCpuAllocator();
        return true;
    }();
    (void)once;
}

bool isOutOfMemory(const std::exception& e) {
    const std::string what = e.what();
    return what.find("out of memory") != std::string::npos || what.find("not enough memory") != std::string::npos ||
           what.find("bad_alloc") != std::string::npos || dynamic_cast<const std::bad_alloc*>(&e) != nullptr;
}

double percentile(std::vector<double> values, double q) {
    if (values.empty()) return 0.0;
    std::sort(values.begin(), values.end());
    const auto index = static_cast<std::size_t>(std::min<double>(values.size() - 1, std::floor(q * (values.size() - 1) + 0.5)));
    return values[index];
}

}  // namespace

DeviceKind parseDevice(const std::string& name) {
    if (name == "cpu") return DeviceKind::Cpu;
    if (name == "cuda") return DeviceKind::Cuda;
    throw Error("unknown device '" + name + "' (use cpu or cuda)");
}

Precision parsePrecision(const std::string& name) {
    if (name == "fp32") return Precision::Fp32;
    if (name == "bf16") return Precision::Bf16;
    if (name == "fp16") return Precision::Fp16;
    throw Error("unknown dtype '" + name + "' (use fp32, bf16 or fp16)");
}

std::string precisionName(Precision precision) {
    switch (precision) {
        case Precision::Fp32: return "fp32";
        case Precision::Bf16: return "bf16";
        case Precision::Fp16: return "fp16";
    }
    return "?";
}

bool cudaAvailable() { return torch::cuda::is_available(); }

struct Engine::Impl {
    ModelSummary summary;
    torch::Device device = torch::kCPU;
    torch::Dtype dtype = torch::kFloat;
    Vilt vilt{nullptr};
    ClipVision clip{nullptr};
    std::unique_ptr<LlavaRuntime> llava;  // LLaVA-NeXT: model, tokenizer, processor, generation config
    std::optional<BertTokenizer> tokenizer;
    ViltPreprocessConfig preprocess;
    ImageU8 cachedImage;  // pixelsFor()
    ViltPreprocessConfig cachedConfig;
    PixelBatch cachedPixels;
    int64_t weightsBytes = 0;  // parameters and buffers on the device, after loading

    torch::nn::Module& module() {
        if (vilt) return *vilt;
        if (llava) return llava->module();
        return *clip;
    }

    void build(const ModelConfig& config, const EngineOptions& options) {
        configureCpu();
        if (options.device == DeviceKind::Cuda && !torch::cuda::is_available())
            throw Error("--device cuda: no CUDA device is available to this LibTorch build");
        device = options.device == DeviceKind::Cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
        dtype = torchPrecision(options.precision);
        if (dtype == torch::kHalf && device.is_cpu())
            throw Error("fp16 needs a CUDA device (the CPU kernels lack half precision); use bf16 or fp32");
        summary.config = config;
        if (config.family == ModelFamily::LlavaNext) {
            llava = std::make_unique<LlavaRuntime>(config.llavaNext, device, dtype);
        } else if (config.family == ModelFamily::Vilt) {
            vilt = Vilt(config.vilt);
        } else {
            clip = ClipVision(config.clipVision);
        }
        module().eval();
        for (const auto& p : module().parameters()) summary.parameterCount += p.numel();
    }

    void moveToTarget() { module().to(device, dtype); }

    Timeline::Options timelineOptions(bool timings) const { return tokenscope::timelineOptions(device, timings); }

    MemoryReport memoryReport(Timeline& timeline, MemoryProtocol protocol) const {
        const int layers = vilt ? summary.config.vilt.numHiddenLayers : 0;
        return tokenscope::memoryReport(timeline, device, protocol, weightsBytes, Stage::Fusion, layers);
    }

    LlavaRuntime& requireLlava() {
        if (!llava) throw Error(summary.source + " is a " + summary.config.architecture + ", not a LLaVA-NeXT model");
        return *llava;
    }

    void requireVilt(const char* what) const {
        if (!vilt)
            throw Error(std::string(what) + " needs a ViLT model; this is " + summary.config.architecture +
                        (llava ? " (LLaVA-NeXT answers through tokenscope-cli generate, benchmarks through bench-generate)" : ""));
    }

    torch::Tensor encodeText(const std::string& question, std::vector<std::string>* pieces,
                             torch::Tensor* attentionMask) const {
        if (!tokenizer) throw Error(summary.source + ": no vocab.txt, so the model cannot read a question");
        if (question.find_first_not_of(" \t\r\n") == std::string::npos) throw Error("the question is empty");
        const auto encoding =
            tokenizer->encode(question, static_cast<std::size_t>(summary.config.vilt.maxPositionEmbeddings), false);
        if (pieces) *pieces = encoding.tokens;
        auto ids = torch::tensor(encoding.inputIds, torch::kLong).unsqueeze(0).to(device);
        *attentionMask = torch::tensor(encoding.attentionMask, torch::kLong).unsqueeze(0).to(device);
        return ids;
    }

    // The plan of a method for this ViLT model (its depth, input size, trained predictors).
    ReductionPlan planFor(const MethodSettings& settings) const {
        return makePlan(settings, viltPlanContext(summary.config.vilt, preprocess.shortestEdge, preprocess.sizeDivisor));
    }

    // The window re-runs the same image for every knob change: keep the last preprocessed image
    // (resizing is the costly part) and reuse it while the image and the settings stay the same.
    PixelBatch pixelsFor(const ImageU8& image, const ViltPreprocessConfig& config) {
        const auto sameConfig = [](const ViltPreprocessConfig& a, const ViltPreprocessConfig& b) {
            return a.doResize == b.doResize && a.shortestEdge == b.shortestEdge && a.sizeDivisor == b.sizeDivisor &&
                   a.rescaleFactor == b.rescaleFactor && a.mean == b.mean && a.std == b.std;
        };
        if (!cachedPixels.pixelValues.defined() || !sameConfig(config, cachedConfig) ||
            image.width != cachedImage.width || image.height != cachedImage.height ||
            image.channels != cachedImage.channels || image.pixels != cachedImage.pixels) {
            cachedPixels = preprocessVilt({image}, config, device);
            cachedImage = image;
            cachedConfig = config;
        }
        return cachedPixels;
    }

    ViltPreprocessConfig preprocessFor(const ReductionPlan& plan) const {
        ViltPreprocessConfig config = preprocess;
        if (plan.shortestEdge > 0) config.shortestEdge = plan.shortestEdge;
        return config;
    }

    std::vector<ScoredAnswer> rank(const torch::Tensor& logits, int topK, bool softmax) const {
        auto row = logits[0].to(torch::kFloat).cpu();
        auto scores = softmax ? torch::softmax(row, 0) : torch::sigmoid(row);
        const int64_t k = std::min<int64_t>(std::max(topK, 1), row.size(0));
        auto top = std::get<1>(torch::topk(row, k));
        std::vector<ScoredAnswer> answers;
        const auto& labels = summary.config.vilt.id2label;
        for (int64_t i = 0; i < k; ++i) {
            const auto id = top[i].item<int64_t>();
            ScoredAnswer answer;
            answer.id = id;
            answer.label = id < static_cast<int64_t>(labels.size()) ? labels[id] : std::to_string(id);
            answer.logit = row[id].item<float>();
            answer.score = scores[id].item<float>();
            answers.push_back(answer);
        }
        return answers;
    }
};

Engine::Engine(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Engine::~Engine() = default;

std::unique_ptr<Engine> Engine::open(const std::string& folder, const EngineOptions& options) {
    const auto start = std::chrono::steady_clock::now();
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) throw Error(folder + ": not a model folder");
    const fs::path root(folder);
    const auto config = loadModelConfig((root / "config.json").string());
    auto impl = std::make_unique<Impl>();
    impl->summary.source = folder;
    impl->build(config, options);
    const auto checkpoint = Checkpoint::open(folder);
    StateDictOptions load;
    load.progress = options.progress;
    load.cancel = options.cancel;
    {
        c10::InferenceMode guard;
        impl->moveToTarget();
        const auto report = impl->llava ? impl->llava->loadWeights(checkpoint, load) : loadStateDict(impl->module(), checkpoint, load);
        for (const auto& name : report.unexpected) {
            // Buffers that transformers itself ignores on load.
            if (name.find("position_ids") != std::string::npos) continue;
            impl->summary.warnings.push_back("unused checkpoint tensor '" + name + "'");
        }
    }
    impl->weightsBytes = moduleBytes(impl->module());
    if (impl->llava) impl->llava->readFolder(folder);
    if (fs::exists(root / "vocab.txt", ec)) impl->tokenizer = BertTokenizer::fromVocabFile((root / "vocab.txt").string());
    if (fs::exists(root / "preprocessor_config.json", ec))
        impl->preprocess = loadViltPreprocessConfig((root / "preprocessor_config.json").string());
    impl->summary.loadMs = msSince(start);
    return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

std::unique_ptr<Engine> Engine::fromConfig(const ModelConfig& config, const EngineOptions& options) {
    const auto start = std::chrono::steady_clock::now();
    auto impl = std::make_unique<Impl>();
    impl->summary.source = config.sourceName + " (random weights)";
    impl->summary.randomWeights = true;
    impl->build(config, options);
    initialiseRandomWeights(impl->module(), options.seed);
    impl->moveToTarget();
    impl->weightsBytes = moduleBytes(impl->module());
    if (!options.vocabPath.empty()) impl->tokenizer = BertTokenizer::fromVocabFile(options.vocabPath);
    impl->summary.loadMs = msSince(start);
    return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

const ModelSummary& Engine::summary() const { return m_impl->summary; }
bool Engine::hasTokenizer() const { return m_impl->tokenizer.has_value() || (m_impl->llava && m_impl->llava->hasTokenizer()); }

std::vector<int64_t> Engine::tokenize(const std::string& text, std::vector<std::string>* pieces) const {
    if (m_impl->llava) return m_impl->llava->tokenize(text, pieces);
    if (!m_impl->tokenizer) throw Error(m_impl->summary.source + ": no vocab.txt in the model folder");
    const auto encoding = m_impl->tokenizer->encode(text);
    if (pieces) *pieces = encoding.tokens;
    return encoding.inputIds;
}

AnswerResult Engine::answer(const ImageU8& image, const std::string& question, int topK) {
    auto run = this->run({image, question, MethodSettings{}, topK, false});
    AnswerResult result;
    result.answers = std::move(run.answers);
    result.textTokens = std::move(run.textTokens);
    result.imageTokens = run.imageTokens;
    result.preprocessMs = run.preprocessMs;
    result.forwardMs = run.forwardMs;
    return result;
}

AnswerResult Engine::answerPair(const ImageU8& left, const ImageU8& right, const std::string& statement, int topK) {
    auto& d = *m_impl;
    d.requireVilt("answering about two images");
    if (d.summary.config.vilt.head != ViltHead::ImagesAndTextClassification)
        throw Error("two images need an NLVR2 model (ViltForImagesAndTextClassification)");
    c10::InferenceMode guard;
    AnswerResult result;
    auto start = std::chrono::steady_clock::now();
    ViltInputs inputs;
    inputs.inputIds = d.encodeText(statement, &result.textTokens, &inputs.attentionMask);
    // Each image at its own size with its own pixel mask (without one, transformers' ViLT would take the
    // padding for image content), stacked after padding.
    auto pixels = preprocessVilt({left, right}, d.preprocess, d.device);
    inputs.pixelValues = pixels.pixelValues.unsqueeze(0);  // [1, 2, 3, H, W]
    inputs.pixelMask = pixels.pixelMask.unsqueeze(0);      // [1, 2, H, W]
    result.preprocessMs = msSince(start);
    start = std::chrono::steady_clock::now();
    auto outputs = d.vilt->forward(inputs);
    result.forwardMs = msSince(start);
    result.imageTokens = outputs.images.front().imageTokenMask.size(1);
    result.answers = d.rank(outputs.logits, topK, true);
    return result;
}

RunResult Engine::run(const RunRequest& request, const std::atomic<bool>* cancel) {
    auto& d = *m_impl;
    d.requireVilt("answering a question");
    if (d.summary.config.vilt.head == ViltHead::ImagesAndTextClassification)
        throw Error("this is an NLVR2 model: it needs two images (answerPair)");
    c10::InferenceMode guard;
    RunResult result;
    result.method = request.method;
    auto start = std::chrono::steady_clock::now();
    ViltInputs inputs;
    inputs.inputIds = d.encodeText(request.question, &result.textTokens, &inputs.attentionMask);
    const auto plan = d.planFor(request.method);
    const auto preprocess = d.preprocessFor(plan);
    const auto pixels = d.pixelsFor(request.image, preprocess);
    inputs.pixelValues = pixels.pixelValues;
    inputs.pixelMask = pixels.pixelMask;
    result.preprocessMs = msSince(start);

    ViltForwardOptions options;
    options.cancel = cancel;
    options.timeLayers = request.trace;
    options.plan = &plan;
    resetRssPeak();
    Timeline timeline(d.timelineOptions(request.trace));
    start = std::chrono::steady_clock::now();
    ViltOutputs outputs;
    {
        const TimelineScope scope(&timeline);
        outputs = d.vilt->forward(inputs, options);
    }
    result.memory = d.memoryReport(timeline, MemoryProtocol::Inference);
    result.timeline = timeline.spans();
    auto logits = outputs.logits.to(torch::kFloat).cpu();
    result.forwardMs = msSince(start);
    result.answers = d.rank(logits, request.topK, false);
    result.imageTokens = outputs.images.front().imageTokenMask.size(1);
    if (request.trace) {
        const TraceGeometry geometry{d.summary.config.vilt.patchSize, pixels.resizedHw[0][0], pixels.resizedHw[0][1],
                                     d.summary.config.vilt.numHiddenLayers};
        result.trace = buildTrace(outputs.images.front(), 0, result.textTokens, geometry);
    }
    return result;
}

BatchPrediction Engine::predictBatch(const std::vector<ImageU8>& images, const std::vector<std::string>& questions,
                                     const MethodSettings& method, const std::atomic<bool>* cancel) {
    auto& d = *m_impl;
    d.requireVilt("answering questions");
    if (d.summary.config.vilt.head != ViltHead::QuestionAnswering)
        throw Error("batched answers need a VQA model; this is " + d.summary.config.architecture);
    if (images.size() != questions.size() || images.empty())
        throw Error("predictBatch: " + std::to_string(images.size()) + " images but " + std::to_string(questions.size()) +
                    " questions");
    if (!d.tokenizer) throw Error(d.summary.source + ": no vocab.txt, so the model cannot read a question");
    c10::InferenceMode guard;
    BatchPrediction result;
    auto start = std::chrono::steady_clock::now();
    // Questions padded to the longest, as the processor pads a batch.
    std::vector<TextEncoding> encodings;
    std::size_t longest = 0;
    for (const auto& q : questions) {
        if (q.find_first_not_of(" \t\r\n") == std::string::npos) throw Error("a question is empty");
        encodings.push_back(d.tokenizer->encode(q, static_cast<std::size_t>(d.summary.config.vilt.maxPositionEmbeddings), false));
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
    inputs.inputIds = ids.to(d.device);
    inputs.attentionMask = mask.to(d.device);
    const auto plan = d.planFor(method);
    const auto pixels = preprocessVilt(images, d.preprocessFor(plan), d.device);
    inputs.pixelValues = pixels.pixelValues.to(d.dtype);
    inputs.pixelMask = pixels.pixelMask;
    result.preprocessMs = msSince(start);
    ViltForwardOptions options;
    options.cancel = cancel;
    options.plan = &plan;
    options.recordProvenance = false;  // answers only: no trace is built
    start = std::chrono::steady_clock::now();
    auto logits = d.vilt->forward(inputs, options).logits.to(torch::kFloat).cpu().contiguous();
    result.forwardMs = msSince(start);
    auto [best, index] = logits.max(1);
    const auto& labels = d.summary.config.vilt.id2label;
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

BenchRow Engine::benchmark(const BenchRequest& request) {
    auto& d = *m_impl;
    d.requireVilt("benchmarking");
    if (request.batch < 1) throw Error("batch must be at least 1");
    const auto& config = d.summary.config.vilt;
    const bool autograd = request.protocol == MemoryProtocol::Autograd;
    // Inference: no graph at all. Autograd: the graph is recorded as csarron/PuMer's bench records it
    // (parameters require grad; nothing calls backward).
    std::optional<c10::InferenceMode> inference;
    std::optional<torch::AutoGradMode> recording;
    if (autograd) {
        recording.emplace(true);
    } else {
        inference.emplace();
    }
    BenchRow row;
    row.method = request.method;
    row.batch = request.batch;

    // Synthetic inputs: random pixels in [-1, 1] at the method's resolution, question ids from the vocab.
    torch::manual_seed(request.seed);
    const auto plan = d.planFor(request.method);
    int side = request.imageSize;
    if (plan.shortestEdge > 0) side = smallerResolutionEdge(request.method, request.imageSize, d.preprocess.sizeDivisor);
    const int textLength = std::clamp(request.textLength, 2, config.maxPositionEmbeddings);
    const auto make = [&](int batch) {
        ViltInputs x;
        x.inputIds = torch::randint(std::min(config.vocabSize, 1000) / 2, config.vocabSize, {batch, textLength}, torch::kLong);
        x.attentionMask = torch::ones({batch, textLength}, torch::kLong);
        x.pixelValues = (torch::rand({batch, config.numChannels, side, side}) * 2 - 1).to(d.device);
        x.pixelMask = torch::ones({batch, side, side}, torch::kLong).to(d.device);
        x.inputIds = x.inputIds.to(d.device);
        x.attentionMask = x.attentionMask.to(d.device);
        return x;
    };
    ViltForwardOptions options;
    options.plan = &plan;
    options.recordProvenance = request.trace;  // the bookkeeping only a trace reads
    const TraceGeometry geometry{config.patchSize, side, side, config.numHiddenLayers};
    const std::vector<std::string> pieces(static_cast<std::size_t>(textLength), "?");
    try {
        const auto inputs = make(request.batch);
        const auto sync = [&] {
#if TORCH_VERSION_MAJOR >= 2
            if (d.device.is_cuda()) torch::cuda::synchronize();
#endif
        };
        if (request.firstOfSeries) {
            // Tokens per layer from one traced single-sample run (not timed).
            {
                ViltForwardOptions traced = options;
                traced.recordProvenance = true;
                auto one = d.vilt->forward(make(1), traced);
                const auto trace = buildTrace(one.images.front(), 0, pieces, geometry);
                for (const auto& layer : trace.layers) {
                    row.imageTokensPerLayer.push_back(layer.image.tokens);
                    row.textTokensPerLayer.push_back(layer.text.tokens);
                    row.tokenLayers += 0.5 * (layer.image.tokensIn + layer.text.tokensIn + layer.image.tokens + layer.text.tokens);
                }
            }
            d.vilt->forward(inputs, options);  // warm-up
            sync();
            // Memory and the per-stage timeline of one forward (untimed, so spans cost the timed loop nothing).
            resetRssPeak();
            Timeline timeline(d.timelineOptions(true));
            {
                const TimelineScope scope(&timeline);
                auto outputs = d.vilt->forward(inputs, options);
                sync();
            }
            row.memory = d.memoryReport(timeline, request.protocol);
            row.timeline = timeline.spans();
        }
        options.timeLayers = request.trace;
        const auto call = [&] {
            auto outputs = d.vilt->forward(inputs, options);
            if (request.trace) {
                for (int64_t b = 0; b < request.batch; ++b) buildTrace(outputs.images.front(), b, pieces, geometry);
            }
            sync();
        };
        std::vector<double> latencies;
        const auto begin = std::chrono::steady_clock::now();
        do {
            const auto start = std::chrono::steady_clock::now();
            call();
            latencies.push_back(msSince(start));
        } while (msSince(begin) < request.seconds * 1000.0);
        const double totalMs = msSince(begin);
        row.iterations = static_cast<int>(latencies.size());
        row.examplesPerSecond = request.batch * row.iterations / (totalMs / 1000.0);
        row.latencyP50Ms = percentile(latencies, 0.5);
        row.latencyP95Ms = percentile(latencies, 0.95);
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        if (!isOutOfMemory(e)) throw;
        row.outOfMemory = true;
        row.error = e.what();
    }
    return row;
}

void Engine::preprocessToFile(const std::vector<ImageU8>& images, const std::string& outputsPath) {
    if (m_impl->llava) return m_impl->llava->preprocessToFile(images, outputsPath);
    const auto pixels = preprocessVilt(images, m_impl->preprocess);
    writeTensorFile(outputsPath, {{"pixel_values", pixels.pixelValues}, {"pixel_mask", pixels.pixelMask.to(torch::kUInt8)}});
}

void Engine::forwardFile(const std::string& inputsPath, const std::string& outputsPath, const MethodSettings& method) {
    auto& d = *m_impl;
    if (d.llava) throw Error(d.summary.source + ": a LLaVA-NeXT model runs raw tensors through 'generate --inputs'");
    auto inputs = readTensorFile(inputsPath);
    const auto name = fileNameOf(inputsPath);
    const auto take = [&](const char* key, bool required) -> torch::Tensor {
        auto it = inputs.find(key);
        if (it == inputs.end()) {
            if (required) throw Error(name + ": input tensor '" + std::string(key) + "' is missing");
            return {};
        }
        return it->second.to(d.device);
    };
    c10::InferenceMode guard;
    std::map<std::string, torch::Tensor> out;
    const auto addLayers = [&](const std::string& prefix, const std::vector<torch::Tensor>& tensors) {
        for (std::size_t i = 0; i < tensors.size(); ++i) out[prefix + "." + std::to_string(i)] = tensors[i];
    };
    if (d.vilt) {
        ViltInputs x;
        x.inputIds = take("input_ids", true).to(torch::kLong);
        x.attentionMask = take("attention_mask", false);
        x.tokenTypeIds = take("token_type_ids", false);
        if (x.tokenTypeIds.defined()) x.tokenTypeIds = x.tokenTypeIds.to(torch::kLong);
        x.pixelValues = take("pixel_values", true);
        x.pixelMask = take("pixel_mask", false);
        ViltForwardOptions options;
        options.keepHiddenStates = options.keepAttentions = true;
        const auto plan = d.planFor(method);
        options.plan = &plan;
        if (plan.shortestEdge > 0)
            throw Error("forward works on given pixel_values; smaller resolution is a preprocessing method (use trace or bench)");
        auto outputs = d.vilt->forward(x, options);
        if (outputs.logits.defined()) out["logits"] = outputs.logits;
        for (std::size_t i = 0; i < outputs.images.size(); ++i) {
            const auto& e = outputs.images[i];
            // NLVR2 has one encoding per image: suffix ".image<i>".
            const std::string suffix = outputs.images.size() > 1 ? ".image" + std::to_string(i) : "";
            out["pooler_output" + suffix] = e.poolerOutput;
            out["last_hidden_state" + suffix] = e.lastHiddenState;
            addLayers("hidden_states" + suffix, e.hiddenStates);
            addLayers("attentions" + suffix, e.attentions);
            out["full_attention_mask" + suffix] = e.fullAttentionMask;
            out["image_token_mask" + suffix] = e.imageTokenMask;
            out["image_patch_index" + suffix] = e.imagePatchIndex;
            out["patch_grid_hw" + suffix] = torch::tensor({e.gridHeight, e.gridWidth}, torch::kLong);
        }
    } else {
        if (!method.is("none")) throw Error("token reduction methods run on ViLT models only");
        ClipVisionOptions options;
        options.keepHiddenStates = options.keepAttentions = true;
        auto outputs = d.clip->forward(take("pixel_values", true), options);
        out["last_hidden_state"] = outputs.lastHiddenState;
        out["pooler_output"] = outputs.poolerOutput;
        addLayers("hidden_states", outputs.hiddenStates);
        addLayers("attentions", outputs.attentions);
    }
    for (auto& [key, tensor] : out) {
        if (tensor.is_floating_point()) tensor = tensor.to(torch::kFloat);
    }
    writeTensorFile(outputsPath, out);
}

// ---------------------------------------------------------------------------------------------
// LLaVA-NeXT (engine/generation.h)

GenerateResult Engine::generate(const GenerateRequest& request, const GenerateCallback& onToken,
                                const std::atomic<bool>* cancel) {
    return m_impl->requireLlava().generate(request, onToken, cancel);
}

GenerateResult Engine::selectVisualTokens(const ImageU8& image, const MethodSettings& settings,
                                                const std::atomic<bool>* cancel) {
    return m_impl->requireLlava().selectVisualTokens(image, settings, cancel);
}

GenerationBenchRow Engine::benchmarkGeneration(const GenerationBenchRequest& request) {
    return m_impl->requireLlava().benchmark(request);
}

void Engine::generateFile(const std::string& inputsPath, const std::string& outputsPath, int maxNewTokens,
                          const MethodSettings& settings) {
    m_impl->requireLlava().generateFile(inputsPath, outputsPath, maxNewTokens, settings);
}

}  // namespace tokenscope
