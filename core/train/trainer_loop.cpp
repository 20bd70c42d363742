// The optimisation loop of every family's training (runTraining): AdamW with decoupled weight decay,
// warm-up and cosine decay, the task, distillation, ratio and auxiliary losses, resume, checkpoints,
// validation and the training log.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <future>
#include <iomanip>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/tensor_file.h"
#include "common/error.h"
#include "models/dynamic_vit.h"
#include "train/trainer_internal.h"

namespace tokenscope {

namespace trainer {

namespace fs = std::filesystem;

namespace {

constexpr double kPi = 3.14159265358979323846;

// Linear warm-up to the peak, then cosine decay to zero.
double learningRateAt(const TrainOptions& o, int64_t step) {
    const auto warmup = std::max<int64_t>(1, static_cast<int64_t>(std::llround(o.warmupFraction * o.steps)));
    if (step < warmup) return o.learningRate * static_cast<double>(step + 1) / static_cast<double>(warmup);
    const double t = static_cast<double>(step - warmup) / static_cast<double>(std::max<int64_t>(1, o.steps - warmup));
    return o.learningRate * 0.5 * (1.0 + std::cos(kPi * std::min(1.0, t)));
}

bool isNoDecay(const std::string& name) {
    const bool bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    return bias || name.find("LayerNorm") != std::string::npos || name.find("layernorm") != std::string::npos ||
           name.find("classifier.1.") != std::string::npos || name.find("cls_token") != std::string::npos ||
           name.find("position_embeddings") != std::string::npos || name.find(".in_conv.0.") != std::string::npos ||
           name.find(".ln_") != std::string::npos || name.find("class_embedding") != std::string::npos ||
           name.find("positional_embedding") != std::string::npos;
}

}  // namespace

std::map<std::string, torch::Tensor> stateDict(torch::nn::Module& module) {
    std::map<std::string, torch::Tensor> tensors;
    for (const auto& item : module.named_parameters(true)) tensors[item.key()] = item.value().detach();
    for (const auto& item : module.named_buffers(true)) tensors[item.key()] = item.value().detach();
    return tensors;
}

void checkRunOptions(const TrainOptions& o) {
    if (!o.train || !o.validation) throw Error("training needs a train and a validation example source");
    if (o.batchSize < 1 || o.steps < 1) throw Error("training needs a batch size and a step count of at least 1");
}

TrainSummary runTraining(const TrainOptions& o, Trainee& trainee) {
    const fs::path dir(o.modelDir);
    const bool isDynamicVit = trainee.keepStages() > 0;
    const auto labelCount = trainee.labelCount();
    auto& model = trainee.model();

    std::vector<torch::Tensor> decay, noDecay;
    for (const auto& [name, parameter] : trainee.trainableParameters()) (isNoDecay(name) ? noDecay : decay).push_back(parameter);
    const bool usesPatchLoss = o.patchLossWeight > 0;
    const bool usesAttentionLoss = o.attentionLossWeight > 0;
    const bool usesGroundingLoss = o.groundingLossWeight > 0;
    const bool usesRoleLoss = o.roleLossWeight > 0;
    const bool usesHeadAttentionLoss = o.headAttentionLossWeight > 0;
    const bool usesPositionLoss = o.positionLossWeight > 0;
    const bool usesClsLoss = o.clsLossWeight > 0;
    if ((usesRoleLoss || usesHeadAttentionLoss || usesPositionLoss || usesClsLoss) && !o.method.is("none"))
        throw Error("the role, head attention, position and [CLS] losses train plain models (no --method)");
    if (usesGroundingLoss && !o.method.is("none")) throw Error("the grounding loss trains plain models (no --method)");
    if (usesGroundingLoss && (o.groundingLayer < 0 || o.groundingLayer >= trainee.attentionLayers()))
        throw Error("the grounding layer must be 0.." + std::to_string(trainee.attentionLayers() - 1));
    if (usesAttentionLoss && !o.method.is("none")) throw Error("the attention loss trains plain models (no --method)");
    // The training-only linear heads of the auxiliary losses, saved in the checkpoint only.
    struct AuxHead {
        torch::nn::Linear head{nullptr};
        std::string file;
    };
    std::vector<AuxHead> auxHeads;
    const auto addHead = [&](const std::string& name, int64_t inputs, int outputs) {
        torch::nn::Linear head(inputs, outputs);
        for (const auto& item : head->named_parameters()) (isNoDecay(item.key()) ? noDecay : decay).push_back(item.value());
        auxHeads.push_back({head, name + "_head.safetensors"});
        return head;
    };
    const auto auxHead = [&](const std::string& name, bool used, int layer, int outputs) {
        if (!used) return torch::nn::Linear{nullptr};
        if (layer < 1 || layer > trainee.stateLayers())
            throw Error("the " + name + " loss layer must be 1.." + std::to_string(trainee.stateLayers()));
        return addHead(name, trainee.stateWidth(layer), outputs);
    };
    if (usesPatchLoss && !o.method.is("none")) throw Error("the patch loss trains plain models (no --method)");
    if (usesPatchLoss && o.patchClasses < 2) throw Error("the patch loss needs at least 2 patch classes");
    if (usesRoleLoss && o.roleClasses < 2) throw Error("the role loss needs at least 2 role classes");
    if (usesClsLoss && o.clsTargetSize < 1) throw Error("the [CLS] loss needs at least 1 target number");
    auto patchHead = auxHead("patch", usesPatchLoss, o.patchLossLayer, o.patchClasses);
    auto roleHead = auxHead("role", usesRoleLoss, o.roleLossLayer, o.roleClasses);
    auto positionHead = auxHead("position", usesPositionLoss, o.positionLossLayer, 2);
    auto clsHead = usesClsLoss ? addHead("cls", trainee.textWidth(), o.clsTargetSize) : torch::nn::Linear{nullptr};
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(
                                   torch::optim::AdamWOptions(o.learningRate).weight_decay(o.weightDecay)));
    groups.emplace_back(noDecay, std::make_unique<torch::optim::AdamWOptions>(
                                     torch::optim::AdamWOptions(o.learningRate).weight_decay(0.0)));
    torch::optim::AdamW optimizer(std::move(groups), torch::optim::AdamWOptions(o.learningRate));

