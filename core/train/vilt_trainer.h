#pragma once

// Training a ViLT VQA model with LibTorch: AdamW with decoupled weight decay (none on biases and
// LayerNorms), linear warm-up then cosine decay, the VQA loss (binary cross-entropy on the one-hot
// answer, times the label count, as ViLT's head is trained), optional KL distillation from a
// frozen teacher (PuMer's recipe, csarron/PuMer src/pumer/task/task_base.py: KL(log_softmax student,
// log_softmax teacher), batchmean, no temperature), optional token reduction active in the
// forward pass (fine-tuning with the reducers in place), checkpoints, validation and resume.
// Method dynamicvit trains DynamicViT predictors (raoyongming/DynamicViT models/dyvit.py, losses.py): the
// training forward uses hard Gumbel keep decisions as attention masks, the loss adds ratioWeight times
// the ratio loss, and validation prunes for real.
//
// Torch-free on purpose: the CLI and tests include it. Examples come from a deterministic source
// indexed by position, so a resumed run sees exactly the examples it would have seen.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "methods/method_settings.h"
#include "image/pil_resample.h"

namespace tokenscope {

struct TrainExample {
    ImageU8 image;
    std::string question;
    int64_t label = 0;  // index into the config's id2label
    int group = 0;      // for per-group validation accuracy (question type)
    // Optional dense supervision: one class per patch of the model's grid, row-major (0 = nothing
    // there). Used by TrainOptions::patchLossWeight; empty = none for this example.
    std::vector<int64_t> patchLabels;
    // Optional: the patches (row-major grid indices) holding what the question is about; used by
    // TrainOptions::attentionLossWeight. Empty = nothing to point at (e.g. "no" to "is there...?").
    std::vector<int64_t> relevantPatches;
    // Optional: question words and the patches showing what each names ("red" -> the red objects'
    // patches); used by TrainOptions::groundingLossWeight. Words not in the question are ignored.
    std::vector<std::pair<std::string, std::vector<int64_t>>> groundedWords;
    // Optional: each patch's role in the question, row-major over the grid (0 = none, 1 = what the
    // question names first or the things it counts, 2 = what it names second); used by
    // TrainOptions::roleLossWeight. Empty = none for this example.
    std::vector<int64_t> patchRoles;
    // Optional: where the last block's text [CLS] should look, head by head; used by
    // TrainOptions::headAttentionLossWeight.
    struct HeadTarget {
        int head = 0;
        std::vector<int64_t> patches;  // row-major grid cells
        bool textCls = false;          // the text [CLS] itself is part of the target (a "none" slot)
    };
    std::vector<HeadTarget> headTargets;
    // Optional: numbers the text [CLS] should carry after the last block (e.g. how far apart, in
    // columns and rows, the two objects of a relation question are); used by
    // TrainOptions::clsLossWeight. Empty = none for this example.
    std::vector<float> clsTargets;
};

// Fills out with examples [first, first + count) of a split. Must be deterministic.
using ExampleSource = std::function<void(uint64_t first, int count, std::vector<TrainExample>& out)>;

struct TrainProgress {
    int64_t step = 0, steps = 0;  // steps done, total
    double loss = 0;              // mean over the steps since the last report
    double taskLoss = 0, distillLoss = 0;
    double ratioLoss = 0;               // DynamicViT: the ratio loss (before its weight)
    double patchLoss = 0;               // the auxiliary patch loss (before its weight)
    double attentionLoss = 0;           // the auxiliary attention loss (before its weight)
    double groundingLoss = 0;           // the auxiliary grounding loss (before its weight)
    double roleLoss = 0;                // the auxiliary role loss (before its weight)
    double headAttentionLoss = 0;       // the auxiliary head attention loss (before its weight)
    double positionLoss = 0;            // the auxiliary position loss (before its weight)
    double clsLoss = 0;                 // the auxiliary [CLS] regression loss (before its weight)
    std::vector<double> keepFractions;  // DynamicViT: mean fraction of patches kept per stage
    double trainAccuracy = 0;     // over the same steps
    double learningRate = 0;
    double examplesPerSecond = 0;
    double elapsedSeconds = 0, etaSeconds = 0;
    bool validated = false;       // the fields below are set
    double validationAccuracy = 0;
    std::vector<double> groupAccuracy;  // per group (TrainOptions::groupNames)
    std::string note;             // "resumed from step N", "checkpoint written", ...
};

struct TrainOptions {
    // A model folder prepared by the caller: config.json (ViltForQuestionAnswering with id2label),
    // vocab.txt, preprocessor_config.json, and model.safetensors to start from (absent: random
    // initialisation with `seed`). Training writes model.safetensors, train_log.csv and
    // checkpoint/ (optimizer state, resumable) into it.
    std::string modelDir;
    std::string teacherDir;       // distillation teacher (a model folder); empty = none
    double distillWeight = 1.0;
    MethodSettings method;        // reduction active in training forward passes (None = plain)
    // DynamicViT (method.method == DynamicVit): config.json gets "dynamicvit_config" (the method's
    // locations, else the folder's, else L/4, L/2, 3L/4; its keep ratio); predictors missing from
    // model.safetensors start from DynamicViT's initialisation.
    double ratioWeight = 2.0;
    bool trainPredictorOnly = false;  // freeze everything but the predictors (DynamicViT only)
    // Auxiliary patch loss (training only, never saved in model.safetensors): a linear head on the
    // patch tokens after block patchLossLayer - 1 predicts each TrainExample::patchLabels class;
    // cross-entropy with empty patches weighted 0.1, times this weight. 0 = off. It teaches the
    // patch embeddings what is where early, which the answer loss alone does slowly.
    double patchLossWeight = 0.0;
    int patchLossLayer = 2;
    int patchClasses = 0;  // classes of patchLabels (> 0 when patchLossWeight > 0)
    // Auxiliary attention loss (training only): -log of the attention mass that the text [CLS]
    // query of the last block puts on the example's relevantPatches (mean over heads), times this
    // weight; examples without relevant patches do not count. 0 = off. It teaches where to look.
    double attentionLossWeight = 0.0;
    // Auxiliary grounding loss (training only): -log of the attention mass that each grounded word
    // of the question puts on its patches in block groundingLayer (0-based, mean over heads), times
    // this weight. 0 = off. It teaches the words to find what they name, one hop, early.
    double groundingLossWeight = 0.0;
    int groundingLayer = 1;
    // Auxiliary role loss (training only): like the patch loss, a linear head on the patch tokens
    // after block roleLossLayer - 1 predicts each TrainExample::patchRoles class (roleClasses of
    // them; role 0 weighted 0.1). It teaches each patch, early, whether the question is about it.
    double roleLossWeight = 0.0;
    int roleLossLayer = 3;
    int roleClasses = 3;
    // Auxiliary position loss (training only): a linear head on the patch tokens after block
    // positionLossLayer - 1 regresses each patch's column and row (scaled to -1..1), mean squared
    // error times this weight. It makes "where" readable along a line, which left/right and
    // above/below comparisons need and the answer loss alone finds slowly.
    double positionLossWeight = 0.0;
    int positionLossLayer = 2;
    // Auxiliary [CLS] regression loss (training only): a linear head on the text [CLS] after the
    // last block regresses TrainExample::clsTargets (clsTargetSize numbers; examples without
    // targets do not count), mean squared error times this weight. It asks for the intermediate
    // result an answer needs (where one object is from another) instead of only the answer.
    double clsLossWeight = 0.0;
    int clsTargetSize = 0;
    // Auxiliary head attention loss (training only): for each TrainExample::headTargets entry, the
    // cross-entropy between that head's last-block text-[CLS] attention and the uniform
    // distribution over the target (its patches, and the text [CLS] when asked), times this
    // weight. It gives heads jobs: one looks at the first thing named, one at the second, and a
    // count is read off how the attention splits between the counted patches and the [CLS].
    double headAttentionLossWeight = 0.0;
    int batchSize = 64;
    int64_t steps = 1000;
    // Stop after this many steps as if the run had ended there (model.safetensors, checkpoint and
    // a validation are written), keeping the schedule of `steps`; a later run without it resumes.
    // 0 = run all the steps.
    int64_t stopAfter = 0;
    double learningRate = 1e-3;
    double weightDecay = 0.01;
    double warmupFraction = 0.05;
    int logEvery = 20;
    int validateEvery = 250;      // also at the end
    int validationExamples = 512;
    int checkpointEvery = 250;
    uint64_t seed = 0;
    bool resume = true;           // continue from modelDir/checkpoint when it exists
    std::vector<std::string> groupNames;
    ExampleSource train, validation;
    std::function<void(const TrainProgress&)> progress;
    const std::atomic<bool>* cancel = nullptr;  // checked every step; a checkpoint is written first
};

struct TrainSummary {
    int64_t steps = 0;
    double seconds = 0;           // this run (not counting earlier runs that were resumed)
    double validationAccuracy = 0;
    std::vector<double> groupAccuracy;
    bool cancelled = false;
};

// Throws Error naming the file for a bad model folder or checkpoint.
TrainSummary trainVilt(const TrainOptions& options);
// The same for a METER VQA folder (config.json with model_type meter and id2label, vocab.json +
// merges.txt, model.safetensors to start from or random weights): a fusion reducer in place
// (options.method, as the engine runs it: PuMer, ToMe, random / uniform drop) and a METER teacher
// with the same answers are allowed, DynamicViT predictors are not. The auxiliary losses' layers count the image's path: 1..blocks are the CLIP blocks,
// blocks + 1.. the fusion layers' image side; the grounding layer is a fusion layer (0-based), the
// attention and head attention losses read the last fusion layer's text-to-image attention (the
// image [CLS] is the "nothing" slot), the [CLS] loss the text [CLS] after the fusion.
TrainSummary trainMeter(const TrainOptions& options);
// trainMeter for a folder whose config.json says model_type meter, else trainVilt.
TrainSummary trainModel(const TrainOptions& options);

}  // namespace tokenscope
