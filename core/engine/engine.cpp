#include "engine/engine.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <thread>

#include <torch/torch.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/tensor_file.h"
#include "common/error.h"
#include "image/vilt_preprocess.h"
#include "models/clip_vision.h"
#include "models/vilt.h"
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

void useAllCores() {
    static const bool once = [] {
        const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
        at::set_num_threads(static_cast<int>(cores));
        return true;
    }();
    (void)once;
}

// HF-style random initialisation, so random-weight models produce activations of sane scale.
void initialiseRandom(torch::nn::Module& module, uint64_t seed) {
    torch::NoGradGuard noGrad;
    torch::manual_seed(seed);
    for (auto& item : module.named_parameters(true)) {
        const auto& name = item.key();
        auto& p = item.value();
        const bool isNorm = name.find("norm") != std::string::npos || name.find("LayerNorm") != std::string::npos ||
                            name.find("layrnorm") != std::string::npos || name.find("classifier.1.") != std::string::npos;
        if (isNorm) {
            p.fill_(name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0 ? 1.0 : 0.0);
        } else if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0) {
            p.zero_();
        } else {
            p.normal_(0.0, 0.02);
        }
    }
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
    std::optional<BertTokenizer> tokenizer;
    ViltPreprocessConfig preprocess;

    torch::nn::Module& module() {
        if (vilt) return *vilt;
        return *clip;
    }

    void build(const ModelConfig& config, const EngineOptions& options) {
        useAllCores();
        if (options.device == DeviceKind::Cuda && !torch::cuda::is_available())
            throw Error("--device cuda: no CUDA device is available to this LibTorch build");
        device = options.device == DeviceKind::Cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
        dtype = torchPrecision(options.precision);
        if (dtype == torch::kHalf && device.is_cpu())
            throw Error("fp16 needs a CUDA device (the CPU kernels lack half precision); use bf16 or fp32");
        summary.config = config;
        if (config.family == ModelFamily::Vilt) {
            vilt = Vilt(config.vilt);
        } else {
            clip = ClipVision(config.clipVision);
        }
        module().eval();
        for (const auto& p : module().parameters()) summary.parameterCount += p.numel();
    }

    void moveToTarget() { module().to(device, dtype); }

    void requireVilt(const char* what) const {
        if (!vilt) throw Error(std::string(what) + " needs a ViLT model; this is " + summary.config.architecture);
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
        const auto report = loadStateDict(impl->module(), checkpoint, load);
        for (const auto& name : report.unexpected) {
            // Buffers that transformers itself ignores on load.
            if (name.find("position_ids") != std::string::npos) continue;
            impl->summary.warnings.push_back("unused checkpoint tensor '" + name + "'");
        }
    }
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
    initialiseRandom(impl->module(), options.seed);
    impl->moveToTarget();
    impl->summary.loadMs = msSince(start);
    return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

const ModelSummary& Engine::summary() const { return m_impl->summary; }
bool Engine::hasTokenizer() const { return m_impl->tokenizer.has_value(); }

std::vector<int64_t> Engine::tokenize(const std::string& text, std::vector<std::string>* pieces) const {
    if (!m_impl->tokenizer) throw Error(m_impl->summary.source + ": no vocab.txt in the model folder");
    const auto encoding = m_impl->tokenizer->encode(text);
    if (pieces) *pieces = encoding.tokens;
    return encoding.inputIds;
}

AnswerResult Engine::answer(const ImageU8& image, const std::string& question, int topK) {
    auto& d = *m_impl;
    d.requireVilt("answering a question");
    if (d.summary.config.vilt.head == ViltHead::ImagesAndTextClassification)
        throw Error("this is an NLVR2 model: it needs two images (answerPair)");
    c10::InferenceMode guard;
    AnswerResult result;
    auto start = std::chrono::steady_clock::now();
    ViltInputs inputs;
    inputs.inputIds = d.encodeText(question, &result.textTokens, &inputs.attentionMask);
    auto pixels = preprocessVilt({image}, d.preprocess, d.device);
    inputs.pixelValues = pixels.pixelValues;
    inputs.pixelMask = pixels.pixelMask;
    result.preprocessMs = msSince(start);
    start = std::chrono::steady_clock::now();
    auto outputs = d.vilt->forward(inputs);
    auto logits = outputs.logits.to(torch::kFloat).cpu();
    result.forwardMs = msSince(start);
    result.imageTokens = outputs.images.front().imageTokenMask.size(1);
    result.answers = d.rank(logits, topK, false);
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
    // Each image at its own size with its own mask (models.md §1.6), stacked after padding.
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

void Engine::preprocessToFile(const std::vector<ImageU8>& images, const std::string& outputsPath) {
    const auto pixels = preprocessVilt(images, m_impl->preprocess);
    writeTensorFile(outputsPath, {{"pixel_values", pixels.pixelValues}, {"pixel_mask", pixels.pixelMask.to(torch::kUInt8)}});
}

void Engine::forwardFile(const std::string& inputsPath, const std::string& outputsPath) {
    auto& d = *m_impl;
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

}  // namespace tokenscope