    const fs::path checkpointDir = dir / "checkpoint";
    int64_t start = 0;
    TrainProgress progress;
    progress.steps = o.steps;
    if (o.resume && fs::exists(checkpointDir / "state.json")) {
        std::ifstream in(checkpointDir / "state.json");
        nlohmann::json state;
        try {
            in >> state;
            start = state.at("step").get<int64_t>();
        } catch (const std::exception& e) {
            throw Error((checkpointDir / "state.json").string() + ": unreadable training state: " + e.what());
        }
        if (state.value("steps", o.steps) != o.steps || state.value("batch_size", o.batchSize) != o.batchSize)
            throw Error(checkpointDir.string() + ": this checkpoint was made with other --steps / --batch values; "
                                                 "use the same ones to resume, or delete the folder to start again");
        loadStateDict(model, Checkpoint::open((checkpointDir / "model.safetensors").string()), {});
        for (auto& [head, file] : auxHeads) loadStateDict(*head, Checkpoint::open((checkpointDir / file).string()), {});
        try {
            torch::load(optimizer, (checkpointDir / "optimizer.pt").string());
        } catch (const c10::Error& e) {
            throw Error((checkpointDir / "optimizer.pt").string() + ": unreadable optimizer state");
        }
        progress.note = "resumed from step " + std::to_string(start);
        if (o.progress) o.progress(progress);
        progress.note.clear();
    }

    const auto writeCheckpoint = [&](int64_t step) {
        fs::create_directories(checkpointDir);
        writeTensorFile((checkpointDir / "model.safetensors").string(), stateDict(model));
        for (auto& [head, file] : auxHeads) writeTensorFile((checkpointDir / file).string(), stateDict(*head));
        torch::save(optimizer, (checkpointDir / "optimizer.pt").string());
        std::ofstream((checkpointDir / "state.json").string())
            << nlohmann::json{{"step", step}, {"steps", o.steps}, {"batch_size", o.batchSize}}.dump(2) << "\n";
    };

