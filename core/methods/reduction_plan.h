#pragma once

// What a model does under a method, by hook: built from MethodSettings by the method's registry
// entry for one model (its family and depth), then read by the model at each hook — "what do I do
// at (stage, layer)?" — so models never switch on a method. Torch-free plain data.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/timeline.h"  // Stage
#include "methods/method_registry.h"
#include "reduce/reducer_settings.h"

namespace tokenscope {

// The model a plan is made for.
struct PlanContext {
    FamilyKind family = FamilyKind::Vilt;
    // Layers of each stage that reducers act in (ViLT: the fusion stage's encoder layers; METER:
    // its co-attention layers; LLaVA: the decoder's).
    std::map<Stage, int> layers;
    int preprocessShortestEdge = 384;   // the model's default input (smaller resolution scales it)
    int preprocessSizeDivisor = 32;
    std::vector<int> dynamicVitLocations;  // the checkpoint's trained prune locations (empty: no predictors)
    int layersAt(Stage stage) const;
};

// What runs between a layer's attention and its MLP.
struct LayerStep {
    enum class Op { Plain, Pumer, Tome };
    Op op = Op::Plain;
    PumerConfig pumer;   // Op::Pumer
    int64_t tomeR = 0;   // Op::Tome (<= 0: a plain block, with proportional attention after merges)
};

struct ReductionPlan {
    MethodSettings settings;  // what the plan was made from
    MethodHook hook = MethodHook::None;
    // Preprocess: the image's shortest edge (0 = the model's default).
    int shortestEdge = 0;
    // Embedding: image patches dropped before the first layer.
    std::optional<DropSettings> embeddingDrop;
    // BetweenAttentionAndMlp: the attention numerics of every layer (PuMer's reference mode uses its
    // own masked softmax and LayerNorm eps throughout, also where it does not reduce), ToMe's
    // options, DynamicViT's prune locations, and the step of each (stage, layer).
    ReductionMode numerics = ReductionMode::Fixed;
    TomeSettings tome;
    std::optional<DynamicVitSettings> dynamicVit;
    std::map<std::pair<Stage, int>, LayerStep> steps;
    // AfterProjector: the visual tokens kept between the projector and the language model.
    std::optional<VisualTokenSettings> visualSelection;

    // The step at (stage, layer): Plain when the plan has none there.
    const LayerStep& at(Stage stage, int layer) const;
    // True when the model runs anything but its plain forward.
    bool reduces() const;
};

// The plan of `settings` for a model. Throws Error when the method does not serve the family or
// the settings do not fit the model (a layer it lacks, a ratio out of range, no predictors, ...).
ReductionPlan makePlan(const MethodSettings& settings, const PlanContext& context);

// What a method does to LLaVA's visual tokens (the AfterProjector step of its plan for a LLaVA
// model with that many decoder layers); methods without that step (none) give Full.
VisualTokenSettings visualSelectionOf(const MethodSettings& settings, int decoderLayers = 32);

// Smaller resolution (method "smres"): the shortest edge that leaves about `keep` of the default
// patch count (patches scale with the area), on the size divisor's grid; the knob "resolution" when set.
int smallerResolutionEdge(const MethodSettings& settings, int defaultEdge, int sizeDivisor);

}  // namespace tokenscope
