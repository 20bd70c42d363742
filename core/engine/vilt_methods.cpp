#include "engine/vilt_methods.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "reduce/tome.h"

namespace tokenscope {

std::optional<ViltReduction> viltReductionFor(const MethodSettings& settings, const ViltConfig& config) {
    const int layers = config.numHiddenLayers;
    for (int l : settings.layers) {
        if (settings.method == Method::Pumer && (l < 0 || l >= layers))
            throw Error("reduction layer " + std::to_string(l) + " does not exist (the model has layers 0.." +
                        std::to_string(layers - 1) + ")");
    }
    switch (settings.method) {
        case Method::None:
        case Method::SmallerResolution:
            return std::nullopt;
        case Method::Pumer: {
            ViltReduction reduction;
            auto& p = reduction.pumer;
            p.pruneRatio = settings.pruneRatio;
            p.mergeRatio = settings.imageMergeRatio;
            p.textMergeRatio = settings.textMergeRatio;
            p.mode = settings.mode == "fixed" ? ReductionMode::Fixed : ReductionMode::Reference;
            if (settings.mode != "fixed" && settings.mode != "reference")
                throw Error("unknown mode '" + settings.mode + "' (use reference or fixed)");
            if (settings.score == "mean-head") p.score = PruneScore::MeanHead;
            else if (settings.score == "first-head") p.score = PruneScore::FirstHead;
            else if (settings.score == "key") p.score = PruneScore::KeyMetric;
            else if (settings.score == "qk") p.score = PruneScore::QueryKey;
            else throw Error("unknown score '" + settings.score + "' (use mean-head, first-head, key or qk)");
            if (settings.mergeStyle == "tome") p.mergeStyle = ImageMergeStyle::Tome;
            else if (settings.mergeStyle == "tip") p.mergeStyle = ImageMergeStyle::Tip;
            else if (settings.mergeStyle == "diff") p.mergeStyle = ImageMergeStyle::Diff;
            else throw Error("unknown merge style '" + settings.mergeStyle + "' (use tome, tip or diff)");
            for (double ratio : {settings.pruneRatio, settings.imageMergeRatio, settings.textMergeRatio}) {
                if (!(ratio >= 0.0 && ratio < 1.0)) throw Error("PuMer ratios must lie in [0, 1)");
            }
            reduction.layers = settings.layers;
            return reduction;
        }
        case Method::Tome: {
            ViltReduction reduction;
            reduction.method = ReductionMethod::Tome;
            if (settings.tomeSchedule.empty()) {
                if (settings.tomeR < 0) throw Error("ToMe r must not be negative");
                reduction.tome.schedule = tomeSchedule(layers, settings.tomeR, settings.tomeInflect);
            } else {
                std::vector<int64_t> perLayer(settings.tomeSchedule.begin(), settings.tomeSchedule.end());
                for (auto r : perLayer) {
                    if (r < 0) throw Error("ToMe schedule entries must not be negative");
                }
                reduction.tome.schedule = tomeSchedule(layers, perLayer);
            }
            reduction.tome.joint = settings.tomeJoint;
            return reduction;
        }
        case Method::RandomDrop:
        case Method::UniformDrop: {
            if (!(settings.keepRatio > 0.0 && settings.keepRatio <= 1.0)) throw Error("--keep must lie in (0, 1]");
            ViltReduction reduction;
            reduction.method = settings.method == Method::RandomDrop ? ReductionMethod::RandomDrop : ReductionMethod::UniformDrop;
            reduction.drop.keepRatio = settings.keepRatio;
            reduction.drop.seed = settings.seed;
            return reduction;
        }
        case Method::DynamicVit: {
            if (!config.dynamicVit)
                throw Error("this model has no DynamicViT predictor weights; train them with tokenscope-cli train "
                            "--init-from MODEL --distill-from MODEL --method dynamicvit --keep-ratio 0.7 "
                            "--train-predictor-only --out DIR");
            const auto& trained = config.dynamicVit->pruneLocations;
            const auto& locations = settings.dynamicVitLocations.empty() ? trained : settings.dynamicVitLocations;
            if (locations.size() != trained.size())
                throw Error("this model has " + std::to_string(trained.size()) +
                            " DynamicViT predictors, so --prune-loc must list " + std::to_string(trained.size()) +
                            " blocks");
            for (std::size_t i = 0; i < locations.size(); ++i) {
                if (locations[i] < 1 || locations[i] >= layers || (i > 0 && locations[i] <= locations[i - 1]))
                    throw Error("DynamicViT prune locations must increase strictly within 1.." + std::to_string(layers - 1));
            }
            if (!(settings.dynamicVitKeepRatio > 0.0 && settings.dynamicVitKeepRatio <= 1.0))
                throw Error("the DynamicViT keep ratio must lie in (0, 1]");
            ViltReduction reduction;
            reduction.method = ReductionMethod::DynamicVit;
            reduction.dynamicVit.locations = locations;
            reduction.dynamicVit.keepRatio = settings.dynamicVitKeepRatio;
            return reduction;
        }
    }
    return std::nullopt;
}

// The shortest edge that leaves about keepRatio of the default patch count (patches scale with
// the area), on the size divisor's grid.
int smallerResolutionEdge(const MethodSettings& settings, const ViltPreprocessConfig& config) {
    if (settings.shortestEdge > 0) return settings.shortestEdge;
    const double keep = std::clamp(settings.keepRatio, 0.01, 1.0);
    const double edge = config.shortestEdge * std::sqrt(keep);
    const int divisor = config.sizeDivisor;
    return std::max(divisor, static_cast<int>(std::lround(edge / divisor)) * divisor);
}

}  // namespace tokenscope
