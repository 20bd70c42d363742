#pragma once

// Core-internal: the ViLT family (families/family_runtime.h).

#include <optional>

#include "families/family_runtime.h"
#include "image/vilt_preprocess.h"
#include "methods/reduction_plan.h"
#include "models/vilt.h"
#include "text/bert_tokenizer.h"

namespace tokenscope {

class ViltRuntime : public FamilyRuntime {
public:
    ViltRuntime(const ViltConfig& config, RuntimeContext& context);

    FamilyCapabilities capabilities() const override;
    torch::nn::Module& module() override { return *m_vilt; }
    void readFolder(const std::string& folder) override;
    void useVocab(const std::string& path) override;
    bool hasTokenizer() const override { return m_tokenizer.has_value(); }
    std::vector<int64_t> tokenize(const std::string& text, std::vector<std::string>* pieces) const override;

    RunResult run(const RunRequest& request, const std::atomic<bool>* cancel) override;
    AnswerResult answerPair(const ImageU8& left, const ImageU8& right, const std::string& statement, int topK) override;
    BatchPrediction predictBatch(const std::vector<ImageU8>& images, const std::vector<std::string>& questions,
                                 const MethodSettings& method, const std::atomic<bool>* cancel) override;
    BenchRow benchmark(const BenchRequest& request) override;
    void forwardFile(const std::string& inputsPath, const std::string& outputsPath, const MethodSettings& method) override;
    void preprocessToFile(const std::vector<ImageU8>& images, const std::string& outputsPath) override;

private:
    MemoryReport layerMemory(Timeline& timeline, MemoryProtocol protocol) const;
    torch::Tensor encodeText(const std::string& question, std::vector<std::string>* pieces,
                             torch::Tensor* attentionMask) const;
    // The plan of a method for this model (its depth, input size, trained predictors).
    ReductionPlan planFor(const MethodSettings& settings) const;
    // The window re-runs the same image for every knob change: keep the last preprocessed image
    // (resizing is the costly part) and reuse it while the image and the settings stay the same.
    PixelBatch pixelsFor(const ImageU8& image, const ViltPreprocessConfig& config);
    ViltPreprocessConfig preprocessFor(const ReductionPlan& plan) const;
    std::vector<ScoredAnswer> rank(const torch::Tensor& logits, int topK, bool softmax) const;

    Vilt m_vilt{nullptr};
    std::optional<BertTokenizer> m_tokenizer;
    ViltPreprocessConfig m_preprocess;
    ImageU8 m_cachedImage;
    ViltPreprocessConfig m_cachedConfig;
    PixelBatch m_cachedPixels;
};

}  // namespace tokenscope
