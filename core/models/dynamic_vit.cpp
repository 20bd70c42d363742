#include "models/dynamic_vit.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"

namespace tokenscope {

namespace F = torch::nn::functional;

DynamicVitPredictorImpl::DynamicVitPredictorImpl(int64_t hiddenSize) : m_localChannels(hiddenSize / 2) {
    const auto c = hiddenSize;
    if (c < 4) throw Error("a DynamicViT predictor needs a hidden size of at least 4");
    m_inConv = register_module("in_conv", torch::nn::Sequential(torch::nn::LayerNorm(torch::nn::LayerNormOptions({c})),
                                                                torch::nn::Linear(c, c), torch::nn::GELU()));
    m_outConv = register_module(
        "out_conv", torch::nn::Sequential(torch::nn::Linear(c, c / 2), torch::nn::GELU(), torch::nn::Linear(c / 2, c / 4),
                                          torch::nn::GELU(), torch::nn::Linear(c / 4, 2), torch::nn::LogSoftmax(-1)));
    // DynamicViT's initialisation: N(0, 0.02) weights (timm's trunc_normal_ cuts at +-2, i.e. 100 std),
    // zero biases, LayerNorm 1 / 0.
    torch::NoGradGuard noGrad;
    for (auto& item : named_parameters(true)) {
        auto& p = item.value();
        const bool isBias = item.key().size() >= 4 && item.key().compare(item.key().size() - 4, 4, "bias") == 0;
        if (isBias) {
            p.zero_();
        } else if (p.dim() == 1) {  // the LayerNorm weight
            p.fill_(1.0);
        } else {
            p.normal_(0.0, 0.02);
        }
    }
}

torch::Tensor DynamicVitPredictorImpl::forward(const torch::Tensor& x, const torch::Tensor& policy) {
    const auto z = m_inConv->forward(x);  // [B, N, C]
    const auto p = policy.to(z.scalar_type());  // [B, N, 1]
    const auto local = z.slice(-1, 0, m_localChannels);                                         // [B, N, C/2]
    const auto global = (z.slice(-1, m_localChannels) * p).sum(1, true) / p.sum(1, true).clamp_min(1e-6);  // [B, 1, C - C/2]
    const auto features = torch::cat({local, global.expand({z.size(0), z.size(1), global.size(2)})}, -1);  // [B, N, C]
    return m_outConv->forward(features);  // [B, N, 2]
}

int64_t dynamicVitKeepCount(int64_t initialPatches, double keepRatio, int stage) {
    const auto keep = static_cast<int64_t>(static_cast<double>(initialPatches) * std::pow(keepRatio, stage));
    return std::clamp<int64_t>(keep, 1, std::max<int64_t>(1, initialPatches));
}

DynamicVitPruneOutput dynamicVitPrune(const DynamicVitPruneInput& input) {
    const auto& hidden = input.hidden;
    const auto b = hidden.size(0);
    const auto t = input.textLength;
    const auto images = hidden.size(1) - t;  // image CLS + patches
    const auto patches = images - 1;
    if (patches < 1) throw Error("DynamicViT: no image patch left to prune");
    if (input.keepLogProbability.dim() != 2 || input.keepLogProbability.size(0) != b ||
        input.keepLogProbability.size(1) != patches)
        throw Error("DynamicViT: the keep scores do not match the image patches");
    const auto keep = std::clamp<int64_t>(input.keep, 1, patches);

    // Masked (padding) patches rank last; a stable sort keeps ties in their current order.
    const auto patchMask = input.mask.slice(1, t + 1);  // [B, N]
    const auto score = input.keepLogProbability.to(torch::kFloat)
                           .masked_fill(patchMask.le(0), -std::numeric_limits<float>::infinity());  // [B, N]
    const auto order = std::get<1>(torch::sort(score, /*stable=*/true, /*dim=*/1, /*descending=*/true)).slice(1, 0, keep);
    const auto index = torch::cat({torch::zeros({b, 1}, order.options()), order + 1}, 1);  // [B, 1 + keep]
    const auto kept = 1 + keep;

    const auto image = hidden.slice(1, t);  // [B, I, C]
    const auto keptImage = selectRows(image, index);                                  // [B, 1 + keep, C]
    const auto keptMask = input.mask.slice(1, t).gather(1, index);                   // [B, 1 + keep]
    const auto source = input.imageSource.defined()
                            ? selectRows(input.imageSource, index)
                            : torch::one_hot(index, images).to(hidden.scalar_type());  // [B, 1 + keep, I0]

    DynamicVitPruneOutput out;
    out.hidden = torch::cat({hidden.slice(1, 0, t), keptImage}, 1);    // [B, T + 1 + keep, C]
    out.mask = torch::cat({input.mask.slice(1, 0, t), keptMask}, 1);    // [B, T + 1 + keep]
    auto& record = out.record;
    record.isReduced = true;
    record.counts.imageIn = images;
    record.counts.textIn = record.counts.textOut = t;
    record.counts.tokensKept = record.counts.imageOut = kept;
    record.counts.tokensPruned = images - kept;
    record.imageScore = torch::cat({torch::ones({b, 1}, input.keepLogProbability.options()),
                                    input.keepLogProbability.exp()}, 1);  // [B, I]
    record.keptIndex = index;
    record.keptScore = record.imageScore.gather(1, index);
    record.imageOrigin = index;
    record.imageSource = source;
    record.imageSize = source.sum(-1);
    return out;
}

torch::Tensor dynamicVitGumbelKeep(const torch::Tensor& keepLogProbabilities, const torch::Tensor& previous) {
    const auto hard = F::gumbel_softmax(keepLogProbabilities, F::GumbelSoftmaxFuncOptions().tau(1.0).hard(true).dim(-1));
    return hard.select(-1, 0) * previous.to(hard.scalar_type());  // [B, N]
}

torch::Tensor dynamicVitRatioLoss(const std::vector<torch::Tensor>& keepFractions, double keepRatio) {
    if (keepFractions.empty()) return torch::zeros({});
    auto loss = torch::zeros({}, keepFractions.front().options());
    for (std::size_t i = 0; i < keepFractions.size(); ++i) {
        const double target = std::pow(keepRatio, static_cast<double>(i + 1));
        loss = loss + (keepFractions[i] - target).pow(2).mean();
    }
    return loss / static_cast<double>(keepFractions.size());
}

std::vector<int> defaultDynamicVitLocations(int layers) {
    std::vector<int> locations;
    if (layers < 2) return locations;
    for (const int quarter : {1, 2, 3}) {
        const int l = std::clamp(layers * quarter / 4, 1, layers - 1);
        if (l >= 1 && (locations.empty() || l > locations.back())) locations.push_back(l);
    }
    return locations;
}

bool isDynamicVitParameter(const std::string& name) { return name.rfind("dynamicvit.", 0) == 0; }

std::vector<std::pair<std::string, torch::Tensor>> dynamicVitTrainableParameters(torch::nn::Module& vilt,
                                                                                   bool predictorOnly) {
    std::vector<std::pair<std::string, torch::Tensor>> trainable;
    for (auto& item : vilt.named_parameters(true)) {
        const bool learns = !predictorOnly || isDynamicVitParameter(item.key());
        item.value().set_requires_grad(learns);
        if (learns) trainable.emplace_back(item.key(), item.value());
    }
    return trainable;
}

}  // namespace tokenscope
