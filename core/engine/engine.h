#pragma once

// The engine facade: what the CLI and the window use. Torch-free on purpose (ui/viz include it).

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "engine/generation.h"
#include "engine/memory.h"
#include "engine/model_option.h"
#include "engine/timeline.h"
#include "engine/trace.h"
#include "image/pil_resample.h"
#include "methods/method_registry.h"
#include "methods/method_settings.h"

namespace tokenscope {

enum class DeviceKind { Cpu, Cuda };
enum class Precision { Fp32, Bf16, Fp16 };

DeviceKind parseDevice(const std::string& name);       // "cpu" | "cuda"; throws Error
Precision parsePrecision(const std::string& name);     // "fp32" | "bf16" | "fp16"; throws Error
std::string precisionName(Precision precision);
bool cudaAvailable();

struct EngineOptions {
    DeviceKind device = DeviceKind::Cpu;
    Precision precision = Precision::Fp32;
    std::function<void(uint64_t bytesDone, uint64_t bytesTotal)> progress;  // called on the loading thread
    const std::atomic<bool>* cancel = nullptr;
    uint64_t seed = 0;      // random weights (fromConfig) only
    std::string vocabPath;  // a WordPiece vocab.txt for fromConfig models (open() reads the folder's)
};

struct ModelSummary {
    ModelConfig config;
    std::string source;  // model folder or "--arch NAME (random weights)"
    bool randomWeights = false;
    int64_t parameterCount = 0;
    std::vector<std::string> warnings;  // e.g. unexpected checkpoint tensors
    double loadMs = 0;
};

struct ScoredAnswer {
    int64_t id = 0;
    std::string label;
    float logit = 0;
    float score = 0;  // sigmoid(logit) for VQA (trained with BCE), softmax for NLVR2
};

struct AnswerResult {
    std::vector<ScoredAnswer> answers;  // best first
    std::vector<std::string> textTokens;
    int64_t imageTokens = 0;  // image CLS + patches
    double preprocessMs = 0;
    double forwardMs = 0;
};

// One question about one image under one reduction method.
struct RunRequest {
    ImageU8 image;  // RGB
    std::string question;
    MethodSettings method;
    int topK = 5;
    bool trace = true;  // fill RunResult::trace (costs a little; benchmarks turn it off)
};

struct RunResult {
    MethodSettings method;
    std::vector<ScoredAnswer> answers;  // best first
    std::vector<std::string> textTokens;  // the question's word pieces
    int64_t imageTokens = 0;              // image tokens entering the first layer (image CLS + patches)
    Trace trace;
    double preprocessMs = 0;
    double forwardMs = 0;
    MemoryReport memory;                 // of the forward, inference protocol
    std::vector<TimelineSpan> timeline;  // embeddings, layers (with their stages when request.trace), head
};

// The top answer for each of a batch of image-question pairs under one method (evaluation).
struct BatchPrediction {
    std::vector<int64_t> ids;         // per example
    std::vector<std::string> labels;  // per example
    std::vector<float> scores;        // sigmoid of the winning logit
    std::vector<float> logits;        // [examples x labels], row-major (distillation, agreement)
    int64_t labelCount = 0;
    double preprocessMs = 0, forwardMs = 0;
};

// A throughput measurement on synthetic inputs (random pixels, a fixed-length question).
struct BenchRequest {
    MethodSettings method;
    int batch = 1;
    double seconds = 5.0;    // timed window
    int imageSize = 384;     // square synthetic image, pixels
    int textLength = 16;     // question length in tokens incl. [CLS] and [SEP]
    uint64_t seed = 0;
    bool trace = false;      // time layers and build every sample's trace, to measure what tracing costs
    // Forwards with autograd recording (csarron/PuMer's cli/bench.py protocol: no torch.no_grad(), so
    // the graph keeps every layer's activations) instead of inference.
    MemoryProtocol protocol = MemoryProtocol::Inference;
    // The first call of a series measures what does not change between calls (tokens per layer, the
    // memory forward with its timeline) and warms up; later rounds only time.
    bool firstOfSeries = true;
};

struct BenchRow {
    MethodSettings method;
    int batch = 0;
    int iterations = 0;
    double examplesPerSecond = 0;
    double latencyP50Ms = 0, latencyP95Ms = 0;  // per batch call
    std::vector<int> imageTokensPerLayer, textTokensPerLayer;  // sample 0, after each layer (firstOfSeries)
    // Sample 0's work in token-layers: per layer the mean of the tokens its attention saw and the tokens
    // its MLP saw (after the layer's reduction), summed. The unreduced model's over this = the speed-up
    // the tokens alone would give.
    double tokenLayers = 0;
    // One more forward of the batch, untimed, with per-span timings and allocator windows (firstOfSeries).
    MemoryReport memory;
    std::vector<TimelineSpan> timeline;
    bool outOfMemory = false;  // the batch did not fit; the numbers are empty
    std::string error;
};

// What a loaded model can do: the window and the CLI ask this instead of checking the family.
struct FamilyCapabilities {
    FamilyKind family = FamilyKind::Vilt;  // the registry's family: which methods apply (methods/method_registry.h)
    std::vector<Stage> stages;             // the stages its traces have layers in
    bool answersFromLabels = false;        // run, predictBatch, benchmark: ranked labels
    bool imagePairs = false;               // answerPair (NLVR2)
    bool generates = false;                // generate, benchmarkGeneration, generateFile: a streamed answer
    bool selectsVisualTokens = false;      // selectVisualTokens: a method's selection without generating
    bool rawForward = false;               // forwardFile
};

// One loaded model. Calls are not thread-safe: use one Engine from one thread at a time (the
// window's worker). Every method throws Error with a one-line message on bad input.
class Engine {
public:
    // Loads a Hugging Face model folder: config.json, weights (safetensors, sharded or .bin),
    // vocab.txt and preprocessor_config.json when present; for LLaVA-NeXT also tokenizer.model
    // (+ added tokens) and generation_config.json.
    static std::unique_ptr<Engine> open(const std::string& folder, const EngineOptions& options = {});
    // A model with random weights from a config alone (benchmarks, tests).
    static std::unique_ptr<Engine> fromConfig(const ModelConfig& config, const EngineOptions& options = {});
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    const ModelSummary& summary() const;
    const FamilyCapabilities& capabilities() const;
    bool hasTokenizer() const;
    // The model's own settings (engine/model_option.h): METER's fusion order and head; none for
    // ViLT and LLaVA. setOption throws Error for a key the model lacks or a value not among its
    // choices; the next call uses the new value.
    std::vector<ModelOption> options() const;
    void setOption(const std::string& key, const std::string& value);

