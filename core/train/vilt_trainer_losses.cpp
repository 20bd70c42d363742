// The auxiliary training losses of trainVilt (patch, role, attention, grounding, position, [CLS]
// and head attention), computed from the encoding of a training forward pass.
#include "train/vilt_trainer.h"

#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/error.h"
#include "train/vilt_trainer_internal.h"

namespace tokenscope {

namespace trainer {

namespace {

// The row-major grid cell of every patch token [B, N] (the auxiliary losses' labels index cells).
torch::Tensor patchCells(const ViltEncoding& encoding) {
    const auto& where = encoding.imagePatchIndex;  // [B, N, 2] (row, col)
    return where.select(2, 0) * encoding.gridWidth + where.select(2, 1);
}

// The image patch tokens [B, N, C] of the hidden state after block layer - 1 (text, then the
// image [CLS], then the patches).
torch::Tensor patchTokens(const ViltEncoding& encoding, int layer) {
    const auto& hidden = encoding.hiddenStates.at(static_cast<std::size_t>(layer));  // [B, T + 1 + N, C]
    return hidden.narrow(1, encoding.textLength + 1, encoding.imagePatchIndex.size(1));
}

}  // namespace

// The auxiliary patch and role losses: the head's class scores for the patch tokens after block
// layer - 1 against per-patch labels [B, G] (row-major over the model's patch grid; `what` names
// them in errors).
torch::Tensor patchLoss(const ViltEncoding& encoding, const torch::Tensor& labels, const char* what, torch::nn::Linear& head,
                        int layer, int64_t classes) {
    if (!labels.defined()) throw Error(std::string("the ") + what + " loss needs " + what + " labels on every training example");
    const int64_t cells = encoding.gridHeight * encoding.gridWidth;
    if (labels.size(1) != cells)
        throw Error(std::string(what) + " labels: " + std::to_string(labels.size(1)) + " per example, but the model's patch grid has " +
                    std::to_string(cells) + " patches (use patches of the scene grid's cell size)");
    if (labels.numel() > 0 && (labels.min().item<int64_t>() < 0 || labels.max().item<int64_t>() >= classes))
        throw Error(std::string(what) + " labels must lie in 0.." + std::to_string(classes - 1));
    const auto tokens = patchTokens(encoding, layer);  // [B, N, C]
    const auto target = labels.gather(1, patchCells(encoding));  // [B, N]
    auto weight = torch::ones({classes}, tokens.options());
    weight[0] = 0.1;  // empty patches: most of the grid
    return torch::nn::functional::cross_entropy(head(tokens).reshape({-1, classes}), target.reshape({-1}),
                                                torch::nn::functional::CrossEntropyFuncOptions().weight(weight));
}

// The auxiliary attention loss: -log of the last block's text-[CLS] attention mass (mean over
// heads) on each example's relevant patches, averaged over the examples that have some.
torch::Tensor attentionLoss(const ViltEncoding& encoding, const Batch& batch) {
    const auto& attention = encoding.attentions.back();  // [B, H, L, L]
    const int64_t patches = encoding.imagePatchIndex.size(1);
    const auto row = attention.select(2, 0).narrow(2, encoding.textLength + 1, patches).mean(1);  // [B, N]
    const int64_t cells = encoding.gridHeight * encoding.gridWidth, n = row.size(0);
    auto relevant = torch::zeros({n, cells}, row.options());
    std::vector<int64_t> counted;
    for (int64_t b = 0; b < n; ++b) {
        const auto& list = batch.relevantPatches[static_cast<std::size_t>(b)];
        for (const auto cell : list) {
            if (cell < 0 || cell >= cells)
                throw Error("relevant patch " + std::to_string(cell) + " is outside the model's " + std::to_string(cells) + " patches");
            relevant[b][cell] = 1.0;
        }
        if (!list.empty()) counted.push_back(b);
    }
    if (counted.empty()) return torch::zeros({}, row.options());
    const auto cell = patchCells(encoding);  // [B, N]
    const auto mass = (row * relevant.gather(1, cell)).sum(1);                      // [B]
    const auto index = torch::tensor(counted, torch::kLong);
    return -torch::log(mass.index_select(0, index) + 1e-6).mean();
}

// The auxiliary grounding loss: -log of the attention mass (mean over heads) that each grounded
// word's token puts on its patches in the given block, averaged over the words.
torch::Tensor groundingLoss(const ViltEncoding& encoding, const Batch& batch, int layer) {
    const auto& attention = encoding.attentions.at(static_cast<std::size_t>(layer)).mean(1);  // [B, L, L]
    if (batch.grounded.empty()) return torch::zeros({}, attention.options());
    const int64_t patches = encoding.imagePatchIndex.size(1);
    const int64_t cells = encoding.gridHeight * encoding.gridWidth;
    const auto count = static_cast<int64_t>(batch.grounded.size());
    std::vector<int64_t> samples, positions;
    auto relevant = torch::zeros({count, cells}, attention.options());
    for (int64_t i = 0; i < count; ++i) {
        const auto& g = batch.grounded[static_cast<std::size_t>(i)];
        samples.push_back(g.sample);
        positions.push_back(g.position);
        for (const auto cell : g.patches) {
            if (cell < 0 || cell >= cells)
                throw Error("grounded patch " + std::to_string(cell) + " is outside the model's " + std::to_string(cells) + " patches");
            relevant[i][cell] = 1.0;
        }
    }
    const auto sampleIndex = torch::tensor(samples, torch::kLong), positionIndex = torch::tensor(positions, torch::kLong);
    const auto rows = attention.index({sampleIndex, positionIndex}).narrow(1, encoding.textLength + 1, patches);  // [P, N]
    const auto cell = patchCells(encoding).index_select(0, sampleIndex);  // [P, N]
    return -torch::log((rows * relevant.gather(1, cell)).sum(1) + 1e-6).mean();
}

// The auxiliary position loss: the head's two outputs for the patch tokens after block layer - 1
// against each patch's column and row, scaled to -1..1 (mean squared error).
torch::Tensor positionLoss(const ViltEncoding& encoding, torch::nn::Linear& head, int layer) {
    const auto tokens = patchTokens(encoding, layer);  // [B, N, C]
    const auto& where = encoding.imagePatchIndex;                                      // [B, N, 2] (row, col)
    const auto scale = [](const torch::Tensor& index, int64_t size) {
        return (index.to(torch::kFloat) + 0.5) * (2.0 / static_cast<double>(size)) - 1.0;
    };
    const auto target = torch::stack({scale(where.select(2, 1), encoding.gridWidth), scale(where.select(2, 0), encoding.gridHeight)}, 2);
    return torch::mse_loss(head(tokens), target.to(tokens.dtype()));
}

// The auxiliary [CLS] regression loss: the head's outputs for the text [CLS] after the last block
// against the batch's [CLS] targets (mean squared error over the examples that have them).
torch::Tensor clsLoss(const ViltEncoding& encoding, const Batch& batch, torch::nn::Linear& head) {
    const auto& hidden = encoding.hiddenStates.back();  // [B, T + 1 + N, C]
    if (batch.clsSamples.empty()) return torch::zeros({}, hidden.options());
    if (batch.clsTargets.size(1) != head->options.out_features())
        throw Error("[CLS] targets: " + std::to_string(batch.clsTargets.size(1)) + " numbers per example, but the loss was set up for " +
                    std::to_string(head->options.out_features()));
    const auto cls = hidden.select(1, 0).index_select(0, torch::tensor(batch.clsSamples, torch::kLong));
    return torch::mse_loss(head(cls), batch.clsTargets.to(hidden.dtype()));
}

// The auxiliary head attention loss: for each head target, the cross-entropy between the last
// block's text-[CLS] attention of that head and the uniform distribution over the target's
// patches (and the text [CLS] when the target includes it), averaged over the targets.
torch::Tensor headAttentionLoss(const ViltEncoding& encoding, const Batch& batch) {
    const auto& attention = encoding.attentions.back();  // [B, H, L, L]
    if (batch.headTargets.empty()) return torch::zeros({}, attention.options());
    const int64_t patches = encoding.imagePatchIndex.size(1), heads = attention.size(1);
    const int64_t cells = encoding.gridHeight * encoding.gridWidth;
    const auto count = static_cast<int64_t>(batch.headTargets.size());
    std::vector<int64_t> samples, headIndex;
    std::vector<float> withCls;
    auto relevant = torch::zeros({count, cells}, attention.options());
    for (int64_t i = 0; i < count; ++i) {
        const auto& [sample, t] = batch.headTargets[static_cast<std::size_t>(i)];
        if (t.head < 0 || t.head >= heads)
            throw Error("head target " + std::to_string(t.head) + ": the model has " + std::to_string(heads) + " heads");
        samples.push_back(sample);
        headIndex.push_back(t.head);
        withCls.push_back(t.textCls ? 1.0F : 0.0F);
        for (const auto cell : t.patches) {
            if (cell < 0 || cell >= cells)
                throw Error("head target patch " + std::to_string(cell) + " is outside the model's " + std::to_string(cells) + " patches");
            relevant[i][cell] = 1.0;
        }
    }
    const auto sampleIndex = torch::tensor(samples, torch::kLong);
    const auto rows = attention.index({sampleIndex, torch::tensor(headIndex, torch::kLong), 0});  // [P, L]
    const auto logs = torch::log(rows + 1e-6);
    const auto mask = relevant.gather(1, patchCells(encoding).index_select(0, sampleIndex));     // [P, N]
    const auto cls = torch::tensor(withCls, attention.options());
    const auto total = (logs.narrow(1, encoding.textLength + 1, patches) * mask).sum(1) + cls * logs.select(1, 0);
    const auto size = mask.sum(1) + cls;
    const auto used = size > 0;
    if (!used.any().item<bool>()) return torch::zeros({}, attention.options());
    return -(total.masked_select(used) / size.masked_select(used)).mean();
}

}  // namespace trainer

}  // namespace tokenscope
