#pragma once

// Core-internal: one loaded model of one family behind one small base class (the shape of
// llama.cpp's tools/mtmd: a file per family, one switch that picks it, capability queries instead
// of per-family calls). The Engine facade (engine/engine.h) owns one FamilyRuntime and forwards
// every call to it; a call the family cannot serve throws an Error that says which family can.
//
// Adding a family: a new <name>_runtime.{h,cpp} here that derives from FamilyRuntime, declares
// its capabilities and overrides the calls it serves, plus one case in makeFamilyRuntime().

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "checkpoint/checkpoint.h"
#include "engine/engine.h"

namespace tokenscope {

// What a loaded model is and where it runs; the Engine fills it while loading.
struct RuntimeContext {
    ModelSummary summary;
    torch::Device device = torch::kCPU;
    torch::Dtype dtype = torch::kFloat;
    int64_t weightsBytes = 0;  // parameters and buffers on the device, after loading
};

// Returns when `value` is one of the choices of the option `key`; else throws Error naming the
// model and what it takes.
void checkOption(const std::vector<ModelOption>& options, const std::string& key, const std::string& value,
                 const std::string& model);

class FamilyRuntime {
public:
    explicit FamilyRuntime(RuntimeContext& context) : m_context(context) {}
    virtual ~FamilyRuntime() = default;
    FamilyRuntime(const FamilyRuntime&) = delete;
    FamilyRuntime& operator=(const FamilyRuntime&) = delete;

    virtual FamilyCapabilities capabilities() const = 0;
    virtual torch::nn::Module& module() = 0;

    // Loading: the weights in the family's checkpoint layouts (default: the module's own names),
    // then the folder's other files (tokenizer, processor, generation config).
    virtual StateDictReport loadWeights(const Checkpoint& checkpoint, const StateDictOptions& options);
    virtual void readFolder(const std::string& folder);
    virtual void useVocab(const std::string& path);  // a WordPiece vocab for a random-weight model

    virtual bool hasTokenizer() const { return false; }
    virtual std::vector<ModelOption> options() const { return {}; }
    virtual void setOption(const std::string& key, const std::string& value);  // default: no such option
    virtual std::vector<int64_t> tokenize(const std::string& text, std::vector<std::string>* pieces) const;

    // Families that answer from labels (ViLT, METER).
    virtual RunResult run(const RunRequest& request, const std::atomic<bool>* cancel);
    virtual AnswerResult answerPair(const ImageU8& left, const ImageU8& right, const std::string& statement, int topK);
    virtual BatchPrediction predictBatch(const std::vector<ImageU8>& images, const std::vector<std::string>& questions,
                                         const MethodSettings& method, const std::atomic<bool>* cancel);
    virtual BenchRow benchmark(const BenchRequest& request);
    virtual void forwardFile(const std::string& inputsPath, const std::string& outputsPath, const MethodSettings& method);
    virtual void preprocessToFile(const std::vector<ImageU8>& images, const std::string& outputsPath);

    // Families that generate (LLaVA).
    virtual GenerateResult generate(const GenerateRequest& request, const GenerateCallback& onToken,
                                    const std::atomic<bool>* cancel);
    virtual GenerateResult selectVisualTokens(const ImageU8& image, const MethodSettings& method,
                                              const std::atomic<bool>* cancel);
    virtual GenerationBenchRow benchmarkGeneration(const GenerationBenchRequest& request);
    virtual void generateFile(const std::string& inputsPath, const std::string& outputsPath, int maxNewTokens,
                              const MethodSettings& method);

protected:
    // Throws Error("<what> needs <a model that ...>; <source> is <architecture> (<hint>)").
    [[noreturn]] void unsupported(const std::string& what, const std::string& needs) const;
    const ModelSummary& summary() const { return m_context.summary; }
    torch::Device device() const { return m_context.device; }
    torch::Dtype dtype() const { return m_context.dtype; }
    int64_t weightsBytes() const { return m_context.weightsBytes; }

private:
    RuntimeContext& m_context;
};

// Helpers the families share.
double msSince(std::chrono::steady_clock::time_point start);
double percentile(std::vector<double> values, double q);  // q in [0, 1]; 0 for none
// Waits for the device's queued work (CUDA with LibTorch 2; a no-op otherwise).
void synchronizeDevice(const torch::Device& device);

// The gradient mode of a benchmark's forwards while it lives: Inference records no graph; Autograd
// records it as csarron/PuMer's cli/bench.py does (parameters require grad, nothing calls backward).
class BenchGradMode {
public:
    explicit BenchGradMode(MemoryProtocol protocol);

private:
    std::optional<c10::InferenceMode> m_inference;
    std::optional<torch::AutoGradMode> m_recording;
};

// Calls `call` (one batch, synchronised) until `seconds` have passed, at least once, and fills the
// row's iterations, examples per second and latency percentiles.
void timeCalls(BenchRow& row, double seconds, const std::function<void()>& call);

// Sample 0's tokens after each layer of `stage` in a traced run, and the token-layers they sum to
// (per layer the mean of the tokens its attention saw and those its MLP saw).
void countTokens(BenchRow& row, const Trace& trace, Stage stage);
// One warm-up call, then one more inside a timeline: the memory by kind and per layer of `stage`
// and the per-stage timeline of one forward (untimed, so spans cost the timed loop nothing).
void measureOnce(BenchRow& row, const std::function<void()>& forward, const torch::Device& device, MemoryProtocol protocol,
                 int64_t weightsBytes, Stage stage, int layers);

// The topK answers of logits[0] (softmax or sigmoid scores), best first, named by labelOf(id).
std::vector<ScoredAnswer> rankLogits(const torch::Tensor& logits, int topK, bool softmax,
                                     const std::function<std::string(int64_t id)>& labelOf);

// The raw input tensors of `tokenscope-cli forward` / `generate --inputs` (a tensor file, names as
// transformers names them), each moved to the model's device when taken.
class RawTensors {
public:
    RawTensors(const std::string& path, torch::Device device);
    // Throws Error naming the file when a required tensor is missing; an undefined tensor otherwise.
    torch::Tensor take(const char* key, bool required) const;

private:
    std::map<std::string, torch::Tensor> m_tensors;
    std::string m_name;
    torch::Device m_device;
};
// out[prefix + ".<i>"] = tensors[i]
void addLayerOutputs(std::map<std::string, torch::Tensor>& out, const std::string& prefix,
                     const std::vector<torch::Tensor>& tensors);
// Writes outputs with floating tensors as float32.
void writeOutputs(const std::string& path, std::map<std::string, torch::Tensor> out);

// The one switch over model families: builds the model of `config` (random weights until loaded).
std::unique_ptr<FamilyRuntime> makeFamilyRuntime(const ModelConfig& config, RuntimeContext& context);

}  // namespace tokenscope
