#include "methods/reduction_plan.h"

#include "common/error.h"

namespace tokenscope {

int PlanContext::layersAt(Stage stage) const {
    const auto it = layers.find(stage);
    return it == layers.end() ? 0 : it->second;
}

const LayerStep& ReductionPlan::at(Stage stage, int layer) const {
    static const LayerStep plain;
    const auto it = steps.find({stage, layer});
    return it == steps.end() ? plain : it->second;
}

bool ReductionPlan::reduces() const {
    if (shortestEdge > 0 || embeddingDrop || dynamicVit || visualSelection) return true;
    if (numerics == ReductionMode::Reference) return true;
    for (const auto& [where, step] : steps) {
        if (step.op != LayerStep::Op::Plain) return true;
    }
    return false;
}

ReductionPlan makePlan(const MethodSettings& settings, const PlanContext& context) {
    const auto& descriptor = methodDescriptor(settings.method());
    if (!descriptor.serves(context.family)) {
        std::string serves;
        for (auto family : {FamilyKind::Vilt, FamilyKind::Llava, FamilyKind::Meter}) {
            if (descriptor.serves(family)) serves += (serves.empty() ? "" : ", ") + std::string(familyKindName(family));
        }
        throw Error("method '" + descriptor.id + "' does not run on " + familyKindName(context.family) +
                    " models (it serves " + serves + ")");
    }
    ReductionPlan plan;
    plan.settings = settings;
    plan.hook = descriptor.hook;
    if (descriptor.plan) descriptor.plan(settings, context, plan);
    return plan;
}

VisualTokenSettings visualSelectionOf(const MethodSettings& settings, int decoderLayers) {
    PlanContext context;
    context.family = FamilyKind::Llava;
    context.layers[Stage::Decoder] = decoderLayers;
    const auto plan = makePlan(settings, context);
    return plan.visualSelection ? *plan.visualSelection : VisualTokenSettings{};
}

}  // namespace tokenscope