    const bool appendLog = start > 0 && fs::exists(dir / "train_log.csv");
    std::ofstream log((dir / "train_log.csv").string(), appendLog ? std::ios::app : std::ios::trunc);
    if (!log) throw Error((dir / "train_log.csv").string() + ": cannot write the training log");
    if (!appendLog) {
        log << "step,loss,task_loss,distill_loss,train_accuracy,learning_rate,examples_per_s,elapsed_s,validation_accuracy";
        for (const auto& g : o.groupNames) log << ",val_" << g;
        if (usesPatchLoss) log << ",patch_loss";
        if (usesAttentionLoss) log << ",attention_loss";
        if (usesGroundingLoss) log << ",grounding_loss";
        if (usesRoleLoss) log << ",role_loss";
        if (usesHeadAttentionLoss) log << ",head_attention_loss";
        if (usesPositionLoss) log << ",position_loss";
        if (usesClsLoss) log << ",cls_loss";
        if (isDynamicVit) {
            log << ",ratio_loss";
            for (int i = 0; i < trainee.keepStages(); ++i) log << ",keep_" << i + 1;
        }
        log << "\n";
    }

    const auto fetch = [&](int64_t step) {
        return std::async(std::launch::async, [&o, step] {
            std::vector<TrainExample> examples;
            o.train(static_cast<uint64_t>(step) * static_cast<uint64_t>(o.batchSize), o.batchSize, examples);
            return examples;
        });
    };

