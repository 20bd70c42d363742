#include "models/meter.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "common/error.h"
#include "engine/timeline.h"
#include "models/transformer_block.h"

namespace tokenscope {

namespace {

torch::nn::LayerNorm layerNorm(int width, double eps) {
    return torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(eps));
}

void synchronize(const torch::Tensor& x) {
    if (x.is_cuda()) torch::cuda::synchronize(x.device().index());
}

bool startsWith(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

// Checkpoint tensors that METER's (and PuMer's) forward never reads.
bool isKnownUnused(const std::string& name) {
    return name == "text_transformer.embeddings.position_ids" || startsWith(name, "text_transformer.pooler.") ||
           (startsWith(name, "vit_model.") && !startsWith(name, "vit_model.visual.")) || startsWith(name, "mlm_score.");
}

}  // namespace

const char* meterTaskName(MeterTask task) {
    switch (task) {
        case MeterTask::Vqa: return "vqa";
        case MeterTask::Nlvr2: return "nlvr2";
        case MeterTask::Snli: return "snli";
        case MeterTask::Itm: return "itm";
        case MeterTask::Retrieval: return "retrieval";
    }
    return "vqa";
}

// ---------------------------------------------------------------------------------------------
// Parameters under the checkpoint's names.

MeterImpl::MeterImpl(const MeterConfig& config) : m_config(config) {
    const auto& t = config.text;
    auto& embeddings = moduleAt(*this, "text_transformer.embeddings");
    m_wordEmbeddings = embeddings.register_module("word_embeddings", torch::nn::Embedding(t.vocabSize, t.hiddenSize));
    m_positionEmbeddings =
        embeddings.register_module("position_embeddings", torch::nn::Embedding(t.maxPositionEmbeddings, t.hiddenSize));
    m_textTypeEmbeddings =
        embeddings.register_module("token_type_embeddings", torch::nn::Embedding(t.typeVocabSize, t.hiddenSize));
    m_embeddingNorm = embeddings.register_module("LayerNorm", layerNorm(t.hiddenSize, t.layerNormEps));
    auto& textLayers = moduleAt(*this, "text_transformer.encoder.layer");
    for (int i = 0; i < t.numHiddenLayers; ++i) {
        m_textLayers.push_back(textLayers.register_module(
            std::to_string(i), BertLayer(t.hiddenSize, t.numAttentionHeads, t.intermediateSize, t.layerNormEps, false)));
    }

    const auto& v = config.vision;
    if (v.patchSize <= 0 || v.imageSize % v.patchSize != 0) throw Error("METER: the image size must be a multiple of the patch size");
    auto& visual = moduleAt(*this, "vit_model.visual");
    m_conv = visual.register_module(
        "conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, v.width, v.patchSize).stride(v.patchSize).bias(false)));
    m_classEmbedding = visual.register_parameter("class_embedding", torch::zeros({v.width}));
    m_positionalEmbedding = visual.register_parameter("positional_embedding", torch::zeros({config.imageTokens(), v.width}));
    m_lnPre = visual.register_module("ln_pre", layerNorm(v.width, v.layerNormEps));
    auto& blocks = moduleAt(visual, "transformer.resblocks");
    for (int i = 0; i < v.blocks; ++i)
        m_blocks.push_back(blocks.register_module(std::to_string(i), ClipResidualBlock(v.width, v.heads, v.layerNormEps)));
    m_lnPost = visual.register_module("ln_post", layerNorm(v.width, v.layerNormEps));

    const int h = config.hiddenSize;
    m_textTransform = register_module("cross_modal_text_transform", torch::nn::Linear(t.hiddenSize, h));
    m_imageTransform = register_module("cross_modal_image_transform", torch::nn::Linear(v.width, h));
    m_tokenTypes = register_module("token_type_embeddings", torch::nn::Embedding(config.tokenTypes, h));
    auto& textSide = moduleAt(*this, "cross_modal_text_layers");
    auto& imageSide = moduleAt(*this, "cross_modal_image_layers");
    for (int j = 0; j < config.numTopLayer; ++j) {
        m_fusionText.push_back(textSide.register_module(
            std::to_string(j), BertLayer(h, config.numHeads, config.intermediateSize, config.fusionLayerNormEps, true)));
        m_fusionImage.push_back(imageSide.register_module(
            std::to_string(j), BertLayer(h, config.numHeads, config.intermediateSize, config.fusionLayerNormEps, true)));
    }
    m_textPooler = moduleAt(*this, "cross_modal_text_pooler").register_module("dense", torch::nn::Linear(h, h));
    m_imagePooler = moduleAt(*this, "cross_modal_image_pooler").register_module("dense", torch::nn::Linear(h, h));

    const auto classifier = [&](const char* name, int in, int labels) {
        auto& root = moduleAt(*this, name);
        Classifier c;
        c.in = root.register_module("0", torch::nn::Linear(in, 2 * h));
        c.norm = root.register_module("1", layerNorm(2 * h, config.headLayerNormEps));
        c.out = root.register_module("3", torch::nn::Linear(2 * h, labels));
        return c;
    };
    if (config.heads.vqa) m_vqa = classifier("vqa_classifier", 2 * h, config.heads.vqaLabels);
    if (config.heads.nlvr2) m_nlvr2 = classifier("nlvr2_classifier", 4 * h, 2);
    if (config.heads.snli) m_snli = classifier("snli_classifier", 2 * h, 3);
    if (config.heads.itm) m_itm = moduleAt(*this, "itm_score").register_module("fc", torch::nn::Linear(2 * h, 2));
    if (config.heads.retrieval) m_rank = register_module("rank_output", torch::nn::Linear(2 * h, 1));
    if (config.heads.nlvr2 && config.tokenTypes < 3) throw Error("METER: an NLVR2 head needs 3 token types");
}

StateDictReport MeterImpl::loadWeights(const Checkpoint& checkpoint, const StateDictOptions& options) {
    auto report = loadStateDict(*this, checkpoint, options);
    report.unexpected.erase(std::remove_if(report.unexpected.begin(), report.unexpected.end(),
                                           [&](const std::string& name) { return isKnownUnused(name.substr(options.prefix.size())); }),
                            report.unexpected.end());
    m_loadedPositionalEmbedding = m_positionalEmbedding.detach().clone();
    return report;
}

void MeterImpl::initialiseRandom(uint64_t seed) {
    initialiseRandomWeights(*this, seed);
    torch::NoGradGuard noGrad;
    for (auto& item : named_parameters(true)) {
        const auto& name = item.key();
        const bool clipNorm = name.find(".ln_") != std::string::npos;
        if (!clipNorm) continue;
        item.value().fill_(name.compare(name.size() - 6, 6, "weight") == 0 ? 1.0 : 0.0);
    }
    m_loadedPositionalEmbedding = m_positionalEmbedding.detach().clone();
}

void MeterImpl::setImageSize(int imageSize) {
    const int patch = m_config.vision.patchSize;
    if (imageSize <= 0 || imageSize % patch != 0)
        throw Error("METER: image size " + std::to_string(imageSize) + " is not a positive multiple of the patch size " +
                    std::to_string(patch));
    if (!m_loadedPositionalEmbedding.defined()) m_loadedPositionalEmbedding = m_positionalEmbedding.detach().clone();
    torch::NoGradGuard noGrad;
    const auto table = adaptPositionEncoding(m_loadedPositionalEmbedding, imageSize / patch);
    m_positionalEmbedding.set_data(table.to(m_positionalEmbedding.options()).contiguous());
    m_config.vision.imageSize = imageSize;
}

// ---------------------------------------------------------------------------------------------
// Forward.

torch::Tensor MeterImpl::encodeText(const torch::Tensor& inputIds, const torch::Tensor& attentionMask, MeterOutputs* keep) {
    const auto& t = m_config.text;
    if (inputIds.dim() != 2 || attentionMask.sizes() != inputIds.sizes())
        throw Error("METER: input_ids and attention_mask must both be [batch, length]");
    if (inputIds.size(1) + t.padTokenId + 1 > t.maxPositionEmbeddings)
        throw Error("METER: the text has " + std::to_string(inputIds.size(1)) + " tokens; the text encoder has positions for " +
                    std::to_string(t.maxPositionEmbeddings - t.padTokenId - 1));
    const auto ids = inputIds.to(torch::kLong);
    torch::Tensor hidden;
    {
        // The span covers the embeddings only; the text layers are spans of their own, as the vision side's are.
        const TimelineSpanGuard span("embeddings", Stage::Text);
        // RoBERTa positions: the pads keep padding_idx, the others count from padding_idx + 1.
        const auto notPad = ids.ne(t.padTokenId).to(torch::kLong);                       // [B, T]
        const auto positions = torch::cumsum(notPad, 1).mul_(notPad).add_(t.padTokenId);  // [B, T]
        hidden = m_wordEmbeddings(ids) + m_textTypeEmbeddings(torch::zeros_like(ids));
        hidden = m_embeddingNorm(hidden + m_positionEmbeddings(positions));  // [B, T, Ct]
    }
    if (keep) keep->textEmbeddings = hidden;
    const KeyMask mask{additiveKeyMask(attentionMask, hidden.scalar_type()), {}};
    for (std::size_t i = 0; i < m_textLayers.size(); ++i) {
        const TimelineSpanGuard layerSpan("layer", Stage::Text, static_cast<int>(i));
        auto& layer = m_textLayers[i];
        hidden = layer->feedForward(layer->attention(hidden, hidden, mask).output);
        if (keep) keep->textLayers.push_back(hidden);
    }
    const auto types = torch::zeros({hidden.size(0), hidden.size(1)}, ids.options());
    auto x0 = m_textTransform(hidden) + m_tokenTypes(types);  // [B, T, C]
    if (keep) keep->textFusionInput = x0;
    return x0;
}

torch::Tensor MeterImpl::encodeImage(const torch::Tensor& pixelValues, int tokenType, MeterPass* keep) {
    const int size = m_config.vision.imageSize;
    if (pixelValues.dim() != 4 || pixelValues.size(1) != 3 || pixelValues.size(2) != size || pixelValues.size(3) != size)
        throw Error("METER: pixel_values must be [batch, 3, " + std::to_string(size) + ", " + std::to_string(size) +
                    "] for this model (setImageSize() runs it at another size)");
    if (tokenType < 0 || tokenType >= m_config.tokenTypes)
        throw Error("METER: token type " + std::to_string(tokenType) + " needs a token_type_embeddings row the model lacks");
    const auto b = pixelValues.size(0);
    const auto width = m_config.vision.width;
    torch::Tensor hidden;
    {
        const TimelineSpanGuard span("embeddings", Stage::Vision);
        const auto patches = m_conv(pixelValues.to(m_classEmbedding.scalar_type())).flatten(2).transpose(1, 2);  // [B, g², W]
        const auto cls = m_classEmbedding.view({1, 1, width}).expand({b, 1, width});                            // [B, 1, W]
        hidden = m_lnPre(torch::cat({cls, patches}, 1) + m_positionalEmbedding.unsqueeze(0));                   // [B, 1+g², W]
    }
    if (keep) keep->imageLnPre = hidden;
    for (std::size_t i = 0; i < m_blocks.size(); ++i) {
        const TimelineSpanGuard span("layer", Stage::Vision, static_cast<int>(i));
        hidden = m_blocks[i]->forward(hidden);
        if (keep) keep->imageBlocks.push_back(hidden);
    }
    hidden = m_lnPost(hidden);
    if (keep) keep->imageOut = hidden;
    const auto types = torch::full({b, hidden.size(1)}, tokenType, pixelValues.options().dtype(torch::kLong));
    auto y0 = m_imageTransform(hidden) + m_tokenTypes(types);  // [B, 1+g², C]
    if (keep) keep->imageFusionInput = y0;
    return y0;
}

void MeterImpl::fuse(const torch::Tensor& x0, const torch::Tensor& textMask, const torch::Tensor& y0, MeterStreamOrder order,
                     MeterMasking masking, const MeterForwardOptions& options, int passIndex, MeterPass& pass) {
    const auto dtype = x0.scalar_type();
    const auto b = y0.size(0);
    const bool multiplicative = masking == MeterMasking::Multiplicative;
    const bool sequential = order == MeterStreamOrder::Sequential;
    // Key masks: PuMer's masked softmax always gets the mask (its eps applies even to all-ones);
    // additively the image mask stays all ones in every path here, so its attention stays fused.
    const auto textKeys = [&](const torch::Tensor& m) {
        return multiplicative ? KeyMask{{}, m} : KeyMask{additiveWeightMask(m, dtype), {}};
    };
    const auto imageKeys = [&](const torch::Tensor& m) { return multiplicative ? KeyMask{{}, m} : KeyMask{}; };

    const MeterReduction* reduction = options.reduction ? &*options.reduction : nullptr;
    const auto method = reduction ? reduction->method : MeterReductionMethod::Pumer;
    auto x = x0;
    auto y = y0;
    auto mt = textMask.to(dtype);
    auto mi = torch::ones({b, y0.size(1)}, x0.options());
    torch::Tensor imageSource, textSource, imageSize;

    const auto carry = [&](const MeterReducerOutput& r) {
        imageSource = r.record.imageSource;
        textSource = r.record.textSource;
        imageSize = r.imageSize;
    };
    if (reduction && (method == MeterReductionMethod::RandomDrop || method == MeterReductionMethod::UniformDrop)) {
        const TimelineSpanGuard span("reduce", Stage::Embeddings);
        MeterReducerInput in;
        in.image = y;
        in.imageMask = mi;
        in.text = x;
        in.textMask = mt;
        in.recordProvenance = options.recordProvenance;
        auto dropped = dropMeterImage(in, method == MeterReductionMethod::RandomDrop ? MeterDropMethod::Random : MeterDropMethod::Uniform,
                                      reduction->keepRatio, reduction->seed);
        if (dropped.record.isReduced) {
            y = dropped.image;
            mi = dropped.imageMask;
            carry(dropped);
            MeterLayerReduction entry;
            entry.pass = passIndex;
            entry.fusionLayer = -1;
            entry.layerIdx = -1;
            entry.method = method;
            entry.record = std::move(dropped.record);
            if (options.keepHiddenStates) entry.imageReduced = y;
            pass.reductions.push_back(std::move(entry));
        }
    }
    const auto schedule = reduction && method == MeterReductionMethod::Tome
                              ? tomeSchedule(m_config.numTopLayer, reduction->tomeSchedule)
                              : std::vector<int64_t>(static_cast<std::size_t>(m_config.numTopLayer), 0);

    for (int j = 0; j < m_config.numTopLayer; ++j) {
        if (options.cancel && options.cancel->load()) throw Cancelled();
        const TimelineSpanGuard layerSpan("layer", Stage::Fusion, j);
        const auto start = std::chrono::steady_clock::now();
        if (options.timeLayers) synchronize(x);
        const bool pumerStep = reduction && method == MeterReductionMethod::Pumer &&
                               std::find(reduction->fusionLayers.begin(), reduction->fusionLayers.end(), j) !=
                                   reduction->fusionLayers.end();
        const bool tomeStep = reduction && method == MeterReductionMethod::Tome && schedule[static_cast<std::size_t>(j)] > 0;
        auto& textLayer = m_fusionText[static_cast<std::size_t>(j)];
        auto& imageLayer = m_fusionImage[static_cast<std::size_t>(j)];
        MeterFusionStep step;

        // Text side up to the hook.
        AttentionResult self, cross;
        {
            const TimelineSpanGuard span("attention", Stage::Fusion, -1, true);
            self = textLayer->attention(x, x, textKeys(mt), false, pumerStep);
            cross = textLayer->crossattention(self.output, y, imageKeys(mi), pumerStep || options.keepAttentions,
                                              pumerStep || tomeStep);
        }
        step.textToImage = cross.probabilities;
        std::optional<MeterReducerOutput> reduced;
        if (pumerStep || tomeStep) {
            const TimelineSpanGuard span("reduce", Stage::Fusion, -1, true);
            MeterReducerInput in;
            in.text = cross.output;
            in.textMask = mt;
            in.image = y;
            in.imageMask = mi;
            in.textKeyMean = self.keyMean;
            in.imageKeyMean = cross.keyMean;
            in.textToImage = cross.probabilities;
            in.imageSize = imageSize;
            in.imageSource = imageSource;
            in.textSource = textSource;
            in.recordProvenance = options.recordProvenance;
            auto out = pumerStep ? pumerReduceMeter(in, reduction->pumer)
                                 : tomeReduceMeterImage(in, schedule[static_cast<std::size_t>(j)]);
            if (out.record.isReduced) reduced = std::move(out);
        }
        const auto& c = reduced ? reduced->text : cross.output;
        const auto& newTextMask = reduced ? reduced->textMask : mt;
        const auto& reducedImage = reduced ? reduced->image : y;
        const auto& newImageMask = reduced ? reduced->imageMask : mi;
        torch::Tensor xNew;
        {
            const TimelineSpanGuard span("mlp", Stage::Fusion, -1, true);
            xNew = textLayer->feedForward(c);
        }

        // Image side: the updated streams (sequential) or the old ones (parallel).
        const auto& yIn = sequential ? reducedImage : y;
        const auto& miIn = sequential ? newImageMask : mi;
        const auto& xIn = sequential ? xNew : x;
        const auto& mtIn = sequential ? newTextMask : mt;
        torch::Tensor yNew;
        {
            const TimelineSpanGuard span("attention", Stage::Fusion, -1, true);
            const auto imageSelf = imageLayer->attention(yIn, yIn, imageKeys(miIn));
            const auto imageCross = imageLayer->crossattention(imageSelf.output, xIn, textKeys(mtIn), options.keepAttentions);
            step.imageToText = imageCross.probabilities;
            yNew = imageCross.output;
        }
        {
            const TimelineSpanGuard span("mlp", Stage::Fusion, -1, true);
            yNew = imageLayer->feedForward(yNew);
        }
        if (reduced && !sequential) yNew = applyImageSelection(reduced->selection, yNew);

        if (reduced) {
            carry(*reduced);
            MeterLayerReduction entry;
            entry.pass = passIndex;
            entry.fusionLayer = j;
            entry.layerIdx = 2 * j;
            entry.method = method;
            entry.isPruningDiscarded = reduced->isPruningDiscarded;
            entry.imageMatch = reduced->imageMatch;
            entry.textMatch = reduced->textMatch;
            entry.imageMetric = cross.keyMean;
            entry.textMetric = self.keyMean;
            entry.textMask = newTextMask;
            if (options.keepHiddenStates) entry.imageReduced = reducedImage;
            entry.record = std::move(reduced->record);
            mt = newTextMask;
            mi = newImageMask;
            pass.reductions.push_back(std::move(entry));
        }
        x = xNew;
        y = yNew;
        if (options.keepHiddenStates) {
            step.text = x;
            step.image = y;
        }
        pass.fusion.push_back(std::move(step));
        if (options.timeLayers) {
            synchronize(y);
            pass.fusionLayerMs.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
        }
    }
    const TimelineSpanGuard span("pooler", Stage::Head);
    pass.text = x;
    pass.image = y;
    pass.textMask = mt;
    pass.imageMask = mi;
    pass.clsFeats = torch::cat({torch::tanh(m_textPooler(x.select(1, 0))), torch::tanh(m_imagePooler(y.select(1, 0)))}, -1);  // [B, 2C]
}

bool MeterImpl::hasHead(MeterTask task) const {
    switch (task) {
        case MeterTask::Vqa: return m_config.heads.vqa;
        case MeterTask::Nlvr2: return m_config.heads.nlvr2;
        case MeterTask::Snli: return m_config.heads.snli;
        case MeterTask::Itm: return m_config.heads.itm;
        case MeterTask::Retrieval: return m_config.heads.retrieval;
    }
    return false;
}

MeterTask MeterImpl::defaultTask() const {
    for (const auto task : {MeterTask::Vqa, MeterTask::Nlvr2, MeterTask::Snli, MeterTask::Retrieval, MeterTask::Itm})
        if (hasHead(task)) return task;
    throw Error("METER: this model has no task head (vqa, nlvr2, snli, itm, irtr)");
}

torch::Tensor MeterImpl::classify(MeterTask task, const torch::Tensor& clsFeats) {
    if (!hasHead(task)) throw Error(std::string("METER: this model has no ") + meterTaskName(task) + " head");
    const TimelineSpanGuard span("classifier", Stage::Head);
    const auto mlp = [&](Classifier& c) { return c.out(torch::gelu(c.norm(c.in(clsFeats)))); };
    switch (task) {
        case MeterTask::Vqa: return mlp(m_vqa);
        case MeterTask::Nlvr2: return mlp(m_nlvr2);
        case MeterTask::Snli: return mlp(m_snli);
        case MeterTask::Itm: return m_itm(clsFeats);
        case MeterTask::Retrieval: return m_rank(clsFeats);
    }
    return {};
}

MeterOutputs MeterImpl::forward(const MeterInputs& inputs, const MeterForwardOptions& options) {
    MeterOutputs outputs;
    outputs.task = options.task ? *options.task : defaultTask();
    if (!hasHead(outputs.task)) throw Error(std::string("METER: this model has no ") + meterTaskName(outputs.task) + " head");
    outputs.streamOrder = options.streamOrder ? *options.streamOrder : m_config.streamOrder;
    if (options.masking) {
        outputs.masking = *options.masking;
    } else if (options.reduction && options.reduction->method == MeterReductionMethod::Pumer) {
        outputs.masking = options.reduction->pumer.mode == ReductionMode::Reference ? MeterMasking::Multiplicative
                                                                                     : MeterMasking::Additive;
    } else {
        outputs.masking =
            outputs.streamOrder == MeterStreamOrder::Sequential ? MeterMasking::Multiplicative : MeterMasking::Additive;
    }
    const bool nlvr2 = outputs.task == MeterTask::Nlvr2;
    if (nlvr2 && !inputs.pixelValues2.defined()) throw Error("METER: NLVR2 needs two images (pixelValues2)");
    if (inputs.pixelValues.dim() != 4 || inputs.pixelValues.size(0) != inputs.inputIds.size(0) ||
        (nlvr2 && inputs.pixelValues2.sizes() != inputs.pixelValues.sizes()))
        throw Error("METER: every input needs the same batch size, images [batch, 3, size, size]");

    const bool keep = options.keepHiddenStates;
    const auto x0 = encodeText(inputs.inputIds, inputs.attentionMask, keep ? &outputs : nullptr);
    const int passes = nlvr2 ? 2 : 1;
    for (int p = 0; p < passes; ++p) {
        MeterPass pass;
        pass.tokenType = p + 1;
        const auto y0 = encodeImage(p == 0 ? inputs.pixelValues : inputs.pixelValues2, pass.tokenType, keep ? &pass : nullptr);
        fuse(x0, inputs.attentionMask, y0, outputs.streamOrder, outputs.masking, options, p, pass);
        outputs.passes.push_back(std::move(pass));
    }
    outputs.clsFeats = nlvr2 ? torch::cat({outputs.passes[0].clsFeats, outputs.passes[1].clsFeats}, -1) : outputs.passes[0].clsFeats;
    outputs.logits = classify(outputs.task, outputs.clsFeats);
    return outputs;
}

TensorShapes checkpointShapes(const Checkpoint& checkpoint) {
    TensorShapes shapes;
    for (const auto& name : checkpoint.names()) shapes[name] = checkpoint.info(name).shape;
    return shapes;
}

MeterConfig meterConfigOf(const Checkpoint& checkpoint) {
    const auto files = checkpoint.files();
    const std::string where = files.empty() ? std::string("checkpoint") : fileNameOf(files.front());
    return meterConfigFromCheckpoint(checkpoint.hyperParameterConfig(), checkpointShapes(checkpoint), where);
}

}  // namespace tokenscope
