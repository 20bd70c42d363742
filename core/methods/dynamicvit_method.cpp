// DynamicViT (Rao et al., NeurIPS 2021; raoyongming/DynamicViT) with a model's trained predictors:
// before each prune location a predictor scores the image patches and the lowest are dropped
// (raoyongming/DynamicViT models/dyvit.py; core/models/dynamic_vit.h).

#include <sstream>

#include "common/error.h"
#include "methods/reduction_plan.h"

namespace tokenscope {

namespace {

void plan(const MethodSettings& s, const PlanContext& context, ReductionPlan& plan) {
    const int layers = context.layersAt(Stage::Fusion);
    const auto& trained = context.dynamicVitLocations;
    if (trained.empty())
        throw Error("this model has no DynamicViT predictor weights; train them with tokenscope-cli train "
                    "--init-from MODEL --distill-from MODEL --method dynamicvit --keep-ratio 0.7 "
                    "--train-predictor-only --out DIR");
    const auto given = s.intList("prune-loc");
    const auto& locations = given.empty() ? trained : given;
    if (locations.size() != trained.size())
        throw Error("this model has " + std::to_string(trained.size()) + " DynamicViT predictors, so --prune-loc must list " +
                    std::to_string(trained.size()) + " blocks");
    for (std::size_t i = 0; i < locations.size(); ++i) {
        if (locations[i] < 1 || locations[i] >= layers || (i > 0 && locations[i] <= locations[i - 1]))
            throw Error("DynamicViT prune locations must increase strictly within 1.." + std::to_string(layers - 1));
    }
    DynamicVitSettings d;
    d.locations = locations;
    d.keepRatio = s.number("keep-ratio");
    plan.dynamicVit = d;
}

std::string describeSettings(const MethodSettings& s) {
    std::ostringstream out;
    out << "dynamicvit rho " << s.number("keep-ratio");
    const auto locations = s.intList("prune-loc");
    if (!locations.empty()) {
        out << " L";
        for (std::size_t i = 0; i < locations.size(); ++i) out << (i ? "," : "") << locations[i];
    }
    return out.str();
}

}  // namespace

MethodDescriptor dynamicVitMethod() {
    MethodDescriptor m;
    m.id = "dynamicvit";
    m.name = "DynamicViT (trained)";
    m.summary = "Trained predictors drop the lowest-scored image patches before the prune locations; only models with "
                "predictor weights (Rao et al., NeurIPS 2021).";
    m.hook = MethodHook::BetweenAttentionAndMlp;
    m.families = static_cast<unsigned>(FamilyKind::Vilt);
    m.knobs = {
        numberKnob("keep-ratio", "Keep ratio ρ", "Stage i keeps int(P0 · ρ^i) of the P0 image patches.", 0.05, 1, 0.01, 0.7),
        intListKnob("prune-loc", "Prune locations", "The blocks the pruned tokens enter (default: the checkpoint's).", 1,
                    1000, {}),
    };
    m.plan = &plan;
    m.describe = &describeSettings;
    return m;
}

}  // namespace tokenscope
