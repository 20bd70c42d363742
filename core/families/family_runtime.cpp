#include "families/family_runtime.h"

#include <torch/version.h>  // TORCH_VERSION_MAJOR for the LibTorch 2.x paths

#include <algorithm>

#include "checkpoint/tensor_file.h"
#include "common/error.h"
#include "engine/memory_probe.h"
#include "families/clip_vision_runtime.h"
#include "families/llava_runtime.h"
#include "families/meter_runtime.h"
#include "families/vilt_runtime.h"
#include "image/vilt_preprocess.h"
#include "io/mapped_file.h"

namespace tokenscope {

double msSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

double percentile(std::vector<double> values, double q) {
    if (values.empty()) return 0.0;
    std::sort(values.begin(), values.end());
    const auto index = static_cast<std::size_t>(std::clamp(q, 0.0, 1.0) * static_cast<double>(values.size() - 1) + 0.5);
    return values[std::min(index, values.size() - 1)];
}

void synchronizeDevice(const torch::Device& device) {
#if TORCH_VERSION_MAJOR >= 2
    if (device.is_cuda()) torch::cuda::synchronize();
#else
    (void)device;
#endif
}

BenchGradMode::BenchGradMode(MemoryProtocol protocol) {
    if (protocol == MemoryProtocol::Autograd) {
        m_recording.emplace(true);
    } else {
        m_inference.emplace();
    }
}

void timeCalls(BenchRow& row, double seconds, const std::function<void()>& call) {
    std::vector<double> latencies;
    const auto begin = std::chrono::steady_clock::now();
    do {
        const auto start = std::chrono::steady_clock::now();
        call();
        latencies.push_back(msSince(start));
    } while (msSince(begin) < seconds * 1000.0);
    const double totalMs = msSince(begin);
    row.iterations = static_cast<int>(latencies.size());
    row.examplesPerSecond = row.batch * row.iterations / (totalMs / 1000.0);
    row.latencyP50Ms = percentile(latencies, 0.5);
    row.latencyP95Ms = percentile(latencies, 0.95);
}

void countTokens(BenchRow& row, const Trace& trace, Stage stage) {
    for (const auto& layer : trace.layers) {
        if (layer.stage != stage) continue;
        row.imageTokensPerLayer.push_back(layer.image.tokens);
        row.textTokensPerLayer.push_back(layer.text.tokens);
        row.tokenLayers += 0.5 * (layer.image.tokensIn + layer.text.tokensIn + layer.image.tokens + layer.text.tokens);
    }
}

void measureOnce(BenchRow& row, const std::function<void()>& forward, const torch::Device& device, MemoryProtocol protocol,
                 int64_t weightsBytes, Stage stage, int layers) {
    forward();  // warm-up
    resetRssPeak();
    Timeline timeline(timelineOptions(device, true));
    {
        const TimelineScope scope(&timeline);
        forward();
    }
    row.memory = memoryReport(timeline, device, protocol, weightsBytes, stage, layers);
    row.timeline = timeline.spans();
}

std::vector<ScoredAnswer> rankLogits(const torch::Tensor& logits, int topK, bool softmax,
                                     const std::function<std::string(int64_t id)>& labelOf) {
    auto row = logits[0].to(torch::kFloat).cpu();
    auto scores = softmax ? torch::softmax(row, 0) : torch::sigmoid(row);
    const int64_t k = std::min<int64_t>(std::max(topK, 1), row.size(0));
    auto top = std::get<1>(torch::topk(row, k));
    std::vector<ScoredAnswer> answers;
    for (int64_t i = 0; i < k; ++i) {
        const auto id = top[i].item<int64_t>();
        ScoredAnswer answer;
        answer.id = id;
        answer.label = labelOf(id);
        answer.logit = row[id].item<float>();
        answer.score = scores[id].item<float>();
        answers.push_back(answer);
    }
    return answers;
}

RawTensors::RawTensors(const std::string& path, torch::Device device)
    : m_tensors(readTensorFile(path)), m_name(fileNameOf(path)), m_device(device) {}

torch::Tensor RawTensors::take(const char* key, bool required) const {
    const auto it = m_tensors.find(key);
    if (it == m_tensors.end()) {
        if (required) throw Error(m_name + ": input tensor '" + std::string(key) + "' is missing");
        return {};
    }
    return it->second.to(m_device);
}

void addLayerOutputs(std::map<std::string, torch::Tensor>& out, const std::string& prefix,
                     const std::vector<torch::Tensor>& tensors) {
    for (std::size_t i = 0; i < tensors.size(); ++i) out[prefix + "." + std::to_string(i)] = tensors[i];
}

void writeOutputs(const std::string& path, std::map<std::string, torch::Tensor> out) {
    for (auto& [key, tensor] : out) {
        if (tensor.is_floating_point()) tensor = tensor.to(torch::kFloat);
    }
    writeTensorFile(path, out);
}

// ---- what a family does not serve -----------------------------------------------------------

void FamilyRuntime::unsupported(const std::string& what, const std::string& needs) const {
    throw Error(what + " needs " + needs + "; this is " + summary().config.architecture);
}

StateDictReport FamilyRuntime::loadWeights(const Checkpoint& checkpoint, const StateDictOptions& options) {
    return loadStateDict(module(), checkpoint, options);
}

void FamilyRuntime::readFolder(const std::string&) {}

void FamilyRuntime::setOption(const std::string& key, const std::string& value) {
    checkOption(options(), key, value, summary().config.architecture);
    throw Error("setting '" + key + "' is listed but not handled by " + summary().config.architecture);
}

void checkOption(const std::vector<ModelOption>& options, const std::string& key, const std::string& value,
                 const std::string& model) {
    std::string keys;
    for (const auto& option : options) {
        if (option.key != key) {
            keys += (keys.empty() ? "" : ", ") + option.key;
            continue;
        }
        if (std::find(option.choices.begin(), option.choices.end(), value) != option.choices.end()) return;
        std::string choices;
        for (const auto& c : option.choices) choices += (choices.empty() ? "" : ", ") + c;
        throw Error(key + " '" + value + "': " + model + " takes " + choices);
    }
    throw Error(model + " has no setting '" + key + "'" + (keys.empty() ? std::string(" (it has none)") : " (its settings: " + keys + ")"));
}
void FamilyRuntime::useVocab(const std::string&) {}

std::vector<int64_t> FamilyRuntime::tokenize(const std::string&, std::vector<std::string>*) const {
    throw Error(summary().source + ": no vocab.txt in the model folder");
}

namespace {
// What a generating model says when asked for a label-answering call.
std::string labelHint(const FamilyCapabilities& capabilities) {
    return capabilities.generates ? " (LLaVA-NeXT answers through tokenscope-cli generate, benchmarks through bench-generate)"
                                  : "";
}
}  // namespace

RunResult FamilyRuntime::run(const RunRequest&, const std::atomic<bool>*) {
    unsupported("answering a question", "a ViLT model" + labelHint(capabilities()));
}

AnswerResult FamilyRuntime::answerPair(const ImageU8&, const ImageU8&, const std::string&, int) {
    unsupported("answering about two images", "a ViLT model" + labelHint(capabilities()));
}

BatchPrediction FamilyRuntime::predictBatch(const std::vector<ImageU8>&, const std::vector<std::string>&,
                                            const MethodSettings&, const std::atomic<bool>*) {
    unsupported("answering questions", "a ViLT model" + labelHint(capabilities()));
}

BenchRow FamilyRuntime::benchmark(const BenchRequest&) {
    unsupported("benchmarking", "a ViLT model" + labelHint(capabilities()));
}

void FamilyRuntime::forwardFile(const std::string&, const std::string&, const MethodSettings&) {
    unsupported("forward", "a ViLT or CLIP vision model");
}

void FamilyRuntime::preprocessToFile(const std::vector<ImageU8>& images, const std::string& outputsPath) {
    // The ViLT image processor's defaults (a model without its own processor settings).
    const auto pixels = preprocessVilt(images, ViltPreprocessConfig{});
    writeTensorFile(outputsPath, {{"pixel_values", pixels.pixelValues}, {"pixel_mask", pixels.pixelMask.to(torch::kUInt8)}});
}

namespace {
[[noreturn]] void notLlava(const ModelSummary& summary) {
    throw Error(summary.source + " is a " + summary.config.architecture + ", not a LLaVA-NeXT model");
}
}  // namespace

GenerateResult FamilyRuntime::generate(const GenerateRequest&, const GenerateCallback&, const std::atomic<bool>*) {
    notLlava(summary());
}

GenerateResult FamilyRuntime::selectVisualTokens(const ImageU8&, const MethodSettings&, const std::atomic<bool>*) {
    notLlava(summary());
}

GenerationBenchRow FamilyRuntime::benchmarkGeneration(const GenerationBenchRequest&) { notLlava(summary()); }

void FamilyRuntime::generateFile(const std::string&, const std::string&, int, const MethodSettings&) {
    notLlava(summary());
}

// ---- the one switch -------------------------------------------------------------------------

std::unique_ptr<FamilyRuntime> makeFamilyRuntime(const ModelConfig& config, RuntimeContext& context) {
    switch (config.family) {
        case ModelFamily::Vilt: return std::make_unique<ViltRuntime>(config.vilt, context);
        case ModelFamily::LlavaNext: return std::make_unique<LlavaRuntime>(config.llavaNext, context);
        case ModelFamily::ClipVision: return std::make_unique<ClipVisionRuntime>(config.clipVision, context);
        case ModelFamily::Meter: return std::make_unique<MeterRuntime>(config.meter, context);
    }
    throw Error(context.summary.source + ": unknown model family");
}

}  // namespace tokenscope
