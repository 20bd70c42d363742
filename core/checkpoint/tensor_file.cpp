#include "checkpoint/tensor_file.h"

#include <torch/torch.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/safetensors.h"

namespace tokenscope {

std::map<std::string, torch::Tensor> readTensorFile(const std::string& path) {
    auto file = MappedFile::open(path);
    const auto header = parseSafetensors(file->data(), file->size(), fileNameOf(path));
    std::map<std::string, torch::Tensor> tensors;
    for (const auto& [name, info] : header.tensors) {
        auto tensor = torch::empty(info.shape, torch::TensorOptions().dtype(torchDtype(info.dtype)));
        if (info.byteLength > 0) std::memcpy(tensor.data_ptr(), file->data() + info.byteOffset, info.byteLength);
        tensors.emplace(name, tensor);
    }
    return tensors;
}

void writeTensorFile(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                     const std::map<std::string, std::string>& metadata) {
    std::vector<torch::Tensor> keep;
    std::vector<SafetensorsEntry> entries;
    for (const auto& [name, tensor] : tensors) {
        keep.push_back(tensor.detach().cpu().contiguous());
        const auto& t = keep.back();
        entries.push_back({name, fromTorchDtype(t.scalar_type()), t.sizes().vec(), t.data_ptr()});
    }
    writeSafetensors(path, entries, metadata);
}

}  // namespace tokenscope
