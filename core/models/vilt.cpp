#include "models/vilt.h"

#include <chrono>
#include <optional>

#include "common/error.h"
#include "engine/timeline.h"

namespace tokenscope {

namespace F = torch::nn::functional;

namespace {

// Wall time of one block. The device is synchronised on both sides so that queued kernels are
// counted in the block that launched them (a no-op on the CPU).
class LayerClock {
public:
    explicit LayerClock(bool enabled) : m_enabled(enabled) {}
    void start(const torch::Tensor& x) {
        if (!m_enabled) return;
        synchronize(x);
        m_start = std::chrono::steady_clock::now();
    }
    void stop(const torch::Tensor& x, std::vector<double>& layerMs) {
        if (!m_enabled) return;
        synchronize(x);
        layerMs.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - m_start).count());
    }

private:
    static void synchronize(const torch::Tensor& x) {
        if (x.is_cuda()) torch::cuda::synchronize(x.device().index());
    }
    bool m_enabled = false;
    std::chrono::steady_clock::time_point m_start;
};

}  // namespace

ViltImpl::ViltImpl(const ViltConfig& config) : m_config(config) {
    const int c = config.hiddenSize;
    auto& embeddings = moduleAt(*this, "vilt.embeddings");
    m_clsToken = embeddings.register_parameter("cls_token", torch::zeros({1, 1, c}));
    const int grid = config.imageSize / config.patchSize;
    m_positionEmbeddings = embeddings.register_parameter("position_embeddings", torch::zeros({1, grid * grid + 1, c}));
    m_patchProjection = moduleAt(*this, "vilt.embeddings.patch_embeddings")
                            .register_module("projection", torch::nn::Conv2d(torch::nn::Conv2dOptions(
                                                                config.numChannels, c, config.patchSize)
                                                                                 .stride(config.patchSize)));
    m_modalityEmbeddings =
        embeddings.register_module("token_type_embeddings", torch::nn::Embedding(config.modalityTypeVocabSize, c));
    auto& text = moduleAt(*this, "vilt.embeddings.text_embeddings");
    m_wordEmbeddings = text.register_module("word_embeddings", torch::nn::Embedding(config.vocabSize, c));
    m_textPositionEmbeddings =
        text.register_module("position_embeddings", torch::nn::Embedding(config.maxPositionEmbeddings, c));
    m_textTokenTypeEmbeddings = text.register_module("token_type_embeddings", torch::nn::Embedding(config.typeVocabSize, c));
    m_textLayerNorm =
        text.register_module("LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c}).eps(config.layerNormEps)));

    const BlockShape shape{c, config.numAttentionHeads, config.intermediateSize, config.layerNormEps, config.qkvBias,
                           config.hiddenAct};
    const BlockNames names{"layernorm_before", "layernorm_after", "attention.attention", "query", "key", "value",
                           "attention.output", "dense", "intermediate.dense", "output.dense"};
    auto& layers = moduleAt(*this, "vilt.encoder.layer");
    for (int i = 0; i < config.numHiddenLayers; ++i) {
        m_layers.push_back(layers.register_module(std::to_string(i), PreNormBlock(shape, names)));
    }
    m_finalLayerNorm = moduleAt(*this, "vilt").register_module(
        "layernorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c}).eps(config.layerNormEps)));
    m_pooler = moduleAt(*this, "vilt.pooler").register_module("dense", torch::nn::Linear(c, c));

    switch (config.head) {
        case ViltHead::QuestionAnswering:
        case ViltHead::ImagesAndTextClassification: {
            const int in = config.head == ViltHead::QuestionAnswering ? c : c * config.numImages;
            const int hidden = config.head == ViltHead::QuestionAnswering ? 2 * c : in;
            auto& classifier = moduleAt(*this, "classifier");
            m_classifierIn = classifier.register_module("0", torch::nn::Linear(in, hidden));
            // PyTorch's default eps here, not the config's (a plain nn.LayerNorm in transformers' ViLT heads).
            m_classifierNorm = classifier.register_module("1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden})));
            m_classifierOut = classifier.register_module(
                "3", torch::nn::Linear(hidden, static_cast<int64_t>(config.id2label.size())));
            break;
        }
        case ViltHead::ImageAndTextRetrieval:
            m_rankOutput = register_module("rank_output", torch::nn::Linear(c, 1));
            break;
        case ViltHead::None:
            break;
    }
    if (config.dynamicVit) {
        auto& predictors = moduleAt(*this, "dynamicvit.predictors");
        for (std::size_t i = 0; i < config.dynamicVit->pruneLocations.size(); ++i)
            m_dynamicVitPredictors.push_back(predictors.register_module(std::to_string(i), DynamicVitPredictor(c)));
    }
}

torch::Tensor ViltImpl::textEmbeddings(const ViltInputs& inputs) {
    const auto length = inputs.inputIds.size(1);
    if (length > m_config.maxPositionEmbeddings)
        throw Error("the text has " + std::to_string(length) + " tokens but the model takes at most " +
                    std::to_string(m_config.maxPositionEmbeddings));
    auto tokenTypes = inputs.tokenTypeIds.defined() ? inputs.tokenTypeIds : torch::zeros_like(inputs.inputIds);
    auto positions = torch::arange(length, inputs.inputIds.options()).unsqueeze(0);  // [1, T]
    auto x = m_wordEmbeddings(inputs.inputIds) + m_textTokenTypeEmbeddings(tokenTypes) + m_textPositionEmbeddings(positions);
    return m_textLayerNorm(x);  // [B, T, C]
}

void ViltImpl::visualEmbeddings(const torch::Tensor& pixelValues, const torch::Tensor& pixelMask, ViltEncoding& encoding,
                                torch::Tensor& embeddings, torch::Tensor& mask) {
    const auto b = pixelValues.size(0);
    const auto c = static_cast<int64_t>(m_config.hiddenSize);
    auto patches = m_patchProjection(pixelValues);  // [B, C, h, w]
    const auto gridH = patches.size(2), gridW = patches.size(3);
    encoding.gridHeight = gridH;
    encoding.gridWidth = gridW;

    // A patch is valid when the nearest-sampled mask pixel (its top-left one) is valid.
    auto patchMask = F::interpolate(pixelMask.unsqueeze(1).to(torch::kFloat),
                                    F::InterpolateFuncOptions()
                                        .size(std::vector<int64_t>{gridH, gridW})
                                        .mode(torch::kNearest))
                         .squeeze(1);  // [B, h, w]
    auto rows = patchMask.select(2, 0).sum(1).to(torch::kLong);  // valid rows, counted in column 0
    auto cols = patchMask.select(1, 0).sum(1).to(torch::kLong);  // valid columns, counted in row 0

    const int64_t tableGrid = m_config.imageSize / m_config.patchSize;
    auto table = m_positionEmbeddings.slice(1, 1).transpose(1, 2).reshape({1, c, tableGrid, tableGrid});
    std::vector<torch::Tensor> positions;
    auto rowsCpu = rows.cpu(), colsCpu = cols.cpu();
    for (int64_t i = 0; i < b; ++i) {
        const int64_t h = rowsCpu[i].item<int64_t>(), w = colsCpu[i].item<int64_t>();
        if (h == 0 || w == 0) throw Error("image " + std::to_string(i) + " has no valid patch (pixel_mask is empty)");
        auto interpolated = F::interpolate(table, F::InterpolateFuncOptions()
                                                      .size(std::vector<int64_t>{h, w})
                                                      .mode(torch::kBilinear)
                                                      .align_corners(true));  // [1, C, h_i, w_i]
        positions.push_back(F::pad(interpolated, F::PadFuncOptions({0, gridW - w, 0, gridH - h})));
    }
    auto positionGrid = torch::cat(positions, 0).flatten(2).transpose(1, 2);  // [B, h*w, C]
    auto patchTokens = patches.flatten(2).transpose(1, 2);                     // [B, h*w, C]
    auto flatMask = patchMask.flatten(1);                                      // [B, h*w]

    // Every valid patch of every image; shorter images are filled with their first invalid patches
    // (the reference picks those at random; attention makes the order irrelevant).
    auto validCounts = flatMask.sum(1).to(torch::kLong).cpu();
    const int64_t length = validCounts.max().item<int64_t>();
    std::vector<torch::Tensor> selections;
    auto flatMaskCpu = flatMask.cpu();
    for (int64_t i = 0; i < b; ++i) {
        auto valid = torch::nonzero(flatMaskCpu[i] > 0.5).flatten();
        auto invalid = torch::nonzero(flatMaskCpu[i] <= 0.5).flatten();
        selections.push_back(torch::cat({valid, invalid.slice(0, 0, length - valid.size(0))}));
    }
    auto select = torch::stack(selections).to(patches.device());  // [B, N]
    auto tokens = selectRows(patchTokens, select) + selectRows(positionGrid, select);  // [B, N, C]
    auto tokenMask = flatMask.gather(1, select);               // [B, N]

    auto cls = (m_clsToken + m_positionEmbeddings.slice(1, 0, 1)).expand({b, 1, c});
    embeddings = torch::cat({cls, tokens}, 1);  // [B, 1+N, C]
    mask = torch::cat({torch::ones({b, 1}, tokenMask.options()), tokenMask}, 1).to(torch::kLong);
    encoding.imagePatchIndex = torch::stack({torch::div(select, gridW, "floor"), select.remainder(gridW)}, -1);  // [B, N, 2]
}

PlanContext viltPlanContext(const ViltConfig& config, int shortestEdge, int sizeDivisor) {
    PlanContext context;
    context.family = FamilyKind::Vilt;
    context.layers[Stage::Fusion] = config.numHiddenLayers;
    context.preprocessShortestEdge = shortestEdge;
    context.preprocessSizeDivisor = sizeDivisor;
    if (config.dynamicVit) context.dynamicVitLocations = config.dynamicVit->pruneLocations;
    return context;
}

ViltEncoding ViltImpl::encode(const ViltInputs& inputs, int64_t imageTokenType, const ViltForwardOptions& options) {
    ViltEncoding encoding;
    const auto b = inputs.inputIds.size(0);
    std::optional<TimelineSpanGuard> embeddingSpan(std::in_place, "embeddings", Stage::Embeddings);
    auto text = textEmbeddings(inputs);
    torch::Tensor image, imageMask;
    auto pixelMask = inputs.pixelMask.defined()
                         ? inputs.pixelMask
                         : torch::ones({b, inputs.pixelValues.size(2), inputs.pixelValues.size(3)},
                                       torch::TensorOptions().device(inputs.pixelValues.device()));
    visualEmbeddings(inputs.pixelValues.to(m_clsToken.dtype()), pixelMask, encoding, image, imageMask);
    const auto textMask = inputs.attentionMask.defined() ? inputs.attentionMask.to(torch::kLong)
                                                         : torch::ones_like(inputs.inputIds);
    text = text + m_modalityEmbeddings(torch::zeros_like(textMask));
    image = image + m_modalityEmbeddings(torch::full_like(imageMask, imageTokenType));
    auto hidden = torch::cat({text, image}, 1);  // [B, L, C]
    encoding.textLength = text.size(1);
    text = image = torch::Tensor();  // the parts are in `hidden` now; do not hold them through the layers
    encoding.imageTokenMask = imageMask;
    encoding.fullAttentionMask = torch::cat({textMask, imageMask}, 1);  // [B, L]
    const auto additiveMask = additiveKeyMask(encoding.fullAttentionMask, hidden.scalar_type());

    embeddingSpan.reset();
    if (options.keepHiddenStates) encoding.hiddenStates.push_back(hidden);
    if (options.plan && (options.plan->embeddingDrop || options.plan->dynamicVit ||
                         options.plan->numerics == ReductionMode::Reference || !options.plan->steps.empty()))
        return encodeReduced(std::move(hidden), encoding, options);
    AttentionProbe probe;
    probe.wantFull = options.keepAttentions;
    LayerClock clock(options.timeLayers);
    for (std::size_t i = 0; i < m_layers.size(); ++i) {
        auto& layer = m_layers[i];
        if (options.cancel && options.cancel->load()) throw Cancelled();
        const TimelineSpanGuard layerSpan("layer", Stage::Fusion, static_cast<int>(i));
        AttentionProbs probs;
        clock.start(hidden);
        {
            const TimelineSpanGuard span("attention", Stage::Fusion, static_cast<int>(i), true);
            hidden = layer->attentionHalf(hidden, additiveMask, options.keepAttentions ? &probe : nullptr, &probs);
        }
        {
            const TimelineSpanGuard span("mlp", Stage::Fusion, static_cast<int>(i), true);
            hidden = layer->mlpHalf(hidden);
        }
        clock.stop(hidden, encoding.layerMs);
        if (options.keepAttentions) encoding.attentions.push_back(probs.full);
        if (options.keepHiddenStates) encoding.hiddenStates.push_back(hidden);
    }
    const TimelineSpanGuard span("pooler", Stage::Head);
    encoding.lastHiddenState = m_finalLayerNorm(hidden);
    encoding.poolerOutput = torch::tanh(m_pooler(encoding.lastHiddenState.select(1, 0)));
    return encoding;
}

ViltEncoding ViltImpl::encodeReduced(torch::Tensor hidden, ViltEncoding& encoding, const ViltForwardOptions& options) {
    const auto& plan = *options.plan;
    const auto numerics = plan.numerics;
    ViltLayerState state;
    state.mask = encoding.fullAttentionMask.to(hidden.scalar_type());
    state.hidden = std::move(hidden);
    // Joint ToMe keeps its rows over the whole sequence in the sources: it always records them.
    state.recordProvenance = options.recordProvenance || plan.tome.joint;
    state.textLength = encoding.textLength;
    if (plan.embeddingDrop) {
        const TimelineSpanGuard span("reduce", Stage::Embeddings);
        const auto kind = plan.embeddingDrop->kind == DropKind::Random ? ReductionMethod::RandomDrop : ReductionMethod::UniformDrop;
        auto dropped = dropImagePatches(state, *plan.embeddingDrop);
        state = std::move(dropped.state);
        if (dropped.record) encoding.reductions.push_back({-1, kind, std::move(*dropped.record)});
    }
    // DynamicViT: the next stage, the patch count P0 its budgets refer to, the keep decision (training).
    const DynamicVitSettings* dynamicVit = plan.dynamicVit ? &*plan.dynamicVit : nullptr;
    std::size_t stage = 0;
    const auto initialPatches = state.hidden.size(1) - state.textLength - 1;
    torch::Tensor decision;
    if (dynamicVit) {
        if (static_cast<int64_t>(dynamicVit->locations.size()) != dynamicVitPredictorCount() || dynamicVit->locations.empty())
            throw Error("DynamicViT needs one prune location per predictor: the model has " +
                        std::to_string(dynamicVitPredictorCount()) + ", the settings name " +
                        std::to_string(dynamicVit->locations.size()));
        decision = state.mask.slice(1, state.textLength + 1);  // [B, N0] valid patches
    }
    LayerClock clock(options.timeLayers);
    for (std::size_t i = 0; i < m_layers.size(); ++i) {
        if (options.cancel && options.cancel->load()) throw Cancelled();
        const TimelineSpanGuard layerSpan("layer", Stage::Fusion, static_cast<int>(i));
        clock.start(state.hidden);
        if (dynamicVit && stage < dynamicVit->locations.size() && dynamicVit->locations[stage] == static_cast<int>(i)) {
            dynamicVitStage(static_cast<int>(stage), static_cast<int>(i), *dynamicVit, initialPatches, state, decision, encoding);
            ++stage;
        }
        // What the plan does between this block's attention and its MLP.
        const auto& planned = plan.at(Stage::Fusion, static_cast<int>(i));
        ViltLayerStep step;
        ReductionMethod recordKind = ReductionMethod::Pumer;
        if (planned.op == LayerStep::Op::Tome) {
            recordKind = ReductionMethod::Tome;
            step = runViltTomeLayer(*m_layers[i], std::move(state), planned.tomeR, plan.tome, options.keepAttentions);
        } else if (dynamicVit && dynamicVit->training && stage > 0) {
            // Training: once a policy exists, attention must stay differentiable in it.
            step = runViltPolicyLayer(*m_layers[i], std::move(state), options.keepAttentions);
        } else {
            step = runViltLayer(*m_layers[i], std::move(state), numerics,
                                planned.op == LayerStep::Op::Pumer ? &planned.pumer : nullptr, options.keepAttentions);
        }
    clock.stop(step.state.hidden, encoding.layerMs);
        state = std::move(step.state);
        if (step.record) encoding.reductions.push_back({static_cast<int>(i), recordKind, std::move(*step.record)});
        if (options.keepAttentions) encoding.attentions.push_back(step.attention);
        if (options.keepHiddenStates) encoding.hiddenStates.push_back(state.hidden);
    }
    if (dynamicVit && stage != dynamicVit->locations.size())
        throw Error("DynamicViT prune locations must increase strictly within 0.." + std::to_string(m_layers.size() - 1));
    const TimelineSpanGuard span("pooler", Stage::Head);
    encoding.textLength = state.textLength;
    encoding.finalMask = state.mask;
    encoding.lastHiddenState =
        numerics == ReductionMode::Reference
            ? torch::layer_norm(state.hidden, {m_config.hiddenSize}, m_finalLayerNorm->weight, m_finalLayerNorm->bias,
                                kPumerLayerNormEps)
            : m_finalLayerNorm(state.hidden);
    encoding.poolerOutput = torch::tanh(m_pooler(encoding.lastHiddenState.select(1, 0)));
    return encoding;
}

torch::Tensor ViltImpl::classify(const torch::Tensor& pooled) {
    switch (m_config.head) {
        case ViltHead::QuestionAnswering:
        case ViltHead::ImagesAndTextClassification:
            return m_classifierOut(torch::gelu(m_classifierNorm(m_classifierIn(pooled))));
        case ViltHead::ImageAndTextRetrieval:
            return m_rankOutput(pooled);
        case ViltHead::None:
            return {};
    }
    return {};
}

ViltOutputs ViltImpl::forward(const ViltInputs& inputs, const ViltForwardOptions& options) {
    ViltOutputs outputs;
    if (m_config.head != ViltHead::ImagesAndTextClassification) {
        if (inputs.pixelValues.dim() != 4) throw Error("pixel_values must be [batch, channels, height, width]");
        outputs.images.push_back(encode(inputs, 1, options));
        const TimelineSpanGuard span("classifier", Stage::Head);
        outputs.logits = classify(outputs.images.back().poolerOutput);
        return outputs;
    }
    if (inputs.pixelValues.dim() != 5 || inputs.pixelValues.size(1) != m_config.numImages)
        throw Error("this NLVR2 model needs pixel_values [batch, " + std::to_string(m_config.numImages) +
                    ", channels, height, width]");
    std::vector<torch::Tensor> pooled;
    for (int64_t i = 0; i < m_config.numImages; ++i) {
        ViltInputs one = inputs;
        one.pixelValues = inputs.pixelValues.select(1, i);
        one.pixelMask = inputs.pixelMask.defined() ? inputs.pixelMask.select(1, i) : torch::Tensor();
        outputs.images.push_back(encode(one, i + 1, options));
        pooled.push_back(outputs.images.back().poolerOutput);
    }
    const TimelineSpanGuard span("classifier", Stage::Head);
    outputs.logits = classify(torch::cat(pooled, -1));
    return outputs;
}

}  // namespace tokenscope
