// The auxiliary training losses (patch, role, attention, grounding, position, [CLS] and head
// attention), computed from what a family's training forward shows them (AuxView).
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/error.h"
#include "train/trainer_internal.h"

namespace tokenscope {

namespace trainer {

namespace {

const torch::Tensor& patchStatesAt(const AuxView& view, int layer) {
    if (layer < 0 || layer >= static_cast<int>(view.patchStates.size()) || !view.patchStates[static_cast<std::size_t>(layer)].defined())
        throw Error("no patch tokens after " + std::to_string(layer) + " blocks in this forward pass");
    return view.patchStates[static_cast<std::size_t>(layer)];
}

// A [count, cells] 0/1 table of the listed cells (`what` names them in errors).
torch::Tensor cellTable(const std::vector<const std::vector<int64_t>*>& lists, int64_t cells, const torch::TensorOptions& options,
                        const char* what) {
    auto table = torch::zeros({static_cast<int64_t>(lists.size()), cells}, options);
    auto rows = table.accessor<float, 2>();
    for (std::size_t i = 0; i < lists.size(); ++i) {
        for (const auto cell : *lists[i]) {
            if (cell < 0 || cell >= cells)
                throw Error(std::string(what) + " " + std::to_string(cell) + " is outside the model's " + std::to_string(cells) + " patches");
            rows[static_cast<int64_t>(i)][cell] = 1.0F;
        }
    }
    return table;
}

}  // namespace

// The auxiliary patch and role losses: the head's class scores for the patch tokens after `layer`
// blocks against per-patch labels [B, G] (row-major over the model's patch grid; `what` names
// them in errors).
torch::Tensor patchLoss(const AuxView& view, const torch::Tensor& labels, const char* what, torch::nn::Linear& head, int layer,
                        int64_t classes) {
    if (!labels.defined()) throw Error(std::string("the ") + what + " loss needs " + what + " labels on every training example");
    const int64_t cells = view.gridHeight * view.gridWidth;
    if (labels.size(1) != cells)
        throw Error(std::string(what) + " labels: " + std::to_string(labels.size(1)) + " per example, but the model's patch grid has " +
                    std::to_string(cells) + " patches (use patches of the scene grid's cell size)");
    if (labels.numel() > 0 && (labels.min().item<int64_t>() < 0 || labels.max().item<int64_t>() >= classes))
        throw Error(std::string(what) + " labels must lie in 0.." + std::to_string(classes - 1));
    const auto& tokens = patchStatesAt(view, layer);  // [B, N, C]
    const auto target = labels.gather(1, view.cells);   // [B, N]
    auto weight = torch::ones({classes}, tokens.options());
    weight[0] = 0.1;  // empty patches: most of the grid
    return torch::nn::functional::cross_entropy(head(tokens).reshape({-1, classes}), target.reshape({-1}),
                                                torch::nn::functional::CrossEntropyFuncOptions().weight(weight));
}

// The auxiliary attention loss: -log of the last layer's text-[CLS] attention mass (mean over
// heads) on each example's relevant patches, averaged over the examples that have some.
torch::Tensor attentionLoss(const AuxView& view, const Batch& batch) {
    const auto& attention = view.attentions.back();  // [B, H, T, K]
    const int64_t patches = view.cells.size(1);
    const auto row = attention.select(2, 0).narrow(2, view.patchKeyOffset, patches).mean(1);  // [B, N]
    const int64_t cells = view.gridHeight * view.gridWidth;
    std::vector<const std::vector<int64_t>*> lists;
    std::vector<int64_t> counted;
    for (std::size_t b = 0; b < batch.relevantPatches.size(); ++b) {
        lists.push_back(&batch.relevantPatches[b]);
        if (!batch.relevantPatches[b].empty()) counted.push_back(static_cast<int64_t>(b));
    }
    const auto relevant = cellTable(lists, cells, row.options(), "relevant patch");
    if (counted.empty()) return torch::zeros({}, row.options());
    const auto mass = (row * relevant.gather(1, view.cells)).sum(1);  // [B]
    const auto index = torch::tensor(counted, torch::kLong);
    return -torch::log(mass.index_select(0, index) + 1e-6).mean();
}

// The auxiliary grounding loss: -log of the attention mass (mean over heads) that each grounded
// word's token puts on its patches in the given layer, averaged over the words.
torch::Tensor groundingLoss(const AuxView& view, const Batch& batch, int layer) {
    const auto& attention = view.attentions.at(static_cast<std::size_t>(layer)).mean(1);  // [B, T, K]
    if (batch.grounded.empty()) return torch::zeros({}, attention.options());
    const int64_t patches = view.cells.size(1);
    const int64_t cells = view.gridHeight * view.gridWidth;
    std::vector<int64_t> samples, positions;
    std::vector<const std::vector<int64_t>*> lists;
    for (const auto& g : batch.grounded) {
        samples.push_back(g.sample);
        positions.push_back(g.position);
        lists.push_back(&g.patches);
    }
    const auto relevant = cellTable(lists, cells, attention.options(), "grounded patch");
    const auto sampleIndex = torch::tensor(samples, torch::kLong), positionIndex = torch::tensor(positions, torch::kLong);
    const auto rows = attention.index({sampleIndex, positionIndex}).narrow(1, view.patchKeyOffset, patches);  // [P, N]
    const auto cell = view.cells.index_select(0, sampleIndex);                                                // [P, N]
    return -torch::log((rows * relevant.gather(1, cell)).sum(1) + 1e-6).mean();
}

// The auxiliary position loss: the head's two outputs for the patch tokens after `layer` blocks
// against each patch's column and row, scaled to -1..1 (mean squared error).
torch::Tensor positionLoss(const AuxView& view, torch::nn::Linear& head, int layer) {
    const auto& tokens = patchStatesAt(view, layer);  // [B, N, C]
    const auto scale = [](const torch::Tensor& index, int64_t size) {
        return (index.to(torch::kFloat) + 0.5) * (2.0 / static_cast<double>(size)) - 1.0;
    };
    const auto column = view.cells.remainder(view.gridWidth), row = view.cells.div(view.gridWidth, "floor");
    const auto target = torch::stack({scale(column, view.gridWidth), scale(row, view.gridHeight)}, 2);
    return torch::mse_loss(head(tokens), target.to(tokens.dtype()));
}

// The auxiliary [CLS] regression loss: the head's outputs for the text [CLS] after the last layer
// against the batch's [CLS] targets (mean squared error over the examples that have them).
torch::Tensor clsLoss(const AuxView& view, const Batch& batch, torch::nn::Linear& head) {
    if (batch.clsSamples.empty()) return torch::zeros({}, view.textCls.options());
    if (batch.clsTargets.size(1) != head->options.out_features())
        throw Error("[CLS] targets: " + std::to_string(batch.clsTargets.size(1)) + " numbers per example, but the loss was set up for " +
                    std::to_string(head->options.out_features()));
    const auto cls = view.textCls.index_select(0, torch::tensor(batch.clsSamples, torch::kLong));
    return torch::mse_loss(head(cls), batch.clsTargets.to(view.textCls.dtype()));
}

// The auxiliary head attention loss: for each head target, the cross-entropy between the last
// layer's text-[CLS] attention of that head and the uniform distribution over the target's
// patches (and the "nothing" key when the target includes it), averaged over the targets.
torch::Tensor headAttentionLoss(const AuxView& view, const Batch& batch) {
    const auto& attention = view.attentions.back();  // [B, H, T, K]
    if (batch.headTargets.empty()) return torch::zeros({}, attention.options());
    const int64_t patches = view.cells.size(1), heads = attention.size(1);
    const int64_t cells = view.gridHeight * view.gridWidth;
    std::vector<int64_t> samples, headIndex;
    std::vector<float> withCls;
    std::vector<const std::vector<int64_t>*> lists;
    for (const auto& [sample, t] : batch.headTargets) {
        if (t.head < 0 || t.head >= heads)
            throw Error("head target " + std::to_string(t.head) + ": the model has " + std::to_string(heads) + " heads");
        samples.push_back(sample);
        headIndex.push_back(t.head);
        withCls.push_back(t.textCls ? 1.0F : 0.0F);
        lists.push_back(&t.patches);
    }
    const auto relevant = cellTable(lists, cells, attention.options(), "head target patch");
    const auto sampleIndex = torch::tensor(samples, torch::kLong);
    const auto rows = attention.index({sampleIndex, torch::tensor(headIndex, torch::kLong), 0});  // [P, K]
    const auto logs = torch::log(rows + 1e-6);
    const auto mask = relevant.gather(1, view.cells.index_select(0, sampleIndex));  // [P, N]
    const auto cls = torch::tensor(withCls, attention.options());
    const auto total = (logs.narrow(1, view.patchKeyOffset, patches) * mask).sum(1) + cls * logs.select(1, 0);
    const auto size = mask.sum(1) + cls;
    const auto used = size > 0;
    if (!used.any().item<bool>()) return torch::zeros({}, attention.options());
    return -(total.masked_select(used) / size.masked_select(used)).mean();
}

}  // namespace trainer

}  // namespace tokenscope
