// LLaVA-NeXT (transformers models/llava_next/modeling_llava_next.py): CLIP vision tower, AnyRes
// tiles, projector, LLaMA/Mistral decoder with a KV cache; it generates. Visual-token methods
// (HiRED and its baselines) act after the projector through the plan (core/methods); LLaVA-1.5 is
// the same family with one tile.

#include "families/llava_runtime.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "checkpoint/tensor_file.h"
#include "common/error.h"
#include "common/out_of_memory.h"
#include "io/json_file.h"
#include "engine/memory_probe.h"
#include "methods/reduction_plan.h"

namespace tokenscope {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double msBetween(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

int64_t cacheBytes(const KvCache& cache) {
    int64_t bytes = 0;
    for (const auto* part : {&cache.keys, &cache.values}) {
        for (const auto& t : *part) {
            if (t.defined()) bytes += static_cast<int64_t>(t.numel() * t.element_size());
        }
    }
    return bytes;
}

double median(std::vector<double> values) {
    if (values.empty()) return 0.0;
    std::sort(values.begin(), values.end());
    const auto n = values.size();
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// generation_config.json's eos_token_id: an integer or a list of them.
std::vector<int64_t> idList(const nlohmann::json& value) {
    std::vector<int64_t> ids;
    if (value.is_number_integer()) ids.push_back(value.get<int64_t>());
    if (value.is_array()) {
        for (const auto& v : value) {
            if (v.is_number_integer()) ids.push_back(v.get<int64_t>());
        }
    }
    return ids;
}

// Rows of prompt ids, left-padded with padId: [B, T] ids and their 0/1 mask (HF's batch convention).
std::pair<torch::Tensor, torch::Tensor> leftPadded(const std::vector<std::vector<int64_t>>& rows, int64_t padId) {
    std::size_t longest = 0;
    for (const auto& r : rows) longest = std::max(longest, r.size());
    const auto b = static_cast<int64_t>(rows.size()), t = static_cast<int64_t>(longest);
    auto ids = torch::full({b, t}, padId, torch::kLong);
    auto mask = torch::zeros({b, t}, torch::kLong);
    for (int64_t i = 0; i < b; ++i) {
        const auto& r = rows[static_cast<std::size_t>(i)];
        const auto begin = t - static_cast<int64_t>(r.size());
        ids[i].slice(0, begin).copy_(torch::tensor(r, torch::kLong));
        mask[i].slice(0, begin).fill_(1);
    }
    return {ids, mask};
}

}  // namespace

LlavaRuntime::LlavaRuntime(const LlavaNextConfig& config, RuntimeContext& context)
    : FamilyRuntime(context), m_config(config) {
    m_model = LlavaNext(config);
    m_model->eval();
    // The processor of the config's tower when the folder has no preprocessor_config.json.
    m_preprocess.gridPinpoints = config.imageGridPinpoints;
    m_preprocess.shortestEdge = m_preprocess.cropHeight = m_preprocess.cropWidth = config.vision.imageSize;
    m_stopTokenIds = {config.text.eosTokenId};
    m_padTokenId = config.text.padTokenId >= 0 ? config.text.padTokenId : 0;
}

StateDictReport LlavaRuntime::loadWeights(const Checkpoint& checkpoint, const StateDictOptions& options) {
    return loadLlavaNextWeights(*m_model, checkpoint, options.progress, options.cancel);
}

void LlavaRuntime::readFolder(const std::string& folder) {
    const fs::path root(folder);
    std::error_code ec;
    if (fs::exists(root / "preprocessor_config.json", ec)) m_preprocess = loadAnyResConfig((root / "preprocessor_config.json").string());
    if (fs::exists(root / "tokenizer.model", ec)) m_tokenizer = SentencePieceTokenizer::fromFolder(folder);
    m_template = llavaTemplateForFolder(folder);
    if (m_tokenizer && m_tokenizer->eosId() >= 0) m_stopTokenIds = {m_tokenizer->eosId()};
    if (fs::exists(root / "generation_config.json", ec)) {
        const auto path = (root / "generation_config.json").string();
        const auto json = readJsonObjectFile(path, "generation config");
        if (json.contains("eos_token_id")) {
            auto ids = idList(json["eos_token_id"]);
            if (!ids.empty() || json["eos_token_id"].is_null()) m_stopTokenIds = ids;
        }
        if (json.contains("pad_token_id") && json["pad_token_id"].is_number_integer()) {
            m_padTokenId = json["pad_token_id"].get<int64_t>();
        } else if (!m_stopTokenIds.empty()) {
            m_padTokenId = m_stopTokenIds.front();  // HF: pad falls back to eos
        }
    }
}

const SentencePieceTokenizer& LlavaRuntime::tokenizer() const {
    if (!m_tokenizer) throw Error("this LLaVA-NeXT model has no tokenizer.model, so it cannot read a prompt");
    return *m_tokenizer;
}

std::vector<int64_t> LlavaRuntime::tokenize(const std::string& text, std::vector<std::string>* pieces) const {
    const auto& tok = tokenizer();
    if (pieces) *pieces = tok.encodeAsPieces(text, true);
    return tok.encode(text, true);
}

void LlavaRuntime::synchronize() const { synchronizeDevice(device()); }

FamilyCapabilities LlavaRuntime::capabilities() const {
    FamilyCapabilities c;
    c.family = FamilyKind::Llava;
    c.stages = {Stage::Vision, Stage::Projector, Stage::Decoder};
    c.generates = true;
    c.selectsVisualTokens = true;
    return c;
}

void LlavaRuntime::forwardFile(const std::string&, const std::string&, const MethodSettings&) {
    throw Error(summary().source + ": a LLaVA-NeXT model runs raw tensors through 'generate --inputs'");
}

LlavaRuntime::Pixels LlavaRuntime::preprocess(const std::vector<ImageU8>& images) const {
    const auto batch = preprocessAnyRes(images, m_preprocess);
    if (batch.pixelValues.size(-1) != m_config.vision.imageSize || batch.pixelValues.size(-2) != m_config.vision.imageSize)
        throw Error("preprocessor_config.json crops to " + std::to_string(batch.pixelValues.size(-1)) +
                    " px but the vision tower reads " + std::to_string(m_config.vision.imageSize) + " px");
    return {batch.pixelValues.to(device(), dtype()), batch.imageSizes.to(device())};
}

GenerateOptions LlavaRuntime::generateOptions(int maxNewTokens, bool stopAtEos, const std::atomic<bool>* cancel) const {
    GenerateOptions options;
    options.maxNewTokens = maxNewTokens;
    if (stopAtEos) options.stopTokenIds = m_stopTokenIds;
    options.padTokenId = m_padTokenId;
    options.cancel = cancel;
    return options;
}

GenerateResult LlavaRuntime::generate(const GenerateRequest& request, const GenerateCallback& onToken,
                                      const std::atomic<bool>* cancel) {
    const auto& tok = tokenizer();
    if (request.maxNewTokens < 1) throw Error("max new tokens must be at least 1");
    c10::InferenceMode guard;
    GenerateResult result;
    result.prompt = request.rawPrompt ? request.prompt : formatLlavaPrompt(m_template, request.prompt);
    encodeLlavaPrompt(tok, result.prompt, m_config.imageTokenIndex, 1);  // refuses a prompt without exactly one <image>

    resetRssPeak();
    Timeline timeline(timelineOptions(device(), false));
    const TimelineScope timelineScope(&timeline);
    const auto start = Clock::now();
    const auto pixels = preprocess({request.image});
    synchronize();
    auto mark = Clock::now();
    result.timings.preprocessMs = msBetween(start, mark);

    const auto settings = visualSelectionOf(request.method, m_config.text.numHiddenLayers);
    ImageEncodeOptions encodeOptions;
    encodeOptions.reduction = &settings;
    encodeOptions.keepRecords = true;
    encodeOptions.keepClsAttention = request.attentionMaps;
    encodeOptions.cancel = cancel;
    const auto images = reportingOutOfMemory("the vision tower", [&] { return m_model->encodeImages(pixels.values, pixels.sizes, encodeOptions); });
    synchronize();
    const auto visionDone = Clock::now();
    result.timings.visionMs = msBetween(mark, visionDone);
    result.method = request.method;
    result.trace = visualSelectionTrace(images.records.front());
    result.visualTokens = static_cast<int>(images.lengths.front());

    const auto ids = encodeLlavaPrompt(tok, result.prompt, m_config.imageTokenIndex, images.lengths.front());
    result.promptTokens = static_cast<int>(ids.size());
    auto options = generateOptions(request.maxNewTokens, true, cancel);
    // Only ids the tokenizer's model pieces cover (llava-hf: < 32000, where lm_head rows are
    // trained); not when a stop id lies beyond them.
    const auto pieces = tok.pieceCount();
    if (std::all_of(m_stopTokenIds.begin(), m_stopTokenIds.end(), [&](int64_t id) { return id < pieces; }))
        options.argmaxBelow = std::min<int64_t>(pieces, m_config.text.vocabSize);
    KvCache cache;
    options.cache = &cache;
    StreamingDecoder decoder(tok);
    auto firstToken = visionDone, lastToken = visionDone;
    const auto onStep = [&](int step, const torch::Tensor& next) {
        const auto id = next[0].item<int64_t>();
        lastToken = Clock::now();
        if (step == 0) firstToken = lastToken;
        result.tokenIds.push_back(id);
        if (std::find(m_stopTokenIds.begin(), m_stopTokenIds.end(), id) != m_stopTokenIds.end()) result.stoppedAtEos = true;
        const auto delta = decoder.push(id);
        return !onToken || onToken(delta, id);
    };
    const auto input = torch::tensor(ids, torch::kLong).unsqueeze(0).to(device());  // [1, T]
    reportingOutOfMemory("generation", [&] { return m_model->generateEncoded(input, {}, &images, options, onStep); });
    const auto tail = decoder.finish();
    if (!tail.empty() && onToken) onToken(tail, -1);
    result.text = decoder.text();

    auto& t = result.timings;
    t.prefillMs = msBetween(visionDone, firstToken);
    t.ttftMs = msBetween(start, firstToken);
    t.decodeMs = msBetween(firstToken, lastToken);
    t.totalMs = msBetween(start, lastToken);
    const auto generated = static_cast<double>(result.tokenIds.size());
    t.decodeTokensPerSecond = t.decodeMs > 0 ? (generated - 1) / (t.decodeMs / 1000.0) : 0.0;
    t.hiredTokensPerSecond = t.totalMs > 0 ? generated / (t.totalMs / 1000.0) : 0.0;
    result.memory = memoryReport(timeline, device(), MemoryProtocol::Inference, weightsBytes(), Stage::Decoder,
                                 m_config.text.numHiddenLayers, cacheBytes(cache));
    return result;
}

GenerateResult LlavaRuntime::selectVisualTokens(const ImageU8& image, const MethodSettings& method,
                                                const std::atomic<bool>* cancel) {
    c10::InferenceMode guard;
    const auto settings = visualSelectionOf(method, m_config.text.numHiddenLayers);
    const auto pixels = preprocess({image});
    ImageEncodeOptions options;
    options.reduction = &settings;
    options.keepRecords = true;
    options.keepClsAttention = true;
    options.cancel = cancel;
    const auto images = m_model->encodeImages(pixels.values, pixels.sizes, options);
    GenerateResult result;
    result.method = method;
    result.trace = visualSelectionTrace(images.records.front());
    result.visualTokens = static_cast<int>(images.lengths.front());
    return result;
}

void LlavaRuntime::generateFile(const std::string& inputsPath, const std::string& outputsPath, int maxNewTokens,
                                const MethodSettings& method) {
    if (maxNewTokens < 1) throw Error("max new tokens must be at least 1");
    const auto settings = visualSelectionOf(method, m_config.text.numHiddenLayers);
    const RawTensors raw(inputsPath, device());
    const auto name = fs::path(inputsPath).filename().string();
    const auto take = [&](const char* key, bool required) { return raw.take(key, required); };
    c10::InferenceMode guard;
    const auto ids = take("input_ids", true).to(torch::kLong);
    const auto mask = take("attention_mask", false);
    auto positions = take("position_ids", false);
    auto pixels = take("pixel_values", false);
    const auto sizes = take("image_sizes", false);
    if (pixels.defined() && !sizes.defined()) throw Error(name + ": pixel_values need image_sizes");
    if (pixels.defined()) pixels = pixels.to(dtype());
    if (positions.defined()) positions = positions.to(torch::kLong);

    std::optional<EncodedImages> images;
    if (pixels.defined() && pixels.numel() > 0) {
        ImageEncodeOptions options;
        options.reduction = &settings;
        images = m_model->encodeImages(pixels, sizes, options);
    }
    const auto* encoded = images ? &*images : nullptr;
    const auto out = m_model->forwardEncoded(ids, mask, positions, encoded, {});
    // Generation as transformers' generate: positions from the mask, greedy, stop at eos, pad after.
    const auto tokens = m_model->generateEncoded(ids, mask, encoded, generateOptions(maxNewTokens, true, nullptr));
    writeTensorFile(outputsPath, {{"logits", out.logits.to(torch::kFloat)}, {"generated_new_tokens", tokens.to(torch::kLong)}});
}

void LlavaRuntime::preprocessToFile(const std::vector<ImageU8>& images, const std::string& outputsPath) {
    const auto batch = preprocessAnyRes(images, m_preprocess);
    writeTensorFile(outputsPath, {{"pixel_values", batch.pixelValues}, {"image_sizes", batch.imageSizes}});
}

GenerationBenchRow LlavaRuntime::benchmarkGeneration(const GenerationBenchRequest& request) {
    if (request.batch < 1) throw Error("batch must be at least 1");
    if (request.runs < 1) throw Error("runs must be at least 1");
    if (request.maxNewTokens < 1) throw Error("max new tokens must be at least 1");
    if (request.imageHeight < 1 || request.imageWidth < 1) throw Error("the synthetic image needs a positive size");
    c10::InferenceMode guard;
    GenerationBenchRow row;
    row.method = request.method;
    const auto settings = visualSelectionOf(request.method, m_config.text.numHiddenLayers);
    row.batch = request.batch;
    row.runs = request.runs;
    row.newTokens = request.maxNewTokens;

    // Synthetic inputs: random pixels, a prompt of random ordinary ids around one image.
    torch::manual_seed(request.seed);
    std::vector<ImageU8> images;
    for (int i = 0; i < request.batch; ++i) {
        const auto pixels = torch::randint(0, 256, {request.imageHeight, request.imageWidth, 3}, torch::kUInt8).contiguous();
        images.push_back({request.imageWidth, request.imageHeight, 3,
                          std::vector<uint8_t>(pixels.data_ptr<uint8_t>(), pixels.data_ptr<uint8_t>() + pixels.numel())});
    }
    const int64_t textIds = std::max<int64_t>(4, std::min<int64_t>(m_config.imageTokenIndex, m_config.text.vocabSize));
    const auto text = torch::randint(3, textIds, {std::max(2, request.promptTokens)}, torch::kLong);
    const std::vector<int64_t> textTokens(text.data_ptr<int64_t>(), text.data_ptr<int64_t>() + text.numel());
    const auto split = textTokens.size() / 2;

    struct Sample {
        double visionMs = 0, prefillMs = 0, ttftMs = 0, decodeMs = 0, totalMs = 0;
    };
    const auto runOnce = [&](MemoryReport* memory) {
        resetRssPeak();
        Timeline timeline(timelineOptions(device(), false));
        const TimelineScope timelineScope(&timeline);
        Sample sample;
        const auto start = Clock::now();
        const auto pixels = preprocess(images);
        ImageEncodeOptions encodeOptions;
        encodeOptions.reduction = &settings;
        const auto encoded = m_model->encodeImages(pixels.values, pixels.sizes, encodeOptions);
        synchronize();
        const auto visionDone = Clock::now();
        sample.visionMs = msBetween(start, visionDone);
        std::vector<std::vector<int64_t>> rows;
        for (int i = 0; i < request.batch; ++i) {
            std::vector<int64_t> ids{m_config.text.bosTokenId};
            ids.insert(ids.end(), textTokens.begin(), textTokens.begin() + static_cast<std::ptrdiff_t>(split));
            ids.insert(ids.end(), static_cast<std::size_t>(encoded.lengths[static_cast<std::size_t>(i)]), m_config.imageTokenIndex);
            ids.insert(ids.end(), textTokens.begin() + static_cast<std::ptrdiff_t>(split), textTokens.end());
            rows.push_back(std::move(ids));
        }
        const auto [ids, mask] = leftPadded(rows, m_padTokenId);
        row.promptTokens = static_cast<int>(ids.size(1));
        row.visualTokensKept = static_cast<int>(encoded.lengths.front());
        KvCache cache;
        auto options = generateOptions(request.maxNewTokens, false, nullptr);  // no early stop: always N tokens
        options.cache = &cache;
        auto firstToken = visionDone, lastToken = visionDone;
        m_model->generateEncoded(ids.to(device()), mask.to(device()), &encoded, options, [&](int step, const torch::Tensor&) {
            lastToken = Clock::now();  // the ids reached the CPU: the step is done
            if (step == 0) firstToken = lastToken;
            return true;
        });
        sample.prefillMs = msBetween(visionDone, firstToken);
        sample.ttftMs = msBetween(start, firstToken);
        sample.decodeMs = msBetween(firstToken, lastToken);
        sample.totalMs = msBetween(start, lastToken);
        if (memory)
            *memory = memoryReport(timeline, device(), MemoryProtocol::Inference, weightsBytes(), Stage::Decoder,
                                   m_config.text.numHiddenLayers, cacheBytes(cache));
        return sample;
    };

    row.visualTokensUnreduced =
        static_cast<int>(llavaNextFeatureCount(m_config, request.imageHeight, request.imageWidth));
    markingOutOfMemory(row, [&] {
        runOnce(nullptr);  // warm-up
        std::vector<double> vision, prefill, ttft, decodeRate, total, hiredRate;
        for (int r = 0; r < request.runs; ++r) {
            const auto s = runOnce(&row.memory);
            vision.push_back(s.visionMs);
            prefill.push_back(s.prefillMs);
            ttft.push_back(s.ttftMs);
            total.push_back(s.totalMs);
            decodeRate.push_back(s.decodeMs > 0 ? request.batch * (request.maxNewTokens - 1) / (s.decodeMs / 1000.0) : 0.0);
            hiredRate.push_back(request.batch * request.maxNewTokens / (s.totalMs / 1000.0));
        }
        row.visionMs = median(vision);
        row.prefillMs = median(prefill);
        row.ttftMs = median(ttft);
        row.decodeTokensPerSecond = median(decodeRate);
        row.endToEndMs = median(total);
        row.hiredTokensPerSecond = median(hiredRate);
    });
    return row;
}

}  // namespace tokenscope
