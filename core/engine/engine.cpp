// The engine facade: picks the model's family in one place (makeFamilyRuntime) and forwards every
// call to it (core/families).

#include "engine/engine.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <thread>

#include <torch/torch.h>

#include "checkpoint/checkpoint.h"
#include "common/error.h"
#include "engine/memory_probe.h"
#include "families/family_runtime.h"
#include "families/meter_runtime.h"

namespace tokenscope {

namespace fs = std::filesystem;

namespace {

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
    RuntimeContext context;
    std::unique_ptr<FamilyRuntime> family;
    FamilyCapabilities capabilities;

    void build(const ModelConfig& config, const EngineOptions& options) {
        configureCpu();
        if (options.device == DeviceKind::Cuda && !torch::cuda::is_available())
            throw Error("--device cuda: no CUDA device is available to this LibTorch build");
        context.device = options.device == DeviceKind::Cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
        context.dtype = torchPrecision(options.precision);
        if (context.dtype == torch::kHalf && context.device.is_cpu())
            throw Error("fp16 needs a CUDA device (the CPU kernels lack half precision); use bf16 or fp32");
        context.summary.config = config;
        family = makeFamilyRuntime(config, context);
        capabilities = family->capabilities();
        family->module().eval();
        for (const auto& p : family->module().parameters()) context.summary.parameterCount += p.numel();
    }

    void moveToTarget() { family->module().to(context.device, context.dtype); }
};

Engine::Engine(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Engine::~Engine() = default;

std::unique_ptr<Engine> Engine::open(const std::string& folder, const EngineOptions& options) {
    const auto start = std::chrono::steady_clock::now();
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) throw Error(folder + ": not a model folder");
    const fs::path root(folder);
    // METER folders carry no config.json of their own: the checkpoint says what the model is.
    std::optional<Checkpoint> opened;
    ModelConfig config;
    if (isMeterFolder(folder)) {
        opened = Checkpoint::open(folder);
        config = meterModelConfig(folder, *opened);
    } else {
        config = loadModelConfig((root / "config.json").string());
    }
    auto impl = std::make_unique<Impl>();
    impl->context.summary.source = folder;
    impl->build(config, options);
    if (!opened) opened = Checkpoint::open(folder);
    const Checkpoint& checkpoint = *opened;
    StateDictOptions load;
    load.progress = options.progress;
    load.cancel = options.cancel;
    {
        c10::InferenceMode guard;
        impl->moveToTarget();
        const auto report = impl->family->loadWeights(checkpoint, load);
        for (const auto& name : report.unexpected) {
            // Buffers that transformers itself ignores on load.
            if (name.find("position_ids") != std::string::npos) continue;
            impl->context.summary.warnings.push_back("unused checkpoint tensor '" + name + "'");
        }
    }
    impl->context.weightsBytes = moduleBytes(impl->family->module());
    impl->family->readFolder(folder);
    impl->context.summary.loadMs = msSince(start);
    return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

std::unique_ptr<Engine> Engine::fromConfig(const ModelConfig& config, const EngineOptions& options) {
    const auto start = std::chrono::steady_clock::now();
    auto impl = std::make_unique<Impl>();
    impl->context.summary.source = config.sourceName + " (random weights)";
    impl->context.summary.randomWeights = true;
    impl->build(config, options);
    initialiseRandomWeights(impl->family->module(), options.seed);
    impl->moveToTarget();
    impl->context.weightsBytes = moduleBytes(impl->family->module());
    if (!options.vocabPath.empty()) impl->family->useVocab(options.vocabPath);
    impl->context.summary.loadMs = msSince(start);
    return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

const ModelSummary& Engine::summary() const { return m_impl->context.summary; }
const FamilyCapabilities& Engine::capabilities() const { return m_impl->capabilities; }
bool Engine::hasTokenizer() const { return m_impl->family->hasTokenizer(); }
std::vector<ModelOption> Engine::options() const { return m_impl->family->options(); }
void Engine::setOption(const std::string& key, const std::string& value) { m_impl->family->setOption(key, value); }

std::vector<int64_t> Engine::tokenize(const std::string& text, std::vector<std::string>* pieces) const {
    return m_impl->family->tokenize(text, pieces);
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
    return m_impl->family->answerPair(left, right, statement, topK);
}

RunResult Engine::run(const RunRequest& request, const std::atomic<bool>* cancel) {
    return m_impl->family->run(request, cancel);
}

BatchPrediction Engine::predictBatch(const std::vector<ImageU8>& images, const std::vector<std::string>& questions,
                                     const MethodSettings& method, const std::atomic<bool>* cancel) {
    return m_impl->family->predictBatch(images, questions, method, cancel);
}

BenchRow Engine::benchmark(const BenchRequest& request) {
    if (request.batch < 1) throw Error("batch must be at least 1");
    return m_impl->family->benchmark(request);
}

void Engine::preprocessToFile(const std::vector<ImageU8>& images, const std::string& outputsPath) {
    m_impl->family->preprocessToFile(images, outputsPath);
}

void Engine::forwardFile(const std::string& inputsPath, const std::string& outputsPath, const MethodSettings& method) {
    m_impl->family->forwardFile(inputsPath, outputsPath, method);
}

GenerateResult Engine::generate(const GenerateRequest& request, const GenerateCallback& onToken,
                                const std::atomic<bool>* cancel) {
    return m_impl->family->generate(request, onToken, cancel);
}

GenerateResult Engine::selectVisualTokens(const ImageU8& image, const MethodSettings& settings,
                                          const std::atomic<bool>* cancel) {
    return m_impl->family->selectVisualTokens(image, settings, cancel);
}

GenerationBenchRow Engine::benchmarkGeneration(const GenerationBenchRequest& request) {
    return m_impl->family->benchmarkGeneration(request);
}

void Engine::generateFile(const std::string& inputsPath, const std::string& outputsPath, int maxNewTokens,
                          const MethodSettings& settings) {
    m_impl->family->generateFile(inputsPath, outputsPath, maxNewTokens, settings);
}

}  // namespace tokenscope
