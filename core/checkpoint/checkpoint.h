#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "common/dtype.h"
#include "io/mapped_file.h"

namespace torch::nn {
class Module;
}

namespace tokenscope {

// Called while weights are copied: bytes done so far and the total. Runs on the loading thread.
using LoadProgress = std::function<void(uint64_t bytesDone, uint64_t bytesTotal)>;

// The tensors of a checkpoint: one or several memory-mapped files (model.safetensors, sharded
// safetensors through model.safetensors.index.json, pytorch_model.bin and its index, a PyTorch
// Lightning *.ckpt). Nothing is copied until a tensor is asked for. Not thread-safe for concurrent
// opens; reads are.
class Checkpoint {
public:
    // Opens a model folder or a single weights file. In a folder: model.safetensors.index.json,
    // model.safetensors, pytorch_model.bin.index.json, pytorch_model.bin, else the folder's only
    // *.ckpt (several are an Error). A file is read by its name: *.index.json, *.safetensors,
    // *.ckpt (lightning_ckpt.h: state_dict's tensors, hyper_parameters.config kept, the rest of the
    // bookkeeping skipped unexecuted), anything else as a torch.save state dict. Throws Error
    // naming the file and the problem.
    static Checkpoint open(const std::string& pathOrFolder);

    bool contains(const std::string& name) const { return m_entries.count(name) != 0; }
    // Names, and dtype/shape/strides through info(), come from the headers alone: listing them
    // (e.g. to infer an architecture from shapes) reads no tensor data.
    std::vector<std::string> names() const;
    const TensorInfo& info(const std::string& name) const;
    const std::string& fileOf(const std::string& name) const;
    // A CPU tensor with the stored dtype; shares the mapping when the data is aligned, else a copy.
    torch::Tensor tensor(const std::string& name) const;
    uint64_t totalBytes() const { return m_totalBytes; }
    // Files that make up the checkpoint, in load order.
    std::vector<std::string> files() const;
    // A Lightning checkpoint's hyper_parameters["config"] (plain values only, see
    // LightningCheckpoint::config); null for every other format or when it has none.
    const nlohmann::json& hyperParameterConfig() const { return m_hyperParameterConfig; }
    // What was left out of hyperParameterConfig() and why (LightningCheckpoint::skippedConfigEntries).
    const std::vector<std::string>& skippedConfigEntries() const { return m_skippedConfigEntries; }

private:
    struct Entry {
        std::size_t fileIndex = 0;
        TensorInfo info;
    };
    void addSafetensors(const std::string& path);
    void addTorchBin(const std::string& path);
    void addLightning(const std::string& path);
    void addEntry(const std::string& name, std::size_t fileIndex, TensorInfo info);
    void addIndex(const std::string& indexPath, bool safetensors);

    std::vector<std::shared_ptr<MappedFile>> m_files;
    std::map<std::string, Entry> m_entries;
    uint64_t m_totalBytes = 0;
    nlohmann::json m_hyperParameterConfig;
    std::vector<std::string> m_skippedConfigEntries;
};

struct StateDictOptions {
    std::string prefix;  // checkpoint name = prefix + module parameter name
    LoadProgress progress;
    const std::atomic<bool>* cancel = nullptr;
};

struct StateDictReport {
    std::vector<std::string> unexpected;  // checkpoint tensors under the prefix that no parameter took
};

// Copies every parameter and buffer of module from the checkpoint (shapes must match; values are
// converted to the module's dtype and device, so move the module first). A missing
// parameter is an Error listing the missing names; checkpoint tensors that no parameter takes are
// reported (callers print them as a warning). Throws Cancelled when *cancel becomes true.
StateDictReport loadStateDict(torch::nn::Module& module, const Checkpoint& checkpoint, const StateDictOptions& options);

// HF-style random initialisation for a model without a checkpoint: N(0, 0.02) weights and
// embeddings, zero biases, LayerNorm weight 1 / bias 0; deterministic in seed.
void initialiseRandomWeights(torch::nn::Module& module, uint64_t seed);

torch::Dtype torchDtype(DType dtype);
DType fromTorchDtype(torch::Dtype dtype);  // throws Error for types a checkpoint cannot hold

}  // namespace tokenscope
