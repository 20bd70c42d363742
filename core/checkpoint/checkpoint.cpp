#include "checkpoint/checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/nn/module.h>

#include "checkpoint/lightning_ckpt.h"
#include "checkpoint/safetensors.h"
#include "checkpoint/torch_bin.h"
#include "common/error.h"
#include "io/json_file.h"

namespace tokenscope {

namespace fs = std::filesystem;

torch::Dtype torchDtype(DType dtype) {
    switch (dtype) {
        case DType::F64: return torch::kDouble;
        case DType::F32: return torch::kFloat;
        case DType::F16: return torch::kHalf;
        case DType::BF16: return torch::kBFloat16;
        case DType::I64: return torch::kLong;
        case DType::I32: return torch::kInt;
        case DType::I16: return torch::kShort;
        case DType::I8: return torch::kChar;
        case DType::U8: return torch::kByte;
        case DType::Bool: return torch::kBool;
    }
    return torch::kFloat;
}

DType fromTorchDtype(torch::Dtype dtype) {
    switch (dtype) {
        case torch::kDouble: return DType::F64;
        case torch::kFloat: return DType::F32;
        case torch::kHalf: return DType::F16;
        case torch::kBFloat16: return DType::BF16;
        case torch::kLong: return DType::I64;
        case torch::kInt: return DType::I32;
        case torch::kShort: return DType::I16;
        case torch::kChar: return DType::I8;
        case torch::kByte: return DType::U8;
        case torch::kBool: return DType::Bool;
        default: throw Error(std::string("tensor dtype ") + c10::toString(dtype) + " cannot be stored");
    }
}

Checkpoint Checkpoint::open(const std::string& pathOrFolder) {
    Checkpoint checkpoint;
    std::error_code ec;
    if (!fs::exists(pathOrFolder, ec)) throw Error(pathOrFolder + ": no such file or folder");
    if (fs::is_directory(pathOrFolder, ec)) {
        const fs::path folder(pathOrFolder);
        const auto has = [&](const char* name) { return fs::exists(folder / name, ec); };
        if (has("model.safetensors.index.json")) {
            checkpoint.addIndex((folder / "model.safetensors.index.json").string(), true);
        } else if (has("model.safetensors")) {
            checkpoint.addSafetensors((folder / "model.safetensors").string());
        } else if (has("pytorch_model.bin.index.json")) {
            checkpoint.addIndex((folder / "pytorch_model.bin.index.json").string(), false);
        } else if (has("pytorch_model.bin")) {
            checkpoint.addTorchBin((folder / "pytorch_model.bin").string());
        } else {
            // A Lightning training run leaves its checkpoint under any name (METER:
            // meter_clip16_288_roberta_vqa.ckpt); take it when it is the only one.
            std::vector<std::string> lightning;
            for (const auto& entry : fs::directory_iterator(folder, ec)) {
                if (entry.path().extension() == ".ckpt" && entry.is_regular_file(ec)) lightning.push_back(entry.path().string());
            }
            std::sort(lightning.begin(), lightning.end());
            if (lightning.empty()) {
                throw Error(pathOrFolder + ": no weights found (expected model.safetensors, model.safetensors.index.json, "
                                           "pytorch_model.bin, pytorch_model.bin.index.json or one *.ckpt)");
            }
            if (lightning.size() > 1) {
                std::string list;
                for (const auto& path : lightning) list += (list.empty() ? "" : ", ") + fileNameOf(path);
                throw Error(pathOrFolder + ": holds several Lightning checkpoints (" + list +
                            "); open one of them as a file");
            }
            checkpoint.addLightning(lightning.front());
        }
    } else {
        const std::string name = fileNameOf(pathOrFolder);
        const auto endsWith = [&](const std::string& suffix) {
            return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
        };
        if (endsWith(".index.json")) {
            checkpoint.addIndex(pathOrFolder, name.find(".safetensors") != std::string::npos);
        } else if (endsWith(".safetensors")) {
            checkpoint.addSafetensors(pathOrFolder);
        } else if (endsWith(".ckpt")) {
            checkpoint.addLightning(pathOrFolder);
        } else {
            checkpoint.addTorchBin(pathOrFolder);
        }
    }
    return checkpoint;
}

void Checkpoint::addEntry(const std::string& name, std::size_t fileIndex, TensorInfo info) {
    if (m_entries.count(name))
        throw Error(m_files[fileIndex]->path() + ": tensor '" + name + "' also appears in " + fileOf(name));
    m_totalBytes += static_cast<uint64_t>(numel(info.shape)) * dtypeSize(info.dtype);
    m_entries.emplace(name, Entry{fileIndex, std::move(info)});
}

void Checkpoint::addSafetensors(const std::string& path) {
    auto file = MappedFile::open(path);
    const auto header = parseSafetensors(file->data(), file->size(), fileNameOf(path));
    m_files.push_back(file);
    for (const auto& [name, info] : header.tensors) addEntry(name, m_files.size() - 1, info);
}

void Checkpoint::addTorchBin(const std::string& path) {
    auto file = MappedFile::open(path);
    const auto tensors = parseTorchBin(file->data(), file->size(), fileNameOf(path));
    m_files.push_back(file);
    for (const auto& [name, info] : tensors) addEntry(name, m_files.size() - 1, info);
}

void Checkpoint::addLightning(const std::string& path) {
    auto file = MappedFile::open(path);
    LightningCheckpoint lightning = parseLightningCheckpoint(file->data(), file->size(), fileNameOf(path));
    m_files.push_back(file);
    for (auto& [name, info] : lightning.tensors) addEntry(name, m_files.size() - 1, std::move(info));
    m_hyperParameterConfig = std::move(lightning.config);
    m_skippedConfigEntries = std::move(lightning.skippedConfigEntries);
}

void Checkpoint::addIndex(const std::string& indexPath, bool safetensors) {
    const auto index = readJsonObjectFile(indexPath, "the checkpoint index");
    if (!index.contains("weight_map") || !index.at("weight_map").is_object())
        throw Error(indexPath + ": key 'weight_map' is missing or not an object");
    std::map<std::string, std::set<std::string>> expected;  // shard -> names
    for (const auto& [name, shard] : index.at("weight_map").items()) {
        if (!shard.is_string()) throw Error(indexPath + ": weight_map['" + name + "'] is not a file name");
        const auto shardName = shard.get<std::string>();
        if (shardName.find('/') != std::string::npos || shardName.find("..") != std::string::npos)
            throw Error(indexPath + ": weight_map names the shard '" + shardName + "' outside the model folder");
        expected[shardName].insert(name);
    }
    const fs::path folder = fs::path(indexPath).parent_path();
    for (const auto& [shard, names] : expected) {
        const std::string shardPath = (folder / shard).string();
        if (safetensors) {
            addSafetensors(shardPath);
        } else {
            addTorchBin(shardPath);
        }
        for (const auto& name : names) {
            auto it = m_entries.find(name);
            if (it == m_entries.end() || m_files[it->second.fileIndex]->path() != shardPath)
                throw Error(indexPath + ": weight_map puts '" + name + "' in " + shard + ", which does not hold it");
        }
    }
}

std::vector<std::string> Checkpoint::names() const {
    std::vector<std::string> result;
    for (const auto& [name, entry] : m_entries) result.push_back(name);
    return result;
}

std::vector<std::string> Checkpoint::files() const {
    std::vector<std::string> result;
    for (const auto& file : m_files) result.push_back(file->path());
    return result;
}

const TensorInfo& Checkpoint::info(const std::string& name) const {
    auto it = m_entries.find(name);
    if (it == m_entries.end()) throw Error("checkpoint has no tensor '" + name + "'");
    return it->second.info;
}

const std::string& Checkpoint::fileOf(const std::string& name) const {
    auto it = m_entries.find(name);
    if (it == m_entries.end()) throw Error("checkpoint has no tensor '" + name + "'");
    return m_files[it->second.fileIndex]->path();
}

torch::Tensor Checkpoint::tensor(const std::string& name) const {
    auto it = m_entries.find(name);
    if (it == m_entries.end()) throw Error("checkpoint has no tensor '" + name + "'");
    const auto& [fileIndex, info] = it->second;
    const auto file = m_files[fileIndex];
    const auto dtype = torchDtype(info.dtype);
    if (numel(info.shape) == 0) return torch::empty(info.shape, torch::TensorOptions().dtype(dtype));
    const uint8_t* base = file->data() + info.byteOffset;
    const auto elementSize = dtypeSize(info.dtype);
    // The mapping stays alive as long as any tensor viewing it (the deleter holds a reference).
    auto keepAlive = new std::shared_ptr<MappedFile>(file);
    auto view = torch::from_blob(const_cast<uint8_t*>(base), info.shape, info.strides,
                                 [keepAlive](void*) { delete keepAlive; }, torch::TensorOptions().dtype(dtype));
    if (reinterpret_cast<uintptr_t>(base) % elementSize != 0) return view.clone();
    return view;
}

StateDictReport loadStateDict(torch::nn::Module& module, const Checkpoint& checkpoint, const StateDictOptions& options) {
    torch::NoGradGuard noGrad;
    std::vector<std::pair<std::string, torch::Tensor>> targets;
    for (const auto& item : module.named_parameters(true)) targets.emplace_back(item.key(), item.value());
    for (const auto& item : module.named_buffers(true)) targets.emplace_back(item.key(), item.value());

    std::vector<std::string> missing;
    uint64_t total = 0;
    for (const auto& [name, target] : targets) {
        const std::string key = options.prefix + name;
        if (!checkpoint.contains(key)) {
            missing.push_back(key);
            continue;
        }
        total += static_cast<uint64_t>(target.numel()) * dtypeSize(checkpoint.info(key).dtype);
    }
    if (!missing.empty()) {
        std::string list;
        for (std::size_t i = 0; i < missing.size() && i < 5; ++i) list += (i ? ", " : "") + missing[i];
        if (missing.size() > 5) list += ", ...";
        const auto files = checkpoint.files();
        throw Error((files.empty() ? std::string("checkpoint") : fileNameOf(files.front())) + ": " +
                    std::to_string(missing.size()) + " parameter(s) missing: " + list +
                    " (is this the right checkpoint for the config?)");
    }

    std::set<std::string> used;
    uint64_t done = 0;
    for (auto& [name, target] : targets) {
        if (options.cancel && options.cancel->load()) throw Cancelled();
        const std::string key = options.prefix + name;
        const torch::Tensor source = checkpoint.tensor(key);
        if (source.sizes() != target.sizes()) {
            std::ostringstream message;
            message << fileNameOf(checkpoint.fileOf(key)) << ": tensor '" << key << "' has shape " << source.sizes()
                    << " but the model expects " << target.sizes();
            throw Error(message.str());
        }
        // F16 source on a CPU without half kernels: the copy converts it to the target dtype.
        target.copy_(source);
        used.insert(key);
        done += static_cast<uint64_t>(source.numel()) * source.element_size();
        if (options.progress) options.progress(done, total);
    }

    StateDictReport report;
    for (const auto& name : checkpoint.names()) {
        if (name.compare(0, options.prefix.size(), options.prefix) != 0 || used.count(name)) continue;
        report.unexpected.push_back(name);
    }
    return report;
}

void initialiseRandomWeights(torch::nn::Module& module, uint64_t seed) {
    torch::NoGradGuard noGrad;
    torch::manual_seed(seed);
    for (auto& item : module.named_parameters(true)) {
        const auto& name = item.key();
        auto& p = item.value();
        const bool isNorm = name.find("norm") != std::string::npos || name.find("LayerNorm") != std::string::npos ||
                            name.find("layrnorm") != std::string::npos || name.find("classifier.1.") != std::string::npos;
        if (isNorm) {
            p.fill_(name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0 ? 1.0 : 0.0);
        } else if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0) {
            p.zero_();
        } else {
            p.normal_(0.0, 0.02);
        }
    }
}


}  // namespace tokenscope