    TrainSummary summary;
    const auto runStart = std::chrono::steady_clock::now();
    auto windowStart = runStart;
    double lossSum = 0, taskSum = 0, distillSum = 0, ratioSum = 0, patchSum = 0, attentionSum = 0, groundingSum = 0, roleSum = 0,
           headSum = 0, positionSum = 0, clsSum = 0;
    std::vector<double> keepSums(static_cast<std::size_t>(trainee.keepStages()), 0.0);
    int64_t right = 0, seen = 0, windowSteps = 0;
    auto next = fetch(start);
    for (int64_t step = start; step < o.steps; ++step) {
        auto examples = next.get();
        if (step + 1 < o.steps) next = fetch(step + 1);
        const auto batch = trainee.makeBatch(examples);
        const auto outputs = trainee.trainingForward(batch, usesPatchLoss || usesRoleLoss || usesPositionLoss || usesClsLoss,
                                                     usesAttentionLoss || usesGroundingLoss || usesHeadAttentionLoss);
        const auto& logits = outputs.logits;  // [B, labels]
        const auto target = torch::one_hot(batch.labels, labelCount).to(logits.dtype());
        auto taskLoss = torch::binary_cross_entropy_with_logits(logits, target) * static_cast<double>(labelCount);
        auto loss = taskLoss;
        const auto& view = outputs.view;
        const auto add = [&loss](double weight, double& sum, const torch::Tensor& aux) {
            loss = loss + weight * aux;
            sum += aux.item<double>();
        };
        if (usesPatchLoss)
            add(o.patchLossWeight, patchSum, patchLoss(view, batch.patchLabels, "patch", patchHead, o.patchLossLayer, o.patchClasses));
        if (usesAttentionLoss) add(o.attentionLossWeight, attentionSum, attentionLoss(view, batch));
        if (usesGroundingLoss) add(o.groundingLossWeight, groundingSum, groundingLoss(view, batch, o.groundingLayer));
        if (usesRoleLoss)
            add(o.roleLossWeight, roleSum, patchLoss(view, batch.patchRoles, "role", roleHead, o.roleLossLayer, o.roleClasses));
        if (usesHeadAttentionLoss) add(o.headAttentionLossWeight, headSum, headAttentionLoss(view, batch));
        if (usesPositionLoss) add(o.positionLossWeight, positionSum, positionLoss(view, positionHead, o.positionLossLayer));
        if (usesClsLoss) add(o.clsLossWeight, clsSum, clsLoss(view, batch, clsHead));
        torch::Tensor distill;
        const auto teacherLogits = trainee.teacherLogits(batch);
        if (teacherLogits.defined()) {
            const auto s = torch::log_softmax(logits, 1), t = torch::log_softmax(teacherLogits, 1);
            distill = (t.exp() * (t - s)).sum() / static_cast<double>(logits.size(0));
            loss = loss + o.distillWeight * distill;
        }
        if (isDynamicVit) {
            const auto& fractions = outputs.keepFractions;
            const auto ratio = dynamicVitRatioLoss(fractions, o.method.number("keep-ratio"));
            loss = loss + o.ratioWeight * ratio;
            ratioSum += ratio.item<double>();
            for (std::size_t i = 0; i < fractions.size() && i < keepSums.size(); ++i)
                keepSums[i] += fractions[i].mean().item<double>();
        }
        const double lr = learningRateAt(o, step);
        for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
        optimizer.zero_grad();
        loss.backward();
        torch::nn::utils::clip_grad_norm_(model.parameters(), 1.0);
        optimizer.step();

        lossSum += loss.item<double>();
        taskSum += taskLoss.item<double>();
        if (distill.defined()) distillSum += distill.item<double>();
        right += logits.argmax(1).eq(batch.labels).sum().item<int64_t>();
        seen += logits.size(0);
        ++windowSteps;
        const int64_t done = step + 1;
        const bool last = done == o.steps || done == o.stopAfter;
        const bool cancelled = o.cancel && o.cancel->load();
        const bool validateNow = last || cancelled || (o.validateEvery > 0 && done % o.validateEvery == 0);
        if (done % std::max(1, o.logEvery) == 0 || validateNow) {
            const auto now = std::chrono::steady_clock::now();
            const double windowSeconds = std::chrono::duration<double>(now - windowStart).count();
            progress.step = done;
            progress.loss = lossSum / windowSteps;
            progress.taskLoss = taskSum / windowSteps;
            progress.distillLoss = distillSum / windowSteps;
            progress.ratioLoss = ratioSum / windowSteps;
            progress.patchLoss = patchSum / windowSteps;
            progress.attentionLoss = attentionSum / windowSteps;
            progress.groundingLoss = groundingSum / windowSteps;
            progress.roleLoss = roleSum / windowSteps;
            progress.headAttentionLoss = headSum / windowSteps;
            progress.positionLoss = positionSum / windowSteps;
            progress.clsLoss = clsSum / windowSteps;
            progress.keepFractions.clear();
            for (const auto sum : keepSums) progress.keepFractions.push_back(sum / windowSteps);
            progress.trainAccuracy = seen ? static_cast<double>(right) / seen : 0.0;
            progress.learningRate = lr;
            progress.examplesPerSecond = windowSeconds > 0 ? seen / windowSeconds : 0.0;
            progress.elapsedSeconds = std::chrono::duration<double>(now - runStart).count();
            const double perStep = windowSeconds / windowSteps;
            progress.etaSeconds = perStep * static_cast<double>(o.steps - done);
            progress.validated = false;
            if (validateNow) {
                const auto v = validate(trainee, o);
                progress.validated = true;
                progress.validationAccuracy = v.accuracy;
                progress.groupAccuracy = v.groupAccuracy;
                summary.validationAccuracy = v.accuracy;
                summary.groupAccuracy = v.groupAccuracy;
            }
            log << done << std::setprecision(6) << "," << progress.loss << "," << progress.taskLoss << ","
                << progress.distillLoss << "," << progress.trainAccuracy << "," << lr << "," << progress.examplesPerSecond
                << "," << progress.elapsedSeconds << ",";
            if (progress.validated) log << progress.validationAccuracy;
            for (std::size_t g = 0; g < o.groupNames.size(); ++g) {
                log << ",";
                if (progress.validated && g < progress.groupAccuracy.size()) log << progress.groupAccuracy[g];
            }
            if (usesPatchLoss) log << "," << progress.patchLoss;
            if (usesAttentionLoss) log << "," << progress.attentionLoss;
            if (usesGroundingLoss) log << "," << progress.groundingLoss;
            if (usesRoleLoss) log << "," << progress.roleLoss;
            if (usesHeadAttentionLoss) log << "," << progress.headAttentionLoss;
            if (usesPositionLoss) log << "," << progress.positionLoss;
            if (usesClsLoss) log << "," << progress.clsLoss;
            if (isDynamicVit) {
                log << "," << progress.ratioLoss;
                for (const auto f : progress.keepFractions) log << "," << f;
            }
            log << "\n" << std::flush;
            if (o.progress) o.progress(progress);
            lossSum = taskSum = distillSum = ratioSum = patchSum = attentionSum = groundingSum = roleSum = headSum = positionSum = clsSum = 0;
            std::fill(keepSums.begin(), keepSums.end(), 0.0);
            right = seen = windowSteps = 0;
            windowStart = std::chrono::steady_clock::now();
        }
        if (last || cancelled || (o.checkpointEvery > 0 && done % o.checkpointEvery == 0)) writeCheckpoint(done);
        summary.steps = done;
        if (cancelled) {
            summary.cancelled = true;
            break;
        }
        if (last) break;
    }
    if (next.valid()) next.wait();
    if (!summary.cancelled) writeTensorFile((dir / "model.safetensors").string(), stateDict(model));
    summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - runStart).count();
    return summary;
}

}  // namespace trainer

}  // namespace tokenscope
