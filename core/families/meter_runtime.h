#pragma once

// Core-internal: the METER family (families/family_runtime.h): a RoBERTa text encoder and a CLIP
// image encoder joined by co-attention fusion layers, answering from labels (VQA, SNLI-VE) or two
// images (NLVR2). Its fusion layers are the trace's fusion layers; the encoders' layers come
// before them as text and vision layers. Methods act through the plan (core/methods) in the
// fusion layers (PuMer) or on the image tokens entering the fusion (random, uniform), or change
// the input resolution (smaller resolution).
//
// A METER folder holds a released Lightning checkpoint (*.ckpt) or model.safetensors, and the
// RoBERTa tokenizer files vocab.json and merges.txt. Optional config.json: model_type "meter" with
// METER's hyper-parameter keys (meter_config.h) and an id2label answer list; a config.json of
// another model type (the tokenizer's RobertaConfig) is ignored.

#include <optional>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "families/family_runtime.h"
#include "image/meter_preprocess.h"
#include "methods/reduction_plan.h"
#include "models/meter.h"
#include "text/bpe_tokenizer.h"

namespace tokenscope {

// Whether `folder` holds a METER model: config.json says model_type "meter", or there is a *.ckpt
// and no config.json of another model (the tokenizer's RobertaConfig does not count).
bool isMeterFolder(const std::string& folder);
// The model config of a METER folder: from config.json's METER keys when it has them, else from
// the checkpoint's hyper_parameters["config"], checked against (or, without either, inferred from)
// the tensor shapes. Throws Error naming the file and the disagreement.
ModelConfig meterModelConfig(const std::string& folder, const Checkpoint& checkpoint);

class MeterRuntime : public FamilyRuntime {
public:
    MeterRuntime(const MeterConfig& config, RuntimeContext& context);

    FamilyCapabilities capabilities() const override;
    torch::nn::Module& module() override { return *m_meter; }
    StateDictReport loadWeights(const Checkpoint& checkpoint, const StateDictOptions& options) override;
    void readFolder(const std::string& folder) override;
    bool hasTokenizer() const override { return m_tokenizer.has_value(); }
    std::vector<int64_t> tokenize(const std::string& text, std::vector<std::string>* pieces) const override;
    // "fusion-order" (sequential / parallel; also picks the image resize of the code that order
    // comes from) and "head" (the heads the checkpoint has).
    std::vector<ModelOption> options() const override;
    void setOption(const std::string& key, const std::string& value) override;

    RunResult run(const RunRequest& request, const std::atomic<bool>* cancel) override;
    AnswerResult answerPair(const ImageU8& left, const ImageU8& right, const std::string& statement, int topK) override;
    // One forward for the whole batch (each question padded to max_text_len, as answers are), with
    // the single-image head; no provenance is recorded.
    BatchPrediction predictBatch(const std::vector<ImageU8>& images, const std::vector<std::string>& questions,
                                 const MethodSettings& method, const std::atomic<bool>* cancel) override;
    BenchRow benchmark(const BenchRequest& request) override;
    void forwardFile(const std::string& inputsPath, const std::string& outputsPath, const MethodSettings& method) override;

private:
    struct Text {
        torch::Tensor ids, mask;          // [1, maxTextLen]
        std::vector<std::string> pieces;  // the question's tokens, <s> and </s> included, padding not
    };
    Text encodeText(const std::string& question) const;
    ReductionPlan planFor(const MethodSettings& settings) const;
    // The forward options of a plan (the reduction it describes, the task's head); the image size it
    // asks for (0: the model's own) is applied by ImageSizeScope.
    MeterForwardOptions optionsFor(const ReductionPlan& plan, const std::atomic<bool>* cancel) const;
    int imageSizeFor(const ReductionPlan& plan) const;
    MeterPreprocessConfig preprocessFor(int imageSize) const;
    // The head a single-image call answers with: the chosen one, else VQA, SNLI-VE, then the rest.
    MeterTask singleImageTask() const;
    std::vector<ScoredAnswer> rank(const torch::Tensor& logits, int topK, MeterTask task) const;
    Trace traceOf(const MeterOutputs& outputs, const Text& text, int imageSize) const;

    Meter m_meter{nullptr};
    std::optional<BpeTokenizer> m_tokenizer;
    std::vector<std::string> m_labels;  // id2label of the VQA head (empty: answers are their index)
    MeterResizeStyle m_resize = MeterResizeStyle::ShorterSideThenCrop;
    MeterStreamOrder m_order = MeterStreamOrder::Parallel;
    std::optional<MeterTask> m_task;  // unset: singleImageTask's default
};

}  // namespace tokenscope
