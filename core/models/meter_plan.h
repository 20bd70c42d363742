#pragma once
// METER's side of the method registry: where a method's knobs land in METER (its fusion layers, the
// image size its patch grid allows) and the reduction a plan asks of Meter::forward. The runtime and
// the trainer both run a method through these, so a model trained with a reducer in place meets the
// same reducer when it answers.

#include <optional>

#include "methods/reduction_plan.h"
#include "models/meter.h"

namespace tokenscope {

// The fusion layers are the method's layers (PuMer's presets scale to their depth); the image side
// is the model's own resolution, in multiples of its patch.
PlanContext meterPlanContext(const MeterConfig& config);

// The MeterReduction of a plan: a drop at the fusion input (random / uniform), PuMer in the listed
// fusion layers, or ToMe's per-layer schedule; none when the plan leaves the fusion alone. A plan
// that mixes a drop with a fusion reducer is refused.
std::optional<MeterReduction> meterReductionFor(const ReductionPlan& plan, const MeterConfig& config);

}  // namespace tokenscope
