#include "models/llava_next.h"

#include <cmath>

#include "common/error.h"
#include "image/anyres.h"
#include "models/transformer_block.h"
#include "reduce/hired.h"

namespace tokenscope {

namespace {

std::pair<int, int> gridShape(const LlavaNextConfig& config, int height, int width) {
    const auto [bestHeight, bestWidth] = selectBestResolution(height, width, config.imageGridPinpoints);
    return {bestHeight / config.vision.imageSize, bestWidth / config.vision.imageSize};
}

// (cumsum(mask) - 1) with 1 at padding: the positions HF's generate derives for left padding.
torch::Tensor positionsFromMask(const torch::Tensor& mask) {
    return (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1);
}

}  // namespace

int llavaNextCropCount(const LlavaNextConfig& config, int height, int width) {
    const auto [rows, columns] = gridShape(config, height, width);
    return rows * columns + 1;
}

int64_t llavaNextFeatureCount(const LlavaNextConfig& config, int height, int width) {
    const auto [rows, columns] = gridShape(config, height, width);
    const int64_t p = config.vision.imageSize / config.vision.patchSize;
    const auto box = unpadBox(p * rows, p * columns, height, width, UnpadRounding::Rounded);
    const int64_t keptRows = box.rowEnd - box.rowBegin, keptColumns = box.columnEnd - box.columnBegin;
    return p * p + keptRows * (keptColumns + 1);
}

// ---------------------------------------------------------------------------------------------
// Part 1 (the config) is LlavaNextConfig in config/model_config.h. Part 2: parameters.

LlavaNextImpl::LlavaNextImpl(const LlavaNextConfig& config) : m_config(config) {
    const int visionWidth = config.vision.hiddenSize, textWidth = config.text.hiddenSize;
    m_visionTower = register_module("vision_tower", ClipVision(config.vision));
    auto& projector = moduleAt(*this, "multi_modal_projector");
    m_projectorIn = projector.register_module(
        "linear_1", torch::nn::Linear(torch::nn::LinearOptions(visionWidth, textWidth).bias(config.projectorBias)));
    m_projectorOut = projector.register_module(
        "linear_2", torch::nn::Linear(torch::nn::LinearOptions(textWidth, textWidth).bias(config.projectorBias)));
    m_imageNewline = register_parameter("image_newline", torch::zeros({textWidth}));
    m_languageModel = register_module("language_model", Llama(config.text));
}

// ---------------------------------------------------------------------------------------------
// Part 3: forward

torch::Tensor LlavaNextImpl::imageFeatures(const torch::Tensor& pixelValues, const torch::Tensor& imageSizes,
                                           std::vector<int64_t>* lengths, torch::Tensor* visionFeatures,
                                           const std::atomic<bool>* cancel) {
    ImageEncodeOptions options;
    options.keepVisionFeatures = visionFeatures != nullptr;
    options.cancel = cancel;
    auto encoded = encodeImages(pixelValues, imageSizes, options);
    if (lengths) *lengths = encoded.lengths;
    if (visionFeatures) *visionFeatures = encoded.visionFeatures;
    return encoded.features;
}

EncodedImages LlavaNextImpl::encodeImages(const torch::Tensor& pixelValues, const torch::Tensor& imageSizes,
                                          const ImageEncodeOptions& options) {
    if (m_config.visionFeatureSelectStrategy != "default")
        throw Error("LLaVA-NeXT packs image features only with vision_feature_select_strategy 'default' (as transformers)");
    if (!imageSizes.defined() || imageSizes.dim() != 2 || imageSizes.size(1) != 2)
        throw Error("image_sizes must be [images, 2] (height, width)");
    const auto sizes = imageSizes.to(torch::kCPU, torch::kLong).contiguous();
    const int64_t images = sizes.size(0);
    std::vector<std::pair<int, int>> hw;
    std::vector<int64_t> crops;
    for (int64_t i = 0; i < images; ++i) {
        hw.emplace_back(static_cast<int>(sizes[i][0].item<int64_t>()), static_cast<int>(sizes[i][1].item<int64_t>()));
        crops.push_back(llavaNextCropCount(m_config, hw.back().first, hw.back().second));
    }

    // [images, max crops, 3, S, S] -> the real crops of every image, concatenated: [K, 3, S, S].
    torch::Tensor pixels;
    if (pixelValues.dim() == 5) {
        if (pixelValues.size(0) != images) throw Error("pixel_values and image_sizes disagree on the number of images");
        std::vector<torch::Tensor> parts;
        for (int64_t i = 0; i < images; ++i) {
            if (crops[i] > pixelValues.size(1))
                throw Error("pixel_values holds " + std::to_string(pixelValues.size(1)) + " crops for image " +
                            std::to_string(i) + ", its size needs " + std::to_string(crops[i]));
            parts.push_back(pixelValues[i].slice(0, 0, crops[i]));
        }
        pixels = torch::cat(parts, 0);
    } else if (pixelValues.dim() == 4) {
        pixels = pixelValues;
    } else {
        throw Error("pixel_values must be [images, crops, 3, S, S] or [crops, 3, S, S]");
    }
    int64_t totalCrops = 0;
    for (auto c : crops) totalCrops += c;
    if (pixels.size(0) != totalCrops)
        throw Error("pixel_values holds " + std::to_string(pixels.size(0)) + " crops; image_sizes need " + std::to_string(totalCrops));

    VisualTokenSettings full;
    const VisualTokenSettings& method = options.reduction ? *options.reduction : full;
    const bool reduced = method.method != LlavaMethod::Full && method.budget < 1.0;
    const bool wantAttention = (reduced && method.method == LlavaMethod::Hired) || options.keepClsAttention;

    // CLIP hidden_states[j] is the output of layer j - 1 (j = 0: the embeddings); later layers are skipped.
    const int layers = m_config.vision.numHiddenLayers;
    const int selected = m_config.visionFeatureLayer < 0 ? layers + 1 + m_config.visionFeatureLayer : m_config.visionFeatureLayer;
    ClipVisionOptions visionOptions;
    visionOptions.cancel = options.cancel;
    visionOptions.keepHiddenStates = selected == 0;
    visionOptions.stopAfterLayer = selected == 0 ? 0 : selected - 1;
    if (wantAttention) {
        // HiRED: layer 0 (budgets) and the feature layer (selection), whose output LLaVA reads.
        if (selected == 0) throw Error("HiRED needs vision_feature_layer past the embeddings (it reads that layer's attention)");
        visionOptions.clsAttentionLayers = {0, selected - 1};
    }
    const auto vision = m_visionTower(pixels, visionOptions);
    const auto chosen = selected == 0 ? vision.hiddenStates.front() : vision.lastHiddenState;  // [K, 1+p², Cv]
    EncodedImages encoded;
    if (options.keepVisionFeatures) encoded.visionFeatures = chosen;

    auto features = chosen.slice(1, 1);  // [K, p², Cv], CLS dropped
    features = m_projectorOut(activate(m_projectorIn(features), m_config.projectorHiddenAct));  // [K, p², C]

    const int64_t p = m_config.vision.imageSize / m_config.vision.patchSize;
    const int64_t c = features.size(2);
    std::vector<torch::Tensor> packed;
    int64_t offset = 0;
    for (int64_t i = 0; i < images; ++i) {
        const auto perImage = features.slice(0, offset, offset + crops[i]);  // [k, p², C]
        const auto [height, width] = hw[static_cast<std::size_t>(i)];
        const auto geometry = partitionGeometry(height, width, m_config.imageGridPinpoints, m_config.vision.imageSize,
                                                m_config.vision.patchSize);
        torch::Tensor initial, final;  // [k, p²] CLS attention, heads summed
        if (wantAttention) {
            initial = vision.clsAttentions[0].slice(0, offset, offset + crops[i]);
            final = vision.clsAttentions[1].slice(0, offset, offset + crops[i]);
        }
        offset += crops[i];

        TokenSelection selection;
        PackOrder order;
        if (!reduced) {
            const auto base = perImage[0];  // [p², C]
            if (crops[i] == 1) {
                packed.push_back(torch::cat({base, m_imageNewline.unsqueeze(0).to(base.dtype())}, 0));
            } else {
                const auto [rows, columns] = gridShape(m_config, height, width);
                auto grid = perImage.slice(0, 1).view({rows, columns, p, p, c});  // [gh, gw, p, p, C]
                grid = grid.permute({4, 0, 2, 1, 3}).reshape({c, rows * p, columns * p});  // [C, gh·p, gw·p]
                const auto box = unpadBox(rows * p, columns * p, height, width, UnpadRounding::Rounded);
                grid = grid.slice(1, box.rowBegin, box.rowEnd).slice(2, box.columnBegin, box.columnEnd);  // [C, ch, cw]
                const auto newline = m_imageNewline.to(grid.dtype()).view({c, 1, 1}).expand({c, grid.size(1), 1});
                grid = torch::cat({grid, newline}, 2);  // [C, ch, cw + 1]
                packed.push_back(torch::cat({base, grid.flatten(1, 2).transpose(0, 1)}, 0));  // [p² + ch·(cw+1), C]
            }
            if (options.keepRecords) {
                selection = keepAllSelect(static_cast<int>(crops[i]), static_cast<int>(p * p));
                order = hiredPackOrder(selection.masks, geometry, HiredMode::Paper);
            }
        } else {
            const int n = static_cast<int>(crops[i]), tokens = static_cast<int>(p * p);
            switch (method.method) {
                case LlavaMethod::Hired:
                    selection = hiredSelect(initial, final, geometry, method.budget, method.alpha, method.mode);
                    break;
                case LlavaMethod::Spatial: selection = spatialSelect(n, tokens, method.budget); break;
                case LlavaMethod::Random: selection = randomSelect(n, tokens, method.budget, method.seed + static_cast<uint64_t>(i)); break;
                case LlavaMethod::Full: break;
            }
            order = hiredPackOrder(selection.masks, geometry, method.mode);
            const auto index = torch::tensor(order.flatIndices, torch::kLong).to(perImage.device());
            packed.push_back(perImage.reshape({n * tokens, c}).index_select(0, index));  // [kept, C]
        }
        encoded.lengths.push_back(packed.back().size(0));

        if (options.keepRecords) {
            VisualSelection record;
            record.imageHeight = height;
            record.imageWidth = width;
            record.gridRows = geometry.rows;
            record.gridColumns = geometry.columns;
            record.patchGrid = geometry.patchGrid;
            record.tileSize = geometry.tileSize;
            record.featureLayer = selected - 1;
            record.reduced = reduced;
            record.budget.total = selection.totalBudget;
            record.budget.fullImage = selection.fullImageBudget;
            record.budget.tiles = selection.tilesBudget;
            record.budget.flagged = selection.flaggedTokens;
            record.budget.unreducedTokens = static_cast<int>(llavaNextFeatureCount(m_config, height, width));
            record.budget.deliveredTokens = static_cast<int>(encoded.lengths.back());
            const auto masks = selection.masks.to(torch::kLong);
            for (int k = 0; k < static_cast<int>(crops[i]); ++k) {
                PartitionSelection part;
                part.isFullImage = k == 0;
                if (k > 0) part.row = (k - 1) / geometry.columns, part.column = (k - 1) % geometry.columns;
                const auto rect = partitionRectangle(geometry, k);
                part.x = rect[0], part.y = rect[1], part.width = rect[2], part.height = rect[3];
                part.budget = selection.budgets[static_cast<std::size_t>(k)];
                part.share = selection.shares[static_cast<std::size_t>(k)];
                const auto chosenTokens = masks[k].nonzero().flatten().contiguous();
                part.selected.assign(chosenTokens.data_ptr<int64_t>(), chosenTokens.data_ptr<int64_t>() + chosenTokens.numel());
                part.kept = order.keptPerPartition[static_cast<std::size_t>(k)];
                record.budget.selectedTokens += static_cast<int>(part.selected.size());
                if (wantAttention) {
                    const auto a0 = initial[k].to(torch::kCPU, torch::kFloat).contiguous();
                    const auto a1 = final[k].to(torch::kCPU, torch::kFloat).contiguous();
                    part.clsAttentionInitial.assign(a0.data_ptr<float>(), a0.data_ptr<float>() + a0.numel());
                    part.clsAttentionFinal.assign(a1.data_ptr<float>(), a1.data_ptr<float>() + a1.numel());
                }
                record.partitions.push_back(std::move(part));
            }
            encoded.records.push_back(std::move(record));
        }
    }
    encoded.features = torch::cat(packed, 0);  // [sum N_i, C]
    return encoded;
}

LlavaNextOutputs LlavaNextImpl::forward(const torch::Tensor& inputIds, const torch::Tensor& attentionMask,
                                        const torch::Tensor& positionIds, const torch::Tensor& pixelValues,
                                        const torch::Tensor& imageSizes, const LlavaNextOptions& options) {
    torch::NoGradGuard noGrad;
    if (!pixelValues.defined() || pixelValues.numel() == 0) return forwardEncoded(inputIds, attentionMask, positionIds, nullptr, options);
    ImageEncodeOptions encodeOptions;
    encodeOptions.reduction = options.reduction;
    encodeOptions.keepVisionFeatures = options.keepVisionFeatures;
    encodeOptions.keepRecords = options.records != nullptr;
    encodeOptions.cancel = options.cancel;
    auto images = encodeImages(pixelValues, imageSizes, encodeOptions);
    if (options.records) *options.records = images.records;
    auto outputs = forwardEncoded(inputIds, attentionMask, positionIds, &images, options);
    outputs.visionFeatures = images.visionFeatures;
    return outputs;
}

LlavaNextOutputs LlavaNextImpl::forwardEncoded(const torch::Tensor& inputIds, const torch::Tensor& attentionMask,
                                               const torch::Tensor& positionIds, const EncodedImages* images,
                                               const LlavaNextOptions& options) {
    torch::NoGradGuard noGrad;
    if (inputIds.dim() != 2) throw Error("input_ids must be [batch, tokens]");
    const auto b = inputIds.size(0), t = inputIds.size(1);
    const auto ids = inputIds.to(torch::kLong);
    auto mask = attentionMask.defined() ? attentionMask.to(ids.device(), torch::kLong) : torch::ones_like(ids);
    if (mask.sizes() != ids.sizes()) throw Error("attention_mask must have the shape of input_ids");
    // An <image> id outside the vocabulary has no embedding row; its rows are overwritten anyway.
    auto embeds = m_languageModel->embed(m_config.imageTokenIndex >= m_config.text.vocabSize
                                             ? ids.masked_fill(ids == m_config.imageTokenIndex, 0)
                                             : ids);  // [B, T, C]
    auto positions = positionIds;

    LlavaNextOutputs outputs;
    if (images && images->features.defined()) {
        const auto& lengths = images->lengths;
        const auto features = images->features.to(embeds.dtype());  // [sum N_i, C]
        const auto isImage = ids == m_config.imageTokenIndex;  // [B, T]
        const int64_t imageTokens = isImage.sum().item<int64_t>();
        const auto imageCount = static_cast<int64_t>(lengths.size());
        if (imageTokens == features.size(0)) {
            // Expanded prompt: one <image> per feature, filled in order.
            embeds = embeds.masked_scatter(isImage.unsqueeze(-1).expand_as(embeds), features);
        } else if (imageTokens == imageCount) {
            // Legacy prompt: every valid token keeps its embedding, each <image> becomes its image's
            // features; rows are re-padded (left, unless the batch is right-padded) and positions
            // re-derived from the new mask, as transformers' _merge_input_ids_with_image_features.
            const auto maskCpu = mask.to(torch::kCPU), idsCpu = ids.to(torch::kCPU);
            const bool rightPadded = b > 1 && (maskCpu.select(1, t - 1) == 0).any().item<bool>() &&
                                     !(maskCpu.select(1, 0) == 0).any().item<bool>();
            std::vector<torch::Tensor> rows;
            int64_t image = 0, featureOffset = 0, longest = 0;
            for (int64_t row = 0; row < b; ++row) {
                std::vector<torch::Tensor> pieces;
                for (int64_t i = 0; i < t; ++i) {
                    if (maskCpu[row][i].item<int64_t>() == 0) continue;
                    if (idsCpu[row][i].item<int64_t>() == m_config.imageTokenIndex) {
                        pieces.push_back(features.slice(0, featureOffset, featureOffset + lengths[image]));
                        featureOffset += lengths[image++];
                    } else {
                        pieces.push_back(embeds[row].slice(0, i, i + 1));
                    }
                }
                rows.push_back(pieces.empty() ? embeds.new_zeros({0, embeds.size(2)}) : torch::cat(pieces, 0));
                longest = std::max(longest, rows.back().size(0));
            }
            auto merged = embeds.new_zeros({b, longest, embeds.size(2)});  // [B, T', C]
            auto mergedMask = torch::zeros({b, longest}, mask.options());
            for (int64_t row = 0; row < b; ++row) {
                const auto length = rows[row].size(0);
                const auto begin = rightPadded ? 0 : longest - length;
                merged[row].slice(0, begin, begin + length).copy_(rows[row]);
                mergedMask[row].slice(0, begin, begin + length).fill_(1);
            }
            embeds = merged;
            mask = mergedMask;
            positions = torch::Tensor();
        } else {
            throw Error("the prompt holds " + std::to_string(imageTokens) + " <image> tokens, but the " +
                        std::to_string(imageCount) + " image(s) give " + std::to_string(features.size(0)) +
                        " features (expected one <image> per feature, or one per image)");
        }
        if (options.keepImageFeatures) {
            outputs.imageFeatures = features;
            outputs.featureLengths = lengths;
        }
    }
    if (!positions.defined()) positions = positionsFromMask(mask);
    // With a cache, the language model's mask covers the cached tokens too.
    auto fullMask = mask;
    if (options.cache && options.cache->length() > 0) {
        fullMask = torch::cat({torch::ones({b, options.cache->length()}, mask.options()), mask}, 1);
    }

    LlamaOptions lmOptions;
    lmOptions.keepHiddenStates = options.keepHiddenStates;
    lmOptions.keepAttentions = options.keepAttentions;
    lmOptions.lastPositionLogitsOnly = options.lastPositionLogitsOnly;
    lmOptions.cache = options.cache;
    lmOptions.cancel = options.cancel;
    auto lm = m_languageModel->forward(embeds, fullMask, positions, lmOptions);
    outputs.logits = lm.logits;
    outputs.hiddenStates = std::move(lm.hiddenStates);
    outputs.attentions = std::move(lm.attentions);
    if (options.keepInputsEmbeds) outputs.inputsEmbeds = embeds;
    outputs.attentionMask = mask;
    outputs.positionIds = positions;
    return outputs;
}

torch::Tensor LlavaNextImpl::generate(const torch::Tensor& inputIds, const torch::Tensor& attentionMask,
                                      const torch::Tensor& pixelValues, const torch::Tensor& imageSizes,
                                      const GenerateOptions& options, const TokenCallback& onToken) {
    torch::NoGradGuard noGrad;
    if (!pixelValues.defined() || pixelValues.numel() == 0) return generateEncoded(inputIds, attentionMask, nullptr, options, onToken);
    ImageEncodeOptions encodeOptions;
    encodeOptions.reduction = options.reduction;
    encodeOptions.keepRecords = options.records != nullptr;
    encodeOptions.cancel = options.cancel;
    const auto images = encodeImages(pixelValues, imageSizes, encodeOptions);
    if (options.records) *options.records = images.records;
    return generateEncoded(inputIds, attentionMask, &images, options, onToken);
}

torch::Tensor LlavaNextImpl::generateEncoded(const torch::Tensor& inputIds, const torch::Tensor& attentionMask,
                                             const EncodedImages* images, const GenerateOptions& options,
                                             const TokenCallback& onToken) {
    torch::NoGradGuard noGrad;
    if (options.maxNewTokens < 1) throw Error("max new tokens must be at least 1");
    KvCache localCache;
    KvCache& cache = options.cache ? *options.cache : localCache;
    cache.clear();
    LlavaNextOptions prefill;
    prefill.cache = &cache;
    prefill.lastPositionLogitsOnly = true;
    prefill.keepInputsEmbeds = options.inputsEmbeds != nullptr;
    prefill.cancel = options.cancel;
    auto out = forwardEncoded(inputIds, attentionMask, {}, images, prefill);
    if (options.inputsEmbeds) *options.inputsEmbeds = out.inputsEmbeds;
    if (options.attentionMask) *options.attentionMask = out.attentionMask;
    auto mask = out.attentionMask;  // [B, T'] over everything cached so far
    auto logits = out.logits.select(1, out.logits.size(1) - 1);  // [B, V]
    const auto b = mask.size(0);
    auto finished = torch::zeros({b}, mask.options().dtype(torch::kBool));
    std::vector<torch::Tensor> steps;
    for (int step = 0; step < options.maxNewTokens; ++step) {
        if (options.cancel && options.cancel->load()) throw Cancelled();
        const auto candidates = options.argmaxBelow > 0 ? logits.slice(-1, 0, options.argmaxBelow) : logits;
        if (options.keepScores) options.keepScores->push_back(logits.to(torch::kCPU, torch::kFloat));
        auto next = candidates.argmax(-1);  // [B]
        next = torch::where(finished, torch::full_like(next, options.padTokenId), next);
        steps.push_back(next);
        for (const auto stop : options.stopTokenIds) finished = finished | (next == stop);
        const bool keepGoing = !onToken || onToken(step, next.to(torch::kCPU));
        if (!keepGoing || finished.all().item<bool>() || step + 1 == options.maxNewTokens) break;

        mask = torch::cat({mask, torch::ones({b, 1}, mask.options())}, 1);  // [B, T' + step + 1]
        const auto position = mask.sum(-1, true) - 1;                      // [B, 1]
        LlamaOptions decode;
        decode.cache = &cache;
        decode.lastPositionLogitsOnly = true;
        decode.cancel = options.cancel;
        const auto embeds = m_languageModel->embed(next.unsqueeze(1));  // [B, 1, C]
        logits = m_languageModel->forward(embeds, mask, position, decode).logits.select(1, 0);  // [B, V]
    }
    return torch::stack(steps, 1).to(torch::kCPU);  // [B, N]
}

StateDictReport loadLlavaNextWeights(LlavaNextImpl& model, const Checkpoint& checkpoint, const LoadProgress& progress,
                                     const std::atomic<bool>* cancel) {
    if (!checkpoint.contains("model.language_model.embed_tokens.weight")) {
        return loadStateDict(model, checkpoint, {"", progress, cancel});
    }
    // transformers >= 4.52 layout: the same tensors under other prefixes.
    StateDictReport report;
    const auto append = [&](const StateDictReport& part) {
        report.unexpected.insert(report.unexpected.end(), part.unexpected.begin(), part.unexpected.end());
    };
    auto children = model.named_children();
    append(loadStateDict(**children.find("vision_tower"), checkpoint, {"model.vision_tower.", {}, cancel}));
    append(loadStateDict(**children.find("multi_modal_projector"), checkpoint, {"model.multi_modal_projector.", {}, cancel}));
    auto& language = *model.languageModel();
    auto languageChildren = language.named_children();
    append(loadStateDict(**languageChildren.find("model"), checkpoint, {"model.language_model.", progress, cancel}));
    if (auto* head = languageChildren.find("lm_head")) append(loadStateDict(**head, checkpoint, {"lm_head.", {}, cancel}));
    torch::NoGradGuard noGrad;
    if (!checkpoint.contains("model.image_newline")) throw Error("checkpoint: parameter model.image_newline is missing");
    model.named_parameters(false)["image_newline"].copy_(checkpoint.tensor("model.image_newline"));
    return report;
}

}  // namespace tokenscope
