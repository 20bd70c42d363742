// DynamicViT inside ViLT's encoder (raoyongming/DynamicViT): the step at a prune location and the
// blocks of the training forward. vilt.cpp's encodeReduced() calls them.

#include "common/error.h"
#include "models/dynamic_vit.h"
#include "models/vilt.h"

namespace tokenscope {

void ViltImpl::dynamicVitStage(int stage, int layer, const DynamicVitSettings& settings, int64_t initialPatches,
                               ViltLayerState& state, torch::Tensor& decision, ViltEncoding& encoding) {
    auto& predictor = *m_dynamicVitPredictors.at(static_cast<std::size_t>(stage));
    const auto t = state.textLength;
    const auto patches = state.hidden.slice(1, t + 1);  // [B, N, C] (the image CLS is never scored)
    if (!settings.training) {
        // The policy of the tokens still there: every valid patch (padding patches 0).
        const auto policy = state.mask.slice(1, t + 1).gt(0).unsqueeze(-1);  // [B, N, 1]
        DynamicVitPruneInput input;
        input.hidden = state.hidden;
        input.textLength = t;
        input.mask = state.mask;
        input.keepLogProbability = predictor.forward(patches, policy).select(-1, 0);  // [B, N]
        input.imageSource = state.imageSource;
        input.keep = dynamicVitKeepCount(initialPatches, settings.keepRatio, stage + 1);
        auto pruned = dynamicVitPrune(input);
        state.hidden = pruned.hidden;
        state.mask = pruned.mask;
        state.imageSource = pruned.record.imageSource;
        encoding.reductions.push_back({layer, ReductionMethod::DynamicVit, std::move(pruned.record)});
        return;
    }
    // Training: every patch stays; the decision (this stage's hard keep × the previous) masks attention.
    const auto logProbabilities = predictor.forward(patches, decision.unsqueeze(-1));  // [B, N, 2]
    decision = dynamicVitGumbelKeep(logProbabilities, decision);                       // [B, N]
    const auto valid = encoding.imageTokenMask.slice(1, 1).sum(1).clamp_min(1).to(decision.scalar_type());  // [B]
    encoding.keepFractions.push_back(decision.sum(1) / valid);
    state.mask = torch::cat({state.mask.slice(1, 0, t + 1).to(decision.scalar_type()), decision}, 1);  // [B, T + I]
}

ViltLayerStep runViltPolicyLayer(PreNormBlockImpl& block, ViltLayerState state, bool keepAttention) {
    AttentionOverrides overrides;
    overrides.multiplicativeMask = state.mask;  // [B, T + I] text mask, image CLS 1, patch keep decisions
    AttentionProbe probe;
    probe.wantFull = keepAttention;
    AttentionProbs probs;
    ViltLayerStep step;
    const auto hidden = block.attentionHalf(state.hidden, torch::Tensor(), keepAttention ? &probe : nullptr, &probs, overrides);
    step.state = std::move(state);
    step.attention = probs.full;
    step.state.hidden = block.mlpHalf(hidden);
    return step;
}

}  // namespace tokenscope