    // VQA (or retrieval score) for one image and a question; NLVR2 needs answerPair.
    AnswerResult answer(const ImageU8& image, const std::string& question, int topK = 5);
    AnswerResult answerPair(const ImageU8& left, const ImageU8& right, const std::string& statement, int topK = 2);

    // The window's and `tokenscope-cli trace`'s call: preprocess, tokenize, forward with the
    // method, trace. Throws Cancelled when *cancel becomes true (polled between layers).
    RunResult run(const RunRequest& request, const std::atomic<bool>* cancel = nullptr);

    // Answers a batch (images and questions of equal count; images of one size batch without
    // padding) under a method, in one forward pass. Throws Error / Cancelled.
    BatchPrediction predictBatch(const std::vector<ImageU8>& images, const std::vector<std::string>& questions,
                                 const MethodSettings& method, const std::atomic<bool>* cancel = nullptr);

    // Times forward passes under a method (no tracing). Out of memory is caught and reported in
    // the row, not thrown; other errors throw.
    BenchRow benchmark(const BenchRequest& request);

    // Runs the model on raw input tensors (names as transformers names them) and writes every
    // output in float32 under transformers' names. See README "tokenscope-cli forward".
    // A reduction method (ViLT only) changes the outputs as the method does.
    void forwardFile(const std::string& inputsPath, const std::string& outputsPath, const MethodSettings& method = {});
    // Writes pixel_values / pixel_mask as the image processor makes them.
    void preprocessToFile(const std::vector<ImageU8>& images, const std::string& outputsPath);

    std::vector<int64_t> tokenize(const std::string& text, std::vector<std::string>* pieces = nullptr) const;

    // ---- LLaVA-NeXT (engine/generation.h) ----
    // Every call below throws Error for a model that is not LLaVA-NeXT.

    // Preprocess, vision tower, the visual-token method, prefill, then greedy decoding until a
    // stop token (generation_config.json's eos, else the tokenizer's) or maxNewTokens. Only ids
    // the tokenizer can decode are candidates (llava-hf's rows >= 32000 are untrained). onToken
    // streams every token as it is produced; *cancel is polled between layers and steps (throws
    // Cancelled). Out of memory is an Error naming the stage.
    GenerateResult generate(const GenerateRequest& request, const GenerateCallback& onToken = {},
                            const std::atomic<bool>* cancel = nullptr);
    // Only preprocess, vision and the token selection: what a method keeps of an image, without
    // running the language model (for budget / alpha sliders).
    GenerateResult selectVisualTokens(const ImageU8& image, const MethodSettings& method,
                                      const std::atomic<bool>* cancel = nullptr);
    // Timed generation on synthetic inputs; out of memory is reported in the row.
    GenerationBenchRow benchmarkGeneration(const GenerationBenchRequest& request);
    // Raw tensors as transformers names them (input_ids, attention_mask, position_ids if given,
    // pixel_values, image_sizes) -> `logits` of the prompt forward [B, T, V] float32 and
    // `generated_new_tokens` [B, N] int64 (greedy, HF generate semantics: stop at eos from
    // generation_config.json, pad after). A reduction method needs one <image> per image (legacy
    // prompt), since it changes the number of visual tokens.
    void generateFile(const std::string& inputsPath, const std::string& outputsPath, int maxNewTokens,
                      const MethodSettings& method = {});

private:
    struct Impl;
    explicit Engine(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

}  // namespace tokenscope
