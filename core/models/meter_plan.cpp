#include "models/meter_plan.h"

#include "common/error.h"

namespace tokenscope {

PlanContext meterPlanContext(const MeterConfig& config) {
    PlanContext context;
    context.family = FamilyKind::Meter;
    context.layers[Stage::Fusion] = config.numTopLayer;
    context.preprocessShortestEdge = config.vision.imageSize;
    context.preprocessSizeDivisor = config.vision.patchSize;
    return context;
}

std::optional<MeterReduction> meterReductionFor(const ReductionPlan& plan, const MeterConfig& config) {
    std::optional<MeterReduction> reduction;
    if (plan.embeddingDrop) {
        MeterReduction drop;
        drop.method = plan.embeddingDrop->kind == DropKind::Random ? MeterReductionMethod::RandomDrop
                                                                   : MeterReductionMethod::UniformDrop;
        drop.keepRatio = plan.embeddingDrop->keepRatio;
        drop.seed = plan.embeddingDrop->seed;
        reduction = drop;
    }
    for (const auto& [at, step] : plan.steps) {
        if (at.first != Stage::Fusion || step.op == LayerStep::Op::Plain) continue;
        if (reduction && reduction->method != MeterReductionMethod::Pumer && reduction->method != MeterReductionMethod::Tome)
            throw Error("METER runs one reduction at a time");
        if (!reduction) reduction = MeterReduction{};
        if (step.op == LayerStep::Op::Pumer) {
            reduction->method = MeterReductionMethod::Pumer;
            reduction->pumer = step.pumer;
            reduction->fusionLayers.push_back(at.second);
        } else {
            reduction->method = MeterReductionMethod::Tome;
            reduction->tomeSchedule.resize(static_cast<std::size_t>(config.numTopLayer), 0);
            reduction->tomeSchedule[static_cast<std::size_t>(at.second)] = step.tomeR;
        }
    }
    return reduction;
}

}  // namespace tokenscope
